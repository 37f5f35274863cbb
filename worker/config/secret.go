package config

import (
	"errors"
	"maps"
	"os"
	"slices"
	"strings"
)

// Secret is a credential's value. It never prints, formats, or marshals as itself,
// so a config dump or a log line cannot leak it.
type Secret string

const redacted = "<redacted>"

func (s Secret) String() string   { return redacted }
func (s Secret) GoString() string { return `"` + redacted + `"` }

// MarshalText covers JSON, YAML and slog's text handler.
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// Reveal returns the value, for the one call that hands it to a client library.
func (s Secret) Reveal() string { return string(s) }

// SecretRef says where a secret is kept; the config file holds only the reference.
// Exactly one of Env and File is set when the secret is needed.
type SecretRef struct {
	// Env names an environment variable that holds the secret.
	Env string `yaml:"env"`
	// File is a path whose content (trailing newline trimmed) is the secret, such
	// as a mounted Kubernetes secret.
	File string `yaml:"file"`
	// Value is resolved at load; it cannot be set from YAML.
	Value Secret `yaml:"-"`
}

// resolveSecrets reads every SecretRef. A reference to nothing is an error; a
// reference that is unset leaves Value empty for Validate to judge.
func (c *Config) resolveSecrets(environ []string) error {
	refs := map[string]*SecretRef{
		"kafka.sasl.password":                   &c.Kafka.SASL.Password,
		"clickhouse.password":                   &c.ClickHouse.Password,
		"vault.auth.token":                      &c.Vault.Auth.Token,
		"vault.auth.approle.role_id":            &c.Vault.Auth.AppRole.RoleID,
		"vault.auth.approle.secret_id":          &c.Vault.Auth.AppRole.SecretID,
		"ebay_notifications.verification_token": &c.EbayNotifications.VerificationToken,
		"ebay_notifications.client_secret":      &c.EbayNotifications.ClientSecret,
	}
	var errs []error
	for _, key := range slices.Sorted(maps.Keys(refs)) { // sorted: errors in a stable order
		if err := refs[key].resolve(key, environ); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, c.Connectors.resolveSecrets(environ)...)
	return errors.Join(errs...)
}

func (r *SecretRef) resolve(key string, environ []string) error {
	switch {
	case r.Env != "" && r.File != "":
		return keyErr(key, "set env or file, not both")
	case r.Env != "":
		prefix := r.Env + "="
		for _, kv := range environ {
			if strings.HasPrefix(kv, prefix) {
				r.Value = Secret(kv[len(prefix):])
				break
			}
		}
		if r.Value == "" {
			return keyErr(key, "environment variable %s is unset or empty", r.Env)
		}
	case r.File != "":
		data, err := os.ReadFile(r.File)
		if err != nil {
			return keyErr(key, "cannot read secret file: %v", errors.Unwrap(err))
		}
		r.Value = Secret(strings.TrimRight(string(data), "\r\n"))
		if r.Value == "" {
			return keyErr(key, "secret file %s is empty", r.File)
		}
	}
	return nil
}
