package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/orderflow/orderflow/schemas/policy"
	"github.com/orderflow/orderflow/worker/access"
)

// accessCommand prints, as JSON, everything held about one buyer of a tenant
// (UK GDPR Art. 15), decrypting what this login may decrypt (worker/access).
func accessCommand(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs, configPath := commandFlags("access", stderr)
	req, requestFile := buyerFlags(fs, "asks what is held")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *requestFile != "" {
		if err := readRequest(*requestFile, stdin, req); err != nil {
			fmt.Fprintf(stderr, "orderflow access: --request: %v\n", err)
			return 2
		}
	}
	if err := req.Check(); err != nil {
		fmt.Fprintf(stderr, "orderflow access: %v\n", err)
		return 2
	}
	ctx, cancel, cfg, log, err := startCommand("access", *configPath, stderr, needClickHouse, needVault)
	if err != nil {
		return 2
	}
	defer cancel()
	fields, err := policy.Load()
	if err != nil {
		fmt.Fprintf(stderr, "orderflow access: %v\n", err)
		return 1
	}
	o, err := openBuyerStore(ctx, cfg, newRegistry(), log)
	if err != nil {
		fmt.Fprintf(stderr, "orderflow access: %v\n", err)
		return 1
	}
	defer o.Close()
	if o.offboarded.Offboarded(req.Tenant) {
		fmt.Fprintf(stderr, "orderflow access: tenant %s has been offboarded: nothing of its buyers is held\n", req.Tenant)
		return 0
	}
	ex, err := access.New(access.Config{Conn: o.conn, Database: cfg.ClickHouse.Database, RestrictedDatabase: cfg.ClickHouse.RestrictedDatabase,
		Tokenizer: o.vault, Decrypter: o.vault, Policy: fields})
	if err == nil {
		var out access.Export
		if out, err = ex.Export(ctx, req.Tenant, req.Identifiers); err == nil {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			err = enc.Encode(out)
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "orderflow access: %v\n", err)
		return 1
	}
	return 0
}
