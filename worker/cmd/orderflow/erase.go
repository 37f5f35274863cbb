package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/consume"
	"github.com/orderflow/orderflow/worker/erasure"
	"github.com/orderflow/orderflow/worker/kafkaclient"
	"github.com/orderflow/orderflow/worker/retention"
	"github.com/orderflow/orderflow/worker/transit"
)

// eraseCommand erases one buyer of a tenant (UK GDPR Art. 17): every order
// the identifiers name loses the buyer's tokens, label and, unless the law
// requires the invoice kept, invoice party; the answer says what was erased
// and kept, and why (worker/retention, erase.go).
func eraseCommand(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs, configPath := commandFlags("erase", stderr)
	req, requestFile := buyerFlags(fs, "asks to be erased")
	requestID := fs.String("request-id", "", "the request's id (a UUID), to run a request again; default a new one")
	ackTimeout := fs.Duration("ack-timeout", 0, "how long to wait for every live worker to acknowledge the request (default offboarding.ack_timeout)")
	asJSON := fs.Bool("json", false, "print the answer as JSON")
	consumeFlag := fs.Bool("consume", false, "run until stopped, erasing the requests of kafka.topics.erasure (JSON requests; "+
		"without tenant_id, an eBay account deletion for every tenant holding eBay orders)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *consumeFlag {
		if fs.NFlag() > 1+boolInt(*configPath != "")+boolInt(*ackTimeout != 0) {
			fmt.Fprintln(stderr, "orderflow erase: --consume takes its requests from Kafka: no request flag goes with it")
			return 2
		}
		return consumeErasures(*configPath, *ackTimeout, stderr)
	}
	if *requestFile != "" {
		if err := readRequest(*requestFile, stdin, req); err != nil {
			fmt.Fprintf(stderr, "orderflow erase: --request: %v\n", err)
			return 2
		}
	}
	if *requestID != "" {
		id, err := uuid.Parse(*requestID)
		if err != nil {
			fmt.Fprintln(stderr, "orderflow erase: --request-id is not a UUID")
			return 2
		}
		req.ID = id
	}
	req.Source = "cli"
	if err := req.Check(); err != nil {
		fmt.Fprintf(stderr, "orderflow erase: %v\n", err)
		return 2
	}
	if *ackTimeout < 0 {
		fmt.Fprintln(stderr, "orderflow erase: --ack-timeout must be positive")
		return 2
	}
	ctx, cancel, cfg, log, err := startCommand("erase", *configPath, stderr, needClickHouse, needVault)
	if err != nil {
		return 2
	}
	defer cancel()
	if *ackTimeout > 0 {
		cfg.Offboarding.AckTimeout = *ackTimeout
	}
	reg := newRegistry()
	defer serveWhileRunning(ctx, cfg, reg, log)()
	e, err := openEraser(ctx, cfg, reg, log)
	if err != nil {
		fmt.Fprintf(stderr, "orderflow erase: %v\n", err)
		return 1
	}
	defer e.Close()
	if e.offboarded.Offboarded(req.Tenant) {
		fmt.Fprintf(stdout, "tenant %s has been offboarded: its keys are destroyed and every row deleted, so nothing of its buyers is held\n", req.Tenant)
		return 0
	}
	ans, err := e.purger.Erase(ctx, *req)
	printAnswer(stdout, ans, *asJSON)
	if err != nil {
		fmt.Fprintf(stderr, "orderflow erase: %v\n", err)
		return 1
	}
	return 0
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// consumeErasures runs the erasure requests of kafka.topics.erasure until
// SIGTERM (worker/erasure), in the consumer group kafka.group_id + ".erasure".
func consumeErasures(configPath string, ackTimeout time.Duration, stderr io.Writer) int {
	ctx, cancel, cfg, log, err := startCommand("erase", configPath, stderr, needClickHouse, needVault)
	if err != nil {
		return 2
	}
	defer cancel()
	if ackTimeout > 0 {
		cfg.Offboarding.AckTimeout = ackTimeout
	}
	reg := newRegistry()
	defer serveWhileRunning(ctx, cfg, reg, log)()
	if err := runErasures(ctx, cfg, reg, log); err != nil {
		fmt.Fprintf(stderr, "orderflow erase: %v\n", err)
		return 1
	}
	return 0
}

// runErasures erases the requests of kafka.topics.erasure until ctx ends.
func runErasures(ctx context.Context, cfg config.Config, reg prometheus.Registerer, log *slog.Logger) error {
	clients, err := kafkaclient.New(cfg.Kafka)
	if err != nil {
		return err
	}
	e, err := openEraser(ctx, cfg, reg, log)
	if err != nil {
		return err
	}
	defer e.Close()
	consumer, err := consume.New(consume.Config{
		Brokers: cfg.Kafka.Brokers, GroupID: cfg.Kafka.GroupID + ".erasure", Topics: []string{cfg.Kafka.Topics.Erasure},
		Dialer: clients.Dialer, SessionTimeout: cfg.Kafka.SessionTimeout, RebalanceTimeout: cfg.Kafka.RebalanceTimeout,
		HeartbeatInterval: cfg.Kafka.HeartbeatInterval, BatchMaxMessages: 100, Logger: log,
	})
	if err != nil {
		return err
	}
	defer consumer.Close()
	runner, err := erasure.New(erasure.Config{Source: consumer, Eraser: e.purger, Tenants: e.purger, Registerer: reg, Logger: log})
	if err != nil {
		return err
	}
	log.Info("erasing the requests of the topic", "topic", cfg.Kafka.Topics.Erasure)
	return runner.Run(ctx)
}

// buyerFlags declares the flags that name one buyer of a tenant (erase,
// access): the tenant, the identifiers, and --request to read them as JSON
// instead, out of the process list and the shell history.
func buyerFlags(fs *flag.FlagSet, asks string) (*retention.ErasureRequest, *string) {
	var req retention.ErasureRequest
	fs.StringVar(&req.Tenant, "tenant", "", "the tenant (seller) whose buyer "+asks)
	fs.StringVar(&req.Identifiers.Email, "email", "", "the buyer's email address")
	fs.StringVar(&req.Identifiers.Phone, "phone", "", "the buyer's phone number, as the channel gave it")
	fs.StringVar(&req.Identifiers.Name, "name", "", "the buyer's name: narrows the other identifiers (a name alone, which every buyer of that name shares, is refused)")
	fs.StringVar(&req.Identifiers.Username, "username", "", "the buyer's marketplace username (eBay)")
	fs.StringVar(&req.Identifiers.UserID, "user-id", "", "the buyer's marketplace user id (eBay)")
	requestFile := fs.String("request", "", "read the request as JSON from this file, or - for standard input: "+
		`{"tenant_id": "T", "identifiers": {"email": "..."}} (keeps the identifiers out of the process list and shell history)`)
	return &req, requestFile
}

// readRequest reads a request's JSON from path (- for stdin) into req,
// refusing unknown members; flags given beside it are overridden.
func readRequest(path string, stdin io.Reader, req *retention.ErasureRequest) error {
	r := stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	}
	in, err := erasure.ReadRequest(r)
	if err != nil {
		return err
	}
	*req = in
	return nil
}

