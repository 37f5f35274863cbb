//go:build !linux

package bench

import "syscall"

// childAttr: only Linux can tie the worker's life to the bench's; elsewhere
// the bench kills it on every way out it controls.
func childAttr() *syscall.SysProcAttr { return nil }
