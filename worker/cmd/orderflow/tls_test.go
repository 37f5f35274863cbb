package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"maps"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/orderflow/orderflow/worker/clickhousedb"
	"github.com/orderflow/orderflow/worker/clickhousedb/clickhousetest"
	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/stacktest"
	"github.com/orderflow/orderflow/worker/telemetry"
	"github.com/orderflow/orderflow/worker/transit"
)

// set replaces the environment's value of key.
func (e *stackEnv) set(key, value string) {
	e.vars = append(slices.DeleteFunc(e.vars, func(kv string) bool { return strings.HasPrefix(kv, key+"=") }), key+"="+value)
}

// useTLS points the worker's own connections at the stack's TLS listeners:
// Kafka's SASL_SSL (a client certificate and the stack's SCRAM admin),
// ClickHouse's secure native port (a client certificate), Vault over HTTPS.
func (e *stackEnv) useTLS(t *testing.T, s stacktest.TLSStack) {
	e.set("ORDERFLOW_KAFKA_BROKERS", strings.Join(s.KafkaBrokers, ","))
	e.set("ORDERFLOW_CLICKHOUSE_ADDR", s.ClickHouseAddr)
	e.set("ORDERFLOW_VAULT_ADDRESS", s.VaultAddress)
	e.set("ORDERFLOW_VAULT_CA_CERT_FILE", s.CAFile)
	for _, section := range []string{"KAFKA", "CLICKHOUSE"} {
		e.set("ORDERFLOW_"+section+"_TLS_ENABLED", "true")
		e.set("ORDERFLOW_"+section+"_TLS_CA_FILE", s.CAFile)
		e.set("ORDERFLOW_"+section+"_TLS_CERT_FILE", s.CertFile)
		e.set("ORDERFLOW_"+section+"_TLS_KEY_FILE", s.KeyFile)
	}
	e.set("ORDERFLOW_KAFKA_SASL_MECHANISM", "scram-sha-512")
	e.set("ORDERFLOW_KAFKA_SASL_USERNAME", "admin")
	e.set("ORDERFLOW_KAFKA_SASL_PASSWORD_FILE", filepath.Join(s.SCRAMDir, "admin"))
}

