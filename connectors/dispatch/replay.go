package dispatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/orderflow/orderflow/worker/consume"
	"github.com/orderflow/orderflow/worker/kafkaclient"
	"github.com/orderflow/orderflow/worker/kafkafailure"
	"github.com/orderflow/orderflow/worker/stream"
)

// ReplayConfig configures Replay.
type ReplayConfig struct {
	Brokers []string
	// Dialer reads the parked topic; Admin lists and commits offsets;
	// Transport writes (kafkaclient.Clients).
	Dialer    *kafka.Dialer
	Admin     *kafka.Client
	Transport kafka.RoundTripper
	// ParkedTopic is read; CourierTopic gets the replayed jobs back.
	ParkedTopic, CourierTopic string
	// AccountingTopic, when set, is the accounting outbox: a posting parked
	// from it is never put back (its content may be stale by now; the
	// accounting pass posts it again from the current records), only
	// counted in ReplaySummary.Accounting and parked again.
	AccountingTopic string
	// GroupID keeps the replay's place in the parked topic, so that a job
	// is put back once (config's dispatch.replay_group_id).
	GroupID string
	// Apply puts the matching jobs back and moves the group's offsets past
	// what was read. Without it, Replay reads and counts only (a dry run).
	Apply bool
	// Filter selects the jobs to put back; with Apply, the others are parked
	// again (at the end of the parked topic) so that none is lost.
	Filter ReplayFilter
	Logger *slog.Logger
}

// ReplayFilter selects parked jobs; an empty field matches any.
type ReplayFilter struct {
	Connector, Reason, Tenant string
}

func (f ReplayFilter) match(m stream.Message) bool {
	return (f.Connector == "" || header(m, HeaderConnector) == f.Connector) &&
		(f.Reason == "" || header(m, HeaderReason) == f.Reason) &&
		(f.Tenant == "" || header(m, HeaderTenant) == f.Tenant)
}

// ReplaySummary says what Replay found and did.
type ReplaySummary struct {
	// Read counts the parked jobs read (those after the group's offsets, up
	// to the topic's end when Replay started); Matched those the filter
	// selected; Replayed those put back on the outbox; Kept those parked
	// again because the filter left them out.
	Read, Matched, Replayed, Kept int
	// ByReason and ByConnector count the matched jobs.
	ByReason, ByConnector map[string]int
	// Accounting counts the accounting postings read, never put back.
	Accounting int
}

