package faults_test

import (
	"os"
	"testing"
	"time"

	"github.com/orderflow/orderflow/worker/faults"
	"github.com/orderflow/orderflow/worker/faults/faultproxy"
	"github.com/orderflow/orderflow/worker/stacktest"
)

// long reports whether ORDERFLOW_FAULTS_LONG asks for the long version of each
// case (make faults); make test runs the short one.
func long() bool { return os.Getenv("ORDERFLOW_FAULTS_LONG") != "" }

// size is the short or the long value.
func size[T any](short, long_ T) T {
	if long() {
		return long_
	}
	return short
}

// outage is how long a server stays down: 30 s in the long suite, 8 s in the
// short one (make test).
func outage() time.Duration { return size(8*time.Second, 30*time.Second) }

// TestFaultWorkerKilled SIGKILLs the worker several times at random points of
// its batch cycle (fetching, protecting, writing, committing: the kills land
// anywhere from 50 ms to 2.5 s after a restart's first commit) and starts it
// again each time.
func TestFaultWorkerKilled(t *testing.T) {
	kills := size(3, 12)
	r := faults.Run(t, faults.TestSuite, faults.Case{
		Name: "worker killed", Seed: uint64(time.Now().UnixNano()),
		Messages: size(2000, 30000), Rate: size(150.0, 400.0),
		Fault: func(h *faults.Harness) {
			for i := range kills {
				h.WaitCommitted(1) // the worker has joined and written once
				time.Sleep(time.Duration(50+h.Rand().IntN(2450)) * time.Millisecond)
				h.KillWorker(0)
				h.Logf("kill %d after %d messages sent", i+1, h.Sent())
				h.StartWorker(0)
				h.FaultOver().Wait()
			}
		},
	})
	t.Log(r)
}

// TestFaultClickHouseStopped stops the stack's ClickHouse for 30 s (8 s in
// make test) mid-stream and starts it again: the worker holds its batch,
// commits nothing it has not written, and carries on.
func TestFaultClickHouseStopped(t *testing.T) {
	t.Log(faults.Run(t, faults.TestSuite, faults.Case{
		Name: "ClickHouse stopped", Seed: uint64(time.Now().UnixNano()),
		Messages: size(1200, 20000), Rate: size(100.0, 400.0),
		Fault: func(h *faults.Harness) { restartServer(h, "clickhouse", outage()) },
	}))
}

// restartServer stops one of the stack's servers once a fifth of the messages
// are committed, starts it again after down, and times the recovery.
func restartServer(h *faults.Harness, name string, down time.Duration) {
	h.WaitCommitted(int64(h.Messages() / 5))
	stopped := time.Now()
	stacktest.StopServer(h.T(), name)
	time.Sleep(down - time.Since(stopped))
	stacktest.StartServer(h.T(), name)
	rec := h.FaultOver()
	h.Logf("%s was down for %s", name, time.Since(stopped).Round(time.Second))
	h.Checkpoint() // nothing committed while it was away was left unwritten
	rec.Wait()
}

// TestFaultClickHouseSlow puts a proxy between the worker and ClickHouse that
// delays every chunk of data by 250 ms for 30 s (8 s): writes crawl, batches grow,
// nothing is lost or doubled.
func TestFaultClickHouseSlow(t *testing.T) {
	proxy, err := faultproxy.NewTCP(t.Context(), stacktest.ClickHouseAddr(t))
	if err != nil {
		t.Fatal(err)
	}
	r := faults.Run(t, faults.TestSuite, faults.Case{
		Name: "ClickHouse slow", Seed: uint64(time.Now().UnixNano()),
		Messages: size(1200, 20000), Rate: size(100.0, 500.0),
		Env: []string{"ORDERFLOW_CLICKHOUSE_ADDR=" + proxy.Addr()},
		Fault: func(h *faults.Harness) {
			h.WaitCommitted(int64(h.Messages() / 5))
			proxy.SetDelay(250 * time.Millisecond)
			time.Sleep(outage())
			proxy.SetDelay(0)
			rec := h.FaultOver()
			h.Checkpoint()
			rec.Wait()
		},
	})
	t.Log(r)
}

