package pipeline_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/orderflow/orderflow/worker/consume"
	"github.com/orderflow/orderflow/worker/deadletter"
	"github.com/orderflow/orderflow/worker/order"
	"github.com/orderflow/orderflow/worker/pipeline"
	"github.com/orderflow/orderflow/worker/pipeline/pipelinetest"
	"github.com/orderflow/orderflow/worker/privacytest"
	"github.com/orderflow/orderflow/worker/protect"
	"github.com/orderflow/orderflow/worker/protect/protecttest"
	"github.com/orderflow/orderflow/worker/stacktest"
	"github.com/orderflow/orderflow/worker/transit"
	"github.com/orderflow/orderflow/worker/transit/transittest"
)

// transitCiphertext is the whole of a Vault transit ciphertext: nothing in the
// clear can be beside it.
var transitCiphertext = regexp.MustCompile(`^vault:v[0-9]+:[A-Za-z0-9+/]+={0,2}$`)

// logTime is the JSON handler's time attribute.
var logTime = regexp.MustCompile(`"time":"[^"]*"`)

// sealedHeaders are the dead letter's headers that hold ciphertext.
var sealedHeaders = map[string]bool{deadletter.HeaderSourceKey: true, deadletter.HeaderSourceHeaders: true}

// TestNoPersonalValueLeaksFromThePipeline plants a card number, an email, a phone
// number, a name and an address into every field of one order of each channel and
// format and into the envelope (enums, amounts, currencies, dates and ids too, as
// strings and as numbers), runs them all through the real pipeline (Kafka, Vault,
// the DLQ) with every component logging at debug level, and checks that no log
// line, no key or header of a dead letter and no metric label holds any of them,
// even when the message's key and headers carry them too.
func TestNoPersonalValueLeaksFromThePipeline(t *testing.T) {
	s := newStream(t)
	var logs privacytest.LogBuffer
	log := logs.Logger()
	reg := prometheus.NewRegistry()
	vault := transittest.NewClient(t, transit.Config{Logger: log, Registerer: reg})
	stage := protecttest.NewStage(t, vault, protect.Config{Logger: log, Registerer: reg})

	// One personal value of each kind into every field, once per field of a format.
	first := map[string]string{}
	for _, v := range privacytest.Corpus {
		if _, ok := first[v.Kind]; !ok {
			first[v.Kind] = v.Text
		}
	}
	indices := regexp.MustCompile(`\[\d+\]`)
	seen := map[string]bool{}
	msgs := map[string][]kafka.Message{}
	for _, f := range []struct{ fixture, topic string }{
		{"amazon/uk-two-lines-typical.json", s.amazon},
		{"amazon2026/uk-two-lines-typical.json", s.amazon},
		{"ebay/typical-two-line.json", s.ebay},
		{"ebay/fully-refunded.json", s.ebay},
	} {
		raw, err := os.ReadFile(filepath.Join(fixtures, f.fixture))
		if err != nil {
			t.Fatal(err)
		}
		seq, err := privacytest.Plant(raw)
		if err != nil {
			t.Fatal(err)
		}
		for p := range seq {
			field := filepath.Dir(f.fixture) + " " + indices.ReplaceAllString(p.Path, "[]") + " " + p.Value.Kind + strconv.FormatBool(p.AsNumber)
			if first[p.Value.Kind] != p.Value.Text || seen[field] {
				continue
			}
			seen[field] = true
			// The contract's key is "<tenant>/<channel order id>": planted too.
			key := []byte("t" + strconv.Itoa(len(seen)) + "/" + p.Value.Text)
			// And so are a producer's headers.
			headers := []kafka.Header{{Key: "x-note", Value: []byte(p.Value.Text)}, {Key: deadletter.HeaderSourceKey, Value: []byte(p.Value.Text)}}
			msgs[f.topic] = append(msgs[f.topic], kafka.Message{Topic: f.topic, Key: key, Value: p.Message(), Headers: headers})
		}
	}
	writer := &kafka.Writer{Addr: kafka.TCP(s.brokers...), Balancer: &kafka.Hash{}, RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, m := range msgs {
		if err := writer.WriteMessages(ctx, m...); err != nil {
			t.Fatal(err)
		}
	}
	_ = writer.Close()

	consumer, err := consume.New(consume.Config{
		Brokers: s.brokers, GroupID: s.group, Topics: []string{s.amazon, s.ebay},
		SessionTimeout: 6 * time.Second, RebalanceTimeout: 10 * time.Second, HeartbeatInterval: 200 * time.Millisecond,
		BatchMaxMessages: 500, BatchMaxWait: 100 * time.Millisecond, Logger: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	dlq, err := deadletter.New(deadletter.Config{Brokers: s.brokers, Topic: s.dlq, Encrypter: vault})
	if err != nil {
		t.Fatal(err)
	}
	p, err := pipeline.New(pipeline.Config{
		Source: consumer, Protector: stage, Sinks: []pipeline.Sink{pipelinetest.NewMemorySink()}, DeadLetters: dlq,
		TopicChannels: map[string]order.Channel{s.amazon: order.ChannelAmazon, s.ebay: order.ChannelEbay},
		RetryInitial:  10 * time.Millisecond, RetryMax: 100 * time.Millisecond,
		Registerer: reg, Logger: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- errors.Join(p.Run(runCtx), consumer.Close(), dlq.Close()) }()
	s.waitCommitted(t, 3*time.Minute)
	stop()
	if err := <-done; err != nil {
		t.Errorf("worker: %v", err)
	}

	// Dead letters: the key and every header of every letter.
	letters := stacktest.ReadAll(t, s.brokers, s.dlq, 3)
	if len(letters) < len(seen)/4 {
		t.Fatalf("only %d of %d planted messages were dead-lettered: the planting does not reach the checks", len(letters), len(seen))
	}
	for _, m := range letters {
		for _, h := range m.Headers {
			if sealedHeaders[h.Key] {
				if !transitCiphertext.Match(h.Value) {
					t.Errorf("DLQ header %s is not Vault transit ciphertext", h.Key)
				}
				continue
			}
			// A timestamp header is checked for its form, not searched: its
			// digits ("19:00:05.559") hold six of a card number's in a row
			// at some instants of every day.
			if _, err := time.Parse(time.RFC3339Nano, string(h.Value)); err == nil {
				continue
			}
			if leaks := privacytest.Leaks(string(h.Value)); len(leaks) > 0 {
				t.Errorf("DLQ header %s = %q holds %v", h.Key, h.Value, leaks)
			}
		}
		// Ciphertext is checked for its form, not searched: six characters of
		// a personal value turn up in a few kilobytes of random base64 in
		// about one run in twenty.
		if !transitCiphertext.Match(m.Value) {
			t.Errorf("a DLQ payload is not Vault transit ciphertext: %v", privacytest.Leaks(string(m.Value)))
		}
		if leaks := privacytest.Leaks(string(m.Key)); len(leaks) > 0 {
			t.Errorf("a DLQ key %q holds %v in the clear", m.Key, leaks)
		}
	}
	// Log lines.
	lines := bytes.Split([]byte(logs.String()), []byte("\n"))
	for _, line := range lines {
		// The logger's own timestamp is left out, as a header's is above:
		// "01:50:55.555053479" holds six of a card number's digits in a row.
		line = logTime.ReplaceAll(line, []byte(`"time":""`))
		if leaks := privacytest.Leaks(string(line)); len(leaks) > 0 {
			t.Errorf("log line holds %v: %s", leaks, line)
		}
	}
	// Metric labels.
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	labels := 0
	for _, mf := range families {
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				labels++
				if leaks := privacytest.Leaks(lp.GetValue()); len(leaks) > 0 {
					t.Errorf("metric %s label %s=%q holds %v", mf.GetName(), lp.GetName(), lp.GetValue(), leaks)
				}
			}
		}
	}
	t.Logf("%d planted messages, %d dead letters, %d log lines, %d metric labels checked", len(seen), len(letters), len(lines), labels)
}
