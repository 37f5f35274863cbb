package stacktest

import (
	"os"
	"syscall"
	"testing"
)

// diskSpace is the size and the free space, in bytes, of the file system
// that holds path.
func diskSpace(t testing.TB, path string) (size, free int64) {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		t.Fatalf("statfs %s: %v", path, err)
	}
	return int64(st.Blocks) * st.Bsize, int64(st.Bavail) * st.Bsize
}

// lockFile holds an exclusive lock on path (created if need be) until the
// returned function is called, waiting while another process holds it. The
// kernel drops the lock of a process that dies, so a killed test never leaves
// it held.
func lockFile(t testing.TB, path string) (unlock func()) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatalf("lock %s: %v", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Logf("waiting for %s: another test holds it", path)
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
			_ = f.Close()
			t.Fatalf("lock %s: %v", path, err)
		}
	}
	return func() { _ = f.Close() } // closing the last descriptor releases the lock
}
