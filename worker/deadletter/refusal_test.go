package deadletter_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/orderflow/orderflow/worker/deadletter"
	"github.com/orderflow/orderflow/worker/failure"
	"github.com/orderflow/orderflow/worker/stream"
)

// sealer stands in for Vault here: this test is about Kafka's answer.
type sealer struct{}

func (sealer) Encrypt(_ context.Context, _ string, p [][]byte) ([]string, error) {
	return sealed(p), nil
}
func (sealer) EncryptPlatform(_ context.Context, p [][]byte) ([]string, error) { return sealed(p), nil }

func sealed(p [][]byte) []string {
	out := make([]string, len(p))
	for i := range out {
		out[i] = "vault:v1:sealed"
	}
	return out
}

// A broker that refuses the worker the dead-letter topic (no Write ACL) fails
// Publish after one attempt (the pipeline retries, not the writer) with an
// error permanent for the worker. kfake plays the broker: the stack's Kafka
// has no SASL or ACLs. (A wrong password is the consumer's test: kfake hangs
// up on it where Kafka answers SASL_AUTHENTICATION_FAILED, which kafka-go's
// writer then reports as a lost connection; the consumer, with the same
// credentials, stops the worker.)
func TestARefusingBrokerFailsPublishForTheWorker(t *testing.T) {
	const dlq = "orders.dlq"
	describe := kfake.ACL{Resource: kmsg.ACLResourceTypeTopic, Name: dlq, Pattern: kmsg.ACLResourcePatternTypeLiteral,
		Operation: kmsg.ACLOperationDescribe, Allow: true}
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, dlq), kfake.EnableSASL(), kfake.EnableACLs(),
		kfake.Superuser("PLAIN", "admin", "admin-secret"),
		kfake.User("PLAIN", "orderflow", "right-secret", describe))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	letter := deadletter.Letter{Source: stream.Message{Topic: "orders.ebay", Value: []byte("{")}, Reason: "malformed_json",
		Stage: "normalize", Err: errors.New("malformed_json")}

	pub, err := deadletter.New(deadletter.Config{Brokers: cluster.ListenAddrs(), Topic: dlq, Encrypter: sealer{}, MaxAttempts: 1,
		Transport: &kafka.Transport{SASL: plain.Mechanism{Username: "orderflow", Password: "right-secret"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err = pub.Publish(ctx, []deadletter.Letter{letter})
	if !errors.Is(err, kafka.TopicAuthorizationFailed) {
		t.Errorf("Publish = %v, want %v", err, kafka.TopicAuthorizationFailed)
	}
	if c := failure.Of(err); c != failure.Worker {
		t.Errorf("class %v, want %v", c, failure.Worker)
	}
}
