package transit

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderflow/orderflow/worker/config"
)

// Config is a Client's configuration. New fills each zero field with its
// default, then checks the result; errors name the field.
type Config struct {
	// Address is Vault's base URL, such as "https://vault.vault.svc:8200". Required.
	Address string
	// CACertFile is a PEM file of the CAs that sign Vault's TLS certificate.
	// Default "" (the system's roots).
	CACertFile string
	// Mount is the transit engine's mount path. Default "transit".
	Mount string
	// KeyPrefix starts every tenant key name: "<prefix><tenant>-hmac" and
	// "<prefix><tenant>-enc". Default "orderflow-".
	KeyPrefix string
	// PlatformKey is the key of EncryptPlatform and DecryptPlatform (dead-letter
	// payloads). Default "orderflow-platform".
	PlatformKey string
	// SkipKeyCreation leaves key creation to another role: operations then use
	// the keys as they are and fail if one is missing. For roles whose policy may
	// use keys but not create them. Default false (keys are created on first use).
	SkipKeyCreation bool
	// BatchSize caps the items of one Vault request; larger inputs are split into
	// several requests. Default 256; 1 to 10000.
	BatchSize int
	// Concurrency caps the requests one call has in flight when it splits its
	// input. Default 4; 1 to 64.
	Concurrency int
	// RequestTimeout bounds one HTTP attempt, reading the response included.
	// Default 10s.
	RequestTimeout time.Duration
	// MaxAttempts bounds the attempts of one request that fails with 5xx, 429 or
	// a connection error; other 4xx are never retried. Retries also stop when the
	// call's context ends. Default 5; 1 to 100. A caller that retries on its
	// own may set 1 where a call is one request; a call of many requests keeps
	// its retries, or one failing request in several fails the whole call.
	MaxAttempts int
	// LoginAttempts bounds, in the same way, the attempts of a login and of
	// the token's own requests (lookup, renewal, revocation). They keep the
	// client usable rather than serve a caller, so they keep their retries
	// when MaxAttempts is 1. Default MaxAttempts; 1 to 100.
	LoginAttempts int
	// RetryInitial is the wait before the first retry; it doubles per attempt,
	// with jitter, up to RetryMax. A 429 or 503 with Retry-After waits at least
	// that long (up to RetryMax). Defaults 100ms and 5s.
	RetryInitial time.Duration
	RetryMax     time.Duration
	// TokenCacheSize is how many HMAC results are kept in memory, least recently
	// used evicted first: about 250 bytes each. Default 100000; negative
	// disables the cache.
	TokenCacheSize int
	// KnownKeys is how many key names are remembered as created, so the create is
	// not repeated per call; a forgotten key is created again (idempotent).
	// Default 10000.
	KnownKeys int
	// Gate admits the calls for a tenant's data (HMAC, Encrypt, key creation)
	// and checks each of their requests: see Gate. Default nil: every tenant is
	// admitted, for clients that never handle offboarded tenants' data (tests,
	// a replay's decryption).
	Gate Gate
	// Auth is how the client logs in.
	Auth Auth
	// Registerer receives the client's metrics. Default nil: metrics are kept
	// but not registered anywhere. Collectors that are already registered (a
	// second Client on the same registry) are shared.
	Registerer prometheus.Registerer
	// Logger receives retries, logins and renewal failures; never values, tokens
	// or secrets. Default: discard.
	Logger *slog.Logger
}

// Auth methods.
const (
	AuthToken      = "token"
	AuthAppRole    = "approle"
	AuthKubernetes = "kubernetes"
)

// Auth chooses and configures the login method.
//
// Whatever the method, the token must be allowed to look itself up
// (auth/token/lookup-self, which Vault's default policy grants): New checks a
// given token that way, and a 403 is told apart from an expired token that way,
// since Vault answers both with "permission denied".
type Auth struct {
	// Method is AuthToken, AuthAppRole or AuthKubernetes. Default AuthToken.
	Method string

	// Token is the Vault token for AuthToken; TokenFile, when set, is read instead
	// at New and again whenever Vault refuses the token (a Vault Agent sink
	// rewrites it). A token with a TTL is renewed before it expires.
	Token     config.Secret
	TokenFile string

	// AppRoleMount is where AppRole is enabled. Default "approle".
	AppRoleMount string
	// RoleID and SecretID log in with AuthAppRole.
	RoleID   config.Secret
	SecretID config.Secret

	// KubernetesMount is where the Kubernetes auth method is enabled. Default
	// "kubernetes".
	KubernetesMount string
	// KubernetesRole is the Vault role bound to the service account. Required
	// with AuthKubernetes.
	KubernetesRole string
	// KubernetesTokenFile holds the service-account JWT, read at every login
	// (projected tokens rotate). Default
	// "/var/run/secrets/kubernetes.io/serviceaccount/token".
	KubernetesTokenFile string
}

// DefaultKubernetesTokenFile is where Kubernetes mounts a pod's service-account token.
const DefaultKubernetesTokenFile = "/var/run/secrets/kubernetes.io/serviceaccount/token"