// The pipeline end to end with every connection over TLS: orders read from
// Kafka's SASL_SSL listener, protected through Vault over HTTPS, written to
// ClickHouse's secure port, dead letters written back over TLS, offsets
// committed; read back over the plaintext listeners.
func TestRunOverTLSToKafkaClickHouseAndVault(t *testing.T) {
	s := stacktest.TLS(t)
	e := newStackEnv(t)
	migratedCfg, chConn := e.useMigrated(t)
	good, bad := e.produceFixtures(t)
	e.useTLS(t, s)
	cfg := e.config(t)
	if !cfg.Kafka.TLS.Enabled || !cfg.ClickHouse.TLS.Enabled || !strings.HasPrefix(cfg.Vault.Address, "https://") {
		t.Fatalf("the worker's configuration is not TLS throughout: %+v %+v %s", cfg.Kafka.TLS, cfg.ClickHouse.TLS, cfg.Vault.Address)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- runWorker(ctx, cfg, nil, telemetry.NewRegistry(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	deadline := time.Now().Add(2 * time.Minute)
	for _, topic := range []string{e.amazon, e.ebay} {
		end := stacktest.EndOffsets(t, e.brokers, topic, 3)
		for {
			if maps.Equal(stacktest.CommittedOffsets(t, e.brokers, cfg.Kafka.GroupID, topic, 3), end) {
				break
			}
			if time.Now().After(deadline) {
				cancel()
				t.Fatalf("%s: the worker over TLS did not commit to the end (worker: %v)", topic, workerErr(done))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("worker: %v", err)
	}
	if got := clickhousetest.Count(t, chConn, "SELECT count() FROM "+migratedCfg.Database+".order_facts FINAL"); got != uint64(len(good)) {
		t.Errorf("order_facts FINAL has %d orders, want %d", got, len(good))
	}
	if got := clickhousetest.Count(t, chConn, "SELECT count() FROM "+migratedCfg.RestrictedDatabase+".financial_records FINAL"); got != uint64(len(good)) {
		t.Errorf("financial_records FINAL has %d rows, want %d", got, len(good))
	}
	if got := len(stacktest.ReadAll(t, e.brokers, e.dlq, 3)); got != bad {
		t.Errorf("%d dead letters, want %d", got, bad)
	}
}

func workerErr(done chan error) error {
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		return nil
	}
}

// Each TLS listener refuses a client that speaks plaintext to it, a client
// that does not trust the stack's CA, and (ClickHouse; Kafka in
// TestKafkaACLsHoldOverSASLSSL) a client without a certificate or with one
// another CA signed.
func TestTLSListenersRefusePlaintextAndStrangers(t *testing.T) {
	s := stacktest.TLS(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rogue := rogueClientCertificate(t)

	base := clickhousetest.Config(t)
	base.Addr = []string{s.ClickHouseAddr}
	base.DialTimeout, base.QueryTimeout = 5*time.Second, 10*time.Second
	for name, tlsCfg := range map[string]config.TLS{
		"plaintext":                {},
		"the system's roots":       {Enabled: true, CertFile: s.CertFile, KeyFile: s.KeyFile},
		"no client certificate":    {Enabled: true, CAFile: s.CAFile},
		"another CA's certificate": {Enabled: true, CAFile: s.CAFile, CertFile: rogue.cert, KeyFile: rogue.key},
	} {
		cfg := base
		cfg.TLS = tlsCfg
		if conn, err := clickhousedb.Open(ctx, cfg); err == nil {
			conn.Close()
			t.Errorf("ClickHouse's secure port served a client with %s", name)
		}
	}
	good := base
	good.TLS = s.Client()
	conn, err := clickhousedb.Open(ctx, good)
	if err != nil {
		t.Fatalf("ClickHouse's secure port refused the stack's own client: %v", err)
	}
	conn.Close()

	_, token := stacktest.Vault(t)
	for name, vc := range map[string]transit.Config{
		"plaintext":          {Address: strings.Replace(s.VaultAddress, "https://", "http://", 1)},
		"the system's roots": {Address: s.VaultAddress},
	} {
		vc.Auth.Token, vc.MaxAttempts, vc.LoginAttempts = config.Secret(token), 1, 1
		if c, err := transit.New(ctx, vc); err == nil {
			c.Close()
			t.Errorf("Vault's TLS listener served a client with %s", name)
		}
	}
	c, err := transit.New(ctx, transit.Config{Address: s.VaultAddress, CACertFile: s.CAFile, Auth: transit.Auth{Token: config.Secret(token)}, MaxAttempts: 1})
	if err != nil {
		t.Fatalf("Vault's TLS listener refused the stack's own client: %v", err)
	}
	c.Close()
}

type certPair struct{ cert, key string }

// rogueClientCertificate makes a CA of the test's own and a client
// certificate it signs: what an attacker without the stack's CA could present.
func rogueClientCertificate(t *testing.T) certPair {
	t.Helper()
	_, ca, caKey := newCertificate(t, &x509.Certificate{Subject: pkix.Name{CommonName: "rogue CA"}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}, nil, nil)
	leaf, _, _ := newCertificate(t, &x509.Certificate{Subject: pkix.Name{CommonName: "orderflow"}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}, ca, caKey)
	dir := t.TempDir()
	p := certPair{cert: filepath.Join(dir, "rogue.pem"), key: filepath.Join(dir, "rogue-key.pem")}
	writePair(t, p.cert, p.key, leaf)
	return p
}

// A connector with ca_file trusts the API's private CA, and only its
// connections do: one without it refuses the same server.
func TestConnectorCAFileIsTrustedForItsConnectorOnly(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }))
	defer srv.Close()
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	client, err := connectorHTTPClient("books", config.Connector{CAFile: caFile})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Get(srv.URL)
	if err != nil {
		t.Fatalf("the connector with the CA file: %v", err)
	}
	resp.Body.Close()
	if c, _ := connectorHTTPClient("books", config.Connector{}); c != nil {
		t.Fatal("a connector without ca_file got a client of its own")
	}
	if resp, err := (&http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}).Get(srv.URL); err == nil {
		resp.Body.Close()
		t.Error("a client with the system's roots trusted the private CA")
	}
	notPEM := filepath.Join(t.TempDir(), "empty.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := connectorHTTPClient("books", config.Connector{CAFile: notPEM}); err == nil {
		t.Error("a CA file without a certificate was accepted")
	}
}

// The metrics listener with metrics.tls serves the scrape and the probes over
// HTTPS only, and serves a renewed certificate without a restart.
func TestMetricsOverTLSFollowRenewal(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	first := serverCertificate(t, "first")
	writePair(t, certFile, keyFile, first)
	cfg := config.Defaults()
	cfg.Metrics.Listen = "127.0.0.1:0"
	cfg.Metrics.TLS = config.ServerTLS{CertFile: certFile, KeyFile: keyFile}
	reg := telemetry.NewRegistry()
	srv, err := listenMetrics(cfg, reg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	srv.SetReady(true)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, 5*time.Second) }()
	defer func() { cancel(); <-done }()

	served := func() (string, string) {
		t.Helper()
		conn, err := tls.Dial("tcp", srv.Addr(), &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // reads which certificate is served
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		name := conn.ConnectionState().PeerCertificates[0].Subject.CommonName
		pool := x509.NewCertPool()
		pool.AddCert(conn.ConnectionState().PeerCertificates[0])
		client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}}}
		resp, err := client.Get("https://" + srv.Addr() + "/metrics")
		if err != nil {
			t.Fatalf("scrape over TLS: %v", err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return name, string(body)
	}
	name, body := served()
	if name != "first" || !strings.Contains(body, "orderflow_ready 1") {
		t.Fatalf("served %q, body without orderflow_ready 1:\n%.300s", name, body)
	}
	if resp, err := http.Get("http://" + srv.Addr() + "/metrics"); err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK || strings.Contains(string(b), "orderflow_ready") {
			t.Error("the TLS metrics listener served a plaintext scrape")
		}
	}
	// A renewal rewrites both files; the next handshake presents the new one.
	second := serverCertificate(t, "second")
	future := time.Now().Add(2 * time.Second)
	writePair(t, certFile, keyFile, second)
	for _, f := range []string{certFile, keyFile} {
		if err := os.Chtimes(f, future, future); err != nil {
			t.Fatal(err)
		}
	}
	if name, _ := served(); name != "second" {
		t.Errorf("after the renewal the listener serves %q, want second", name)
	}
}

type pemPair struct{ cert, key []byte }

// serverCertificate is a self-signed certificate for 127.0.0.1 named cn.
func serverCertificate(t *testing.T, cn string) pemPair {
	t.Helper()
	p, _, _ := newCertificate(t, &x509.Certificate{Subject: pkix.Name{CommonName: cn}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true}, nil, nil)
	return p
}

// newCertificate issues tmpl, valid for the hour around now, for a new P-256
// key: signed by parent and parentKey, or by itself when parent is nil.
func newCertificate(t *testing.T, tmpl, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (pemPair, *x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl.SerialNumber = big.NewInt(time.Now().UnixNano())
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pemPair{pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})}, cert, key
}

func writePair(t *testing.T, certFile, keyFile string, p pemPair) {
	t.Helper()
	if err := os.WriteFile(certFile, p.cert, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, p.key, 0o600); err != nil {
		t.Fatal(err)
	}
}
