package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/orderflow/orderflow/worker/deadletter"
	"github.com/orderflow/orderflow/worker/kafkaclient"
)

// listFlag collects a repeatable flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func replayDLQCommand(args []string, stdout, stderr io.Writer) int {
	fs, configPath := commandFlags("replay-dlq", stderr)
	var reasons, topics listFlag
	fs.Var(&reasons, "reason", "replay only letters with this reason (repeatable; default all)")
	fs.Var(&topics, "topic", "replay only letters from this source topic (repeatable; default all)")
	since := fs.String("since", "", "only letters dead-lettered at or after this RFC 3339 time, or this long ago (e.g. 24h)")
	until := fs.String("until", "", "only letters dead-lettered before this RFC 3339 time, or this long ago")
	execute := fs.Bool("execute", false, "republish the selected letters; without it the command is a dry run that only counts them")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	now := time.Now()
	sinceT, err := parseWhen(*since, now)
	if err != nil {
		fmt.Fprintf(stderr, "orderflow replay-dlq: --since: %v\n", err)
		return 2
	}
	untilT, err := parseWhen(*until, now)
	if err != nil {
		fmt.Fprintf(stderr, "orderflow replay-dlq: --until: %v\n", err)
		return 2
	}
	// ClickHouse tells which tenants are offboarded: their letters stay put.
	// Replay reads the list again before each batch it republishes, so a
	// tenant offboarded during a long replay stops being replayed at once.
	ctx, cancel, cfg, log, err := startCommand("replay-dlq", *configPath, stderr, needClickHouse, needVault)
	if err != nil {
		return 2
	}
	defer cancel()

	clients, err := kafkaclient.New(cfg.Kafka)
	if err != nil {
		fmt.Fprintf(stderr, "orderflow replay-dlq: %v\n", err)
		return 2
	}
	o, err := openObserver(ctx, cfg, newRegistry(), log) // it only decrypts
	if err != nil {
		fmt.Fprintf(stderr, "orderflow replay-dlq: %v\n", err)
		return 1
	}
	defer o.Close()
	sum, err := deadletter.Replay(ctx, deadletter.ReplayConfig{
		Brokers: cfg.Kafka.Brokers, Transport: clients.Transport, Dialer: clients.Dialer, Topic: cfg.Kafka.Topics.DeadLetter,
		Decrypter: o.vault, Blocklist: o.offboarded, Reasons: reasons, SourceTopics: topics, Since: sinceT, Until: untilT, Execute: *execute,
	})
	printReplay(stdout, cfg.Kafka.Topics.DeadLetter, sum, *execute)
	if err != nil {
		fmt.Fprintf(stderr, "orderflow replay-dlq: %v\n", err)
		return 1
	}
	return 0
}

// parseWhen reads an RFC 3339 time or a duration ago; "" is the zero time.
func parseWhen(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time nor a duration such as 24h", s)
	}
	return t, nil
}

func printReplay(w io.Writer, topic string, sum deadletter.ReplaySummary, executed bool) {
	mode := "dry run: nothing republished (add --execute to republish)"
	if executed {
		mode = fmt.Sprintf("republished %d", sum.Republished)
	}
	fmt.Fprintf(w, "%s: scanned %d dead letters, %d selected; %s\n", topic, sum.Scanned, sum.Matched, mode)
	if n := total(sum.Offboarded); n > 0 {
		fmt.Fprintf(w, "  skipped %d letters of offboarded tenants (never put back): %s\n", n, counts(sum.Offboarded))
	}
	if n := total(sum.KeyGone); n > 0 {
		fmt.Fprintf(w, "  skipped %d letters whose tenant's key is gone (unreadable; the tenant is being or was offboarded): %s\n", n, counts(sum.KeyGone))
	}
	for _, group := range []struct {
		title  string
		counts map[string]int
	}{{"by reason", sum.ByReason}, {"by source topic", sum.ByTopic}} {
		if len(group.counts) == 0 {
			continue
		}
		fmt.Fprintf(w, "  %s:\n", group.title)
		keys := make([]string, 0, len(group.counts))
		for k := range group.counts {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(w, "    %-24s %d\n", k, group.counts[k])
		}
	}
}

func total(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// counts writes "a 2, b 1", sorted by key.
func counts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}
