package bench

import "syscall"

// childAttr makes the kernel kill the worker if the bench dies without
// cleaning up (SIGKILL, a crash): a stray worker would hold the run's
// consumer group and keep writing.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