// vaultProxy is an HTTP proxy in front of the stack's Vault, for a case's
// workers (the dev server keeps its keys in memory: it cannot be stopped).
func vaultProxy(t *testing.T) *faultproxy.HTTP {
	t.Helper()
	addr, _ := stacktest.Vault(t)
	p, err := faultproxy.NewHTTP(t.Context(), addr)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestFaultVaultDown: Vault gone for 30 s (8 s; every connection to it dropped)
// and back.
func TestFaultVaultDown(t *testing.T) {
	vaultFault(t, "Vault down", faultproxy.Down, outage())
}

// TestFaultVaultSealed: Vault sealed for 30 s (8 s; every request answered 503
// "Vault is sealed", as a sealed Vault does) and unsealed.
func TestFaultVaultSealed(t *testing.T) {
	vaultFault(t, "Vault sealed", faultproxy.Sealed, outage())
}

// TestFaultVaultFlaky: a third of Vault's answers are 500, 502 or 503 for the
// whole run.
func TestFaultVaultFlaky(t *testing.T) {
	vaultFault(t, "Vault answering 5xx to a third", faultproxy.Flaky, 0)
}

func vaultFault(t *testing.T, name string, mode faultproxy.Mode, d time.Duration) {
	proxy := vaultProxy(t)
	if d == 0 {
		proxy.SetMode(mode)
	}
	r := faults.Run(t, faults.TestSuite, faults.Case{
		Name: name, Seed: uint64(time.Now().UnixNano()),
		Messages: size(1200, 20000), Rate: size(100.0, 400.0),
		Env: []string{"ORDERFLOW_VAULT_ADDRESS=" + proxy.URL()},
		Fault: func(h *faults.Harness) {
			if d == 0 {
				h.WaitSent(int64(h.Messages()))
				return
			}
			h.WaitCommitted(int64(h.Messages() / 5))
			proxy.SetMode(mode)
			time.Sleep(d)
			proxy.SetMode(faultproxy.Pass)
			rec := h.FaultOver()
			h.Checkpoint()
			rec.Wait()
		},
	})
	requests, failed := proxy.Counts()
	if failed == 0 {
		t.Errorf("%s: the proxy failed none of %d requests: the fault proved nothing", name, requests)
	}
	t.Logf("%v; Vault requests %d, failed by the proxy %d", r, requests, failed)
}

// TestFaultKafkaRestarted stops the stack's Kafka broker mid-stream and starts
// it again: the workers' fetches, commits and dead letters all fail for the
// while; the producer waits too. (Its start takes some 10 s more than down.)
func TestFaultKafkaRestarted(t *testing.T) {
	t.Log(faults.Run(t, faults.TestSuite, faults.Case{
		Name: "Kafka restarted", Seed: uint64(time.Now().UnixNano()),
		Messages: size(1200, 20000), Rate: size(100.0, 400.0),
		Fault: func(h *faults.Harness) { restartServer(h, "kafka", outage()/3) },
	}))
}

// TestFaultRebalances runs two workers in one group, then three, with members
// leaving (SIGTERM) and dying (SIGKILL) and joining mid-stream.
func TestFaultRebalances(t *testing.T) {
	r := faults.Run(t, faults.TestSuite, faults.Case{
		Name: "rebalances", Seed: uint64(time.Now().UnixNano()),
		Messages: size(2000, 30000), Rate: size(150.0, 600.0), Workers: 2,
		Fault: func(h *faults.Harness) {
			step := int64(h.Messages() / 6)
			h.WaitCommitted(step)
			h.StartWorker(2) // a third member joins
			h.WaitCommitted(2 * step)
			h.StopWorker(0) // one leaves cleanly
			h.WaitCommitted(3 * step)
			h.KillWorker(1) // one dies: its partitions wait for the session timeout
			h.StartWorker(0)
			h.FaultOver().Wait()
			h.StartWorker(1)
			h.WaitCommitted(4 * step)
			h.KillWorker(2)
			h.StartWorker(2)
			h.FaultOver().Wait()
		},
	})
	t.Log(r)
}

// TestFaultSessionTimesOutWhileWriting freezes a worker (SIGSTOP) for longer
// than its group session timeout while it writes: its ClickHouse goes through a
// proxy that slows every chunk by 100 ms, so its writes take most of its time.
// The group gives its partitions to the other worker, which reads them again
// from the last commit; the frozen one, resumed, finishes its insert (rows the
// other writes again: redelivered, folded under FINAL), finds its commit
// refused with its generation gone, and rejoins.
func TestFaultSessionTimesOutWhileWriting(t *testing.T) {
	slow, err := faultproxy.NewTCP(t.Context(), stacktest.ClickHouseAddr(t))
	if err != nil {
		t.Fatal(err)
	}
	slow.SetDelay(100 * time.Millisecond)
	r := faults.Run(t, faults.TestSuite, faults.Case{
		Name: "session timeout while writing", Seed: uint64(time.Now().UnixNano()),
		Messages: size(2000, 30000), Rate: size(150.0, 600.0),
		Fault: func(h *faults.Harness) {
			h.StartWorkerEnv(1, "ORDERFLOW_CLICKHOUSE_ADDR="+slow.Addr())
			for range size(1, 4) {
				h.WaitCommitted(int64(h.Messages() / 8))
				time.Sleep(time.Duration(h.Rand().IntN(1000)) * time.Millisecond)
				h.PauseWorker(1, 10*time.Second) // the session timeout is 6 s
				rec := h.FaultOver()
				h.Checkpoint()
				rec.Wait()
			}
		},
	})
	t.Log(r)
}

// TestFaultClickHouseDiskFull fills the disk of the ClickHouse the worker
// writes to (the small-disk server: a tmpfs of its own) mid-stream and grows
// it again after a while: inserts fail with "no space left", the worker holds
// its batch and reads no further (back-pressure), orderflow_clickhouse_disk_full
// says why for the alert, and once there is room every order is written once.
func TestFaultClickHouseDiskFull(t *testing.T) {
	disk := stacktest.ClickHouseSmallDisk(t)
	// Room for the case's orders until the fault: 18.16 writes every column of
	// every small part to files of their own, tens of MiB a thousand orders
	// before merges (the long run filled 512 MiB before its fault).
	disk.Resize(t, size(512, 4096))
	r := faults.Run(t, faults.TestSuite, faults.Case{
		Name: "ClickHouse disk full", Seed: uint64(time.Now().UnixNano()),
		Messages: size(1200, 20000), Rate: size(100.0, 400.0), ClickHouseAddr: disk.Addr,
		Fault: func(h *faults.Harness) {
			h.WaitCommitted(int64(h.Messages() / 5))
			full := time.Now()
			disk.Fill(h.T(), 0)
			deadline := time.Now().Add(time.Minute)
			for h.Metric(0, "orderflow_clickhouse_disk_full") < 1 {
				if time.Now().After(deadline) {
					h.T().Fatal("orderflow_clickhouse_disk_full never rose while the disk was full")
				}
				time.Sleep(100 * time.Millisecond)
			}
			h.Logf("orderflow_clickhouse_disk_full rose %s after the disk filled", time.Since(full).Round(100*time.Millisecond))
			time.Sleep(outage() - time.Since(full))
			h.Checkpoint()                                    // nothing committed on a full disk was left unwritten
			disk.Resize(h.T(), int(disk.Size(h.T())>>20)+256) // the operator grows the volume
			rec := h.FaultOver()
			rec.Wait()
			if v := h.Metric(0, "orderflow_clickhouse_disk_full"); v != 0 {
				h.T().Errorf("orderflow_clickhouse_disk_full is %v once the disk has room", v)
			}
		},
	})
	t.Log(r)
}
