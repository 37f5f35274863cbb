// Package config is orderflow's configuration: one YAML file whose every key can be
// overridden by an environment variable, with defaults stated on each field, secrets
// only by reference, and a bad file or value refused at start with an error that
// names the key.
//
// A key's environment variable is ORDERFLOW_ followed by its path in upper case with
// dots as underscores: kafka.batch_max_messages is ORDERFLOW_KAFKA_BATCH_MAX_MESSAGES.
// Lists are comma-separated; durations use Go's syntax ("500ms", "2m"); calendar
// periods are "21d", "18mo", "6y"; days of the year "03-31"; maps "DE=10y,FR=10y" or
// "acme=12-31".
//
// The retention classes are declared in one table (classes.go): each class's period,
// default and bounds, and what it governs. Financial retention is checked against
// statutory minimums kept in one table with their sources (statutory.go): a
// configured period below its jurisdiction's minimum is refused, and a jurisdiction
// without a period of its own is never kept for less than its minimum.
//
// A connector's endpoint is refused unless its host is in the allow-list of
// every tenant whose data it carries (egress.go): exact hosts, https only
// outside loopback.
package config

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/orderflow/orderflow/worker/channel"
	"github.com/orderflow/orderflow/worker/order"
)

// EnvPrefix starts every override variable.
const EnvPrefix = "ORDERFLOW_"

// Config is the whole configuration. Later subsystems add their sections here.
type Config struct {
	Kafka       Kafka       `yaml:"kafka"`
	Pipeline    Pipeline    `yaml:"pipeline"`
	Metrics     Metrics     `yaml:"metrics"`
	Log         Log         `yaml:"log"`
	Vault       Vault       `yaml:"vault"`
	ClickHouse  ClickHouse  `yaml:"clickhouse"`
	Retention   Retention   `yaml:"retention"`
	Offboarding Offboarding `yaml:"offboarding"`
	// Connectors are the courier and accounting connectors, by name
	// (connectors.go). Default: none.
	Connectors Connectors `yaml:"connectors"`
	// Egress is the allow-list of the hosts each tenant's connectors may
	// call (egress.go). Default: the loopback hosts only.
	Egress Egress `yaml:"egress"`
	// Dispatch is the courier dispatcher's (orderflow dispatch) own
	// consumer group and retry policy (dispatch.go).
	Dispatch Dispatch `yaml:"dispatch"`
	// EbayNotifications is eBay's account-deletion endpoint (ebay.go).
	EbayNotifications EbayNotifications `yaml:"ebay_notifications"`
}

// Kafka is how the worker reaches the order streams.
type Kafka struct {
	// Brokers are the bootstrap addresses, host:port. Required.
	Brokers []string `yaml:"brokers"`
	// ClientID names the worker to the brokers. Default "orderflow".
	ClientID string `yaml:"client_id"`
	// GroupID is the consumer group. Default "orderflow".
	GroupID string `yaml:"group_id"`
	// Topics are the pipeline's topic names.
	Topics Topics `yaml:"topics"`
	// SessionTimeout: a member silent for this long is dropped from the group.
	// Default 30s.
	SessionTimeout time.Duration `yaml:"session_timeout"`
	// RebalanceTimeout bounds how long a rebalance waits for members to rejoin.
	// Default 30s.
	RebalanceTimeout time.Duration `yaml:"rebalance_timeout"`
	// HeartbeatInterval is how often the member heartbeats, and so how soon it
	// joins a rebalance. At most a third of SessionTimeout. Default 3s.
	HeartbeatInterval time.Duration `yaml:"heartbeat_interval"`
	// SASL authenticates to the brokers; empty mechanism means none.
	SASL SASL `yaml:"sasl"`
	// TLS to the brokers: a CA file, and a client certificate for brokers that
	// require mutual TLS. Default off.
	TLS TLS `yaml:"tls"`
}