// printAnswer prints what an erasure did: the answer for the buyer and the
// purge_log actions.
func printAnswer(w io.Writer, ans retention.ErasureAnswer, asJSON bool) {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(ans)
		return
	}
	if ans.RequestID == uuid.Nil {
		return // refused before it started
	}
	fmt.Fprintf(w, "erasure %s of a buyer of tenant %s (identifiers: %s; run %s): %s\n", ans.RequestID, ans.Tenant,
		strings.Join(ans.IdentifierKinds, ", "), ans.RunID, ans.Outcome)
	printActions(w, ans.Actions)
	if len(ans.Orders) == 0 {
		fmt.Fprintln(w, "no order of this buyer is held")
		return
	}
	fmt.Fprintf(w, "orders: %s\n", strings.Join(ans.Orders, ", "))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "erased\trows\twhat")
	for _, e := range ans.Erased {
		fmt.Fprintf(tw, "%s\t%d\t%s\n", e.Table, e.Rows, e.What)
	}
	_ = tw.Flush()
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "kept\torders\tuntil\twhat; why")
	for _, k := range ans.Kept {
		until := "-"
		if !k.Until.IsZero() {
			until = k.Until.Format(time.DateOnly)
		}
		orders := fmt.Sprint(len(k.Orders))
		if len(k.Orders) == 1 {
			orders = k.Orders[0]
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s; %s\n", k.Table, orders, until, k.What, k.Why)
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "verification: %d rows of the buyer remain\n", ans.Remaining)
}

// eraser is what an erasure needs: the buyer's store and a purger that
// erases through it.
type eraser struct {
	*observer
	purger *retention.Purger
}

func openEraser(ctx context.Context, cfg config.Config, reg prometheus.Registerer, log *slog.Logger) (*eraser, error) {
	o, err := openBuyerStore(ctx, cfg, reg, log)
	if err != nil {
		return nil, err
	}
	p, err := retention.New(retention.Config{
		Conn: o.conn, Cluster: o.conn.cluster, Database: cfg.ClickHouse.Database, RestrictedDatabase: cfg.ClickHouse.RestrictedDatabase,
		Retention: cfg.Retention, MutationTimeout: cfg.ClickHouse.MutationTimeout, Tokenizer: o.vault, Registerer: reg, Logger: log,
		Offboarding: retention.OffboardConfig{AckTimeout: cfg.Offboarding.AckTimeout, LiveWithin: cfg.Offboarding.LiveWithin},
	})
	if err != nil {
		o.Close()
		return nil, err
	}
	return &eraser{observer: o, purger: p}, nil
}

// openBuyerStore opens what a buyer's request (erasure, access) reads
// through: the ClickHouse connection, the offboarded tenants (whose keys are
// gone: nothing held), and a Vault client that never creates a key (a
// tenant without one has nothing held) and calls for any tenant not
// offboarded.
func openBuyerStore(ctx context.Context, cfg config.Config, reg prometheus.Registerer, log *slog.Logger) (*observer, error) {
	cfg.Vault.CreateKeys = false
	return openObserverGated(ctx, cfg, reg, log, func(b *retention.Blocklist) transit.Gate { return hmacGate{b} })
}

// hmacGate admits a buyer request's Vault calls for any tenant not offboarded.
type hmacGate struct{ offboarded *retention.Blocklist }

func (g hmacGate) Enter(tenant string) (func(), bool, error) {
	if g.offboarded.Offboarded(tenant) {
		return nil, true, nil
	}
	return func() {}, false, nil
}

func (g hmacGate) Check(tenant string) (bool, error) { return g.offboarded.Offboarded(tenant), nil }
