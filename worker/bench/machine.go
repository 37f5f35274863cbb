package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Machine describes where the run happened. Measurements on a shared machine
// are noisy: the load averages before and after say how noisy.
type Machine struct {
	Cores       int     `json:"cores"`
	CPU         string  `json:"cpu,omitempty"`
	MemoryGiB   float64 `json:"memory_gib"`
	LoadBefore  string  `json:"load_before"` // 1, 5 and 15 minute load averages
	LoadAfter   string  `json:"load_after"`
	GoVersion   string  `json:"go_version"`
	OS          string  `json:"os"`
	Kernel      string  `json:"kernel,omitempty"`
	WorkerBuild string  `json:"worker_build"` // `orderflow version` of the binary measured
}

func readMachine() Machine {
	m := Machine{Cores: runtime.NumCPU(), GoVersion: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH}
	m.LoadBefore = loadAverage()
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) >= 2 && f[0] == "MemTotal:" {
				kb, _ := strconv.ParseFloat(f[1], 64)
				m.MemoryGiB = kb / (1 << 20)
			}
		}
	}
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(data))
	}
	return m
}

// loadAverage is the first three fields of /proc/loadavg, or "unknown".
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// Source is the commit the run measured.
type Source struct {
	Commit string `json:"commit"` // git rev-parse --short HEAD, or "unknown"
	// Dirty: tracked files differ from the commit, or untracked files exist
	// outside the results directory, so the binary may not be the commit.
	Dirty bool `json:"dirty"`
}

func readSource(ctx context.Context, outDir string) Source {
	git := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, "git", args...).Output()
		return strings.TrimSpace(string(out)), err
	}
	commit, err := git("rev-parse", "--short", "HEAD")
	if err != nil || commit == "" {
		return Source{Commit: "unknown"}
	}
	s := Source{Commit: commit}
	top, err := git("rev-parse", "--show-toplevel")
	if err != nil {
		return s
	}
	status, err := git("status", "--porcelain")
	if err != nil {
		s.Dirty = true
		return s
	}
	results := ""
	if abs, err := filepath.Abs(outDir); err == nil {
		if rel, err := filepath.Rel(top, abs); err == nil && !strings.HasPrefix(rel, "..") {
			results = filepath.ToSlash(rel) + "/"
		}
	}
	for line := range strings.Lines(status) {
		line = strings.TrimRight(line, "\n")
		if len(line) < 4 {
			continue
		}
		path := line[3:]
		if strings.HasPrefix(line, "??") && results != "" && strings.HasPrefix(path, results) {
			continue // earlier runs' results
		}
		s.Dirty = true
		break
	}
	return s
}

// binaryVersion runs `binary version`.
func binaryVersion(ctx context.Context, binary string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, binary, "version").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s version: %w (%s)", binary, err, bytes.TrimSpace(out))
	}
	return strings.TrimSpace(string(out)), nil
}
