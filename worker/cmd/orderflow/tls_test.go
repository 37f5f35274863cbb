package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"maps"
	"math/big"
	"os"
	"path/filepath"
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
	e.vars = append(slicesDeleteKey(e.vars, key), key+"="+value)
}

func slicesDeleteKey(vars []string, key string) []string {
	out := vars[:0:0]
	for _, kv := range vars {
		if !strings.HasPrefix(kv, key+"=") {
			out = append(out, kv)
		}
	}
	return out
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
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "rogue CA"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "orderflow"}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	dir := t.TempDir()
	p := certPair{cert: filepath.Join(dir, "rogue.pem"), key: filepath.Join(dir, "rogue-key.pem")}
	if err := os.WriteFile(p.cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
