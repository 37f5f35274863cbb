package kafkaclient_test

import (
	"context"
	"crypto/tls"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	xscram "github.com/xdg-go/scram"

	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/kafkaclient"
	"github.com/orderflow/orderflow/worker/stacktest"
)

func kafkaConfig(mechanism, username, password string) config.Kafka {
	return config.Kafka{
		Brokers: []string{"127.0.0.1:9"}, ClientID: "orderflow-test",
		SASL: config.SASL{Mechanism: mechanism, Username: username, Password: config.SecretRef{Env: "X", Value: config.Secret(password)}},
	}
}

// TestPlainSendsTheCredentials checks the PLAIN mechanism's initial response
// (RFC 4616: authzid NUL authcid NUL passwd), on the dialer and the transport alike.
func TestPlainSendsTheCredentials(t *testing.T) {
	c, err := kafkaclient.New(kafkaConfig("plain", "shop", "s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	for name, m := range map[string]sasl.Mechanism{"dialer": c.Dialer.SASLMechanism, "transport": c.Transport.SASL} {
		if m == nil || m.Name() != "PLAIN" {
			t.Fatalf("%s: mechanism %v, want PLAIN", name, m)
		}
		_, ir, err := m.Start(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if string(ir) != "\x00shop\x00s3cret" {
			t.Errorf("%s: initial response %q", name, ir)
		}
	}
}

// TestScramAuthenticates runs each SCRAM mechanism's whole exchange against
// a SCRAM server (RFC 5802, the one Kafka's brokers speak) that knows the
// user's password: it succeeds with the configured password and fails with
// another, so the username and password reach the mechanism, which names the
// configured algorithm in the handshake.
func TestScramAuthenticates(t *testing.T) {
	for mechanism, c := range map[string]struct {
		name string
		hash xscram.HashGeneratorFcn
	}{
		"scram-sha-256": {"SCRAM-SHA-256", xscram.SHA256},
		"scram-sha-512": {"SCRAM-SHA-512", xscram.SHA512},
	} {
		t.Run(mechanism, func(t *testing.T) {
			server := scramServer(t, c.hash, "shop", "s3cret")
			right, err := kafkaclient.New(kafkaConfig(mechanism, "shop", "s3cret"))
			if err != nil {
				t.Fatal(err)
			}
			if got := right.Dialer.SASLMechanism.Name(); got != c.name || right.Transport.SASL.Name() != c.name {
				t.Errorf("mechanism %s, want %s", got, c.name)
			}
			if err := scramExchange(right.Transport.SASL, server); err != nil {
				t.Errorf("the right password: %v", err)
			}
			if err := scramExchange(right.Dialer.SASLMechanism, server); err != nil {
				t.Errorf("the dialer, the right password: %v", err)
			}
			wrong, err := kafkaclient.New(kafkaConfig(mechanism, "shop", "s3cret!"))
			if err != nil {
				t.Fatal(err)
			}
			if err := scramExchange(wrong.Transport.SASL, server); err == nil {
				t.Error("another password authenticated")
			}
		})
	}
}

func scramServer(t *testing.T, hash xscram.HashGeneratorFcn, username, password string) *xscram.Server {
	t.Helper()
	client, err := hash.NewClient(username, password, "")
	if err != nil {
		t.Fatal(err)
	}
	stored := client.GetStoredCredentials(xscram.KeyFactors{Salt: "orderflow-salt", Iters: 4096})
	server, err := hash.NewServer(func(user string) (xscram.StoredCredentials, error) {
		if user != username {
			return xscram.StoredCredentials{}, errors.New("unknown user")
		}
		return stored, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return server
}

// scramExchange plays the broker's side of a SASL handshake with m.
func scramExchange(m sasl.Mechanism, server *xscram.Server) error {
	ctx := context.Background()
	sess, msg, err := m.Start(ctx)
	if err != nil {
		return err
	}
	conv := server.NewConversation()
	for range 5 {
		challenge, err := conv.Step(string(msg))
		if err != nil {
			return err
		}
		done, resp, err := sess.Next(ctx, []byte(challenge))
		if err != nil {
			return err
		}
		if done {
			if !conv.Valid() {
				return errors.New("the client finished but the server did not accept it")
			}
			return nil
		}
		msg = resp
	}
	return errors.New("no end to the exchange")
}

func TestNoMechanismMeansNoSASL(t *testing.T) {
	c, err := kafkaclient.New(kafkaConfig("", "", ""))
	if err != nil {
		t.Fatal(err)
	}
	if c.Dialer.SASLMechanism != nil || c.Transport.SASL != nil {
		t.Errorf("mechanisms %v and %v, want none", c.Dialer.SASLMechanism, c.Transport.SASL)
	}
}

func TestTLSAndClientIDOnEveryClient(t *testing.T) {
	for _, on := range []bool{false, true} {
		cfg := kafkaConfig("", "", "")
		cfg.TLS = config.TLS{Enabled: on}
		c, err := kafkaclient.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		admin := c.Admin()
		transport, ok := admin.Transport.(*kafka.Transport)
		if !ok || transport != c.Transport {
			t.Fatalf("the admin client does not use the transport: %T", admin.Transport)
		}
		for name, tc := range map[string]*tls.Config{"dialer": c.Dialer.TLS, "transport": c.Transport.TLS} {
			switch {
			case !on && tc != nil:
				t.Errorf("%s: TLS without kafka.tls", name)
			case on && tc == nil:
				t.Errorf("%s: no TLS with kafka.tls", name)
			case on && tc.MinVersion < tls.VersionTLS12:
				t.Errorf("%s: TLS from version %x, want 1.2 at least", name, tc.MinVersion)
			case on && tc.InsecureSkipVerify:
				t.Errorf("%s: TLS without verifying the brokers", name)
			}
		}
		if c.Dialer.ClientID != "orderflow-test" || c.Transport.ClientID != "orderflow-test" {
			t.Errorf("client ids %q and %q, want orderflow-test", c.Dialer.ClientID, c.Transport.ClientID)
		}
	}
}

// TestErrorsNameTheKeyNotTheSecret: a configuration New cannot use is refused
// with the key's name, and never with the credential itself (the SCRAM
// library's own message quotes the password it refuses).
func TestErrorsNameTheKeyNotTheSecret(t *testing.T) {
	const user, secret = "shop\u0007bell", "hunter2\u0007bell"
	for name, c := range map[string]struct {
		cfg  config.Kafka
		want string
	}{
		"scram password SASLprep refuses": {kafkaConfig("scram-sha-256", "shop", secret), "kafka.sasl.password"},
		"scram username SASLprep refuses": {kafkaConfig("scram-sha-512", user, "fine"), "kafka.sasl.username"},
		"unknown mechanism":               {kafkaConfig("gssapi", "shop", secret), "kafka.sasl.mechanism"},
		"mechanism without username":      {kafkaConfig("plain", "", secret), "kafka.sasl.username"},
		"mechanism without password":      {kafkaConfig("scram-sha-256", "shop", ""), "kafka.sasl.password"},
		"no brokers":                      {config.Kafka{ClientID: "x"}, "kafka.brokers"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := kafkaclient.New(c.cfg)
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("%q does not name %s", err, c.want)
			}
			for _, s := range []string{"hunter2", "bell"} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("%q shows a credential", err)
				}
			}
		})
	}
}

