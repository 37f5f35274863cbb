package stacktest

import (
	"context"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// StopServer stops one of the stack's servers ("clickhouse", "kafka") through
// its script in deploy/local, as an operator would (SIGTERM, SIGKILL after
// 30 s), and returns once its process has ended. The test must start it again:
// StartServer, registered as a cleanup too, so that a failing test does not leave
// the stack without it.
func StopServer(t testing.TB, name string) {
	t.Helper()
	t.Cleanup(func() { serverScript(t, name, "start") })
	serverScript(t, name, "stop")
}

// StartServer starts a server StopServer stopped and returns once it answers.
func StartServer(t testing.TB, name string) {
	t.Helper()
	serverScript(t, name, "start")
}

func serverScript(t testing.TB, name, action string) {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "..", "..", "deploy", "local", name+".sh")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, script, action).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", script, action, err, out)
	}
}
