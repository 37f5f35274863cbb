// Command topics creates the pipeline's Kafka topics on the local stack's broker
// and reconciles the configs of those that exist with worker/topics, the one
// definition of the topics: it prints every difference and fixes the configs
// (retention.ms, segment.ms, message.timestamp.after.max.ms), or with --check
// only reports them and exits 1 if there are any. deploy/local/stack.sh runs
// it after every start.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/kafkaclient"
	"github.com/orderflow/orderflow/worker/topics"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run returns the exit code: 0 when the topics are as specified (or were made
// so), 1 when --check found a difference or something failed, 2 for a bad
// command line.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("topics", flag.ContinueOnError)
	fs.SetOutput(stderr)
	brokers := fs.String("brokers", "127.0.0.1:19092", "bootstrap broker address")
	check := fs.Bool("check", false, "only report: create and change nothing, exit 1 if a topic is missing or differs")
	prefix := fs.String("prefix", "", "start every topic name with this (tests use their own topics)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	n := topics.DefaultNames()
	for i := range n.Orders {
		n.Orders[i] = *prefix + n.Orders[i]
	}
	for _, name := range []*string{&n.DeadLetter, &n.Courier, &n.Accounting, &n.Parked} {
		*name = *prefix + *name
	}
	specs := topics.Pipeline(n)
	clients, err := kafkaclient.New(config.Kafka{Brokers: []string{*brokers}, ClientID: "orderflow-topics"})
	if err != nil {
		fmt.Fprintf(stderr, "topics: %v\n", err)
		return 2
	}
	client := clients.Admin()

	if *check {
		drifts, err := topics.Check(ctx, client, specs...)
		if err != nil {
			fmt.Fprintf(stderr, "topics: %v\n", err)
			return 1
		}
		for _, d := range drifts {
			fmt.Fprintf(stdout, "drift: %s\n", d)
		}
		if len(drifts) > 0 {
			fmt.Fprintf(stdout, "topics: %d differences from worker/topics on %s (run without --check to fix the configs)\n", len(drifts), *brokers)
			return 1
		}
		fmt.Fprintf(stdout, "topics: all %d as specified\n", len(specs))
		return 0
	}

	created, err := topics.Create(ctx, client, specs...)
	if err != nil {
		fmt.Fprintf(stderr, "topics: %v\n", err)
		return 1
	}
	drifts, err := topics.Reconcile(ctx, client, specs...)
	for _, d := range drifts {
		state := "fixed"
		if !d.Fixable {
			state = "NOT fixed"
		}
		fmt.Fprintf(stdout, "drift: %s: %s\n", d, state)
	}
	if err != nil {
		fmt.Fprintf(stderr, "topics: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "topics: %d created, %d already present, %d differences found\n", len(created), len(specs)-len(created), len(drifts))
	return 0
}
