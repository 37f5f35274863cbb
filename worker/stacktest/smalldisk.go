package stacktest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Environment variables of the small-disk ClickHouse, written by
// deploy/local/clickhouse-smalldisk.sh to .stack/smalldisk.env (make
// smalldisk-up, make test), apart from .stack/env: it needs root to mount.
const (
	// EnvClickHouseSmallDiskAddr is its native host:port.
	EnvClickHouseSmallDiskAddr = "ORDERFLOW_TEST_CLICKHOUSE_SMALLDISK_ADDR"
	// EnvClickHouseSmallDiskDir is the size-limited file system (a tmpfs)
	// that holds its data: a test fills it with files of its own.
	EnvClickHouseSmallDiskDir = "ORDERFLOW_TEST_CLICKHOUSE_SMALLDISK_DIR"
	// EnvClickHouseSmallDiskControl is the script whose "resize SIZE_MB"
	// grows or shrinks that file system while the server runs.
	EnvClickHouseSmallDiskControl = "ORDERFLOW_TEST_CLICKHOUSE_SMALLDISK_CONTROL"
)

const howToStartSmallDisk = "start the small-disk ClickHouse with `make smalldisk-up` (as root) and export its " +
	"addresses (set -a; . .stack/smalldisk.env), or run `make test`"

// SmallDisk is the small-disk ClickHouse: an 18.16 server like the stack's,
// with orderflow's users, whose data is on a file system of a few MiB that a
// test fills (Fill) and grows again (Resize) to make the server's disk full
// on cue.
//
// One test at a time holds it (ClickHouseSmallDisk waits for the others,
// across processes): what one test fills, every database on the server
// feels.
type SmallDisk struct {
	// Addr is the server's native host:port.
	Addr    string
	dir     string
	control string
	fills   atomic.Int32
}

// ClickHouseSmallDisk returns the small-disk ClickHouse, skipping the test
// when the environment does not name it (failing under CI, as for the other
// servers) and failing it when the server does not accept connections. It
// waits until no other test holds the server, and when the test ends removes
// what Fill wrote and gives the disk back its size, before the next test may
// have it. Call it before creating the test's databases there, so that they
// are dropped first.
func ClickHouseSmallDisk(t testing.TB) *SmallDisk {
	t.Helper()
	d := &SmallDisk{
		Addr:    requireOr(t, EnvClickHouseSmallDiskAddr, "ClickHouse (small disk)", howToStartSmallDisk),
		dir:     requireOr(t, EnvClickHouseSmallDiskDir, "ClickHouse (small disk)", howToStartSmallDisk),
		control: requireOr(t, EnvClickHouseSmallDiskControl, "ClickHouse (small disk)", howToStartSmallDisk),
	}
	reachable(t, "ClickHouse (small disk)", d.Addr)
	unlock := lockFile(t, filepath.Join(d.dir, "test.lock"))
	// Files of a test killed before its cleanup: no other test runs now.
	stale, _ := filepath.Glob(filepath.Join(d.dir, fillPrefix+"*"))
	for _, f := range stale {
		_ = os.Remove(f)
	}
	size := d.Size(t)
	t.Cleanup(func() {
		defer unlock()
		if d.Size(t) != size {
			d.Resize(t, int(size>>20))
		}
	})
	return d
}

// Size is the disk's size in bytes.
func (d *SmallDisk) Size(t testing.TB) int64 {
	t.Helper()
	size, _ := diskSpace(t, d.dir)
	return size
}

// Free is the disk's free space in bytes.
func (d *SmallDisk) Free(t testing.TB) int64 {
	t.Helper()
	_, free := diskSpace(t, d.dir)
	return free
}

// fillPrefix begins the names of Fill's files.
const fillPrefix = "fill-"

// Fill writes a file of zeros on the disk until no more than leave bytes are
// free (to the file system's 4 KiB pages), so that the server's next write
// larger than that fails with "No space left on device". The file is removed
// when the test ends; Resize makes room again meanwhile.
func (d *SmallDisk) Fill(t testing.TB, leave int64) {
	t.Helper()
	const page = 4096
	path := filepath.Join(d.dir, fmt.Sprintf("%s%d-%d", fillPrefix, os.Getpid(), d.fills.Add(1)))
	f, err := os.Create(path)
	if err != nil {
		t.Fatalf("small disk: %v", err)
	}
	t.Cleanup(func() { _ = os.Remove(path) })
	defer func() { _ = f.Close() }()
	zeros := make([]byte, 1<<20)
	for {
		n := (d.Free(t) - leave) / page * page
		if n <= 0 {
			return
		}
		if _, err := f.Write(zeros[:min(n, int64(len(zeros)))]); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return // the server wrote meanwhile and filled the rest
			}
			t.Fatalf("small disk: filling %s: %v (%d bytes free, leaving %d)", d.dir, err, d.Free(t), leave)
		}
	}
}

// Resize gives the disk a size of mb MiB while the server runs (growing it
// after Fill: the server's next write succeeds). Shrinking below what is in
// use fails the test.
func (d *SmallDisk) Resize(t testing.TB, mb int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, d.control, "resize", strconv.Itoa(mb)).CombinedOutput()
	if err != nil {
		t.Fatalf("%s resize %d: %v\n%s", d.control, mb, err, out)
	}
}
