package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/orderflow/orderflow/worker/breach"
)

// breachReportCommand prints, as JSON, what a compromised tenant or role
// could have touched in a window: the categories of personal data held and
// for how many buyers, and the decrypts Vault's audit log records, by role
// (worker/breach), for the 72-hour report to the ICO.
func breachReportCommand(args []string, stdout, stderr io.Writer) int {
	fs, configPath := commandFlags("breach-report", stderr)
	tenant := fs.String("tenant", "", "the tenant (seller) whose account may be compromised")
	role := fs.String("role", "", "the role whose credentials may be compromised (worker, dispatcher, dlq-replay, ...)")
	fromFlag := fs.String("from", "", "the window's start: RFC 3339, a date, or a period back from now such as -3d (required)")
	toFlag := fs.String("to", "", "the window's end, exclusive: as --from (default now)")
	auditLog := fs.String("audit-log", "", "Vault's file audit log (JSON lines), for the roles' decrypts")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	now := time.Now().UTC()
	if *fromFlag == "" {
		fmt.Fprintln(stderr, "orderflow breach-report: --from is required: RFC 3339, a date, or a period back such as -3d")
		return 2
	}
	from, err := parseAsOf(*fromFlag, now)
	if err != nil {
		fmt.Fprintf(stderr, "orderflow breach-report: --from: %v\n", err)
		return 2
	}
	to := now
	if *toFlag != "" {
		if to, err = parseAsOf(*toFlag, now); err != nil {
			fmt.Fprintf(stderr, "orderflow breach-report: --to: %v\n", err)
			return 2
		}
	}
	ctx, cancel, cfg, log, err := startCommand("breach-report", *configPath, stderr, needClickHouse)
	if err != nil {
		return 2
	}
	defer cancel()
	conn, err := openCurrentSchema(ctx, cfg, log)
	if err != nil {
		fmt.Fprintf(stderr, "orderflow breach-report: %v\n", err)
		return 1
	}
	defer conn.Close()
	bc := breach.Config{Conn: conn, Database: cfg.ClickHouse.Database, RestrictedDatabase: cfg.ClickHouse.RestrictedDatabase, KeyPrefix: cfg.Vault.KeyPrefix, Mount: cfg.Vault.TransitMount}
	if *auditLog != "" {
		f, err := os.Open(*auditLog)
		if err != nil {
			fmt.Fprintf(stderr, "orderflow breach-report: --audit-log: %v\n", err)
			return 2
		}
		defer f.Close()
		bc.Audit = f
	}
	r, err := breach.Build(ctx, bc, *tenant, *role, from, to)
	if err != nil {
		fmt.Fprintf(stderr, "orderflow breach-report: %v\n", err)
		return 1
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return 1
	}
	return 0
}
