package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/segmentio/kafka-go"

	"github.com/orderflow/orderflow/worker/channel"
	"github.com/orderflow/orderflow/worker/generate"
	"github.com/orderflow/orderflow/worker/logkeys"
	"github.com/orderflow/orderflow/worker/normalize"
	"github.com/orderflow/orderflow/worker/order"
	"github.com/orderflow/orderflow/worker/privacytest"
	"github.com/orderflow/orderflow/worker/telemetry"
	"github.com/orderflow/orderflow/worker/telemetry/telemetrytest"
	"github.com/orderflow/orderflow/worker/transit"
	"github.com/orderflow/orderflow/worker/transit/transittest"
)

// TestRunLogsAreStableJSONWithoutPersonalData runs the worker as `orderflow
// run` does (log.format json, at debug: the most it says) on the real Kafka,
// ClickHouse and Vault, over a generated stream with malformed messages and
// card numbers typed into free text and addresses, until it has committed
// all of it. Then every line it wrote must be a JSON object with time, level,
// msg and a known component; every key must be in logkeys' documented list,
// once per object; there are no more WARN lines than batches committed (the
// expected events are summed up once per batch, not warned per message);
// the dead letters are all in those summaries; and no line holds a
// personal value of the stream (names, emails, phones, address lines, free
// text) or 12 digits of a planted card number.
func TestRunLogsAreStableJSONWithoutPersonalData(t *testing.T) {
	e := newStackEnv(t)
	e.useMigrated(t)
	keyPrefix := e.ownVaultKeys("logs")
	// Batches of 50: several batches, so that one WARN per batch is tested as such.
	e.vars = append(e.vars, "ORDERFLOW_LOG_LEVEL=debug", "ORDERFLOW_LOG_FORMAT=json", "ORDERFLOW_PIPELINE_BATCH_MAX_MESSAGES=50")
	cfg := e.config(t)

	gen, err := generate.New(generate.Config{Seed: 20261214, Tenants: 3, MalformedRate: 0.05, CardInTextRate: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	stream := newGeneratedStream(t, e, 1)
	stream.gen = gen
	vault := transittest.NewClient(t, transit.Config{KeyPrefix: keyPrefix})
	t.Cleanup(func() {
		for _, tenant := range []string{"acme-home", "cobble-and-twine", "brightside-books"} {
			_ = vault.DestroyTenantKeys(context.Background(), tenant)
		}
	})
	secrets, cards := streamSecrets(t, stream, 400)
	stats := stream.stats()
	if stats.Malformed == 0 || stats.CardNumbers == 0 || len(cards) == 0 || len(secrets) < 500 {
		t.Fatalf("the stream has %d malformed messages, %d card numbers (%d values with one), %d personal values: the corpus is too thin to prove anything",
			stats.Malformed, stats.CardNumbers, len(cards), len(secrets))
	}

	// Positive control: the search finds a personal value and a card number.
	planted, err := readLogLine(fmt.Appendf(nil, `{"msg":%q,"index":%q}`, "x "+secrets[0], "4 "+cards[0]+" 2"))
	found := strings.Join(planted.leaks(secrets, cards), "; ")
	if err != nil || !strings.Contains(found, "personal value") || !strings.Contains(found, "card number") {
		t.Fatalf("the leak search misses what was planted: %v %s", err, found)
	}

	var logs privacytest.LogBuffer
	reg := telemetry.NewRegistry()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- runWorker(ctx, cfg, nil, reg, newLogger(cfg.Log, &logs)) }()
	waitCommitted(t, e, cfg.Kafka.GroupID, []string{e.amazon, e.ebay}, 3)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("worker: %v", err)
	}

	batches := telemetrytest.Sum(t, reg, "orderflow_batches_committed_total")
	var warns, deadLetters, lines int
	components := map[string]int{}
	sc := bufio.NewScanner(strings.NewReader(logs.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		lines++
		l, err := readLogLine(line)
		if err != nil {
			t.Errorf("line %d is not one JSON object with unique keys (%v): %s", lines, err, line)
			continue
		}
		for _, k := range []string{"time", "level", "msg", logkeys.Component} {
			if _, ok := l.top[k]; !ok {
				t.Errorf("line %d has no %q: %s", lines, k, line)
			}
		}
		component, _ := l.top[logkeys.Component].(string)
		components[component]++
		if component != "" && !logkeys.IsComponent(component) {
			t.Errorf("line %d: component %q is not in logkeys.Components: %s", lines, component, line)
		}
		for _, k := range l.keys {
			if !logkeys.Allowed(k) {
				t.Errorf("line %d: key %q is not in logkeys.Keys: %s", lines, k, line)
			}
		}
		if l.top["level"] == "WARN" {
			warns++
			if n, ok := l.top["dead_letters"].(float64); ok && component == "pipeline" {
				deadLetters += int(n)
			}
		}
		for _, leak := range l.leaks(secrets, cards) {
			t.Errorf("line %d holds %s: %s", lines, leak, line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d lines, %d WARN, %.0f batches committed, by component %v", lines, warns, batches, components)
	// Positive controls: the run logged at debug, batch by batch.
	if components["pipeline"] < int(batches) || components["facts"] == 0 || components["protect"] == 0 {
		t.Errorf("lines by component %v for %.0f batches: the worker did not log each batch at debug", components, batches)
	}
	if batches == 0 || float64(warns) > batches {
		t.Errorf("%d WARN lines for %.0f batches committed: expected events must give one WARN per batch at most", warns, batches)
	}
	// At-least-once: a batch read twice dead-letters twice.
	if int64(deadLetters) < stats.Malformed {
		t.Errorf("the pipeline's WARN summaries count %d dead letters, the stream has %d malformed messages", deadLetters, stats.Malformed)
	}
	if t.Failed() {
		t.Logf("the worker's log:\n%s", logs.String())
	}
}

// streamSecrets produces the stream's next n messages and returns the
// personal values of the well-formed ones (six bytes or more, shorter ones
// match by chance), and the digits of each of those values that holds a card
// number (twelve digits or more).
func streamSecrets(t *testing.T, s *generatedStream, n int) (secrets, cards []string) {
	t.Helper()
	norm, err := channel.Default().Normalizer(normalize.Config{})
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	var orders []order.Order
	var msgs []generate.Message
	for range n {
		m := s.gen.Next()
		m.Key, m.Value = bytes.Clone(m.Key), bytes.Clone(m.Value)
		msgs = append(msgs, m)
		if m.Kind == generate.KindMalformed {
			continue
		}
		o, err := norm.Normalize(m.Value)
		if err != nil {
			s.mu.Unlock()
			t.Fatalf("a well-formed message does not normalise: %v", err)
		}
		orders = append(orders, o)
	}
	s.mu.Unlock()
	s.write(t, msgs)
	secrets = privacytest.OrderValues{MinLen: 6}.Of(orders)
	for _, v := range secrets {
		if d := privacytest.Digits(v); len(d) >= 12 {
			cards = append(cards, d)
		}
	}
	return secrets, cards
}

// write produces msgs to the stack env's topics.
func (g *generatedStream) write(t *testing.T, msgs []generate.Message) {
	t.Helper()
	var out []kafka.Message
	for _, m := range msgs {
		topic := g.e.ebay
		if m.Topic == order.ChannelAmazon {
			topic = g.e.amazon
		}
		out = append(out, kafka.Message{Topic: topic, Key: m.Key, Value: m.Value})
	}
	if err := g.writer.WriteMessages(context.Background(), out...); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

// logLine is one log line read: its top-level members, every key at any
// depth (slog groups nest), and every string and number value as text.
type logLine struct {
	top    map[string]any
	keys   []string
	values []string
}

// readLogLine reads one line as a JSON object, refusing a key repeated
// within an object (json.Unmarshal would keep the last and hide it).
func readLogLine(b []byte) (logLine, error) {
	var l logLine
	if err := json.Unmarshal(b, &l.top); err != nil {
		return l, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := l.walk(dec); err != nil {
		return l, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return l, errors.New("more than one JSON value")
	}
	return l, nil
}

// leaks returns what the line's values give away: a personal value of
// secrets, whole, or twelve digits in a row of a card number in cards.
func (l *logLine) leaks(secrets, cards []string) []string {
	var out []string
	for _, s := range l.values {
		for _, v := range secrets {
			if strings.Contains(s, v) {
				out = append(out, fmt.Sprintf("the personal value %q", v))
			}
		}
		digits := privacytest.Digits(s)
		for _, c := range cards {
			for k := 0; k+12 <= len(c); k++ {
				if strings.Contains(digits, c[k:k+12]) {
					out = append(out, "12 digits of a planted card number")
					break
				}
			}
		}
	}
	return out
}

// walk reads one JSON value from dec, recording keys and values.
func (l *logLine) walk(dec *json.Decoder) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch tok := tok.(type) {
	case json.Delim:
		switch tok {
		case '{':
			seen := map[string]bool{}
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return err
				}
				key := k.(string)
				if seen[key] {
					return fmt.Errorf("key %q twice in one object", key)
				}
				seen[key] = true
				l.keys = append(l.keys, key)
				if err := l.walk(dec); err != nil {
					return err
				}
			}
		case '[':
			for dec.More() {
				if err := l.walk(dec); err != nil {
					return err
				}
			}
		}
		_, err := dec.Token() // the closing delimiter
		return err
	case string:
		l.values = append(l.values, tok)
	case json.Number:
		l.values = append(l.values, tok.String())
	}
	return nil
}
