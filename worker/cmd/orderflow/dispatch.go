package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/orderflow/orderflow/connectors/accounting"
	"github.com/orderflow/orderflow/connectors/accounting/booking"
	"github.com/orderflow/orderflow/connectors/accounting/ledger"
	"github.com/orderflow/orderflow/connectors/accounting/poster"
	"github.com/orderflow/orderflow/connectors/accounting/postings"
	"github.com/orderflow/orderflow/connectors/accounting/tokenstore"
	"github.com/orderflow/orderflow/connectors/dispatch"
	"github.com/orderflow/orderflow/worker/backoff"
	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/consume"
	"github.com/orderflow/orderflow/worker/kafkaclient"
	"github.com/orderflow/orderflow/worker/kafkalag"
)

func dispatchCommand(args []string, stderr io.Writer) int {
	fs, configPath := commandFlags("dispatch", stderr)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	// ClickHouse holds the offboarded tenants: the dispatcher joins the
	// offboarding handshake like a worker, so no label of a leaving tenant
	// is sent once the tenant is blocked.
	ctx, cancel, cfg, log, err := startCommand("dispatch", *configPath, stderr, needClickHouse, needVault, needConnector)
	if err != nil {
		return 2
	}
	defer cancel()
	if err := runDispatcher(ctx, cfg, newRegistry(), log); err != nil {
		fmt.Fprintf(stderr, "orderflow dispatch: %v\n", err)
		return 1
	}
	return 0
}

// needConnector refuses a dispatcher with nothing to dispatch to.
var needConnector requirement = func(c config.Config) error {
	if hasPurpose(c, config.PurposeDelivery) || hasPurpose(c, config.PurposeAccounting) {
		return nil
	}
	return errors.New("connectors: no connector is configured; the dispatcher would park every job")
}

func hasPurpose(c config.Config, p config.Purpose) bool {
	for _, conn := range c.Connectors {
		if conn.Purpose == p {
			return true
		}
	}
	return false
}

