package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/orderflow/orderflow/schemas/policy"
	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/ropa"
)

// ropaCommand prints the record of processing activities (UK GDPR Art. 30),
// rendered from the field policy, the connectors' allow-lists, the retention
// classes with the configured periods, and the access roles (worker/ropa).
func ropaCommand(args []string, stdout, stderr io.Writer) int {
	fs, configPath := commandFlags("ropa", stderr)
	asJSON := fs.Bool("json", false, "print the record as JSON (default Markdown)")
	// --config: the deployment's periods (retention.*), checked as every
	// command checks its configuration.
	if err := fs.Parse(args); err != nil {
		return 2
	}
	// Without --config, the default periods: the record needs the retention
	// section only, and a compliance officer has no server's credentials.
	cfg := config.Defaults()
	if *configPath != "" {
		var err error
		if cfg, err = loadFor("ropa", *configPath, stderr); err != nil {
			return 2
		}
	}
	fields, err := policy.Load()
	if err == nil {
		var lists *policy.AllowLists
		if lists, err = policy.LoadConnectors(); err == nil {
			var rec ropa.Record
			if rec, err = ropa.Build(fields, lists, cfg.Retention); err == nil {
				if *asJSON {
					enc := json.NewEncoder(stdout)
					enc.SetIndent("", "  ")
					err = enc.Encode(rec)
				} else {
					err = rec.Markdown(stdout)
				}
			}
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "orderflow ropa: %v\n", err)
		return 1
	}
	return 0
}