// TestTheBrokerSeesTheClients uses the clients against the stack's Kafka: the
// admin client reads metadata; a consumer group member dialled by the dialer
// is known to the broker by the configured client id; and with kafka.tls the
// clients speak TLS, which the plaintext listener refuses, rather than
// falling back to plaintext.
func TestTheBrokerSeesTheClients(t *testing.T) {
	brokers := stacktest.KafkaBrokers(t)
	topic, group, clientID := stacktest.UniqueName("kafkaclient"), stacktest.UniqueName("kafkaclient-group"), stacktest.UniqueName("orderflow-client")
	stacktest.CreateTopic(t, brokers, topic, 1)
	c, err := kafkaclient.New(config.Kafka{Brokers: brokers, ClientID: clientID})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	meta, err := c.Admin().Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil || len(meta.Topics) != 1 || meta.Topics[0].Error != nil {
		t.Fatalf("metadata of %s: %v %+v", topic, err, meta)
	}

	r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, GroupID: group, Topic: topic, Dialer: c.Dialer,
		HeartbeatInterval: 500 * time.Millisecond})
	defer r.Close()
	fetched := make(chan error, 1)
	go func() { _, err := r.FetchMessage(ctx); fetched <- err }() // joins the group; nothing to read
	var members []kafka.DescribeGroupsResponseMember
	for ctx.Err() == nil && len(members) == 0 {
		resp, err := c.Admin().DescribeGroups(ctx, &kafka.DescribeGroupsRequest{GroupIDs: []string{group}})
		if err == nil && len(resp.Groups) == 1 && resp.Groups[0].GroupState == "Stable" {
			members = resp.Groups[0].Members
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(members) != 1 || members[0].ClientID != clientID {
		t.Errorf("group members %+v, want one with client id %s", members, clientID)
	}
	_ = r.Close()
	<-fetched

	tlsClients, err := kafkaclient.New(config.Kafka{Brokers: brokers, ClientID: clientID, TLS: config.TLS{Enabled: true}})
	if err != nil {
		t.Fatal(err)
	}
	tctx, tcancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer tcancel()
	if _, err := tlsClients.Admin().Metadata(tctx, &kafka.MetadataRequest{Topics: []string{topic}}); err == nil {
		t.Error("the admin client reached the plaintext listener with kafka.tls set")
	}
	if conn, err := tlsClients.Dialer.DialContext(tctx, "tcp", brokers[0]); err == nil {
		conn.Close()
		t.Error("the dialer reached the plaintext listener with kafka.tls set")
	}
}