// runDispatcher runs the courier dispatcher and its metrics server until ctx
// ends (SIGTERM) or a failure needs an operator. The batch in flight at the
// signal is left uncommitted: the next dispatcher delivers it again, and the
// providers' de-duplication keeps that to one shipment.
func runDispatcher(ctx context.Context, cfg config.Config, reg *prometheus.Registry, log *slog.Logger) error {
	clients, err := kafkaclient.New(cfg.Kafka)
	if err != nil {
		return err
	}
	conn, err := openCurrentSchema(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer conn.Close()
	blocklist, err := newBlocklist(ctx, cfg, conn, workerID(), log)
	if err != nil {
		return err
	}
	vault, err := newTransit(ctx, cfg, reg, log, gateOf(blocklist))
	if err != nil {
		return err
	}
	defer vault.Close()
	blocklist.Subscribe(vault)
	var dispatchers []*dispatch.Dispatcher
	var lags []*kafkalag.Monitor
	var closers []func() error
	defer func() {
		for _, c := range closers {
			_ = c() // after an early error; a normal stop closes them below
		}
	}()
	d := cfg.Dispatch
	newDispatcher := func(group, topic string, work dispatch.Work, deliverers map[string]dispatch.Connector) error {
		consumer, err := consume.New(consume.Config{
			Brokers: cfg.Kafka.Brokers, GroupID: group, Topics: []string{topic},
			Dialer: clients.Dialer, SessionTimeout: cfg.Kafka.SessionTimeout, RebalanceTimeout: cfg.Kafka.RebalanceTimeout,
			HeartbeatInterval: cfg.Kafka.HeartbeatInterval,
			BatchMaxMessages:  d.BatchMaxMessages, BatchMaxWait: d.BatchMaxWait, Logger: log,
		})
		if err != nil {
			return err
		}
		closers = append(closers, consumer.Close)
		dispatcher, err := dispatch.New(dispatch.Config{
			Source: consumer, Work: work, Decrypter: vault, Erased: blocklist, Connectors: cfg.Connectors, Deliverers: deliverers,
			Brokers: cfg.Kafka.Brokers, Transport: clients.Transport, ParkedTopic: cfg.Kafka.Topics.Parked,
			MaxAttempts: d.MaxAttempts, Backoff: backoff.Backoff{Initial: d.RetryInitial, Max: d.RetryMax},
			Registerer: reg, Logger: log,
		})
		if err != nil {
			return err
		}
		closers = append(closers, dispatcher.Close)
		dispatchers = append(dispatchers, dispatcher)
		lag, err := kafkalag.New(kafkalag.Config{Client: clients.Admin(), Group: group, Topics: []string{topic},
			Registerer: reg, Logger: log})
		if err != nil {
			return err
		}
		lags = append(lags, lag)
		return nil
	}
	if hasPurpose(cfg, config.PurposeDelivery) {
		deliverers, err := buildConnectors(cfg, reg, log)
		if err != nil {
			return err
		}
		if err := newDispatcher(d.GroupID, cfg.Kafka.Topics.Courier, nil, deliverers); err != nil {
			return err
		}
	}
	var pass func(context.Context) error
	if hasPurpose(cfg, config.PurposeAccounting) {
		// One data set's connectors apart from another's: the path names the
		// database, as the purge lease's does.
		tokens, err := tokenstore.New(tokenstore.Config{Client: vault.VaultAPI(), Mount: cfg.Retention.Lease.KVMount,
			Path: "orderflow/connectors/" + cfg.ClickHouse.Database})
		if err != nil {
			return err
		}
		posters, err := buildPosters(ctx, cfg, tokens, reg, log)
		if err != nil {
			return err
		}
		if err := checkMappings(ctx, posters, log.With("component", "dispatcher")); err != nil {
			return err
		}
		l, err := ledger.New(ledger.Config{Conn: conn, RestrictedDatabase: cfg.ClickHouse.RestrictedDatabase})
		if err != nil {
			return err
		}
		work, err := booking.New(booking.Config{Connectors: cfg.Connectors, Posters: posters, Ledger: l, Decrypter: vault, Logger: log})
		if err != nil {
			return err
		}
		if err := newDispatcher(d.AccountingGroupID, cfg.Kafka.Topics.Accounting, work, nil); err != nil {
			return err
		}
		if d.AccountingInterval > 0 {
			if pass, err = accountingPass(cfg, l, clients, reg, log.With("component", "dispatcher")); err != nil {
				return err
			}
		}
	}
	srv, err := listenMetrics(cfg, reg, log)
	if err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return srv.Serve(gctx, cfg.Pipeline.ShutdownTimeout) })
	g.Go(func() error { return blocklist.Run(gctx) })
	for _, dispatcher := range dispatchers {
		g.Go(func() error {
			err := dispatcher.Run(gctx)
			if err == nil && ctx.Err() == nil {
				err = gctx.Err() // another part of the group failed
			}
			return err
		})
	}
	if pass != nil {
		g.Go(func() error { return pass(gctx) })
	}
	for _, lag := range lags {
		g.Go(func() error { return lag.Run(gctx) })
	}
	srv.SetReady(true)
	own := log.With("component", "dispatcher") // the packages above tag their own
	own.Info("dispatcher started", "brokers", cfg.Kafka.Brokers, "courier", cfg.Kafka.Topics.Courier, "accounting", cfg.Kafka.Topics.Accounting,
		"parked", cfg.Kafka.Topics.Parked, "dispatchers", len(dispatchers), "metrics", srv.Addr())
	runErr := g.Wait()
	srv.SetReady(false)

	runErr = errors.Join(runErr, closeKafka(cfg.Pipeline.ShutdownTimeout, closers...))
	closers = nil
	own.Info("dispatcher stopped", "err", runErr)
	return runErr
}

func replayParkedCommand(args []string, stdout, stderr io.Writer) int {
	fs, configPath := commandFlags("replay-parked", stderr)
	var filter dispatch.ReplayFilter
	fs.StringVar(&filter.Connector, "connector", "", "replay only jobs parked at this connector (default all)")
	fs.StringVar(&filter.Reason, "reason", "", "replay only jobs parked for this reason: refused, retries_exhausted, no_connector, malformed, undecryptable, projection (default all)")
	fs.StringVar(&filter.Tenant, "tenant", "", "replay only this tenant's jobs (default all)")
	execute := fs.Bool("execute", false, "put the selected jobs back on the courier outbox; without it the command is a dry run that only counts them")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ctx, cancel, cfg, log, err := startCommand("replay-parked", *configPath, stderr)
	if err != nil {
		return 2
	}
	defer cancel()
	clients, err := kafkaclient.New(cfg.Kafka)
	if err != nil {
		fmt.Fprintf(stderr, "orderflow replay-parked: %v\n", err)
		return 2
	}
	sum, err := dispatch.Replay(ctx, dispatch.ReplayConfig{
		Brokers: cfg.Kafka.Brokers, Dialer: clients.Dialer, Admin: clients.Admin(), Transport: clients.Transport,
		ParkedTopic: cfg.Kafka.Topics.Parked, CourierTopic: cfg.Kafka.Topics.Courier, AccountingTopic: cfg.Kafka.Topics.Accounting,
		GroupID: cfg.Dispatch.ReplayGroupID,
		Apply:   *execute, Filter: filter, Logger: log,
	})
	printParkedReplay(stdout, cfg.Kafka.Topics.Parked, sum, *execute)
	if err != nil {
		fmt.Fprintf(stderr, "orderflow replay-parked: %v\n", err)
		return 1
	}
	return 0
}