// Topics names the topics the worker reads and writes.
type Topics struct {
	// Channels maps each channel of the registry (worker/channel) to its order
	// stream, one key per channel beside dead_letter: kafka.topics.amazon
	// (ORDERFLOW_KAFKA_TOPICS_AMAZON), kafka.topics.ebay. Default: each
	// channel's own, "orders.amazon" and "orders.ebay". A key that is not a
	// registered channel is refused.
	Channels map[order.Channel]string `yaml:",inline"`
	// DeadLetter receives what cannot be decoded or normalised. Default "orders.dlq".
	DeadLetter string `yaml:"dead_letter"`
	// Courier is the courier outbox: the jobs the worker writes beside each
	// batch's facts and the dispatcher reads. Default "connector.courier".
	Courier string `yaml:"courier"`
	// Accounting is the accounting outbox: the postings the accounting pass
	// writes and the dispatcher posts. Default "connector.accounting".
	Accounting string `yaml:"accounting"`
	// Parked holds the connector jobs that failed for good or ran out of
	// retries, still encrypted, until orderflow replay-parked puts them back.
	// Default "connector.parked".
	Parked string `yaml:"parked"`
	// Erasure carries buyers' erasure requests (a seller's tooling, the eBay
	// account-deletion endpoint) to `orderflow erase --consume`. Default
	// "requests.erasure".
	Erasure string `yaml:"erasure"`
}

// Orders returns the channels' order streams, in the registry's order: the
// topics the worker consumes.
func (t Topics) Orders() []string {
	var out []string
	for _, ch := range channel.Default().Names() {
		if topic, ok := t.Channels[ch]; ok {
			out = append(out, topic)
		}
	}
	return out
}

// ChannelsByTopic maps each order stream to the channel whose orders it carries.
func (t Topics) ChannelsByTopic() map[string]order.Channel {
	out := make(map[string]order.Channel, len(t.Channels))
	for ch, topic := range t.Channels {
		out[topic] = ch
	}
	return out
}

// SASL is broker authentication. The password is a reference, never a value.
type SASL struct {
	// Mechanism is "", "plain", "scram-sha-256" or "scram-sha-512". Default "" (none).
	Mechanism string `yaml:"mechanism"`
	// Username for SASL.
	Username string `yaml:"username"`
	// Password says where the password is: an environment variable or a file.
	Password SecretRef `yaml:"password"`
}

// Pipeline shapes the consume-normalise-write loop.
type Pipeline struct {
	// BatchMaxMessages caps a batch's size, and so the rows of one ClickHouse
	// insert (an order is about 3.5 rows over the four tables): ClickHouse wants
	// blocks of 10k-100k rows, about one insert per second per table. After a
	// start, batches grow to it from a sixteenth of it, doubling, so that the
	// first commit comes soon. Default 10000; 1 to 100000.
	BatchMaxMessages int `yaml:"batch_max_messages"`
	// BatchMaxWait caps how long a batch waits to fill once its first message has
	// arrived. A batch is handed out sooner, as soon as the worker has caught up
	// with its partitions (their high watermarks reached and nothing more
	// fetched): under a backlog batches fill to BatchMaxMessages, and on a live
	// stream a batch is what came while the last one was written, so latency is
	// the pipeline's own. This bounds only a batch whose partitions' ends its
	// messages cannot show. Default 1s.
	BatchMaxWait time.Duration `yaml:"batch_max_wait"`
	// BatchIdle hands a batch out once no message has come for this long, for
	// partitions whose ends cannot be seen (a transaction's marker takes the
	// last offset). 0 waits the full BatchMaxWait there. Default 25ms; 0 to
	// BatchMaxWait.
	BatchIdle time.Duration `yaml:"batch_idle"`
	// MinWriteInterval is the least time between the starts of two batch
	// writes: on a live stream, the most inserts a second each table takes
	// (about 7 parts each batch), traded for up to this much latency. Under a
	// backlog a write takes longer than this anyway. 0 writes a batch as soon
	// as the last one is committed (latency first). Default 0; 0 to 1m.
	MinWriteInterval time.Duration `yaml:"min_write_interval"`
	// RetryInitial is the first wait after a stage failed transiently (fetch,
	// protect, dead-letter, write, commit); it doubles (with jitter) up to
	// RetryMax, and retries go on until the stage succeeds or the worker stops:
	// a batch is never skipped. The pipeline is the worker's one retrier.
	// Defaults 100ms and 30s.
	RetryInitial time.Duration `yaml:"retry_initial"`
	RetryMax     time.Duration `yaml:"retry_max"`
	// ShutdownTimeout bounds the close of Kafka connections at stop; keep it below
	// the pod's termination grace period. Default 10s.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// MaxClockSkew is how far past the worker's clock an order's purchase, update
	// or refund time, or its envelope's received_at, may lie (producers' clocks
	// run a little ahead); a later one is dead-lettered as invalid_value, since
	// retention counts from these times. Times before 2000-01-01 are refused
	// whatever this says. Default 24h; 1m to 720h.
	MaxClockSkew time.Duration `yaml:"max_clock_skew"`
}

