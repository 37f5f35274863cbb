package deadletter_test

import (
	"context"
	"testing"
	"time"

	"github.com/orderflow/orderflow/worker/deadletter"
	"github.com/orderflow/orderflow/worker/stacktest"
	"github.com/orderflow/orderflow/worker/transit"
	"github.com/orderflow/orderflow/worker/transit/transittest"
)

// onStack is what a test here runs on: a context that bounds it (two
// minutes), the stack's brokers and a client of its Vault.
func onStack(t *testing.T) (context.Context, []string, *transit.Client) {
	t.Helper()
	brokers := stacktest.KafkaBrokers(t)
	vault := transittest.NewClient(t, transit.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx, brokers, vault
}

// newTopic creates a topic of the test's own, named from prefix.
func newTopic(t *testing.T, brokers []string, prefix string, partitions int) string {
	t.Helper()
	name := stacktest.UniqueName(prefix)
	stacktest.CreateTopic(t, brokers, name, partitions)
	return name
}

// publish publishes letters to dlq with a Publisher of its own.
func publish(ctx context.Context, t *testing.T, brokers []string, dlq string, vault deadletter.Encrypter, letters []deadletter.Letter) {
	t.Helper()
	pub, err := deadletter.New(deadletter.Config{Brokers: brokers, Topic: dlq, Encrypter: vault})
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(ctx, letters); err != nil {
		t.Fatalf("publish: %v", err)
	}
	_ = pub.Close()
}

// newTenants returns a tenant id of the test's own for each prefix; their
// keys are destroyed when the test ends.
func newTenants(t *testing.T, vault *transit.Client, prefixes ...string) []string {
	t.Helper()
	ids := make([]string, len(prefixes))
	for i, p := range prefixes {
		ids[i] = stacktest.UniqueName(p)
		t.Cleanup(func() { _ = vault.DestroyTenantKeys(context.Background(), ids[i]) })
	}
	return ids
}
