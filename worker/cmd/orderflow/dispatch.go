package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/orderflow/orderflow/connectors/dispatch"
	"github.com/orderflow/orderflow/worker/backoff"
	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/consume"
	"github.com/orderflow/orderflow/worker/kafkaclient"
	"github.com/orderflow/orderflow/worker/telemetry"
)

func dispatchCommand(args []string, stderr io.Writer) int {
	fs, configPath := commandFlags("dispatch", stderr)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	// ClickHouse holds the offboarded tenants: the dispatcher joins the
	// offboarding handshake like a worker, so no label of a leaving tenant
	// is sent once the tenant is blocked.
	ctx, cancel, cfg, log, err := startCommand("dispatch", *configPath, stderr, needClickHouse, needVault, needDeliveryConnector)
	if err != nil {
		return 2
	}
	defer cancel()
	if err := runDispatcher(ctx, cfg, telemetry.NewRegistry(), log); err != nil {
		fmt.Fprintf(stderr, "orderflow dispatch: %v\n", err)
		return 1
	}
	return 0
}

// needDeliveryConnector refuses a dispatcher with nothing to dispatch to.
var needDeliveryConnector requirement = func(c config.Config) error {
	for _, conn := range c.Connectors {
		if conn.Purpose == config.PurposeDelivery {
			return nil
		}
	}
	return errors.New("connectors: no delivery connector is configured; the dispatcher would park every courier job")
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
	deliverers, err := buildConnectors(cfg, reg, log)
	if err != nil {
		return err
	}
	d := cfg.Dispatch
	consumer, err := consume.New(consume.Config{
		Brokers: cfg.Kafka.Brokers, GroupID: d.GroupID, Topics: []string{cfg.Kafka.Topics.Courier},
		Dialer: clients.Dialer, SessionTimeout: cfg.Kafka.SessionTimeout, RebalanceTimeout: cfg.Kafka.RebalanceTimeout,
		HeartbeatInterval: cfg.Kafka.HeartbeatInterval,
		BatchMaxMessages:  d.BatchMaxMessages, BatchMaxWait: d.BatchMaxWait, Logger: log,
	})
	if err != nil {
		return err
	}
	dispatcher, err := dispatch.New(dispatch.Config{
		Source: consumer, Decrypter: vault, Connectors: cfg.Connectors, Deliverers: deliverers,
		Brokers: cfg.Kafka.Brokers, Transport: clients.Transport, ParkedTopic: cfg.Kafka.Topics.Parked,
		MaxAttempts: d.MaxAttempts, Backoff: backoff.Backoff{Initial: d.RetryInitial, Max: d.RetryMax},
		Registerer: reg, Logger: log,
	})
	if err != nil {
		return errors.Join(err, consumer.Close())
	}
	srv, err := listenMetrics(cfg, reg, log)
	if err != nil {
		return errors.Join(err, consumer.Close(), dispatcher.Close())
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return srv.Serve(gctx, cfg.Pipeline.ShutdownTimeout) })
	g.Go(func() error { return blocklist.Run(gctx) })
	g.Go(func() error {
		srv.SetReady(true)
		defer srv.SetReady(false)
		err := dispatcher.Run(gctx)
		if err == nil && ctx.Err() == nil {
			err = gctx.Err() // another part of the group failed
		}
		return err
	})
	log.Info("dispatcher started", "brokers", cfg.Kafka.Brokers, "group", d.GroupID,
		"topic", cfg.Kafka.Topics.Courier, "parked", cfg.Kafka.Topics.Parked, "connectors", len(deliverers), "metrics", srv.Addr())
	runErr := g.Wait()

	runErr = errors.Join(runErr, closeKafka(cfg.Pipeline.ShutdownTimeout, consumer.Close, dispatcher.Close))
	log.Info("dispatcher stopped", "err", runErr)
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
		ParkedTopic: cfg.Kafka.Topics.Parked, CourierTopic: cfg.Kafka.Topics.Courier, GroupID: cfg.Dispatch.ReplayGroupID,
		Apply: *execute, Filter: filter, Logger: log,
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
}
