package workerproc

import (
	"errors"
	"os"
	"syscall"
)

// childAttr makes the kernel kill the worker if the parent dies without
// cleaning up (SIGKILL, a crash): a stray worker would hold its consumer
// group and keep writing. The worker leads a process group of its own so
// that Stop and Kill reach whatever it started too: a descendant left behind
// would keep its output pipes open, and the wait for the worker with them.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
}

// signalGroup sends sig to every process in the worker's group. The group
// outlives the worker only while one of its descendants runs, and its id is
// not reused while any member lives, so the signal cannot reach a stranger.
func signalGroup(p *os.Process, sig syscall.Signal) error {
	if err := syscall.Kill(-p.Pid, sig); err != nil {
		if errors.Is(err, syscall.ESRCH) {
			return os.ErrProcessDone
		}
		return err
	}
	return nil
}