func printParkedReplay(w io.Writer, topic string, sum dispatch.ReplaySummary, executed bool) {
	mode := "dry run: nothing put back (add --execute to put them back)"
	if executed {
		mode = fmt.Sprintf("put back %d on the outbox, parked %d others again", sum.Replayed, sum.Kept)
	}
	fmt.Fprintf(w, "%s: read %d parked jobs, %d selected; %s\n", topic, sum.Read, sum.Matched, mode)
	if len(sum.ByReason) > 0 {
		fmt.Fprintf(w, "  by reason: %s\n", counts(sum.ByReason))
	}
	if len(sum.ByConnector) > 0 {
		fmt.Fprintf(w, "  by connector: %s\n", counts(sum.ByConnector))
	}
	if sum.Accounting > 0 {
		fmt.Fprintf(w, "  %d accounting postings left parked: the accounting pass posts them again from the current records when orderflow dispatch starts (after the mapping is fixed), or a day after it last tried\n", sum.Accounting)
	}
}

// checkMappings checks each accounting connector's mapping against its
// provider's organisation (accounts, tax rates, items) before anything is
// posted: a mapping the organisation does not match is a configuration to
// fix and refuses the start, naming the connector and keys. A provider that
// cannot be asked now is logged, and the dispatcher starts: what the
// provider then refuses is parked with its reason.
func checkMappings(ctx context.Context, posters map[string]booking.Poster, log *slog.Logger) error {
	var refused []error
	for _, name := range slices.Sorted(maps.Keys(posters)) {
		checker, ok := posters[name].(interface{ CheckMapping(context.Context) error })
		if !ok {
			continue
		}
		checkCtx, cancel := context.WithTimeout(ctx, time.Minute)
		err := checker.CheckMapping(checkCtx)
		cancel()
		switch {
		case errors.Is(err, accounting.ErrMapping):
			refused = append(refused, fmt.Errorf("connectors.%s.accounting: %w", name, err))
		case err != nil:
			log.Warn("accounting: the mapping could not be checked against the provider now; postings it refuses will be parked with the reason",
				"connector", name, "err", err)
		}
	}
	return errors.Join(refused...)
}

// postingsConfig is how a seller's settings cut and post its periods.
func postingsConfig(a config.Accounting) postings.Config {
	return postings.Config{Periodicity: postings.Periodicity(a.Period), Grace: a.Grace, Invoices: a.Invoices}
}

// accountingPass returns the dispatcher's scheduled accounting pass: every
// dispatch.accounting_interval (and once at start), the postings due of
// every tenant with an accounting connector, written to the accounting
// outbox. A pass that fails is logged and tried at the next tick: the
// postings stay due.
func accountingPass(cfg config.Config, l *ledger.Ledger, clients *kafkaclient.Clients, reg prometheus.Registerer, log *slog.Logger) (func(context.Context) error, error) {
	writer := kafkaclient.SyncWriter(kafkaclient.WriterConfig{Brokers: cfg.Kafka.Brokers, Transport: clients.Transport, Topic: cfg.Kafka.Topics.Accounting})
	var tenants []poster.Tenant
	for _, name := range slices.Sorted(maps.Keys(cfg.Connectors)) {
		c := cfg.Connectors[name]
		if c.Purpose == config.PurposeAccounting {
			// Each seller's own periods, grace and invoices.
			tenants = append(tenants, poster.Tenant{ID: c.Tenants[0], Provider: name, Postings: postingsConfig(c.Accounting)})
		}
	}
	p, err := poster.New(poster.Config{Ledger: l, Writer: writer, Registerer: reg})
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context) error {
		defer writer.Close()
		for {
			rep, err := p.Pass(ctx, tenants)
			switch {
			case ctx.Err() != nil:
				return nil
			case err != nil:
				log.Error("accounting pass failed; the postings stay due", "err", err)
			default:
				log.Info("accounting pass", "summaries", rep.Summaries, "adjustments", rep.Adjustments, "still_due_written_before", rep.Resent, "tenants", len(tenants))
			}
			if backoff.Sleep(ctx, cfg.Dispatch.AccountingInterval) != nil {
				return nil
			}
		}
	}, nil
}
