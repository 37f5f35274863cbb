package produce_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/orderflow/orderflow/worker/generate"
	"github.com/orderflow/orderflow/worker/generate/produce"
	"github.com/orderflow/orderflow/worker/order"
	"github.com/orderflow/orderflow/worker/stacktest"
)

const partitions = 2

func newGenerator(t *testing.T, seed uint64) *generate.Generator {
	t.Helper()
	gen, err := generate.New(generate.Config{Seed: seed, Tenants: 3, Now: time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC),
		UpdateRate: 0.4, MalformedRate: 0.02})
	if err != nil {
		t.Fatal(err)
	}
	return gen
}

// inputTopics creates an Amazon and an eBay topic of the test's own.
func inputTopics(t *testing.T, brokers []string) map[order.Channel]string {
	t.Helper()
	topics := map[order.Channel]string{
		order.ChannelAmazon: stacktest.UniqueName("produce.amazon"),
		order.ChannelEbay:   stacktest.UniqueName("produce.ebay"),
	}
	for _, topic := range topics {
		stacktest.CreateTopic(t, brokers, topic, partitions)
	}
	return topics
}

// TestRunByCount produces a count of messages: the brokers hold exactly them,
// each on its channel's topic and stamped with the moment it was handed over
// (so that end-to-end latency and the topics' retention count from it), and
// the result's tally is the generator's.
func TestRunByCount(t *testing.T) {
	brokers := stacktest.KafkaBrokers(t)
	topics := inputTopics(t, brokers)
	gen := newGenerator(t, 5)
	const n = 1500
	var statuses []produce.Status
	p, err := produce.New(produce.Config{Generator: gen, Brokers: brokers, Topics: topics, Count: n,
		Progress: func(s produce.Status) { statuses = append(statuses, s) }, ProgressInterval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now().Truncate(time.Millisecond)
	res, err := p.Run(context.Background())
	after := time.Now()
	if err != nil {
		t.Fatalf("run: %v (%+v)", err, res)
	}
	if res.Produced != n || res.Acknowledged != n || res.Failed != 0 {
		t.Errorf("produced %d, acknowledged %d, failed %d; want %d, %d, 0", res.Produced, res.Acknowledged, res.Failed, n, n)
	}
	if diff := cmp.Diff(gen.Stats(), res.Stats); diff != "" {
		t.Errorf("the tally of acknowledged messages is not the generator's (-generator +result):\n%s", diff)
	}
	for i := 1; i < len(statuses); i++ {
		if statuses[i].Acknowledged < statuses[i-1].Acknowledged || statuses[i].Acknowledged > statuses[i].Produced {
			t.Errorf("progress went %+v then %+v", statuses[i-1], statuses[i])
		}
	}

	arrived := 0
	for ch, topic := range topics {
		msgs := stacktest.ReadAll(t, brokers, topic, partitions)
		arrived += len(msgs)
		if got := int64(len(msgs)); got != res.Stats.Channels[string(ch)].Messages {
			t.Errorf("%s holds %d messages, the tally says %d", topic, got, res.Stats.Channels[string(ch)].Messages)
		}
		for _, m := range msgs {
			if m.Time.Before(before) || m.Time.After(after) {
				t.Fatalf("%s/%d@%d is stamped %s, outside the run (%s to %s)", topic, m.Partition, m.Offset,
					m.Time.UTC().Format(time.RFC3339Nano), before.UTC().Format(time.RFC3339Nano), after.UTC().Format(time.RFC3339Nano))
			}
		}
	}
	if arrived != n {
		t.Errorf("%d messages arrived, want %d", arrived, n)
	}
}

// TestRunStopsAtAChannelWithoutATopic: a message whose channel has no topic
// stops the run with an error naming the channel, and the tally still counts
// exactly what was acknowledged.
func TestRunStopsAtAChannelWithoutATopic(t *testing.T) {
	brokers := stacktest.KafkaBrokers(t)
	topics := inputTopics(t, brokers)
	delete(topics, order.ChannelEbay)
	p, err := produce.New(produce.Config{Generator: newGenerator(t, 6), Brokers: brokers, Topics: topics, Count: 5000})
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "no topic for channel ebay") {
		t.Fatalf("run: %v, want an error naming the channel", err)
	}
	if res.Produced != res.Acknowledged || res.Stats.Messages != res.Acknowledged || res.Produced >= 5000 {
		t.Errorf("produced %d, acknowledged %d, tallied %d", res.Produced, res.Acknowledged, res.Stats.Messages)
	}
	if res.Stats.Channels["ebay"].Messages != 0 {
		t.Errorf("the tally counts %d eBay messages", res.Stats.Channels["ebay"].Messages)
	}
}

func TestNewRefusesAConfigThatCannotRun(t *testing.T) {
	gen := newGenerator(t, 1)
	topics := map[order.Channel]string{order.ChannelAmazon: "a", order.ChannelEbay: "e"}
	good := produce.Config{Generator: gen, Brokers: []string{"127.0.0.1:9"}, Topics: topics, Count: 1}
	for name, c := range map[string]struct {
		edit func(*produce.Config)
		want string
	}{
		"no generator":   {func(c *produce.Config) { c.Generator = nil }, "generator"},
		"no brokers":     {func(c *produce.Config) { c.Brokers = nil }, "brokers"},
		"no topics":      {func(c *produce.Config) { c.Topics = nil }, "topics"},
		"an empty topic": {func(c *produce.Config) { c.Topics = map[order.Channel]string{order.ChannelEbay: ""} }, "channel ebay"},
		"no end":         {func(c *produce.Config) { c.Count = 0 }, "count or a duration"},
		"negative rate":  {func(c *produce.Config) { c.Rate = -1 }, "negative"},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := good
			c.edit(&cfg)
			if _, err := produce.New(cfg); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("New: %v, want an error about %s", err, c.want)
			}
		})
	}
	if _, err := produce.New(good); err != nil {
		t.Errorf("New refuses a good config: %v", err)
	}
}
