//go:build !linux

package workerproc

import (
	"os"
	"syscall"
)

// childAttr: only Linux can tie the worker's life to the parent's; elsewhere
// the parent kills it on every way out it controls.
func childAttr() *syscall.SysProcAttr { return nil }

// signalGroup signals the worker alone: descendants that keep its output open
// are cut off by Config's wait bound (exec.Cmd.WaitDelay) instead.
func signalGroup(p *os.Process, sig syscall.Signal) error { return p.Signal(sig) }
