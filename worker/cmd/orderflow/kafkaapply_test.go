package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/kafkaclient"
	"github.com/orderflow/orderflow/worker/stacktest"
	"github.com/orderflow/orderflow/worker/topics"
)

const topicsFile = "../../../deploy/kafka/topics.yaml"

// kafkaApply runs orderflow kafka-apply on the stack's plaintext listener
// (whose ANONYMOUS principal is the brokers' super user) for prefix.
func kafkaApply(t *testing.T, prefix, scramDir string, args ...string) (int, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	all := append([]string{"kafka-apply", "--file", topicsFile, "--environment", "local", "--prefix", prefix, "--scram-dir", scramDir}, args...)
	code := run(all, &stdout, &stderr)
	return code, stdout.String() + stderr.String()
}

// On the real Kafka, topics: an input topic that exists with the wrong
// retention and no segment.ms is reported by --check, which exits 1 and
// changes nothing; a plain run creates the missing topics and fixes the
// configs; --check then finds nothing.
func TestKafkaApplyReportsAndFixesTopicDrift(t *testing.T) {
	brokers := stacktest.KafkaBrokers(t)
	t.Setenv("ORDERFLOW_KAFKA_BROKERS", strings.Join(brokers, ","))
	client := stacktest.KafkaClient(brokers)
	prefix := stacktest.UniqueName("apply") + "."
	t.Cleanup(func() { deleteTopics(t, brokers, prefix) })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// As the local stack's topics were once: 21 days, no segment.ms.
	old := prefix + "orders.amazon"
	resp, err := client.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{
		Topic: old, NumPartitions: 6, ReplicationFactor: 1,
		ConfigEntries: []kafka.ConfigEntry{{ConfigName: "retention.ms", ConfigValue: "1814400000"}},
	}}})
	if err != nil || resp.Errors[old] != nil {
		t.Fatalf("create: %v %v", err, resp.Errors[old])
	}
	scram := t.TempDir()
	code, out := kafkaApply(t, prefix, scram, "--check")
	if code != 1 {
		t.Fatalf("--check with drift: exit %d, want 1\n%s", code, out)
	}
	for _, want := range []string{
		"topic drift: " + old + ": retention.ms = 1814400000, want 1720800000",
		"topic drift: " + old + ": segment.ms = 604800000, want 86400000",
		"topic drift: " + prefix + "orders.ebay: missing",
		"acl add: User:" + prefix + "orderflow-worker Allow Read on topic " + prefix + "orders. (prefixed) from *",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("--check output lacks %q:\n%s", want, out)
		}
	}
	if drifts, _ := topics.Check(ctx, client, topics.PersonalData(old, 6)); len(drifts) != 2 {
		t.Errorf("--check changed the topic: %v", drifts)
	}
	if code, out := kafkaApply(t, prefix, scram); code != 0 || !strings.Contains(out, "35 ACL changes made, 0 differences left") {
		t.Fatalf("apply: exit %d\n%s", code, out)
	}
	if code, out := kafkaApply(t, prefix, scram, "--check"); code != 0 || !strings.Contains(out, "0 differences, nothing changed") {
		t.Errorf("--check after the fix: exit %d\n%s", code, out)
	}
}

