package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/orderflow/orderflow/worker/workerproc"
)

// workerProc is `orderflow run` as a subprocess, with its metrics' address.
// Whoever starts it must call stop or kill (harmless once it has exited) on
// every way out.
type workerProc struct {
	*workerproc.Proc
	start  time.Time // just before the process started
	url    string    // its /metrics
	client *http.Client
}

// freeAddr returns a loopback address with a port nobody listens on now.
func freeAddr() (string, error) { return workerproc.FreeAddr() }

// startWorker starts binary run --config configPath with env, its metrics on
// metricsAddr, and its output forwarded line by line to out.
func startWorker(binary, configPath string, env []string, metricsAddr string, out io.Writer) (*workerProc, error) {
	p, err := workerproc.Start(workerproc.Config{Binary: binary, ConfigPath: configPath, Env: env, Output: out})
	if err != nil {
		return nil, err
	}
	return &workerProc{
		Proc: p, start: p.Started(), url: "http://" + metricsAddr + "/metrics",
		client: &http.Client{Timeout: 2 * time.Second},
	}, nil
}

func (w *workerProc) pid() int { return w.PID() }

// heapProfile fetches the worker's heap profile (gzipped protobuf, for go
// tool pprof) from /debug/pprof/heap, served when its metrics.pprof is on.
func (w *workerProc) heapProfile(ctx context.Context) ([]byte, error) {
	url := strings.TrimSuffix(w.url, "/metrics") + "/debug/pprof/heap"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return nil, fmt.Errorf("heap profile: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("heap profile: %s from %s (is metrics.pprof on?)", resp.Status, url)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("heap profile: %w", err)
	}
	return data, nil
}

func (w *workerProc) scrape(ctx context.Context) (Snapshot, error) {
	return Scrape(ctx, w.client, w.url)
}

// committed is what the worker has committed: orders written, dead letters
// published and orders of offboarded tenants refused, each counted after its
// batch's commit.
func committed(s Snapshot) float64 {
	return s.Sum(metricOrders) + s.Sum(metricDeadLetters) + s.Sum(metricRefused)
}

// waitProgress is called on every successful scrape while waiting.
type waitProgress func(at time.Time, s Snapshot)

// waitCommitted scrapes every interval until the worker has committed target
// messages, and returns that scrape. It fails when the worker exits, when
// nothing new is committed for stall, or when ctx ends.
func (w *workerProc) waitCommitted(ctx context.Context, target float64, interval, stall time.Duration, each waitProgress) (Snapshot, error) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	last, lastChange := -1.0, time.Now()
	for {
		select {
		case <-ctx.Done():
			return Snapshot{}, ctx.Err()
		case <-w.Done():
			_, err := w.Exited()
			return Snapshot{}, w.ExitError(err)
		case <-tick.C:
		}
		s, err := w.scrape(ctx)
		now := time.Now()
		if err != nil {
			// Not listening yet, or busy: try again, within the stall limit.
			if now.Sub(lastChange) > stall {
				return Snapshot{}, fmt.Errorf("the worker's metrics did not answer for %s: %w", stall, err)
			}
			continue
		}
		c := committed(s)
		if each != nil {
			each(now, s)
		}
		if c >= target {
			return s, nil
		}
		if c != last {
			last, lastChange = c, now
		} else if now.Sub(lastChange) > stall {
			return Snapshot{}, fmt.Errorf("the worker committed nothing for %s: %.0f of %.0f messages committed", stall, c, target)
		}
	}
}

func (w *workerProc) stop(timeout time.Duration) (int, error) { return w.Stop(timeout) }

func (w *workerProc) kill() { w.Kill() }
