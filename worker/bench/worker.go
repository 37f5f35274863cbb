package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// workerProc is `orderflow run` as a subprocess. Whoever starts it must call
// stop or kill (harmless once it has exited) on every way out.
type workerProc struct {
	cmd     *exec.Cmd
	start   time.Time // just before the process started
	url     string    // its /metrics
	client  *http.Client
	output  *lineWriter
	exited  chan struct{} // closed once the process has exited and waitErr is set
	waitErr error
}

// freeAddr returns a loopback address with a port nobody listens on now.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("a free port for the worker's metrics: %w", err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr, nil
}

// startWorker starts binary run --config configPath with env, its metrics on
// metricsAddr, and its output forwarded line by line to out.
func startWorker(binary, configPath string, env []string, metricsAddr string, out io.Writer) (*workerProc, error) {
	cmd := exec.Command(binary, "run", "--config", configPath)
	cmd.Env = env
	lw := &lineWriter{out: out, prefix: "  worker| "}
	cmd.Stdout, cmd.Stderr = lw, lw
	cmd.SysProcAttr = childAttr()
	w := &workerProc{
		cmd: cmd, url: "http://" + metricsAddr + "/metrics", output: lw,
		client: &http.Client{Timeout: 2 * time.Second},
		exited: make(chan struct{}),
	}
	w.start = time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s run: %w", binary, err)
	}
	// Owned by w: ends when the process exits, which kill guarantees.
	go func() {
		w.waitErr = cmd.Wait()
		lw.flush()
		close(w.exited)
	}()
	return w, nil
}

func (w *workerProc) pid() int { return w.cmd.Process.Pid }

// hasExited reports whether the process has exited, and if so how.
func (w *workerProc) hasExited() (bool, error) {
	select {
	case <-w.exited:
		return true, w.waitErr
	default:
		return false, nil
	}
}

// exitError describes an exit the bench did not ask for, with the end of the
// worker's output.
func (w *workerProc) exitError(err error) error {
	return fmt.Errorf("the worker exited (%v); its last output:\n%s", err, w.output.tail())
}

func (w *workerProc) scrape(ctx context.Context) (Snapshot, error) {
	return Scrape(ctx, w.client, w.url)
}

// committed is what the worker has committed: orders written, dead letters
// published and orders of offboarded tenants refused, each counted after its
// batch's commit.
func committed(s Snapshot) float64 {
	return s.Sum(metricOrders) + s.Sum(metricDeadLetters) + s.Sum(metricRefused)
}

// waitProgress is called on every successful scrape while waiting.
type waitProgress func(at time.Time, s Snapshot)

// waitCommitted scrapes every interval until the worker has committed target
// messages, and returns that scrape. It fails when the worker exits, when
// nothing new is committed for stall, or when ctx ends.
func (w *workerProc) waitCommitted(ctx context.Context, target float64, interval, stall time.Duration, each waitProgress) (Snapshot, error) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	last, lastChange := -1.0, time.Now()
	for {
		select {
		case <-ctx.Done():
			return Snapshot{}, ctx.Err()
		case <-w.exited:
			return Snapshot{}, w.exitError(w.waitErr)
		case <-tick.C:
		}
		s, err := w.scrape(ctx)
		now := time.Now()
		if err != nil {
			// Not listening yet, or busy: try again, within the stall limit.
			if now.Sub(lastChange) > stall {
				return Snapshot{}, fmt.Errorf("the worker's metrics did not answer for %s: %w", stall, err)
			}
			continue
		}
		c := committed(s)
		if each != nil {
			each(now, s)
		}
		if c >= target {
			return s, nil
		}
		if c != last {
			last, lastChange = c, now
		} else if now.Sub(lastChange) > stall {
			return Snapshot{}, fmt.Errorf("the worker committed nothing for %s: %.0f of %.0f messages committed", stall, c, target)
		}
	}
}

// stop sends SIGTERM and waits up to timeout for the worker to exit; then it
// kills it. It returns the exit code (-1 when killed by a signal).
func (w *workerProc) stop(timeout time.Duration) (int, error) {
	if done, err := w.hasExited(); done {
		return exitCode(err), w.exitError(err)
	}
	if err := w.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		w.kill()
		return -1, fmt.Errorf("SIGTERM to the worker: %w", err)
	}
	select {
	case <-w.exited:
		return exitCode(w.waitErr), nil
	case <-time.After(timeout):
		w.kill()
		return -1, fmt.Errorf("the worker did not exit within %s of SIGTERM; killed", timeout)
	}
}

// kill kills the process if it still runs and waits for it to be reaped.
func (w *workerProc) kill() {
	if done, _ := w.hasExited(); done {
		return
	}
	_ = w.cmd.Process.Kill()
	<-w.exited
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

// lineWriter forwards whole lines with a prefix and keeps the last few for
// error messages. The worker's stdout and stderr share it.
type lineWriter struct {
	out    io.Writer
	prefix string

	mu    sync.Mutex
	buf   []byte   // guarded by mu: an unfinished line
	lines []string // guarded by mu: the last lines
}

const keptLines = 30

func (l *lineWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		l.emit(string(l.buf[:i]))
		l.buf = l.buf[i+1:]
	}
	return len(p), nil
}

func (l *lineWriter) emit(line string) {
	fmt.Fprintf(l.out, "%s%s\n", l.prefix, line)
	l.lines = append(l.lines, line)
	if len(l.lines) > keptLines {
		l.lines = l.lines[len(l.lines)-keptLines:]
	}
}

func (l *lineWriter) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buf) > 0 {
		l.emit(string(l.buf))
		l.buf = nil
	}
}

func (l *lineWriter) tail() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.lines) == 0 {
		return "  (nothing)"
	}
	return "  " + strings.Join(l.lines, "\n  ")
}
