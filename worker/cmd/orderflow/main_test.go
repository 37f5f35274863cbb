package main

import (
	"bytes"
	"strings"
	"testing"
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
