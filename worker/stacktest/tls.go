package stacktest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/orderflow/orderflow/worker/config"
)

// Environment variables of the stack's TLS listeners (deploy/local/tls.sh and
// the servers' scripts): beside the plaintext ones, always.
const (
	EnvTLSDir            = "ORDERFLOW_STACK_TLS_DIR"
	EnvKafkaTLSBrokers   = "ORDERFLOW_STACK_KAFKA_TLS_BROKERS"
	EnvClickHouseTLSAddr = "ORDERFLOW_STACK_CLICKHOUSE_TLS_ADDR"
	EnvVaultTLSAddress   = "ORDERFLOW_STACK_VAULT_TLS_ADDRESS"
	EnvKafkaSCRAMDir     = "ORDERFLOW_STACK_KAFKA_SCRAM_DIR"
)

// TLSStack is the stack's TLS side: Kafka's SASL_SSL listener (a client
// certificate and SCRAM-SHA-512), ClickHouse's secure native port (a client
// certificate), Vault's HTTPS listener, and the throwaway CA that signs them.
type TLSStack struct {
	KafkaBrokers   []string
	ClickHouseAddr string
	VaultAddress   string
	// CAFile signs the servers' certificates and the client's, CertFile and KeyFile.
	CAFile, CertFile, KeyFile string
	// SCRAMDir holds a password file per SCRAM user (admin is a super user).
	SCRAMDir string
}

// TLS returns the stack's TLS listeners, skipping or failing as the others do
// when the environment does not name them.
func TLS(t testing.TB) TLSStack {
	t.Helper()
	dir := require(t, EnvTLSDir, "TLS")
	s := TLSStack{
		KafkaBrokers:   strings.Split(require(t, EnvKafkaTLSBrokers, "Kafka (TLS)"), ","),
		ClickHouseAddr: require(t, EnvClickHouseTLSAddr, "ClickHouse (TLS)"),
		VaultAddress:   require(t, EnvVaultTLSAddress, "Vault (TLS)"),
		CAFile:         filepath.Join(dir, "ca.pem"),
		CertFile:       filepath.Join(dir, "client.pem"),
		KeyFile:        filepath.Join(dir, "client-key.pem"),
		SCRAMDir:       require(t, EnvKafkaSCRAMDir, "Kafka (SCRAM)"),
	}
	reachable(t, "Kafka (TLS)", s.KafkaBrokers[0])
	reachable(t, "ClickHouse (TLS)", s.ClickHouseAddr)
	reachable(t, "Vault (TLS)", hostPort(t, s.VaultAddress))
	return s
}

// Client is the client TLS section that the stack's servers accept.
func (s TLSStack) Client() config.TLS {
	return config.TLS{Enabled: true, CAFile: s.CAFile, CertFile: s.CertFile, KeyFile: s.KeyFile}
}

// SCRAMPassword reads the password of a SCRAM user of the stack's Kafka.
func (s TLSStack) SCRAMPassword(t testing.TB, user string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(s.SCRAMDir, user))
	if err != nil {
		t.Fatalf("SCRAM password of %s: %v (make up writes it)", user, err)
	}
	return strings.TrimSpace(string(data))
}
