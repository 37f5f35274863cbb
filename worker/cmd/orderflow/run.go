package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/orderflow/orderflow/connectors/outbox"
	"github.com/orderflow/orderflow/schemas/policy"
	"github.com/orderflow/orderflow/worker/anomaly"
	"github.com/orderflow/orderflow/worker/channel"
	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/consume"
	"github.com/orderflow/orderflow/worker/deadletter"
	"github.com/orderflow/orderflow/worker/facts"
	"github.com/orderflow/orderflow/worker/kafkaclient"
	"github.com/orderflow/orderflow/worker/kafkalag"
	"github.com/orderflow/orderflow/worker/normalize"
	"github.com/orderflow/orderflow/worker/pipeline"
	"github.com/orderflow/orderflow/worker/protect"
	"github.com/orderflow/orderflow/worker/retention"
	"github.com/orderflow/orderflow/worker/telemetry"
	"github.com/orderflow/orderflow/worker/tlsconfig"
	"github.com/orderflow/orderflow/worker/transit"
)

func runCommand(args []string, stderr io.Writer) int {
	fs, configPath := commandFlags("run", stderr)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ctx, cancel, cfg, log, err := startCommand("run", *configPath, stderr, needClickHouse, needVault)
	if err != nil {
		return 2
	}
	defer cancel()
	if err := runWorker(ctx, cfg, nil, newRegistry(), log); err != nil {
		fmt.Fprintf(stderr, "orderflow run: %v\n", err)
		return 1
	}
	return 0
}

