package workerproc

import "syscall"

// childAttr makes the kernel kill the worker if the parent dies without
// cleaning up (SIGKILL, a crash): a stray worker would hold its
// consumer group and keep writing.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