// On the real Kafka's SASL_SSL listener (a client certificate, then
// SCRAM-SHA-512, then the standard authorizer), each principal of
// deploy/kafka/topics.yaml may do what the file grants and is refused the
// rest; a stray grant is reported and removed; a wrong password, a missing
// client certificate, a plaintext client and an untrusted CA are refused.
func TestKafkaACLsHoldOverSASLSSL(t *testing.T) {
	tlsStack := stacktest.TLS(t)
	brokers := stacktest.KafkaBrokers(t)
	t.Setenv("ORDERFLOW_KAFKA_BROKERS", strings.Join(brokers, ","))
	prefix := stacktest.UniqueName("acl") + "."
	t.Cleanup(func() { deleteTopics(t, brokers, prefix) })
	scram := t.TempDir()
	t.Cleanup(func() { kafkaApplyCleanupACLs(t, brokers, prefix) })
	if code, out := kafkaApply(t, prefix, scram); code != 0 {
		t.Fatalf("apply: exit %d\n%s", code, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// Partition 0 of every topic holds a message, so that a read has one to get.
	admin := stacktest.KafkaClient(brokers)
	for _, topic := range []string{"orders.amazon", "orders.dlq", "connector.courier", "connector.parked"} {
		// Until the broker has caught up with the new topic: "not leader".
		waitFor(t, "a message on "+topic, func() bool {
			conn, err := (&kafka.Dialer{Timeout: 10 * time.Second}).DialLeader(ctx, "tcp", brokers[0], prefix+topic, 0)
			if err == nil {
				_, err = conn.WriteMessages(kafka.Message{Value: []byte("acl test")})
				conn.Close()
			}
			return err == nil
		})
	}
	// The checks dial the partition's leader themselves: kafka-go's Client
	// reports a refused login or topic as "topic not found".
	as := func(user string, mutate func(*config.Kafka)) *kafkaclient.Clients {
		password := (stacktest.TLSStack{SCRAMDir: scram}).SCRAMPassword(t, prefix+user)
		cfg := config.Kafka{Brokers: tlsStack.KafkaBrokers, ClientID: "acl-test", TLS: tlsStack.Client(),
			SASL: config.SASL{Mechanism: "scram-sha-512", Username: prefix + user, Password: config.SecretRef{Value: config.Secret(password)}}}
		if mutate != nil {
			mutate(&cfg)
		}
		clients, err := kafkaclient.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return clients
	}
	leader := func(c *kafkaclient.Clients, topic string) (*kafka.Conn, error) {
		conn, err := c.Dialer.DialLeader(ctx, "tcp", tlsStack.KafkaBrokers[0], prefix+topic, 0)
		if err != nil {
			return nil, err
		}
		return conn, conn.SetDeadline(time.Now().Add(10 * time.Second))
	}
	produce := func(c *kafkaclient.Clients, topic string) error {
		conn, err := leader(c, topic)
		if err != nil {
			return err
		}
		defer conn.Close()
		_, err = conn.WriteMessages(kafka.Message{Value: []byte("acl test")})
		return err
	}
	fetch := func(c *kafkaclient.Clients, topic string) error {
		conn, err := leader(c, topic)
		if err != nil {
			return err
		}
		defer conn.Close()
		_, err = conn.ReadMessage(1 << 20)
		return err
	}
	commit := func(c *kafkaclient.Clients, group, topic string) error {
		resp, err := c.Admin().OffsetCommit(ctx, &kafka.OffsetCommitRequest{GroupID: prefix + group, GenerationID: -1,
			Topics: map[string][]kafka.OffsetCommit{prefix + topic: {{Partition: 0, Offset: 0}}}})
		if err == nil {
			for _, parts := range resp.Topics {
				for _, p := range parts {
					err = errors.Join(err, p.Error)
				}
			}
		}
		return err
	}
	allowed := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Errorf("%s: refused: %v", what, err)
		}
	}
	refused := func(what string, err error, want error) {
		t.Helper()
		if !errors.Is(err, want) {
			t.Errorf("%s: %v, want %v", what, err, want)
		}
	}

	worker := as("orderflow-worker", nil)
	// The brokers learn new ACLs from the metadata log, a moment after the answer.
	waitFor(t, "the worker's grants", func() bool { return produce(worker, "orders.dlq") == nil })
	allowed("worker writes the DLQ", produce(worker, "orders.dlq"))
	allowed("worker writes the courier outbox", produce(worker, "connector.courier"))
	allowed("worker reads orders.amazon", fetch(worker, "orders.amazon"))
	allowed("worker commits in its group", commit(worker, "orderflow", "orders.amazon"))
	refused("worker writes an order stream", produce(worker, "orders.amazon"), kafka.TopicAuthorizationFailed)
	refused("worker writes the parked jobs", produce(worker, "connector.parked"), kafka.TopicAuthorizationFailed)
	refused("worker reads the courier outbox", fetch(worker, "connector.courier"), kafka.TopicAuthorizationFailed)
	refused("worker commits in the dispatcher's group", commit(worker, "orderflow-dispatch", "orders.amazon"), kafka.GroupAuthorizationFailed)

	dispatcher := as("orderflow-dispatcher", nil)
	allowed("dispatcher reads the courier outbox", fetch(dispatcher, "connector.courier"))
	allowed("dispatcher parks", produce(dispatcher, "connector.parked"))
	allowed("dispatcher commits in its group", commit(dispatcher, "orderflow-dispatch", "connector.courier"))
	refused("dispatcher reads an order stream", fetch(dispatcher, "orders.amazon"), kafka.TopicAuthorizationFailed)
	refused("dispatcher writes the DLQ", produce(dispatcher, "orders.dlq"), kafka.TopicAuthorizationFailed)
	refused("dispatcher writes the courier outbox", produce(dispatcher, "connector.courier"), kafka.TopicAuthorizationFailed)

	// A test user named admin under the prefix is no super user.
	nobody := as("admin", nil)
	refused("a user without grants reads", fetch(nobody, "orders.amazon"), kafka.TopicAuthorizationFailed)

	wrongPassword := as("orderflow-worker", func(c *config.Kafka) { c.SASL.Password.Value = "not-the-password" })
	refused("a wrong password", fetch(wrongPassword, "orders.amazon"), kafka.SASLAuthenticationFailed)
	noCertificate := as("orderflow-worker", func(c *config.Kafka) { c.TLS.CertFile, c.TLS.KeyFile = "", "" })
	if err := fetch(noCertificate, "orders.amazon"); err == nil {
		t.Error("a client without a certificate was served")
	}
	systemRoots := as("orderflow-worker", func(c *config.Kafka) { c.TLS.CAFile = "" })
	if err := fetch(systemRoots, "orders.amazon"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("a client that does not trust the stack's CA: %v, want a certificate error", err)
	}
	plaintext := &kafka.Dialer{Timeout: 5 * time.Second}
	if conn, err := plaintext.DialLeader(ctx, "tcp", tlsStack.KafkaBrokers[0], prefix+"orders.amazon", 0); err == nil {
		conn.Close()
		t.Error("a plaintext client was served on the TLS listener")
	}
	// And the listener speaks TLS 1.2 at least.
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", tlsStack.KafkaBrokers[0],
		&tls.Config{MaxVersion: tls.VersionTLS11, InsecureSkipVerify: true}) //nolint:gosec // probing the server's floor
	if err == nil {
		conn.Close()
		t.Error("the TLS listener accepted TLS 1.1")
	}

	// A stray grant is drift: --check names it, apply removes it.
	stray := kafka.ACLEntry{ResourceType: kafka.ResourceTypeTopic, ResourceName: prefix + "orders.amazon", ResourcePatternType: kafka.PatternTypeLiteral,
		Principal: "User:" + prefix + "orderflow-worker", Host: "*", Operation: kafka.ACLOperationTypeWrite, PermissionType: kafka.ACLPermissionTypeAllow}
	if resp, err := admin.CreateACLs(ctx, &kafka.CreateACLsRequest{ACLs: []kafka.ACLEntry{stray}}); err != nil || errors.Join(resp.Errors...) != nil {
		t.Fatalf("create a stray ACL: %v %v", err, resp)
	}
	waitFor(t, "the stray grant", func() bool { return produce(worker, "orders.amazon") == nil })
	code, out := kafkaApply(t, prefix, scram, "--check")
	if want := "acl remove: User:" + prefix + "orderflow-worker Allow Write on topic " + prefix + "orders.amazon (literal) from *"; code != 1 || !strings.Contains(out, want) {
		t.Errorf("--check with a stray grant: exit %d, want 1 and %q\n%s", code, want, out)
	}
	if code, out := kafkaApply(t, prefix, scram); code != 0 || !strings.Contains(out, "1 ACL changes made") {
		t.Fatalf("apply: exit %d\n%s", code, out)
	}
	waitFor(t, "the stray grant's removal", func() bool { return errors.Is(produce(worker, "orders.amazon"), kafka.TopicAuthorizationFailed) })
}

// kafkaApplyCleanupACLs deletes the test principals' ACLs.
func kafkaApplyCleanupACLs(t *testing.T, brokers []string, prefix string) {
	admin := stacktest.KafkaClient(brokers)
	var filters []kafka.DeleteACLsFilter
	for _, user := range []string{"orderflow-worker", "orderflow-dispatcher", "orderflow-dlq-replay"} {
		filters = append(filters, kafka.DeleteACLsFilter{ResourceTypeFilter: kafka.ResourceTypeAny, ResourcePatternTypeFilter: kafka.PatternTypeAny,
			PrincipalFilter: "User:" + prefix + user, Operation: kafka.ACLOperationTypeAny, PermissionType: kafka.ACLPermissionTypeAny})
	}
	if _, err := admin.DeleteACLs(context.Background(), &kafka.DeleteACLsRequest{Filters: filters}); err != nil {
		t.Logf("cleanup ACLs: %v", err)
	}
}
