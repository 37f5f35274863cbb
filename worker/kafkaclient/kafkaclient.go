// Package kafkaclient builds the kafka-go clients of every command from the
// kafka section of the configuration, so that the consumer's dialer, the
// producers' transport and the admin client all carry the same client id,
// TLS and SASL.
package kafkaclient

import (
	"errors"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"

	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/tlsconfig"
)

// Timeouts of the connections and requests these clients make.
const (
	// DialTimeout bounds the dialer's connection to a broker, TLS and SASL
	// included (the transport keeps kafka-go's default, 5s).
	DialTimeout = 10 * time.Second
	// AdminTimeout bounds one request of the admin client (metadata, topics).
	AdminTimeout = 30 * time.Second
)

// Clients are the kafka-go clients of one process. They are safe for
// concurrent use and hold no connection themselves.
type Clients struct {
	// Brokers are the bootstrap addresses, host:port.
	Brokers []string
	// Dialer is for kafka.Reader (the consumer group and the DLQ reader).
	Dialer *kafka.Dialer
	// Transport is for kafka.Writer and kafka.Client.
	Transport *kafka.Transport
}

// New builds the clients of cfg, the kafka section as config.Load returns it.
// It checks again what it relies on (config.Validate does too): brokers, a
// known SASL mechanism, and a username and password with one. Its errors name
// the key and never quote a credential.
func New(cfg config.Kafka) (*Clients, error) {
	if len(cfg.Brokers) == 0 {
		return nil, errors.New("kafka.brokers: at least one broker is required")
	}
	mechanism, err := saslMechanism(cfg.SASL)
	if err != nil {
		return nil, err
	}
	tlsCfg, err := tlsconfig.Client("kafka.tls", cfg.TLS)
	if err != nil {
		return nil, err
	}
	return &Clients{
		Brokers: cfg.Brokers,
		Dialer: &kafka.Dialer{
			ClientID: cfg.ClientID, Timeout: DialTimeout, DualStack: true, TLS: tlsCfg, SASLMechanism: mechanism,
		},
		Transport: &kafka.Transport{ClientID: cfg.ClientID, TLS: tlsCfg, SASL: mechanism},
	}, nil
}

// Admin returns a client for metadata and topic requests over the transport.
func (c *Clients) Admin() *kafka.Client {
	return &kafka.Client{Addr: kafka.TCP(c.Brokers...), Transport: c.Transport, Timeout: AdminTimeout}
}

// saslMechanism returns the configured mechanism, nil for none.
func saslMechanism(cfg config.SASL) (sasl.Mechanism, error) {
	if cfg.Mechanism == "" {
		return nil, nil
	}
	password := cfg.Password.Value.Reveal()
	switch {
	case cfg.Username == "":
		return nil, fmt.Errorf("kafka.sasl.username: required with SASL mechanism %s", cfg.Mechanism)
	case password == "":
		return nil, fmt.Errorf("kafka.sasl.password: required with SASL mechanism %s: set env or file", cfg.Mechanism)
	}
	var algo scram.Algorithm
	switch cfg.Mechanism {
	case "plain":
		return plain.Mechanism{Username: cfg.Username, Password: password}, nil
	case "scram-sha-256":
		algo = scram.SHA256
	case "scram-sha-512":
		algo = scram.SHA512
	default:
		return nil, fmt.Errorf("kafka.sasl.mechanism: %q is not one of plain, scram-sha-256, scram-sha-512", cfg.Mechanism)
	}
	m, err := scram.Mechanism(algo, cfg.Username, password)
	if err == nil {
		return m, nil
	}
	// The library's error quotes the credential SASLprep refused, so it is
	// not passed on: only which key holds it.
	key := "kafka.sasl.password"
	if _, userErr := scram.Mechanism(algo, cfg.Username, "x"); userErr != nil {
		key = "kafka.sasl.username"
	}
	return nil, fmt.Errorf("%s: holds a character that SASLprep (RFC 4013) prohibits, such as a control character, so %s cannot use it", key, cfg.Mechanism)
}
