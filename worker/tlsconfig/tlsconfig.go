// Package tlsconfig turns the configuration's TLS sections into crypto/tls
// configurations: the clients' (Kafka, ClickHouse, the connectors' APIs) and
// the metrics listener's. Certificates are read once, at start; a rotated
// certificate takes a restart, which Kubernetes does when the mounted Secret
// changes only if told to (deploy/kubernetes).
package tlsconfig

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/orderflow/orderflow/worker/config"
)

// MinVersion is the oldest TLS a connection accepts: 1.2, the oldest with
// ciphers nobody has broken, and what Kafka's and ClickHouse's documented
// cipher lists need.
const MinVersion = tls.VersionTLS12

// Client returns the TLS configuration of a client whose section is c, named
// key in errors (kafka.tls), or nil when TLS is off.
func Client(key string, c config.TLS) (*tls.Config, error) {
	if !c.Enabled {
		return nil, nil
	}
	out := &tls.Config{MinVersion: MinVersion, ServerName: c.ServerName}
	if c.CAFile != "" {
		pool, err := CAPool(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("%s.ca_file: %w", key, err)
		}
		out.RootCAs = pool
	}
	if c.CertFile != "" || c.KeyFile != "" {
		pair, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("%s.cert_file and key_file: %w", key, err)
		}
		out.Certificates = []tls.Certificate{pair}
	}
	return out, nil
}

// CAPool reads a PEM file of CA certificates. A file without one is an error:
// an empty pool would refuse every server, and the mistake would show only
// as handshake failures.
func CAPool(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, errors.New("no PEM certificate in the CA file " + path)
	}
	return pool, nil
}

// Server returns the TLS configuration of a listener whose certificate is in
// certFile and keyFile. The pair is read at once (a bad pair is an error at
// start) and again at a handshake after either file's modification time has
// changed, so a renewed certificate is served without a restart.
func Server(certFile, keyFile string) (*tls.Config, error) {
	r := &reloader{certFile: certFile, keyFile: keyFile}
	if _, err := r.certificate(nil); err != nil {
		return nil, err
	}
	return &tls.Config{MinVersion: MinVersion, GetCertificate: r.certificate}, nil
}

type reloader struct {
	certFile, keyFile string
	mu                sync.Mutex
	stamp             [2]time.Time
	pair              *tls.Certificate
}

func (r *reloader) certificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	var stamp [2]time.Time
	for i, path := range []string{r.certFile, r.keyFile} {
		info, err := os.Stat(path)
		if err != nil {
			return nil, fmt.Errorf("server certificate: %w", err)
		}
		stamp[i] = info.ModTime()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pair != nil && stamp == r.stamp {
		return r.pair, nil
	}
	pair, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		if r.pair != nil {
			return r.pair, nil // half-written during a renewal: keep serving the old one
		}
		return nil, fmt.Errorf("server certificate: %w", err)
	}
	r.pair, r.stamp = &pair, stamp
	return r.pair, nil
}