// Metrics is the worker's HTTP endpoint for /metrics, /healthz and /readyz.
type Metrics struct {
	// Listen is the address to serve on. Default ":9464".
	Listen string `yaml:"listen"`
	// Pprof also serves Go's profiles under /debug/pprof/, for profiling a
	// running worker. Default false.
	Pprof bool `yaml:"pprof"`
	// Pushgateway is the base URL of a Prometheus Pushgateway, such as
	// "http://pushgateway:9091": the one-shot commands (purge, offboard) push
	// their metrics there when they end, since nothing scrapes them once they
	// have exited. Default "" (no push).
	Pushgateway string `yaml:"pushgateway"`
	// TLS serves /metrics, /healthz and /readyz over HTTPS, so the scrape is
	// encrypted too (Prometheus's tls_config.ca_file names the CA). Default
	// off.
	TLS ServerTLS `yaml:"tls"`
}

// ServerTLS is a listener's certificate. The files are read again when they
// change (a cert-manager renewal), without a restart.
type ServerTLS struct {
	// CertFile and KeyFile are the certificate chain and its key, in PEM.
	// Both or neither.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// Enabled reports whether the listener serves TLS.
func (t ServerTLS) Enabled() bool { return t.CertFile != "" }

// Log configures the structured log on stderr.
type Log struct {
	// Level is "debug", "info", "warn" or "error". Default "info".
	Level string `yaml:"level"`
	// Format is "json" or "text". Default "json".
	Format string `yaml:"format"`
}

// Defaults returns the configuration with every default filled in.
func Defaults() Config {
	return Config{
		Kafka: Kafka{
			ClientID:          "orderflow",
			GroupID:           "orderflow",
			Topics:            Topics{Channels: channel.Default().Topics(), DeadLetter: "orders.dlq", Courier: "connector.courier", Accounting: "connector.accounting", Parked: "connector.parked", Erasure: "requests.erasure"},
			SessionTimeout:    30 * time.Second,
			RebalanceTimeout:  30 * time.Second,
			HeartbeatInterval: 3 * time.Second,
		},
		Pipeline: Pipeline{
			BatchMaxMessages: 10_000,
			BatchMaxWait:     time.Second,
			BatchIdle:        25 * time.Millisecond,
			MaxClockSkew:     24 * time.Hour,
			RetryInitial:     100 * time.Millisecond,
			RetryMax:         30 * time.Second,
			ShutdownTimeout:  10 * time.Second,
		},
		Metrics:           Metrics{Listen: ":9464"},
		Log:               Log{Level: "info", Format: "json"},
		Vault:             defaultVault(),
		ClickHouse:        defaultClickHouse(),
		Retention:         defaultRetention(),
		Offboarding:       defaultOffboarding(),
		EbayNotifications: defaultEbayNotifications(),
		Egress:            defaultEgress(),
		Dispatch:          defaultDispatch(),
	}
}

// Load reads the YAML file at path (none when path is ""), applies environment
// overrides from environ (os.Environ() form), resolves secret references and
// validates. Every problem found is reported, each naming its key.
func Load(path string, environ []string) (Config, error) {
	cfg := Defaults()
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return Config{}, fmt.Errorf("config: %w", err)
		}
		if err := decodeYAML(data, &cfg); err != nil {
			return Config{}, fmt.Errorf("config %s: %w", path, err)
		}
	}
	if err := applyEnv(&cfg, environ); err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	if err := cfg.resolveSecrets(environ); err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	return cfg, nil
}