// runWorker runs the pipeline, the dead-letter publisher, the scheduled purge
// and the metrics server until ctx ends (SIGTERM), then closes everything
// within the configured timeout. The batch in flight at the signal is abandoned
// uncommitted and read again by the next owner of its partitions.
//
// sink nil means the ClickHouse writer; tests pass another. The purge schedule
// runs only with the ClickHouse writer and a non-zero retention.interval.
func runWorker(ctx context.Context, cfg config.Config, sink pipeline.Sink, reg *prometheus.Registry, log *slog.Logger) error {
	clients, err := kafkaclient.New(cfg.Kafka)
	if err != nil {
		return err
	}
	// With ClickHouse, the list of offboarded tenants gates every Vault call
	// for a tenant's data, so it exists before the Vault client.
	var conn *clickHouse
	var blocklist *retention.Blocklist
	if sink == nil {
		if conn, err = openCurrentSchema(ctx, cfg, log); err != nil {
			return err
		}
		defer conn.Close()
		if blocklist, err = newBlocklist(ctx, cfg, conn, workerID(), log); err != nil {
			return err
		}
	}
	// Each Vault request keeps vault.max_attempts: a stage makes many requests,
	// and were the pipeline their only retrier, a Vault failing one request in
	// three would fail nearly every attempt of a stage of ten (the fault suite's
	// TestFaultVaultFlaky stalled so).
	vault, err := newTransit(ctx, cfg, reg, log, gateOf(blocklist))
	if err != nil {
		return err
	}
	defer vault.Close()
	if blocklist != nil {
		blocklist.Subscribe(vault)
	}
	pol, err := policy.Load()
	if err != nil {
		return err
	}
	stage, err := protect.New(protect.Config{Tokenizer: vault, Encrypter: vault, Policy: pol, Registerer: reg, Logger: log})
	if err != nil {
		return err
	}
	var purger *retention.Purger
	if sink == nil {
		writer, err := facts.New(facts.Config{
			Conn: conn, Cluster: conn.cluster, Database: cfg.ClickHouse.Database, RestrictedDatabase: cfg.ClickHouse.RestrictedDatabase,
			// The four tables insert at once, each on its own pooled connection.
			Concurrency:    min(4, cfg.ClickHouse.MaxOpenConns),
			LabelRetention: cfg.Retention.Label, Registerer: reg, Logger: log,
		})
		if err != nil {
			return err
		}
		// The schema version is current (checked above); this also catches a
		// table altered by hand, before the first batch fails on it.
		if err := writer.CheckSchema(ctx); err != nil {
			return err
		}
		sink = writer
		if cfg.Retention.Interval > 0 {
			lease, err := newPurgeLease(cfg, vault, log)
			if err != nil {
				return err
			}
			if purger, err = newPurger(cfg, conn, nil, lease, reg, log); err != nil {
				return err
			}
		}
	}
	topics := cfg.Kafka.Topics
	consumer, err := consume.New(consume.Config{
		Brokers: cfg.Kafka.Brokers, GroupID: cfg.Kafka.GroupID, Topics: topics.Orders(),
		Dialer: clients.Dialer, SessionTimeout: cfg.Kafka.SessionTimeout, RebalanceTimeout: cfg.Kafka.RebalanceTimeout,
		HeartbeatInterval: cfg.Kafka.HeartbeatInterval,
		BatchMaxMessages:  cfg.Pipeline.BatchMaxMessages, BatchMaxWait: cfg.Pipeline.BatchMaxWait, BatchIdle: cfg.Pipeline.BatchIdle,
		// The first commit after a start comes soon (issue 16's start goal).
		StartSmall: true, Logger: log,
	})
	if err != nil {
		return err
	}
	dlq, err := deadletter.New(deadletter.Config{Brokers: cfg.Kafka.Brokers, Topic: topics.DeadLetter, Transport: clients.Transport, Encrypter: vault,
		MaxAttempts: 1}) // the pipeline retries
	if err != nil {
		return err
	}
	// The courier outbox is the batch's second sink: a batch is committed
	// only once its facts and its courier jobs are both written.
	courierOutbox, err := outbox.New(outbox.Config{Brokers: cfg.Kafka.Brokers, Transport: clients.Transport, Topic: topics.Courier, Registerer: reg})
	if err != nil {
		return err
	}
	normalizer, err := channel.Default().Normalizer(normalize.Config{MaxClockSkew: cfg.Pipeline.MaxClockSkew})
	if err != nil {
		return err
	}
	// The hacked-account pattern, per tenant (orderflow_tenant_*).
	detector := anomaly.New(anomaly.Config{})
	if err := reg.Register(detector); err != nil {
		return fmt.Errorf("anomaly metrics: %w", err)
	}
	p, err := pipeline.New(pipeline.Config{
		Source: consumer, Normalizer: normalizer, Protector: stage, Sinks: []pipeline.Sink{sink, courierOutbox}, DeadLetters: dlq, Blocklist: pipelineBlocklist(blocklist),
		Observer:      detector,
		TopicChannels: topics.ChannelsByTopic(),
		RetryInitial:  cfg.Pipeline.RetryInitial, RetryMax: cfg.Pipeline.RetryMax,
		MinWriteInterval: cfg.Pipeline.MinWriteInterval,
		Registerer:       reg, Logger: log,
	})
	if err != nil {
		return err
	}
	srv, err := listenMetrics(cfg, reg, log)
	if err != nil {
		return err
	}
	lag, err := kafkalag.New(kafkalag.Config{Client: clients.Admin(), Group: cfg.Kafka.GroupID, Topics: topics.Orders(),
		Registerer: reg, Logger: log})
	if err != nil {
		return err
	}

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return srv.Serve(gctx, cfg.Pipeline.ShutdownTimeout) })
	g.Go(func() error {
		srv.SetReady(true)
		defer srv.SetReady(false)
		return p.Run(gctx)
	})
	g.Go(func() error { return lag.Run(gctx) })
	if blocklist != nil {
		g.Go(func() error { return blocklist.Run(gctx) })
	}
	if purger != nil {
		g.Go(func() error { return purger.Run(gctx, cfg.Retention.Interval) })
	}
	own := log.With("component", "worker") // the packages above tag their own
	own.Info("worker started", "brokers", cfg.Kafka.Brokers, "group", cfg.Kafka.GroupID,
		"topics", topics.Orders(), "metrics", srv.Addr())
	runErr := g.Wait()

	runErr = errors.Join(runErr, closeKafka(cfg.Pipeline.ShutdownTimeout, consumer.Close, dlq.Close, courierOutbox.Close))
	own.Info("worker stopped", "err", runErr)
	return runErr
}

