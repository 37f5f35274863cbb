// Command orderflow is the order-stream ETL worker: it consumes Amazon and eBay order
// streams, protects buyer data through Vault, writes ClickHouse facts and enforces the
// platform's retention promises. Each job is a subcommand; `orderflow help` lists them.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"

	"github.com/orderflow/orderflow/worker/telemetry"
	"github.com/prometheus/client_golang/prometheus"
)

// version and commit are set at build time by the Makefile
// (-ldflags "-X main.version=... -X main.commit=...").
var (
	version = "dev"
	commit  = "unknown"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run dispatches a subcommand and returns the process exit code: 0 on success,
// 1 when the job failed, 2 when the command line was wrong.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "version", "--version", "-version":
		fmt.Fprintf(stdout, "orderflow %s (commit %s, %s %s/%s)\n", version, commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return 0
	case "run":
		return runCommand(args[1:], stderr)
	case "migrate":
		return migrateCommand(args[1:], stdout, stderr)
	case "demo":
		return demoCommand(args[1:], stdout, stderr)
	case "generate":
		return generateCommand(args[1:], stdout, stderr)
	case "purge":
		return purgeCommand(args[1:], stdout, stderr)
	case "offboard":
		return offboardCommand(args[1:], stdout, stderr)
	case "erase":
		return eraseCommand(args[1:], os.Stdin, stdout, stderr)
	case "notifications":
		return notificationsCommand(args[1:], stderr)
	case "access":
		return accessCommand(args[1:], os.Stdin, stdout, stderr)
	case "breach-report":
		return breachReportCommand(args[1:], stdout, stderr)
	case "ropa":
		return ropaCommand(args[1:], stdout, stderr)
	case "dispatch":
		return dispatchCommand(args[1:], stderr)
	case "replay-parked":
		return replayParkedCommand(args[1:], stdout, stderr)
	case "reconcile":
		return reconcileCommand(args[1:], stdout, stderr)
	case "replay-dlq":
		return replayDLQCommand(args[1:], stdout, stderr)
	case "kafka-apply":
		return kafkaApplyCommand(args[1:], stdout, stderr)
	case "help", "-h", "--help":
		usage(stdout)
		return 0
	default:
		fmt.Fprintf(stderr, "orderflow: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
}

// commandFlags returns a subcommand's flag set, which reports a bad flag on
// stderr and returns (the command exits 2), with the --config flag every
// subcommand has.
func commandFlags(name string, stderr io.Writer) (fs *flag.FlagSet, configPath *string) {
	fs = flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs, fs.String("config", "", "YAML configuration file (every key can also be set by ORDERFLOW_* variables)")
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage: orderflow <command> [flags]

commands:
  run         run the worker: orderflow run --config FILE
  migrate     create or update the ClickHouse schema (safe to repeat; --status lists versions)
  purge       one retention pass (labels 21 days, facts 2 years, financial records 6 years after
              the financial year of their last event); --dry-run only reports, --now +22d evaluates
              it as of another instant (a future one only with --dry-run)
  offboard    remove a seller who leaves: block them, wait until every live worker has
              acknowledged (--ack-timeout), destroy their Vault keys, delete every row,
              verify no row or key remains (--tenant T --confirm T)
  erase       erase one buyer of a seller (GDPR Art. 17): --tenant T and --email, --phone,
              --username or --user-id, which --name narrows (or --request FILE|- with them as
              JSON, kept out of the process list); tokens replaced, labels deleted, invoice parties cleared
              unless the law requires the invoice kept; prints and records the answer;
              --consume erases the requests of kafka.topics.erasure until stopped
  notifications
              serve eBay's marketplace account-deletion endpoint (ebay_notifications): answer
              the challenge, verify each notification's signature, write it to
              kafka.topics.erasure before acknowledging it (erase --consume erases the user)
  access      everything held about one buyer of a seller, as JSON (GDPR Art. 15): --tenant T
              and --email, --phone, --username or --user-id, narrowed by --name (or --request);
              decrypts what this login may decrypt, with each field's purpose and retention
  breach-report
              what a compromised seller (--tenant) or role (--role) could have touched in a
              window (--from, --to): personal data held, buyers, and the decrypts of Vault's
              audit log (--audit-log), by role, as JSON, for the 72-hour ICO report
  ropa        print the record of processing activities (GDPR Art. 30) as Markdown (--json):
              rendered from the field policy, the connectors, the retention and the access roles
  generate    produce synthetic Amazon and eBay orders to the input topics and print the tally:
              --count N, or --rate R/s --duration D; --seed S --tenants T --json FILE
  replay-dlq  put dead-lettered messages back on their source topics after a fix, except
              offboarded tenants' (a dry run unless --execute; select with --reason, --topic,
              --since, --until)
  dispatch    run the courier dispatcher: deliver the courier outbox's jobs to the configured
              connectors (Click & Drop, signed webhooks), park what fails for good
  replay-parked
              put parked courier jobs back on the outbox after a fix (a dry run unless
              --execute; select with --connector, --reason, --tenant)
  reconcile   a seller's books period by period: ClickHouse's financial records beside what
              the accounting connector posted, and every difference (--tenant T --from D --to D)
  kafka-apply create the topics of deploy/kafka/topics.yaml, fix drifted configs and make each
              principal's ACLs exactly the file's (--environment E; --check only reports)
  demo        the main job end to end on the local stack: generate orders, run the worker until
              all are written, print what happened (make demo)
  version     print the version and exit
  help        print this help
`)
}

// newRegistry is a command's registry: Go and process metrics, and this
// build's orderflow_build_info.
func newRegistry() *prometheus.Registry {
	return withBuildInfo(telemetry.NewRegistry())
}

// withBuildInfo adds this build's orderflow_build_info to reg.
func withBuildInfo(reg *prometheus.Registry) *prometheus.Registry {
	reg.MustRegister(telemetry.BuildInfo(version, commit))
	return reg
}
