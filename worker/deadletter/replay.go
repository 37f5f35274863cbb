package deadletter

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/orderflow/orderflow/worker/kafkaclient"
	"github.com/segmentio/kafka-go"
)

// Decrypter decrypts under a tenant's key or the platform key (transit.Client).
// An error that has a KeyNotFound() method answering true means the key is
// gone (the tenant was offboarded, or it was removed by hand).
type Decrypter interface {
	Decrypt(ctx context.Context, tenant string, ciphertexts []string) ([][]byte, error)
	DecryptPlatform(ctx context.Context, ciphertexts []string) ([][]byte, error)
}

// Blocklist says which tenants have been offboarded (retention.Blocklist): a
// replay never puts their messages back.
type Blocklist interface {
	Offboarded(tenant string) bool
	// Reload reads the list again. A replay calls it before each batch it
	// republishes, so that a tenant offboarded while a long replay runs is
	// not put back from the next batch on.
	Reload(ctx context.Context) error
}

// HeaderReplayedFrom marks a republished message with the dead letter it came from
// ("<dlq topic>/<partition>/<offset>"), so a replay can be traced and is never
// mistaken for fresh input.
const HeaderReplayedFrom = "replayed_from"

// ReplayConfig selects dead letters and says where to put them back.
type ReplayConfig struct {
	// Brokers are the bootstrap addresses. Required.
	Brokers []string
	// Transport and Dialer carry TLS and SASL. Defaults: kafka-go's.
	Transport kafka.RoundTripper
	Dialer    *kafka.Dialer
	// Topic is the dead-letter topic. Required.
	Topic string
	// Decrypter reads the payloads. Required.
	Decrypter Decrypter
	// Blocklist skips the letters of offboarded tenants. Required: a replay
	// must not bring back what an offboarding removed.
	Blocklist Blocklist
	// Reasons and SourceTopics select letters; empty selects all.
	Reasons      []string
	SourceTopics []string
	// Since and Until bound the time a letter was dead-lettered; zero is unbounded.
	Since, Until time.Time
	// Execute republishes; false only counts (a dry run).
	Execute bool
	// BatchSize is how many letters are decrypted and republished at once;
	// the offboarded tenants are read again before each batch. Default 500.
	BatchSize int
}

// defaultBatchSize is ReplayConfig.BatchSize's default: large enough that a
// batch's reload of the offboarded tenants (one small query) costs little
// beside its decrypts and write, small enough that a tenant offboarded
// during a replay loses at most that many letters' worth of replay.
const defaultBatchSize = 500

// ReplaySummary is what a replay found and did.
type ReplaySummary struct {
	Scanned int
	// Matched letters are those the filters select, offboarded tenants' included.
	Matched int
	// Offboarded counts, by tenant, the matched letters of offboarded tenants:
	// skipped, neither decrypted nor republished.
	Offboarded map[string]int
	// KeyGone counts, by tenant, the matched letters whose tenant's key no
	// longer exists (found on --execute): reported and skipped.
	KeyGone     map[string]int
	Republished int
	// ByReason and ByTopic count the matched letters.
	ByReason map[string]int
	ByTopic  map[string]int
}

// Replay reads the dead-letter topic up to its end offsets as they were when the
// replay started, selects letters, skips those of offboarded tenants, and (when
// cfg.Execute) decrypts the others and republishes each to its source topic with
// its original key and headers, in batches, reloading the offboarded tenants
// before each batch and skipping those offboarded since; letters whose
// tenant's key is gone are counted and skipped, not fatal. Running it twice
// republishes twice: the pipeline's writes are idempotent.
func Replay(ctx context.Context, cfg ReplayConfig) (ReplaySummary, error) {
	sum := ReplaySummary{ByReason: map[string]int{}, ByTopic: map[string]int{}, Offboarded: map[string]int{}, KeyGone: map[string]int{}}
	if len(cfg.Brokers) == 0 || cfg.Topic == "" || cfg.Decrypter == nil || cfg.Blocklist == nil || cfg.BatchSize < 0 {
		return sum, errors.New("replay: brokers, topic, decrypter and blocklist are required, and the batch size must not be negative")
	}
	if cfg.BatchSize == 0 {
		cfg.BatchSize = defaultBatchSize
	}
	client := &kafka.Client{Addr: kafka.TCP(cfg.Brokers...), Transport: cfg.Transport, Timeout: 30 * time.Second}
	firsts, ends, err := kafkaclient.OffsetRange(ctx, client, cfg.Topic)
	if err != nil {
		return sum, fmt.Errorf("replay: %w", err)
	}
	writer := &kafka.Writer{
		Addr: kafka.TCP(cfg.Brokers...), Transport: cfg.Transport, Balancer: &kafka.Hash{},
		RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond,
	}
	defer writer.Close()

	for partition, end := range ends {
		if firsts[partition] >= end {
			continue // empty, or everything expired
		}
		selected, err := scanPartition(ctx, cfg, partition, end, &sum)
		if err != nil {
			return sum, err
		}
		if !cfg.Execute {
			continue
		}
		for batch := range slices.Chunk(selected, cfg.BatchSize) {
			if err := cfg.Blocklist.Reload(ctx); err != nil {
				return sum, fmt.Errorf("replay: reading the offboarded tenants again before republishing (%d republished so far): %w", sum.Republished, err)
			}
			batch = slices.DeleteFunc(batch, func(l kafka.Message) bool { return cfg.skipsOffboarded(headerValues(l.Headers), &sum) })
			if len(batch) == 0 {
				continue
			}
			n, err := republish(ctx, cfg, writer, batch, &sum)
			sum.Republished += n
			if err != nil {
				return sum, err
			}
		}
	}
	return sum, nil
}

