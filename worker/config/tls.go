package config

import (
	"os"
	"reflect"
)

// TLS is a client's TLS to one kind of server (Kafka, ClickHouse), or to the
// connectors' APIs (CA only). Files are paths, such as a mounted Kubernetes
// Secret, so the configuration never holds a key.
//
// For the configurations written before it was a section, `tls: true` still
// reads as `tls: {enabled: true}`.
type TLS struct {
	// Enabled turns TLS on. Default false.
	Enabled bool `yaml:"enabled"`
	// CAFile is a PEM file of the CAs that sign the servers' certificates.
	// Default "" (the system's roots).
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile are the client's certificate chain and its key, in
	// PEM, for servers that require mutual TLS. Both or neither.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ServerName is the name the servers' certificates must carry, when it is
	// not the host dialled (an address behind a load balancer). Default "".
	ServerName string `yaml:"server_name"`
}

var tlsType = reflect.TypeFor[TLS]()

// validate checks the section at key: files named must be readable, a key
// comes with its certificate, and a file without enabled is a mistake rather
// than a plaintext connection the reader believed encrypted.
func (t TLS) validate(key string) []error {
	var errs []error
	files := []struct{ key, path string }{
		{key + ".ca_file", t.CAFile}, {key + ".cert_file", t.CertFile}, {key + ".key_file", t.KeyFile},
	}
	for _, f := range files {
		if f.path == "" {
			continue
		}
		if !t.Enabled {
			errs = append(errs, keyErr(f.key, "is set but %s.enabled is false: the connection would not use it", key))
		}
		if _, err := os.Stat(f.path); err != nil {
			errs = append(errs, keyErr(f.key, "cannot read %s: %v", f.path, unwrapPath(err)))
		}
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		errs = append(errs, keyErr(key, "cert_file and key_file go together (mutual TLS): set both or neither"))
	}
	if t.ServerName != "" && !t.Enabled {
		errs = append(errs, keyErr(key+".server_name", "is set but %s.enabled is false", key))
	}
	return errs
}

// unwrapPath drops the path a *PathError repeats.
func unwrapPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
