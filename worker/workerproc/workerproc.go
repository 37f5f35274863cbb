// Package workerproc runs an orderflow command (`orderflow run`, `orderflow
// dispatch`) as a child process for the programs that measure or torment it: the
// bench, the soak and the fault suite. It owns the process: whoever starts one
// must Stop or Kill it (harmless once it has exited) on every way out, and the
// kernel kills it if the parent dies first.
package workerproc

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Config says what to run.
type Config struct {
	// Binary is the orderflow binary. Required.
	Binary string
	// Args are its arguments. Default: run --config ConfigPath.
	Args []string
	// ConfigPath is the configuration file of the default Args.
	ConfigPath string
	// Env is the process's whole environment (not added to the parent's).
	Env []string
	// Output receives the process's stdout and stderr, whole lines, each with
	// Prefix. Default: discarded (the last lines are still kept for Tail).
	Output io.Writer
	// Prefix starts each forwarded line. Default "  worker| ".
	Prefix string
}

// Proc is one started process.
type Proc struct {
	cmd     *exec.Cmd
	started time.Time // just before the process started
	output  *lineWriter
	exited  chan struct{} // closed once the process has exited and waitErr is set
	waitErr error
}

// outputDrainLimit bounds the reading of output after the worker's exit.
const outputDrainLimit = 2 * time.Second

// Start starts the process.
func Start(cfg Config) (*Proc, error) {
	if cfg.Binary == "" {
		return nil, errors.New("workerproc: no binary")
	}
	args := cfg.Args
	if args == nil {
		if cfg.ConfigPath == "" {
			return nil, errors.New("workerproc: neither arguments nor a config path")
		}
		args = []string{"run", "--config", cfg.ConfigPath}
	}
	if cfg.Output == nil {
		cfg.Output = io.Discard
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "  worker| "
	}
	cmd := exec.Command(cfg.Binary, args...)
	cmd.Env = cfg.Env
	lw := &lineWriter{out: cfg.Output, prefix: cfg.Prefix}
	cmd.Stdout, cmd.Stderr = lw, lw
	cmd.SysProcAttr = childAttr()
	// Once the worker has exited, its output is read for at most this long: a
	// descendant that escaped its process group (setsid) and still holds the
	// pipes must not keep Done, Stop and Kill waiting for it.
	cmd.WaitDelay = outputDrainLimit
	p := &Proc{cmd: cmd, output: lw, exited: make(chan struct{})}
	p.started = time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s %s: %w", cfg.Binary, args[0], err)
	}
	// Owned by p: ends when the process exits, which Kill guarantees.
	go func() {
		p.waitErr = cmd.Wait()
		lw.flush()
		close(p.exited)
	}()
	return p, nil
}

// PID is the process's id.
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Started is when the process was started.
func (p *Proc) Started() time.Time { return p.started }

// Done is closed once the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.exited }

// Exited reports whether the process has exited, and if so how.
func (p *Proc) Exited() (bool, error) {
	select {
	case <-p.exited:
		return true, p.waitErr
	default:
		return false, nil
	}
}

// ExitError describes an exit nobody asked for, with the end of the output.
func (p *Proc) ExitError(err error) error {
	return fmt.Errorf("the process exited (%v); its last output:\n%s", err, p.Tail())
}

// Tail is the last lines of the process's output, indented.
func (p *Proc) Tail() string { return p.output.tail() }

// Stop sends SIGTERM to the process and to what it started, and waits up to
// timeout for the process to exit; then it kills them all. It returns the exit
// code (-1 when killed by a signal).
func (p *Proc) Stop(timeout time.Duration) (int, error) {
	if done, err := p.Exited(); done {
		return ExitCode(err), p.ExitError(err)
	}
	if err := signalGroup(p.cmd.Process, syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		p.Kill()
		return -1, fmt.Errorf("SIGTERM: %w", err)
	}
	select {
	case <-p.exited:
		return ExitCode(p.waitErr), nil
	case <-time.After(timeout):
		p.Kill()
		return -1, fmt.Errorf("the process did not exit within %s of SIGTERM; killed", timeout)
	}
}

// Signal sends sig to the process (SIGSTOP and SIGCONT pause and resume it).
func (p *Proc) Signal(sig os.Signal) error {
	if err := p.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("signal %v: %w", sig, err)
	}
	return nil
}

// Kill sends SIGKILL to the process and to what it started, unless it has
// exited, and waits for it to be reaped.
func (p *Proc) Kill() {
	if done, _ := p.Exited(); done {
		return
	}
	_ = signalGroup(p.cmd.Process, syscall.SIGKILL)
	<-p.exited
}

// ExitCode is the exit code err (from Exited) stands for: 0 for nil, -1 for a
// signal or an error that is not an exit.
func ExitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

// FreeAddr returns a loopback address with a port nobody listens on now (for a
// child's metrics listener).
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("a free port: %w", err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr, nil
}

// lineWriter forwards whole lines with a prefix and keeps the last few for
// error messages. The process's stdout and stderr share it.
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