// listenMetrics opens the metrics server of a long-running command as the
// metrics section says, with pprof's handlers when metrics.pprof is on.
func listenMetrics(cfg config.Config, reg *prometheus.Registry, log *slog.Logger) (*telemetry.Server, error) {
	var opts []telemetry.Option
	if cfg.Metrics.Pprof {
		opts = append(opts, telemetry.WithPprof())
	}
	srv, err := telemetry.Listen(cfg.Metrics.Listen, reg, log.With("component", "metrics"), opts...)
	if err != nil {
		return nil, err
	}
	if t := cfg.Metrics.TLS; t.Enabled() {
		tlsCfg, err := tlsconfig.Server(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, errors.Join(fmt.Errorf("metrics.tls: %w", err), srv.Close())
		}
		srv.UseTLS(tlsCfg)
	}
	if err := reg.Register(srv.Readiness()); err != nil {
		return nil, errors.Join(fmt.Errorf("readiness metric: %w", err), srv.Close())
	}
	return srv, nil
}

// closeKafka closes a stopped command's Kafka clients, in order (the
// consumer first, so it leaves its group; then the writers flush), within
// timeout, whatever happened before: a broker that does not answer must not
// keep the process past its shutdown grace period. The closes left running
// then end with the process.
func closeKafka(timeout time.Duration, closers ...func() error) error {
	closed := make(chan error, 1)
	go func() {
		var errs []error
		for _, c := range closers {
			errs = append(errs, c())
		}
		closed <- errors.Join(errs...)
	}()
	select {
	case err := <-closed:
		return err
	case <-time.After(timeout):
		return fmt.Errorf("kafka clients not closed within %s", timeout)
	}
}

// newBlocklist loads the offboarded tenants as the offboarding section says.
// workerID "" makes an observer, whose gate admits no Vault call.
func newBlocklist(ctx context.Context, cfg config.Config, conn driver.Conn, workerID string, log *slog.Logger) (*retention.Blocklist, error) {
	return retention.NewBlocklist(ctx, retention.BlocklistConfig{
		Conn: conn, Database: cfg.ClickHouse.Database, WorkerID: workerID,
		Interval: cfg.Offboarding.ReloadInterval, StaleAfter: cfg.Offboarding.StaleAfter,
		RequestTimeout: cfg.Vault.RequestTimeout, Logger: log,
	})
}

// workerID names this process in offboard_heartbeats and offboard_acks: the
// host, the process id and a random part, since a restarted pod keeps its
// name and may keep its pid.
func workerID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown-host"
	}
	var b [4]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// gateOf keeps a nil *Blocklist from becoming a non-nil interface.
func gateOf(b *retention.Blocklist) transit.Gate {
	if b == nil {
		return nil
	}
	return b
}

// pipelineBlocklist keeps a nil *Blocklist from becoming a non-nil interface.
func pipelineBlocklist(b *retention.Blocklist) pipeline.Blocklist {
	if b == nil {
		return nil
	}
	return b
}

// newTransit logs in to Vault as the vault section says; gate (may be nil)
// admits the calls for tenants' data; edits change the client's config.
func newTransit(ctx context.Context, cfg config.Config, reg prometheus.Registerer, log *slog.Logger, gate transit.Gate) (*transit.Client, error) {
	if err := cfg.Vault.Require(); err != nil {
		return nil, err
	}
	tc := transit.ConfigFrom(cfg.Vault)
	tc.Registerer, tc.Logger, tc.Gate = reg, log, gate
	client, err := transit.New(ctx, tc)
	if err != nil {
		return nil, fmt.Errorf("vault: %w", err)
	}
	return client, nil
}

// newLogger returns the process's structured logger on w.
func newLogger(cfg config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Level)) // validated by config
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}
