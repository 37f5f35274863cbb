//go:build !linux

package workerproc

import "syscall"

// childAttr: only Linux can tie the worker's life to the parent's; elsewhere
// the parent kills it on every way out it controls.
func childAttr() *syscall.SysProcAttr { return nil }
