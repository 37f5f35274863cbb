package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/orderflow/orderflow/worker/config"
)

// migrateCommand applies the ClickHouse schema. It is safe to run again, and
// from two places at once (a Kubernetes Job and a developer, say).
func migrateCommand(args []string, stdout, stderr io.Writer) int {
	fs, configPath := commandFlags("migrate", stderr)
	status := fs.Bool("status", false, "list the applied versions and what is pending; change nothing")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ctx, cancel, cfg, log, err := startCommand("migrate", *configPath, stderr, needClickHouse)
	if err != nil {
		return 2
	}
	defer cancel()
	db, err := openClickHouse(ctx, cfg.ClickHouse)
	if err != nil {
		fmt.Fprintf(stderr, "orderflow migrate: %v\n", err)
		return 1
	}
	defer db.Close()
	m, err := db.migrator(cfg.ClickHouse, log)
	if err != nil {
		fmt.Fprintf(stderr, "orderflow migrate: %v\n", err)
		return 1
	}
	if !*status {
		done, err := m.Up(ctx)
		if err != nil {
			fmt.Fprintf(stderr, "orderflow migrate: %v\n", err)
			return 1
		}
		if len(done) == 0 {
			fmt.Fprintf(stdout, "schema is current (version %d): nothing to apply\n", m.Latest())
		}
		for _, mig := range done {
			fmt.Fprintf(stdout, "applied %04d_%s\n", mig.Version, mig.Name)
		}
	}
	applied, err := m.Status(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "orderflow migrate: %v\n", err)
		return 1
	}
	if *status {
		for _, a := range applied {
			fmt.Fprintf(stdout, "%04d_%-20s applied %s by %s\n", a.Version, a.Name, a.AppliedAt.Format("2006-01-02 15:04:05Z"), a.AppliedBy)
		}
		if err := m.Check(ctx); err != nil {
			fmt.Fprintf(stdout, "%v\n", err)
			return 1
		}
		if err := m.CheckTables(ctx); err != nil {
			fmt.Fprintf(stdout, "%v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "schema is current (version %d)\n", m.Latest())
	}
	return 0
}

// requirement is a configuration section a command cannot run without.
type requirement func(config.Config) error

var (
	needClickHouse requirement = func(c config.Config) error { return c.ClickHouse.Require() }
	needVault      requirement = func(c config.Config) error { return c.Vault.Require() }
)

// startCommand is the start of a command that runs once its flags are
// parsed: its configuration (loadFor), its logger, and a context that ends
// at SIGINT or SIGTERM, which cancel releases. With an error (printed
// already) the command exits 2, and there is nothing to cancel.
func startCommand(command, path string, stderr io.Writer, needs ...requirement) (ctx context.Context, cancel context.CancelFunc, cfg config.Config, log *slog.Logger, err error) {
	if cfg, err = loadFor(command, path, stderr, needs...); err != nil {
		return nil, nil, cfg, nil, err
	}
	ctx, cancel = signalContext()
	return ctx, cancel, cfg, newLogger(cfg.Log, stderr), nil
}

// signalContext ends at SIGINT or SIGTERM (Kubernetes' stop), so that a
// command stops cleanly: it flushes and closes what it holds.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// loadFor loads the configuration for a command and checks the sections it
// needs, printing any problem (which names its key) as "orderflow CMD: ...".
func loadFor(command, path string, stderr io.Writer, needs ...requirement) (config.Config, error) {
	cfg, err := config.Load(path, os.Environ())
	if err == nil {
		for _, need := range needs {
			if err = need(cfg); err != nil {
				err = fmt.Errorf("config: %w", err)
				break
			}
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "orderflow %s: %v\n", command, err)
	}
	return cfg, err
}
