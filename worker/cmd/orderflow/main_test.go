package main

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/orderflow/orderflow/worker/config"
)

func TestVersionPrintsVersionAndCommit(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"version"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit code %d, stderr %q", code, stderr.String())
	}
	got := stdout.String()
	if !strings.HasPrefix(got, "orderflow "+version+" (commit "+commit) {
		t.Errorf("version output %q does not start with the version and commit", got)
	}
}

func TestUnknownCommandIsAUsageError(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"frobnicate"}, &stdout, &stderr); code != 2 {
		t.Fatalf("exit code %d, want 2", code)
	}
	if !strings.Contains(stderr.String(), `unknown command "frobnicate"`) {
		t.Errorf("stderr %q does not name the unknown command", stderr.String())
	}
	if stdout.Len() != 0 {
		t.Errorf("stdout should be empty on a usage error, got %q", stdout.String())
	}
}

func TestNoCommandIsAUsageError(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(nil, &stdout, &stderr); code != 2 {
		t.Fatalf("exit code %d, want 2", code)
	}
	if !strings.Contains(stderr.String(), "usage: orderflow") {
		t.Errorf("stderr %q has no usage", stderr.String())
	}
}

func TestRunRefusesABadConfigNamingTheKey(t *testing.T) {
	path := t.TempDir() + "/bad.yaml"
	if err := os.WriteFile(path, []byte("kafka:\n  brokers: [127.0.0.1:19092]\npipeline:\n  batch_max_messages: -1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"run", "--config", path}, &stdout, &stderr); code != 2 {
		t.Fatalf("exit code %d, want 2", code)
	}
	if !strings.Contains(stderr.String(), "pipeline.batch_max_messages: must be between 1 and 100000, got -1") {
		t.Errorf("stderr %q does not name the key", stderr.String())
	}
}

func TestLocalStackConfigIsValid(t *testing.T) {
	if _, err := config.Load("../../../deploy/local/orderflow.yaml", []string{"ORDERFLOW_VAULT_TOKEN=dev-token"}); err != nil {
		t.Errorf("deploy/local/orderflow.yaml: %v", err)
	}
}
