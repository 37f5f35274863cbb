package config

import (
	"net/url"
	"regexp"
	"time"
)

// Vault is how the worker reaches HashiCorp Vault's transit engine, which turns
// personal data into per-tenant HMAC tokens and ciphertexts (worker/transit).
//
// Vault is optional for commands that never touch personal data: with Address
// empty the section is not checked beyond its ranges, and the commands that need
// Vault call Require, which names vault.address.
type Vault struct {
	// Address is Vault's base URL, such as "https://vault.vault.svc:8200".
	// Default "" (not configured).
	Address string `yaml:"address"`
	// CACertFile is a PEM file of the CAs that sign Vault's TLS certificate.
	// Default "" (the system's roots).
	CACertFile string `yaml:"ca_cert_file"`
	// TransitMount is the transit engine's mount path. Default "transit".
	TransitMount string `yaml:"transit_mount"`
	// KeyPrefix starts every tenant key name: "<prefix><tenant>-hmac" and
	// "<prefix><tenant>-enc". Default "orderflow-".
	KeyPrefix string `yaml:"key_prefix"`
	// PlatformKey is the one key that is not a tenant's, for dead-letter payloads.
	// Default "orderflow-platform".
	PlatformKey string `yaml:"platform_key"`
	// CreateKeys creates a tenant's keys on first use. Set it false for roles whose
	// policy may only use keys that another role provisions. Default true.
	CreateKeys bool `yaml:"create_keys"`
	// BatchSize caps the items of one Vault request; larger inputs are split.
	// Default 256; 1 to 10000.
	BatchSize int `yaml:"batch_size"`
	// Concurrency caps the requests one call has in flight when it splits an
	// input. Default 4; 1 to 64.
	Concurrency int `yaml:"concurrency"`
	// RequestTimeout bounds one HTTP attempt. Default 10s.
	RequestTimeout time.Duration `yaml:"request_timeout"`
	// MaxAttempts bounds the attempts of one request that fails with 5xx, 429 or
	// a connection error (other 4xx are never retried). Default 5; 1 to 100.
	// Every command uses it, `orderflow run` too: its pipeline retries a whole
	// stage, which a Vault failing some requests would rarely get through.
	MaxAttempts int `yaml:"max_attempts"`
	// RetryInitial is the first wait before a retry; it doubles (with jitter) up
	// to RetryMax. Defaults 100ms and 5s.
	RetryInitial time.Duration `yaml:"retry_initial"`
	RetryMax     time.Duration `yaml:"retry_max"`
	// TokenCacheSize is how many HMAC results are kept in memory (least recently
	// used evicted first), since the same buyers recur; about 250 bytes each.
	// 0 disables the cache. Default 100000.
	TokenCacheSize int `yaml:"token_cache_size"`
	// Auth is how the worker logs in to Vault.
	Auth VaultAuth `yaml:"auth"`
}

// VaultAuth chooses and configures the login method.
type VaultAuth struct {
	// Method is "token", "approle" or "kubernetes". Default "token".
	Method string `yaml:"method"`
	// Token is the Vault token for method "token". With a file reference the
	// file is read again when Vault refuses the token, so a Vault Agent sink
	// that rewrites it is followed.
	Token SecretRef `yaml:"token"`
	// AppRole is for method "approle".
	AppRole VaultAppRole `yaml:"approle"`
	// Kubernetes is for method "kubernetes".
	Kubernetes VaultKubernetes `yaml:"kubernetes"`
}

// VaultAppRole is AppRole login: a role id and a secret id, both by reference.
type VaultAppRole struct {
	// MountPath is where the AppRole auth method is enabled. Default "approle".
	MountPath string `yaml:"mount_path"`
	// RoleID and SecretID identify the worker's role.
	RoleID   SecretRef `yaml:"role_id"`
	SecretID SecretRef `yaml:"secret_id"`
}

// VaultKubernetes is Kubernetes login with the pod's service-account token.
type VaultKubernetes struct {
	// MountPath is where the Kubernetes auth method is enabled. Default "kubernetes".
	MountPath string `yaml:"mount_path"`
	// Role is the Vault role bound to the worker's service account. Required
	// with method "kubernetes".
	Role string `yaml:"role"`
	// TokenFile holds the service-account JWT; it is read at every login, since
	// projected tokens rotate. Default
	// "/var/run/secrets/kubernetes.io/serviceaccount/token".
	TokenFile string `yaml:"token_file"`
}

