// Package stacktest finds the local stack's real servers (Kafka, ClickHouse, Vault,
// Prometheus and its Pushgateway) for integration tests, from the environment that `make test` sets from
// .stack/env.
//
// Without a server's address a test skips with a message saying how to start the
// stack, except under CI (CI=true), where a missing or unreachable server fails the
// test: CI must never pass by skipping what it was meant to prove.
package stacktest

import (
	"net"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Environment variables that carry the stack's addresses (written by
// deploy/local/stack.sh to .stack/env).
const (
	EnvKafkaBrokers   = "ORDERFLOW_KAFKA_BROKERS"
	EnvClickHouseAddr = "ORDERFLOW_CLICKHOUSE_ADDR"
	EnvVaultAddr      = "ORDERFLOW_VAULT_ADDRESS"
	EnvVaultToken     = "ORDERFLOW_VAULT_TOKEN"
	EnvPrometheusURL  = "ORDERFLOW_PROMETHEUS_URL"
	EnvTestScrapeAddr = "ORDERFLOW_TEST_SCRAPE_ADDR"
	EnvMetricsAddr    = "ORDERFLOW_METRICS_ADDR"
)

// Also written to .stack/env: the ClickHouse HTTP interface, and the users.d
// folder beside the server's users.xml, where a file adds users within seconds.
const (
	EnvClickHouseHTTP     = "ORDERFLOW_CLICKHOUSE_HTTP"
	EnvClickHouseUsersDir = "ORDERFLOW_CLICKHOUSE_USERS_DIR"
)

const howToStart = "start the local stack with `make up` and export its addresses " +
	"(set -a; . .stack/env), or run `make test`"

// KafkaBrokers returns the bootstrap broker addresses of the stack's Kafka.
func KafkaBrokers(t testing.TB) []string {
	t.Helper()
	brokers := strings.Split(require(t, EnvKafkaBrokers, "Kafka"), ",")
	reachable(t, "Kafka", brokers[0])
	return brokers
}

// ClickHouseAddr returns the host:port of the stack's ClickHouse native protocol.
func ClickHouseAddr(t testing.TB) string {
	t.Helper()
	addr := require(t, EnvClickHouseAddr, "ClickHouse")
	reachable(t, "ClickHouse", addr)
	return addr
}

// ClickHouseHTTP returns the base URL of the stack's ClickHouse HTTP interface.
func ClickHouseHTTP(t testing.TB) string {
	t.Helper()
	u := require(t, EnvClickHouseHTTP, "ClickHouse")
	reachable(t, "ClickHouse", hostPort(t, u))
	return u
}

// ClickHouseUsersDir returns the stack's ClickHouse users.d folder. The server
// merges every *.xml file there into its users and reloads them by itself, so
// a test adds users of its own with a file of its own, removed when it ends.
func ClickHouseUsersDir(t testing.TB) string {
	t.Helper()
	dir := require(t, EnvClickHouseUsersDir, "ClickHouse")
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		t.Fatalf("%s=%s is not a folder (%v): deploy/local/clickhouse.sh creates it", EnvClickHouseUsersDir, dir, err)
	}
	return dir
}

// Vault returns the address and a token of the stack's Vault dev server.
func Vault(t testing.TB) (addr, token string) {
	t.Helper()
	addr = require(t, EnvVaultAddr, "Vault")
	token = require(t, EnvVaultToken, "Vault")
	reachable(t, "Vault", hostPort(t, addr))
	return addr, token
}

// PrometheusURL returns the base URL of the stack's Prometheus.
func PrometheusURL(t testing.TB) string {
	t.Helper()
	u := require(t, EnvPrometheusURL, "Prometheus")
	reachable(t, "Prometheus", hostPort(t, u))
	return u
}

// ScrapeAddr returns the address that the stack's Prometheus scrapes for tests
// (job "orderflow-smoke"); a test serves its /metrics there while it runs.
func ScrapeAddr(t testing.TB) string {
	t.Helper()
	return require(t, EnvTestScrapeAddr, "Prometheus")
}

// MetricsAddr returns the address that the stack's Prometheus scrapes as the
// worker (job "orderflow", every 2 s): for a test whose dashboards and alerts
// must see what it ran. One test at a time may serve there.
func MetricsAddr(t testing.TB) string {
	t.Helper()
	return require(t, EnvMetricsAddr, "Prometheus")
}

// InCI reports whether the tests run under CI, where nothing may be skipped for want
// of a server.
func InCI() bool {
	v := strings.ToLower(os.Getenv("CI"))
	return v == "true" || v == "1"
}

func require(t testing.TB, env, server string) string {
	t.Helper()
	return requireOr(t, env, server, howToStart)
}

// requireOr is require with its own advice on how to start the server.
func requireOr(t testing.TB, env, server, how string) string {
	t.Helper()
	v := os.Getenv(env)
	if v != "" {
		return v
	}
	if InCI() {
		t.Fatalf("%s is not set: the %s server is required under CI; %s", env, server, how)
	}
	t.Skipf("%s is not set, so there is no %s to test against: %s", env, server, how)
	return ""
}

// reachable fails the test (it never skips) when an address that the environment
// names does not accept connections: a configured but dead server is a broken stack.
func reachable(t testing.TB, server, addr string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 3*time.Second)
	if err != nil {
		t.Fatalf("%s at %s does not accept connections (%v): is the stack up? `make stack-status` tells", server, addr, err)
	}
	_ = conn.Close()
}

func hostPort(t testing.TB, rawURL string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		t.Fatalf("%q is not a server URL: %v", rawURL, err)
	}
	return u.Host
}

// Promtool returns the path of Prometheus' promtool, which make up installs;
// without it the test skips, except in CI, where it fails.
func Promtool(t testing.TB) string {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		if InCI() {
			t.Fatal("promtool is not installed (the prometheus package has it: make up installs it)")
		}
		t.Skip("promtool is not installed: make up installs it")
	}
	return path
}
