package workerproc

import (
	"strings"
	"testing"
	"time"
)

// A process's output reaches Output line by line with the prefix and its tail
// is kept; its exit code is reported; Stop ends one that runs on, and Kill
// after an exit is harmless.
func TestStartOutputExitAndStop(t *testing.T) {
	var out strings.Builder
	p, err := Start(Config{Binary: "/bin/sh", Args: []string{"-c", "echo one; echo two >&2; exit 3"}, Output: &out, Prefix: "sh| "})
	if err != nil {
		t.Fatal(err)
	}
	<-p.Done()
	done, exitErr := p.Exited()
	if !done || ExitCode(exitErr) != 3 {
		t.Errorf("exited %v with code %d, want 3", done, ExitCode(exitErr))
	}
	if !strings.Contains(p.Tail(), "one") || !strings.Contains(p.Tail(), "two") {
		t.Errorf("tail %q lacks the output", p.Tail())
	}
	if !strings.Contains(out.String(), "sh| one\n") {
		t.Errorf("output %q lacks the prefixed line", out.String())
	}
	p.Kill()

	long, err := Start(Config{Binary: "/bin/sh", Args: []string{"-c", "sleep 60"}})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if code, err := long.Stop(10 * time.Second); err != nil || code != -1 {
		t.Errorf("stop: code %d, %v; want -1 (ended by SIGTERM)", code, err)
	}
	if time.Since(start) > 9*time.Second {
		t.Error("Stop waited for the timeout: SIGTERM was not sent")
	}
	if _, err := Start(Config{Binary: "/bin/sh"}); err == nil {
		t.Error("a start with neither arguments nor a config path was accepted")
	}
}