// Replay reads the parked topic from the replay group's offsets to its end
// as it is when Replay starts, counts the jobs, and with Apply puts the
// matching ones back on the outbox (headers say where they were parked) and
// commits the group's offsets past them: each job is replayed once, and the
// dispatcher delivers it under its own idempotency key, so a replay of a job
// that reached its courier after all changes nothing there.
func Replay(ctx context.Context, cfg ReplayConfig) (ReplaySummary, error) {
	sum := ReplaySummary{ByReason: map[string]int{}, ByConnector: map[string]int{}}
	if cfg.Admin == nil || cfg.ParkedTopic == "" || cfg.CourierTopic == "" || cfg.GroupID == "" {
		return sum, errors.New("replay config: Admin, ParkedTopic, CourierTopic and GroupID are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.Logger = cfg.Logger.With("component", "dispatch")
	from, end, err := replayRange(ctx, cfg)
	if err != nil {
		return sum, err
	}
	var back, again []kafka.Message
	for _, p := range slices.Sorted(maps.Keys(end)) {
		if from[p] >= end[p] {
			continue
		}
		msgs, err := readRange(ctx, cfg, p, from[p], end[p])
		if err != nil {
			return sum, err
		}
		for _, msg := range msgs {
			sum.Read++
			posting := cfg.AccountingTopic != "" && header(msg, HeaderFromTopic) == cfg.AccountingTopic
			if posting {
				sum.Accounting++
			}
			if posting || !cfg.Filter.match(msg) {
				again = append(again, kafka.Message{Key: msg.Key, Value: msg.Value, Headers: kafkaHeaders(msg.Headers)})
				continue
			}
			sum.Matched++
			sum.ByReason[header(msg, HeaderReason)]++
			sum.ByConnector[header(msg, HeaderConnector)]++
			back = append(back, kafka.Message{Key: msg.Key, Value: msg.Value, Headers: []kafka.Header{{
				Key: HeaderReplayedFrom, Value: []byte(msg.Topic + "/" + strconv.Itoa(msg.Partition) + "/" + strconv.FormatInt(msg.Offset, 10)),
			}}})
		}
	}
	if !cfg.Apply {
		return sum, nil
	}
	outbox := newWriter(cfg.Brokers, cfg.Transport, cfg.CourierTopic)
	defer outbox.Close()
	if err := write(ctx, outbox, back); err != nil {
		return sum, fmt.Errorf("replay: %w", err)
	}
	sum.Replayed = len(back)
	parkedAgain := newWriter(cfg.Brokers, cfg.Transport, cfg.ParkedTopic)
	defer parkedAgain.Close()
	if err := write(ctx, parkedAgain, again); err != nil {
		return sum, fmt.Errorf("replay: park the jobs the filter left out again: %w", err)
	}
	sum.Kept = len(again)
	commits := make([]kafka.OffsetCommit, 0, len(end))
	for _, p := range slices.Sorted(maps.Keys(end)) {
		if from[p] < end[p] {
			commits = append(commits, kafka.OffsetCommit{Partition: p, Offset: end[p]})
		}
	}
	if len(commits) > 0 {
		resp, err := cfg.Admin.OffsetCommit(ctx, &kafka.OffsetCommitRequest{
			GroupID: cfg.GroupID, GenerationID: -1, Topics: map[string][]kafka.OffsetCommit{cfg.ParkedTopic: commits},
		})
		if err == nil {
			for _, p := range resp.Topics[cfg.ParkedTopic] {
				err = errors.Join(err, p.Error)
			}
		}
		if err != nil {
			return sum, kafkafailure.Classify(fmt.Errorf("replay: commit group %s's offsets on %s (the jobs are back on %s; a second replay would put them back again): %w",
				cfg.GroupID, cfg.ParkedTopic, cfg.CourierTopic, err))
		}
	}
	cfg.Logger.Info("replay-parked: parked jobs put back", "replayed", sum.Replayed, "kept", sum.Kept, "group", cfg.GroupID)
	return sum, nil
}

// replayRange returns, per partition of the parked topic, the offset the
// replay group is at (the partition's first when it has none) and the end.
func replayRange(ctx context.Context, cfg ReplayConfig) (from, end map[int]int64, err error) {
	from, end, err = kafkaclient.OffsetRange(ctx, cfg.Admin, cfg.ParkedTopic)
	if err != nil {
		return nil, nil, kafkafailure.Classify(fmt.Errorf("replay: %w", err))
	}
	partitions := slices.Sorted(maps.Keys(end))
	committed, err := cfg.Admin.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: cfg.GroupID, Topics: map[string][]int{cfg.ParkedTopic: partitions}})
	if err == nil {
		err = committed.Error
	}
	if err != nil {
		return nil, nil, kafkafailure.Classify(fmt.Errorf("replay: group %s's offsets on %s: %w", cfg.GroupID, cfg.ParkedTopic, err))
	}
	for _, p := range committed.Topics[cfg.ParkedTopic] {
		if p.Error == nil && p.CommittedOffset > from[p.Partition] {
			from[p.Partition] = p.CommittedOffset
		}
	}
	return from, end, nil
}

// readRange reads partition p of the parked topic from offset from up to
// (not including) end.
func readRange(ctx context.Context, cfg ReplayConfig, p int, from, end int64) ([]stream.Message, error) {
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers: cfg.Brokers, Topic: cfg.ParkedTopic, Partition: p, Dialer: cfg.Dialer,
		MinBytes: 1, MaxBytes: 16 << 20, MaxWait: 500 * time.Millisecond,
	})
	defer r.Close()
	if err := r.SetOffset(from); err != nil {
		return nil, fmt.Errorf("replay: seek %s/%d: %w", cfg.ParkedTopic, p, err)
	}
	var out []stream.Message
	for {
		msg, err := r.ReadMessage(ctx)
		if err != nil {
			return nil, kafkafailure.Classify(fmt.Errorf("replay: read %s/%d at %d: %w", cfg.ParkedTopic, p, r.Offset(), err))
		}
		out = append(out, consume.FromKafka(msg))
		if msg.Offset+1 >= end {
			return out, nil
		}
	}
}

func kafkaHeaders(hs []stream.Header) []kafka.Header {
	out := make([]kafka.Header, len(hs))
	for i, h := range hs {
		out[i] = kafka.Header{Key: h.Key, Value: h.Value}
	}
	return out
}
