package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/segmentio/kafka-go"

	"github.com/orderflow/orderflow/worker/generate"
	"github.com/orderflow/orderflow/worker/order"
	"github.com/orderflow/orderflow/worker/stacktest"
)

const generateTestPartitions = 3

// generateTopics creates unique input topics on the stack's Kafka and points the
// configuration at them through ORDERFLOW_* variables.
func generateTopics(t *testing.T) (brokers []string, amazon, ebay string) {
	t.Helper()
	brokers = stacktest.KafkaBrokers(t)
	amazon, ebay = stacktest.UniqueName("gen.amazon"), stacktest.UniqueName("gen.ebay")
	stacktest.CreateTopic(t, brokers, amazon, generateTestPartitions)
	stacktest.CreateTopic(t, brokers, ebay, generateTestPartitions)
	t.Setenv("ORDERFLOW_KAFKA_BROKERS", strings.Join(brokers, ","))
	t.Setenv("ORDERFLOW_KAFKA_TOPICS_AMAZON", amazon)
	t.Setenv("ORDERFLOW_KAFKA_TOPICS_EBAY", ebay)
	t.Setenv("ORDERFLOW_LOG_FORMAT", "text")
	return brokers, amazon, ebay
}

func readGenerateReport(t *testing.T, path string) generateReport {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r generateReport
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatalf("the --json file does not parse: %v\n%s", err, data)
	}
	return r
}

// TestGenerateProducesWhatItTallies runs `orderflow generate --count N` against the
// stack's Kafka: exactly the generator's N messages arrive, on the topic of their
// channel, keyed <tenant>/<order id>, each order's snapshots in one partition in
// the order they were made; and the tally it prints is the generator's.
func TestGenerateProducesWhatItTallies(t *testing.T) {
	brokers, amazon, ebay := generateTopics(t)
	const n = 3000
	args := []string{"--count", "3000", "--seed", "9", "--tenants", "4", "--now", "2026-11-20T12:00:00Z",
		"--update-rate", "0.5", "--malformed-rate", "0.02", "--card-rate", "0.02"}
	jsonPath := filepath.Join(t.TempDir(), "tally.json")
	var stdout, stderr bytes.Buffer
	if code := generateCommand(append(args, "--json", jsonPath), &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, &stdout, &stderr)
	}
	t.Logf("stdout:\n%s", &stdout)

	// The same options make the same messages: the expected stream.
	gen, err := generate.New(generate.Config{Seed: 9, Tenants: 4, Now: time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC),
		UpdateRate: 0.5, MalformedRate: 0.02, CardInTextRate: 0.02})
	if err != nil {
		t.Fatal(err)
	}
	type sent struct {
		topic, key, value string
		index             int
	}
	want := make(map[string][]sent) // by key, in order made
	topicOf := map[order.Channel]string{order.ChannelAmazon: amazon, order.ChannelEbay: ebay}
	for i := range n {
		m := gen.Next()
		want[string(m.Key)] = append(want[string(m.Key)], sent{topicOf[m.Topic], string(m.Key), string(m.Value), i})
	}

	var got []kafka.Message
	for _, topic := range []string{amazon, ebay} {
		got = append(got, stacktest.ReadAll(t, brokers, topic, generateTestPartitions)...)
	}
	if len(got) != n {
		t.Fatalf("%d messages arrived, want %d", len(got), n)
	}
	// ReadAll reads partition by partition in offset order: per key, arrival order.
	arrived := make(map[string][]kafka.Message)
	for _, m := range got {
		arrived[string(m.Key)] = append(arrived[string(m.Key)], m)
	}
	for key, ws := range want {
		as := arrived[key]
		if len(as) != len(ws) {
			t.Errorf("key %s: %d messages arrived, want %d", key, len(as), len(ws))
			continue
		}
		for i, a := range as {
			w := ws[i]
			switch {
			case a.Topic != w.topic:
				t.Errorf("key %s: message %d on %s, want %s", key, i, a.Topic, w.topic)
			case string(a.Value) != w.value:
				t.Errorf("key %s: message %d is not the %d-th made for the key (made %d-th overall)", key, i, i, w.index)
			case a.Partition != as[0].Partition:
				t.Errorf("key %s: snapshots in partitions %d and %d", key, as[0].Partition, a.Partition)
			}
		}
	}

	report := readGenerateReport(t, jsonPath)
	if report.Produced != n || report.Acknowledged != n || report.Failed != 0 {
		t.Errorf("report: produced %d, acknowledged %d, failed %d; want %d, %d, 0", report.Produced, report.Acknowledged, report.Failed, n, n)
	}
	if diff := cmp.Diff(gen.Stats(), report.Stats); diff != "" {
		t.Errorf("the --json tally is not the generator's (-generator +json):\n%s", diff)
	}
	for _, s := range []string{"acme-home", amazon, ebay, "currency", "GBP", "dead letters to expect"} {
		if !strings.Contains(stdout.String(), s) {
			t.Errorf("the summary lacks %q:\n%s", s, &stdout)
		}
	}
	if !strings.Contains(stderr.String(), "generated") {
		t.Errorf("stderr lacks the final log line:\n%s", &stderr)
	}
}

