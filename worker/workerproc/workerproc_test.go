package workerproc

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A process's output reaches Output line by line with the prefix and its tail
// is kept; its exit code is reported; Kill after an exit is harmless.
func TestStartOutputAndExit(t *testing.T) {
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
	if _, err := Start(Config{Binary: "/bin/sh"}); err == nil {
		t.Error("a start with neither arguments nor a config path was accepted")
	}
}

// Stop and Kill end the process and whatever it started, however far the
// process had got: before it started anything, with a child holding its output
// open (the child outlived the shell and kept Stop waiting for its sleep until
// both reached the same group), ignoring SIGTERM, or with a descendant that
// left the group. Each case sleeps for a minute, so a Stop that returns within
// the bound below was not waiting for the sleep.
func TestStopEndsTheProcessAndWhatItStarted(t *testing.T) {
	const sleeper = "sleep 60 & echo child $!; wait"
	cases := []struct {
		name     string
		script   string
		ready    bool // wait for the child's pid before stopping
		wantStop bool // Stop reports an error: the process was not done by the timeout
		escapes  bool // the child leaves the group; Stop must still return
	}{
		{name: "just started", script: "sleep 60"},
		{name: "a child holds the output", script: sleeper, ready: true},
		{name: "SIGTERM ignored", script: "trap '' TERM; " + sleeper, ready: true, wantStop: true},
		// The shell ends on SIGTERM, but its output stays open past the
		// timeout until the drain limit cuts it.
		{name: "a child left the group", script: "setsid sleep 60 & echo child $!; wait", ready: true, wantStop: true, escapes: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := Start(Config{Binary: "/bin/sh", Args: []string{"-c", c.script}})
			if err != nil {
				t.Fatal(err)
			}
			child := 0
			if c.ready {
				child = awaitChild(t, p)
				if c.escapes {
					t.Cleanup(func() { _ = syscall.Kill(child, syscall.SIGKILL) })
				}
			}
			start := time.Now()
			code, err := p.Stop(time.Second)
			if took := time.Since(start); took > 20*time.Second {
				t.Fatalf("Stop returned after %s: it waited for the sleep", took)
			}
			if c.wantStop != (err != nil) {
				t.Errorf("Stop: %v; want an error %v", err, c.wantStop)
			}
			if code != -1 {
				t.Errorf("Stop: code %d, want -1 (ended by a signal)", code)
			}
			if done, _ := p.Exited(); !done {
				t.Error("Stop returned with the process not reaped")
			}
			if child != 0 && !c.escapes {
				awaitGone(t, child)
			}
		})
	}
}

// awaitChild waits for the shell to print its child's pid.
func awaitChild(t *testing.T, p *Proc) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if _, line, ok := strings.Cut(p.Tail(), "child "); ok {
			pid, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(line, "\n", 2)[0]))
			if err != nil {
				t.Fatalf("the shell printed %q", p.Tail())
			}
			return pid
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("the shell did not start its child: %s", p.Tail())
	return 0
}

// awaitGone waits for pid to end (its reaping by init takes a moment).
func awaitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) || zombie(pid) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Errorf("the child %d still runs after Stop", pid)
}

// zombie reports whether pid has exited and waits to be reaped.
func zombie(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	_, after, _ := strings.Cut(string(stat), ") ")
	return strings.HasPrefix(after, "Z")
}