// KeyError is a bad value, named by its key.
type KeyError struct {
	Key string // dotted path, e.g. "kafka.brokers"
	Msg string
}

func (e *KeyError) Error() string { return e.Key + ": " + e.Msg }

func keyErr(key, format string, args ...any) error {
	return &KeyError{Key: key, Msg: fmt.Sprintf(format, args...)}
}

// Validate checks every value and returns all problems, each naming its key.
func (c *Config) Validate() error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	k := c.Kafka
	if len(k.Brokers) == 0 {
		add(keyErr("kafka.brokers", "at least one broker address is required"))
	}
	for i, b := range k.Brokers {
		if !validHostPort(b) {
			add(keyErr("kafka.brokers", "entry %d is not host:port", i))
		}
	}
	add(nonEmpty("kafka.client_id", k.ClientID))
	add(nonEmpty("kafka.group_id", k.GroupID))
	errs = append(errs, k.Topics.validate()...)
	add(between("kafka.session_timeout", k.SessionTimeout, 6*time.Second, 5*time.Minute))
	add(between("kafka.rebalance_timeout", k.RebalanceTimeout, time.Second, 10*time.Minute))
	add(between("kafka.heartbeat_interval", k.HeartbeatInterval, 100*time.Millisecond, k.SessionTimeout/3))
	switch k.SASL.Mechanism {
	case "":
	case "plain", "scram-sha-256", "scram-sha-512":
		add(nonEmpty("kafka.sasl.username", k.SASL.Username))
		if k.SASL.Password.Value == "" {
			add(keyErr("kafka.sasl.password", "required with SASL mechanism %s: set env or file", k.SASL.Mechanism))
		}
	default:
		add(keyErr("kafka.sasl.mechanism", "%q is not one of plain, scram-sha-256, scram-sha-512", k.SASL.Mechanism))
	}
	if k.SASL.Mechanism == "plain" && !k.TLS.Enabled {
		add(keyErr("kafka.sasl.mechanism", "plain sends the password as it is: it needs kafka.tls.enabled"))
	}
	errs = append(errs, k.TLS.validate("kafka.tls")...)

	p := c.Pipeline
	if p.BatchMaxMessages < 1 || p.BatchMaxMessages > 100_000 {
		add(keyErr("pipeline.batch_max_messages", "must be between 1 and 100000, got %d", p.BatchMaxMessages))
	}
	add(between("pipeline.batch_max_wait", p.BatchMaxWait, time.Millisecond, time.Minute))
	if p.BatchIdle != 0 {
		add(between("pipeline.batch_idle", p.BatchIdle, time.Millisecond, p.BatchMaxWait))
	}
	if p.MinWriteInterval != 0 {
		add(between("pipeline.min_write_interval", p.MinWriteInterval, time.Millisecond, time.Minute))
	}
	add(between("pipeline.max_clock_skew", p.MaxClockSkew, time.Minute, 30*24*time.Hour))
	add(between("pipeline.retry_initial", p.RetryInitial, time.Millisecond, time.Minute))
	add(between("pipeline.retry_max", p.RetryMax, p.RetryInitial, time.Hour))
	add(between("pipeline.shutdown_timeout", p.ShutdownTimeout, time.Second, 10*time.Minute))

	if c.Metrics.Listen != "" && !validHostPort(c.Metrics.Listen) {
		add(keyErr("metrics.listen", "%q is not host:port (\":9464\" listens on every interface)", c.Metrics.Listen))
	}
	errs = append(errs, TLS{Enabled: true, CertFile: c.Metrics.TLS.CertFile, KeyFile: c.Metrics.TLS.KeyFile}.validate("metrics.tls")...)
	if c.Metrics.Pushgateway != "" && !httpURL(c.Metrics.Pushgateway) {
		add(keyErr("metrics.pushgateway", "%q is not an http(s) URL such as http://pushgateway:9091", c.Metrics.Pushgateway))
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		add(keyErr("log.level", "%q is not one of debug, info, warn, error", c.Log.Level))
	}
	switch c.Log.Format {
	case "json", "text":
	default:
		add(keyErr("log.format", "%q is not one of json, text", c.Log.Format))
	}
	errs = append(errs, c.Vault.validate()...)
	errs = append(errs, c.ClickHouse.validate()...)
	errs = append(errs, c.Retention.validate()...)
	errs = append(errs, c.Offboarding.validate(c.Vault.RequestTimeout)...)
	errs = append(errs, c.Egress.validate()...)
	errs = append(errs, c.Connectors.validate(c.Egress)...)
	errs = append(errs, c.Dispatch.validate()...)
	return errors.Join(errs...)
}

