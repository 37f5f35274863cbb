package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/orderflow/orderflow/worker/kafkaacl"
	"github.com/orderflow/orderflow/worker/kafkaclient"
	"github.com/orderflow/orderflow/worker/topics"
)

// kafkaApplyCommand is `orderflow kafka-apply`: deploy/kafka/topics.yaml onto
// the brokers of the configuration (as an admin principal): the topics that are
// missing, the configs that drifted, and each principal's ACLs made exactly the
// file's. With --check it changes nothing and exits 1 on any difference.
func kafkaApplyCommand(args []string, stdout, stderr io.Writer) int {
	fset, configPath := commandFlags("kafka-apply", stderr)
	file := fset.String("file", "deploy/kafka/topics.yaml", "the topics and ACLs file")
	environment := fset.String("environment", "", "the file's environment: local, staging or production (required)")
	check := fset.Bool("check", false, "only report: change nothing, exit 1 if a topic or an ACL differs")
	prefix := fset.String("prefix", "", "start every topic, group and principal name with this (tests)")
	scramDir := fset.String("scram-dir", "", "local stack only: give admin (with --prefix, <prefix>admin) and each principal of the file a SCRAM-SHA-512 "+
		"login whose password is DIR/<user> (made at random when missing)")
	if err := fset.Parse(args); err != nil {
		return 2
	}
	if *environment == "" {
		fmt.Fprintln(stderr, "orderflow kafka-apply: --environment is required (local, staging or production)")
		return 2
	}
	cfg, err := loadFor("kafka-apply", *configPath, stderr)
	if err != nil {
		return 2
	}
	data, err := os.ReadFile(*file)
	if err != nil {
		fmt.Fprintf(stderr, "orderflow kafka-apply: %v\n", err)
		return 2
	}
	f, err := topics.ParseFile(data)
	if err != nil {
		fmt.Fprintf(stderr, "orderflow kafka-apply: %s: %v\n", *file, err)
		return 2
	}
	plan, err := f.Plan(*environment, *prefix)
	if err != nil {
		fmt.Fprintf(stderr, "orderflow kafka-apply: %v\n", err)
		return 2
	}
	clients, err := kafkaclient.New(cfg.Kafka)
	if err != nil {
		fmt.Fprintf(stderr, "orderflow kafka-apply: %v\n", err)
		return 2
	}
	client := clients.Admin()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	if *scramDir != "" {
		// admin is the stack's super user (server.properties); with a prefix
		// (a test's), a user of that name who is no super user.
		users := []string{*prefix + "admin"}
		for _, a := range plan.ACLs {
			users = append(users, strings.TrimPrefix(a.Principal, "User:"))
		}
		slices.Sort(users)
		for _, user := range slices.Compact(users) {
			password, err := localPassword(*scramDir, user)
			if err == nil {
				err = kafkaacl.SetSCRAM(ctx, client, user, password)
			}
			if err != nil {
				fmt.Fprintf(stderr, "orderflow kafka-apply: %v\n", err)
				return 1
			}
		}
	}

	differences := 0
	if *check {
		drifts, err := topics.Check(ctx, client, plan.Topics...)
		if err != nil {
			fmt.Fprintf(stderr, "orderflow kafka-apply: %v\n", err)
			return 1
		}
		for _, d := range drifts {
			fmt.Fprintf(stdout, "topic drift: %s\n", d)
		}
		differences += len(drifts)
	} else {
		created, err := topics.Create(ctx, client, plan.Topics...)
		if err != nil {
			fmt.Fprintf(stderr, "orderflow kafka-apply: %v\n", err)
			return 1
		}
		for _, name := range created {
			fmt.Fprintf(stdout, "topic created: %s\n", name)
		}
		drifts, err := topics.Reconcile(ctx, client, plan.Topics...)
		for _, d := range drifts {
			state := "fixed"
			if !d.Fixable {
				state, differences = "NOT fixed", differences+1
			}
			fmt.Fprintf(stdout, "topic drift: %s: %s\n", d, state)
		}
		if err != nil {
			fmt.Fprintf(stderr, "orderflow kafka-apply: %v\n", err)
			return 1
		}
	}

	changes, err := kafkaacl.Diff(ctx, client, plan.ACLs)
	if err != nil {
		fmt.Fprintf(stderr, "orderflow kafka-apply: %v\n", err)
		return 1
	}
	for _, c := range changes {
		fmt.Fprintf(stdout, "acl %s\n", c)
	}
	if !*check {
		if err := kafkaacl.Apply(ctx, client, changes); err != nil {
			fmt.Fprintf(stderr, "orderflow kafka-apply: %v\n", err)
			return 1
		}
	}
	what := fmt.Sprintf("%d topics, %d ACL entries of %d principals (%s)", len(plan.Topics), len(plan.ACLs), principals(plan.ACLs), *environment)
	if *check {
		differences += len(changes)
		fmt.Fprintf(stdout, "kafka-apply --check: %s: %d differences, nothing changed\n", what, differences)
	} else {
		fmt.Fprintf(stdout, "kafka-apply: %s: %d ACL changes made, %d differences left\n", what, len(changes), differences)
	}
	if differences > 0 {
		return 1
	}
	return 0
}

func principals(acls []topics.ACL) int {
	set := map[string]bool{}
	for _, a := range acls {
		set[a.Principal] = true
	}
	return len(set)
}

// localPassword reads dir/user, writing a random password there (0600) first
// when it does not exist.
func localPassword(dir, user string) (string, error) {
	path := filepath.Join(dir, user)
	data, err := os.ReadFile(path)
	if err == nil && len(strings.TrimSpace(string(data))) > 0 {
		return strings.TrimSpace(string(data)), nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("scram password of %s: %w", user, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("scram password of %s: %w", user, err)
	}
	password := rand.Text()
	if err := os.WriteFile(path, []byte(password+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("scram password of %s: %w", user, err)
	}
	return password, nil
}