// skipsOffboarded reports whether a letter's tenant is offboarded, as of the
// last read of the list, and counts it in sum.Offboarded if so.
func (cfg ReplayConfig) skipsOffboarded(h map[string]string, sum *ReplaySummary) bool {
	tenant := h[HeaderTenantID]
	if tenant == "" || !cfg.Blocklist.Offboarded(tenant) {
		return false
	}
	sum.Offboarded[tenant]++
	return true
}

// scanPartition reads one partition from the first offset at or after cfg.Since up
// to end, returning the letters cfg selects.
func scanPartition(ctx context.Context, cfg ReplayConfig, partition int, end int64, sum *ReplaySummary) ([]kafka.Message, error) {
	reader := kafka.NewReader(kafka.ReaderConfig{
		Brokers: cfg.Brokers, Dialer: cfg.Dialer, Topic: cfg.Topic, Partition: partition,
		MaxWait: 100 * time.Millisecond, MaxBytes: 10 << 20,
	})
	defer reader.Close()
	if !cfg.Since.IsZero() {
		if err := reader.SetOffsetAt(ctx, cfg.Since); err != nil {
			return nil, fmt.Errorf("replay: seek %s/%d to %s: %w", cfg.Topic, partition, cfg.Since.Format(time.RFC3339), err)
		}
		// Kafka answers -1 when no message is as recent as Since.
		if off := reader.Offset(); off < 0 || off >= end {
			return nil, nil // nothing dead-lettered since
		}
	}
	var selected []kafka.Message
	for {
		msg, err := reader.FetchMessage(ctx)
		if err != nil {
			return nil, fmt.Errorf("replay: read %s/%d: %w", cfg.Topic, partition, err)
		}
		sum.Scanned++
		h := headerValues(msg.Headers)
		if cfg.selects(h, msg.Time) {
			sum.Matched++
			sum.ByReason[h[HeaderReason]]++
			sum.ByTopic[h[HeaderSourceTopic]]++
			if !cfg.skipsOffboarded(h, sum) {
				selected = append(selected, msg)
			}
		}
		if msg.Offset+1 >= end {
			return selected, nil
		}
	}
}

func (cfg ReplayConfig) selects(h map[string]string, at time.Time) bool {
	if t, err := time.Parse(time.RFC3339Nano, h[HeaderDeadLetteredAt]); err == nil {
		at = t
	}
	switch {
	case h[HeaderSourceTopic] == "":
		return false // not a dead letter of ours
	case len(cfg.Reasons) > 0 && !slices.Contains(cfg.Reasons, h[HeaderReason]):
		return false
	case len(cfg.SourceTopics) > 0 && !slices.Contains(cfg.SourceTopics, h[HeaderSourceTopic]):
		return false
	case !cfg.Since.IsZero() && at.Before(cfg.Since):
		return false
	case !cfg.Until.IsZero() && !at.Before(cfg.Until):
		return false
	}
	return true
}

// openedLetter is a letter decrypted: the original message's value, key and
// headers (JSON, decodeHeaders).
type openedLetter struct{ value, key, headers []byte }