// validate checks that every registered channel has a topic, that no key is
// another channel, and that no two keys share a topic.
func (t Topics) validate() []error {
	var errs []error
	reg := channel.Default()
	for _, ch := range slices.Sorted(maps.Keys(t.Channels)) {
		if !reg.Has(ch) {
			errs = append(errs, unknownChannel("kafka.topics."+string(ch), ""))
		}
	}
	type keyTopic struct{ key, topic string }
	var all []keyTopic
	for _, ch := range reg.Names() {
		all = append(all, keyTopic{string(ch), t.Channels[ch]})
	}
	all = append(all, keyTopic{"dead_letter", t.DeadLetter}, keyTopic{"courier", t.Courier}, keyTopic{"accounting", t.Accounting}, keyTopic{"parked", t.Parked}, keyTopic{"erasure", t.Erasure})
	byTopic := map[string]string{}
	for _, kt := range all {
		if err := nonEmpty("kafka.topics."+kt.key, kt.topic); err != nil {
			errs = append(errs, err)
			continue
		}
		if !channel.ValidTopic(kt.topic) {
			errs = append(errs, keyErr("kafka.topics."+kt.key, "is not %s", channel.TopicNameRule))
			continue
		}
		if other, ok := byTopic[kt.topic]; ok {
			errs = append(errs, keyErr("kafka.topics."+kt.key, "is kafka.topics.%s's topic too: every channel, dead_letter, courier, accounting, parked and erasure need a topic of their own", other))
		}
		byTopic[kt.topic] = kt.key
	}
	return errs
}

// unknownChannel is the error of a kafka.topics key that names no registered
// channel; at says where in the file, when it is known.
func unknownChannel(key, at string) error {
	names := make([]string, 0, 2)
	for _, ch := range channel.Default().Names() {
		names = append(names, string(ch))
	}
	return keyErr(key, "%snot a channel this worker reads (%s) nor dead_letter", at, strings.Join(names, ", "))
}

func nonEmpty(key, v string) error {
	if strings.TrimSpace(v) == "" {
		return keyErr(key, "must not be empty")
	}
	return nil
}

func between(key string, d, lo, hi time.Duration) error {
	if d < lo || d > hi {
		return keyErr(key, "must be between %s and %s, got %s", lo, hi, d)
	}
	return nil
}

func validHostPort(s string) bool {
	i := strings.LastIndexByte(s, ':')
	if i < 0 || i == len(s)-1 {
		return false
	}
	for _, c := range s[i+1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// httpURL reports whether s is an absolute http or https URL with a host.
func httpURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}
