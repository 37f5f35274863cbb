package faults

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// TestSuite is the binary TestMain built and the local configuration: the
// cases run it as `orderflow run` processes, to kill them as a node would.
var TestSuite Suite

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "orderflow-faults-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	TestSuite = Suite{Binary: filepath.Join(dir, "orderflow"), ConfigPath: filepath.Join(root, "deploy", "local", "orderflow.yaml")}
	build := exec.Command("go", "build", "-o", TestSuite.Binary, "./worker/cmd/orderflow")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build orderflow: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}