// republish decrypts the letters, each under the key its headers name, and
// writes each to its source topic, in their order. The letters of a tenant
// whose key is gone are counted in sum.KeyGone and skipped. It returns how
// many it republished.
func republish(ctx context.Context, cfg ReplayConfig, writer *kafka.Writer, letters []kafka.Message, sum *ReplaySummary) (int, error) {
	groups := map[string][]int{} // tenant ("" for the platform key) -> indices
	for i, l := range letters {
		h := headerValues(l.Headers)
		if enc := h[HeaderPayloadEncoding]; enc != PayloadVaultTransit {
			return 0, fmt.Errorf("replay: %s/%d/%d has payload encoding %q, want %q", l.Topic, l.Partition, l.Offset, enc, PayloadVaultTransit)
		}
		tenant := ""
		switch h[HeaderPayloadKey] {
		case PayloadKeyTenant:
			if tenant = h[HeaderTenantID]; tenant == "" {
				return 0, fmt.Errorf("replay: %s/%d/%d is encrypted under a tenant's key but names no tenant", l.Topic, l.Partition, l.Offset)
			}
		case PayloadKeyPlatform, "": // "": written before payload_key existed
		default:
			return 0, fmt.Errorf("replay: %s/%d/%d has payload key %q, want %s or %s", l.Topic, l.Partition, l.Offset, h[HeaderPayloadKey], PayloadKeyTenant, PayloadKeyPlatform)
		}
		groups[tenant] = append(groups[tenant], i)
	}
	opened := make([]openedLetter, len(letters))
	decrypted := make([]bool, len(letters))
	for tenant, idx := range groups {
		// Each letter's value, and its sealed key and headers when it has
		// them, in one call per encryption key.
		var ciphertexts []string
		var dests []*[]byte
		for _, i := range idx {
			h := headerValues(letters[i].Headers)
			ciphertexts, dests = append(ciphertexts, string(letters[i].Value)), append(dests, &opened[i].value)
			if k := h[HeaderSourceKey]; k != "" {
				ciphertexts, dests = append(ciphertexts, k), append(dests, &opened[i].key)
			}
			if hs := h[HeaderSourceHeaders]; hs != "" {
				ciphertexts, dests = append(ciphertexts, hs), append(dests, &opened[i].headers)
			}
		}
		var plain [][]byte
		var err error
		if tenant == "" {
			plain, err = cfg.Decrypter.DecryptPlatform(ctx, ciphertexts)
		} else {
			plain, err = cfg.Decrypter.Decrypt(ctx, tenant, ciphertexts)
		}
		var gone interface{ KeyNotFound() bool }
		switch {
		case err != nil && tenant != "" && errors.As(err, &gone) && gone.KeyNotFound():
			sum.KeyGone[tenant] += len(idx)
			continue
		case err != nil:
			return 0, fmt.Errorf("replay: decrypt %d dead letters: %w", len(idx), err)
		}
		if len(plain) != len(dests) {
			return 0, fmt.Errorf("replay: decrypt %d dead letters: %d results for %d ciphertexts", len(idx), len(plain), len(dests))
		}
		for j, d := range dests {
			*d = plain[j]
		}
		for _, i := range idx {
			decrypted[i] = true
		}
	}
	var out []kafka.Message
	for i, l := range letters {
		if !decrypted[i] {
			continue // its key is gone
		}
		h := headerValues(l.Headers)
		headers := []kafka.Header{{Key: HeaderReplayedFrom, Value: fmt.Appendf(nil, "%s/%d/%d", l.Topic, l.Partition, l.Offset)}}
		key := opened[i].key
		if h[HeaderPayloadKey] == "" {
			// Written before letters named their key and sealed the original
			// key and headers: both are the original's, in the clear.
			key = l.Key
			for _, x := range l.Headers {
				if !ownHeaders[x.Key] {
					headers = append(headers, x)
				}
			}
		}
		if opened[i].headers != nil {
			original, err := decodeHeaders(opened[i].headers)
			if err != nil {
				return 0, fmt.Errorf("replay: %s/%d/%d: %w", l.Topic, l.Partition, l.Offset, err)
			}
			headers = append(headers, original...)
		}
		out = append(out, kafka.Message{Topic: h[HeaderSourceTopic], Key: key, Value: opened[i].value, Headers: headers})
	}
	if len(out) == 0 {
		return 0, nil
	}
	if err := writer.WriteMessages(ctx, out...); err != nil {
		return 0, fmt.Errorf("replay: republish %d messages: %w", len(out), err)
	}
	return len(out), nil
}

func headerValues(headers []kafka.Header) map[string]string {
	h := make(map[string]string, len(headers))
	for _, x := range headers {
		if _, seen := h[x.Key]; !seen { // ours come first; an original header of the same name does not override
			h[x.Key] = string(x.Value)
		}
	}
	return h
}