func defaultVault() Vault {
	return Vault{
		TransitMount:   "transit",
		KeyPrefix:      "orderflow-",
		PlatformKey:    "orderflow-platform",
		CreateKeys:     true,
		BatchSize:      256,
		Concurrency:    4,
		RequestTimeout: 10 * time.Second,
		MaxAttempts:    5,
		RetryInitial:   100 * time.Millisecond,
		RetryMax:       5 * time.Second,
		TokenCacheSize: 100_000,
		Auth: VaultAuth{
			Method:     "token",
			AppRole:    VaultAppRole{MountPath: "approle"},
			Kubernetes: VaultKubernetes{MountPath: "kubernetes", TokenFile: "/var/run/secrets/kubernetes.io/serviceaccount/token"},
		},
	}
}

// Require reports, naming vault.address, that Vault is not configured: for the
// commands that cannot run without it.
func (v Vault) Require() error {
	if v.Address == "" {
		return keyErr("vault.address", "required: this command protects personal data through Vault")
	}
	return nil
}

var (
	// Vault's transit key names are \w([\w.-]*\w)?; a prefix may end in '-' or '.'.
	vaultKeyPrefix = regexp.MustCompile(`^\w[\w.-]{0,63}$`)
	vaultKeyName   = regexp.MustCompile(`^\w([\w.-]{0,126}\w)?$`)
	vaultMountPath = regexp.MustCompile(`^[\w.-]+(/[\w.-]+)*$`)
)

func (v Vault) validate() []error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	if v.Address != "" {
		if u, err := url.Parse(v.Address); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add(keyErr("vault.address", "%q is not an http(s) URL such as https://vault:8200", v.Address))
		}
	}
	add(matches("vault.transit_mount", v.TransitMount, vaultMountPath, "a mount path such as transit"))
	add(matches("vault.key_prefix", v.KeyPrefix, vaultKeyPrefix, "1-64 letters, digits, '_', '-' or '.', starting with a letter, digit or '_'"))
	add(matches("vault.platform_key", v.PlatformKey, vaultKeyName, "a key name of letters, digits, '_', '-' or '.'"))
	add(intBetween("vault.batch_size", v.BatchSize, 1, 10_000))
	add(intBetween("vault.concurrency", v.Concurrency, 1, 64))
	add(between("vault.request_timeout", v.RequestTimeout, 100*time.Millisecond, 5*time.Minute))
	add(intBetween("vault.max_attempts", v.MaxAttempts, 1, 100))
	add(between("vault.retry_initial", v.RetryInitial, time.Millisecond, time.Minute))
	add(between("vault.retry_max", v.RetryMax, v.RetryInitial, 10*time.Minute))
	add(intBetween("vault.token_cache_size", v.TokenCacheSize, 0, 10_000_000))

	a := v.Auth
	switch a.Method {
	case "token":
		if v.Address != "" && a.Token.Value == "" {
			add(keyErr("vault.auth.token", "required with auth method token: set env or file"))
		}
	case "approle":
		add(matches("vault.auth.approle.mount_path", a.AppRole.MountPath, vaultMountPath, "a mount path such as approle"))
		if v.Address != "" && a.AppRole.RoleID.Value == "" {
			add(keyErr("vault.auth.approle.role_id", "required with auth method approle: set env or file"))
		}
		if v.Address != "" && a.AppRole.SecretID.Value == "" {
			add(keyErr("vault.auth.approle.secret_id", "required with auth method approle: set env or file"))
		}
	case "kubernetes":
		add(matches("vault.auth.kubernetes.mount_path", a.Kubernetes.MountPath, vaultMountPath, "a mount path such as kubernetes"))
		add(nonEmpty("vault.auth.kubernetes.role", a.Kubernetes.Role))
		add(nonEmpty("vault.auth.kubernetes.token_file", a.Kubernetes.TokenFile))
	default:
		add(keyErr("vault.auth.method", "%q is not one of token, approle, kubernetes", a.Method))
	}
	return errs
}

func matches(key, v string, re *regexp.Regexp, what string) error {
	if !re.MatchString(v) {
		return keyErr(key, "%q is not %s", v, what)
	}
	return nil
}

func intBetween(key string, n, lo, hi int) error {
	if n < lo || n > hi {
		return keyErr(key, "must be between %d and %d, got %d", lo, hi, n)
	}
	return nil
}