// ConfigFrom maps the worker's vault configuration section to a Config; the
// caller adds Registerer and Logger.
func ConfigFrom(v config.Vault) Config {
	cacheSize := v.TokenCacheSize
	if cacheSize == 0 {
		cacheSize = -1 // the file's 0 means off; here 0 means the default
	}
	return Config{
		Address:         v.Address,
		CACertFile:      v.CACertFile,
		Mount:           v.TransitMount,
		KeyPrefix:       v.KeyPrefix,
		PlatformKey:     v.PlatformKey,
		SkipKeyCreation: !v.CreateKeys,
		BatchSize:       v.BatchSize,
		Concurrency:     v.Concurrency,
		RequestTimeout:  v.RequestTimeout,
		MaxAttempts:     v.MaxAttempts,
		LoginAttempts:   v.MaxAttempts,
		RetryInitial:    v.RetryInitial,
		RetryMax:        v.RetryMax,
		TokenCacheSize:  cacheSize,
		Auth: Auth{
			Method:              v.Auth.Method,
			Token:               v.Auth.Token.Value,
			TokenFile:           v.Auth.Token.File,
			AppRoleMount:        v.Auth.AppRole.MountPath,
			RoleID:              v.Auth.AppRole.RoleID.Value,
			SecretID:            v.Auth.AppRole.SecretID.Value,
			KubernetesMount:     v.Auth.Kubernetes.MountPath,
			KubernetesRole:      v.Auth.Kubernetes.Role,
			KubernetesTokenFile: v.Auth.Kubernetes.TokenFile,
		},
	}
}

func (c *Config) setDefaults() {
	setDefault(&c.Mount, "transit")
	setDefault(&c.KeyPrefix, "orderflow-")
	setDefault(&c.PlatformKey, "orderflow-platform")
	setDefault(&c.BatchSize, 256)
	setDefault(&c.Concurrency, 4)
	setDefault(&c.RequestTimeout, 10*time.Second)
	setDefault(&c.MaxAttempts, 5)
	setDefault(&c.LoginAttempts, c.MaxAttempts)
	setDefault(&c.RetryInitial, 100*time.Millisecond)
	setDefault(&c.RetryMax, 5*time.Second)
	setDefault(&c.TokenCacheSize, 100_000)
	setDefault(&c.KnownKeys, 10_000)
	setDefault(&c.Auth.Method, AuthToken)
	setDefault(&c.Auth.AppRoleMount, "approle")
	setDefault(&c.Auth.KubernetesMount, "kubernetes")
	setDefault(&c.Auth.KubernetesTokenFile, DefaultKubernetesTokenFile)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

func setDefault[T comparable](field *T, def T) {
	var zero T
	if *field == zero {
		*field = def
	}
}

var (
	// Transit key names are \w([\w.-]*\w)?, so a prefix may end in '-' or '.'.
	keyPrefixRE = regexp.MustCompile(`^\w[\w.-]{0,63}$`)
	keyNameRE   = regexp.MustCompile(`^\w([\w.-]{0,126}\w)?$`)
	mountPathRE = regexp.MustCompile(`^[\w.-]+(/[\w.-]+)*$`)
)

func (c *Config) validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("transit config %s: "+format, append([]any{field}, args...)...))
	}
	if u, err := url.Parse(c.Address); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("Address", "%q is not an http(s) URL such as https://vault:8200", c.Address)
	}
	if !mountPathRE.MatchString(c.Mount) {
		bad("Mount", "%q is not a mount path", c.Mount)
	}
	if !keyPrefixRE.MatchString(c.KeyPrefix) {
		bad("KeyPrefix", "%q is not 1-64 letters, digits, '_', '-' or '.' starting with a letter, digit or '_'", c.KeyPrefix)
	}
	if !keyNameRE.MatchString(c.PlatformKey) {
		bad("PlatformKey", "%q is not a transit key name", c.PlatformKey)
	}
	if c.BatchSize < 1 || c.BatchSize > 10_000 {
		bad("BatchSize", "must be between 1 and 10000, got %d", c.BatchSize)
	}
	if c.Concurrency < 1 || c.Concurrency > 64 {
		bad("Concurrency", "must be between 1 and 64, got %d", c.Concurrency)
	}
	if c.MaxAttempts < 1 || c.MaxAttempts > 100 {
		bad("MaxAttempts", "must be between 1 and 100, got %d", c.MaxAttempts)
	}
	if c.LoginAttempts < 1 || c.LoginAttempts > 100 {
		bad("LoginAttempts", "must be between 1 and 100, got %d", c.LoginAttempts)
	}
	if c.RequestTimeout < 0 || c.RetryInitial < 0 || c.RetryMax < c.RetryInitial {
		bad("RequestTimeout, RetryInitial, RetryMax", "must be positive with RetryInitial <= RetryMax")
	}
	if c.KnownKeys < 1 {
		bad("KnownKeys", "must be positive, got %d", c.KnownKeys)
	}
	a := c.Auth
	switch a.Method {
	case AuthToken:
		if a.Token == "" && a.TokenFile == "" {
			bad("Auth.Token", "required with method %s (or Auth.TokenFile)", AuthToken)
		}
	case AuthAppRole:
		if !mountPathRE.MatchString(a.AppRoleMount) {
			bad("Auth.AppRoleMount", "%q is not a mount path", a.AppRoleMount)
		}
		if a.RoleID == "" || a.SecretID == "" {
			bad("Auth.RoleID, Auth.SecretID", "both required with method %s", AuthAppRole)
		}
	case AuthKubernetes:
		if !mountPathRE.MatchString(a.KubernetesMount) {
			bad("Auth.KubernetesMount", "%q is not a mount path", a.KubernetesMount)
		}
		if a.KubernetesRole == "" {
			bad("Auth.KubernetesRole", "required with method %s", AuthKubernetes)
		}
	default:
		bad("Auth.Method", "%q is not one of token, approle, kubernetes", a.Method)
	}
	return errors.Join(errs...)
}
