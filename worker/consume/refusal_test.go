package consume_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/orderflow/orderflow/worker/consume"
	"github.com/orderflow/orderflow/worker/failure"
)

// A broker that refuses the worker (its SASL credentials, or its access to
// the topic) makes Fetch fail with an error permanent for the worker, so
// that the pipeline stops with it instead of waiting for messages that can
// never come. The stack's Kafka has no SASL listener or ACLs: franz-go's
// kfake, a Kafka protocol implementation, plays the broker that refuses.
func TestARefusingBrokerStopsTheWorker(t *testing.T) {
	const topic, group = "orders.ebay", "orderflow"
	read := kfake.ACL{Resource: kmsg.ACLResourceTypeGroup, Name: group, Pattern: kmsg.ACLResourcePatternTypeLiteral,
		Operation: kmsg.ACLOperationRead, Allow: true}
	describe := read // group membership needs Read on the group; reading the topic is what is missing
	describe.Resource, describe.Name, describe.Operation = kmsg.ACLResourceTypeTopic, "other-topic", kmsg.ACLOperationDescribe
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, topic), kfake.EnableSASL(), kfake.EnableACLs(),
		kfake.Superuser("PLAIN", "admin", "admin-secret"),
		kfake.User("PLAIN", "orderflow", "right-secret", read, describe))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)

	for _, tc := range []struct {
		name, password string
		want           kafka.Error
	}{
		{"wrong password", "wrong-secret", kafka.SASLAuthenticationFailed},
		{"no access to the topic", "right-secret", kafka.TopicAuthorizationFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := consume.New(consume.Config{
				Brokers: cluster.ListenAddrs(), GroupID: group, Topics: []string{topic},
				Dialer:         &kafka.Dialer{Timeout: 5 * time.Second, SASLMechanism: plain.Mechanism{Username: "orderflow", Password: tc.password}},
				SessionTimeout: 6 * time.Second, HeartbeatInterval: 200 * time.Millisecond,
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			_, err = c.Fetch(ctx)
			if ctx.Err() != nil {
				t.Fatal("Fetch waited a minute: the refusal never reached the caller")
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("Fetch = %v, want %v", err, tc.want)
			}
			if c := failure.Of(err); c != failure.Worker {
				t.Errorf("class %v, want %v", c, failure.Worker)
			}
		})
	}
}