// TestGenerateStopsCleanly stops a paced, open-ended run as SIGINT would: what was
// produced is flushed, and the tally counts exactly what arrived.
func TestGenerateStopsCleanly(t *testing.T) {
	brokers, amazon, ebay := generateTopics(t)
	jsonPath := filepath.Join(t.TempDir(), "tally.json")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var stdout, stderr bytes.Buffer
	go func() {
		done <- runGenerate(ctx, []string{"--duration", "1h", "--rate", "2000/s", "--seed", "3", "--json", jsonPath}, &stdout, &stderr)
	}()
	// Stop once something has arrived.
	deadline := time.Now().Add(30 * time.Second)
	for generateArrivedCount(t, brokers, amazon)+generateArrivedCount(t, brokers, ebay) == 0 {
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("nothing arrived within 30s\nstderr:\n%s", &stderr)
		}
		time.Sleep(100 * time.Millisecond)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, &stdout, &stderr)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("generate did not stop within 30s of its signal")
	}
	var total int64
	for _, topic := range []string{amazon, ebay} {
		for _, end := range stacktest.EndOffsets(t, brokers, topic, generateTestPartitions) {
			total += end
		}
	}
	report := readGenerateReport(t, jsonPath)
	if report.Messages != total || report.Acknowledged != total || report.Produced != total {
		t.Errorf("%d messages arrived; the report says produced %d, acknowledged %d, tallied %d",
			total, report.Produced, report.Acknowledged, report.Messages)
	}
	if c := report.Channels["amazon"].Messages + report.Channels["ebay"].Messages; c != total {
		t.Errorf("the tally's topics hold %d messages, %d arrived", c, total)
	}
}

// generateArrivedCount is how many messages topic holds. Right after the topic's creation
// a broker may not yet know it leads a partition: that counts as none yet.
func generateArrivedCount(t *testing.T, brokers []string, topic string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req := make([]kafka.OffsetRequest, generateTestPartitions)
	for p := range generateTestPartitions {
		req[p] = kafka.LastOffsetOf(p)
	}
	resp, err := stacktest.KafkaClient(brokers).ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: req}})
	if err != nil {
		t.Fatalf("list offsets of %s: %v", topic, err)
	}
	var n int64
	for _, po := range resp.Topics[topic] {
		if po.Error == nil {
			n += po.LastOffset
		}
	}
	return n
}

func TestGenerateRefusesBadFlags(t *testing.T) {
	for name, c := range map[string]struct {
		args []string
		want string
	}{
		"no limit":         {[]string{}, "--count or --duration"},
		"bad rate":         {[]string{"--count", "5", "--rate", "fast"}, "--rate"},
		"bad rate unit":    {[]string{"--count", "5", "--rate", "10/d"}, "unit"},
		"bad now":          {[]string{"--count", "5", "--now", "yesterday"}, "--now"},
		"rate above one":   {[]string{"--count", "5", "--malformed-rate", "1.5"}, "--malformed-rate"},
		"negative count":   {[]string{"--count", "-5"}, "--count"},
		"extra argument":   {[]string{"--count", "5", "please"}, "unexpected argument"},
		"too many tenants": {[]string{"--count", "5", "--tenants", "5000"}, "tenants"},
		"bad config":       {[]string{"--count", "5", "--config", "/nonexistent/orderflow.yaml"}, "config"},
	} {
		t.Run(name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := runGenerate(context.Background(), c.args, &stdout, &stderr); code != 2 {
				t.Errorf("exit %d, want 2\nstderr:\n%s", code, &stderr)
			}
			if !strings.Contains(stderr.String(), c.want) {
				t.Errorf("stderr does not mention %q:\n%s", c.want, &stderr)
			}
		})
	}
}

func TestGenerateParseRate(t *testing.T) {
	for in, want := range map[string]float64{"5000": 5000, "5000/s": 5000, "600/m": 10, "7200/h": 2, "0.5": 0.5} {
		got, err := parseGenerateRate(in)
		if err != nil || got != want {
			t.Errorf("parseGenerateRate(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "-5", "NaN", "5/d", "x/s"} {
		if _, err := parseGenerateRate(in); err == nil {
			t.Errorf("parseGenerateRate(%q) succeeded", in)
		}
	}
}
