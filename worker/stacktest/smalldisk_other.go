//go:build !linux

package stacktest

import "testing"

// diskSpace skips the test: the small-disk ClickHouse is a Linux tmpfs.
func diskSpace(t testing.TB, _ string) (size, free int64) {
	t.Helper()
	t.Skip("the small-disk ClickHouse needs Linux (a tmpfs)")
	return 0, 0
}

// lockFile skips the test, as diskSpace does.
func lockFile(t testing.TB, _ string) (unlock func()) {
	t.Helper()
	t.Skip("the small-disk ClickHouse needs Linux (a tmpfs)")
	return func() {}
}
