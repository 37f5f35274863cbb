// Package telemetry serves the worker's operational endpoints: Prometheus metrics
// on /metrics, liveness on /healthz and readiness on /readyz, with pprof when
// asked; and pushes one-shot commands' metrics to a Pushgateway. Packages that
// only declare metrics register them through telemetry/metricsreg, which
// imports no server.
package telemetry

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"regexp"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// NewRegistry returns the process's one registry, with Go runtime and process
// metrics already in it. Beside the defaults it has go_gc_heap_live_bytes
// (the heap the last collection found reachable) and go_gc_heap_goal_bytes:
// heap in use swings with garbage not yet collected, so a leak shows first
// and plainest in the live heap.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(collectors.WithGoCollectorRuntimeMetrics(
			collectors.GoRuntimeMetricsRule{Matcher: regexp.MustCompile(`^/gc/heap/(live|goal):bytes$`)})),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// BuildInfo is orderflow_build_info{version,commit,goversion} 1: which
// build a process runs, for dashboards to show and to join on.
func BuildInfo(version, commit string) prometheus.Collector {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "orderflow_build_info",
		Help:        "The running build: its version, commit and Go version as labels; always 1.",
		ConstLabels: prometheus.Labels{"version": version, "commit": commit, "goversion": runtime.Version()},
	})
	g.Set(1)
	return g
}

// Server serves /metrics, /healthz and /readyz.
type Server struct {
	listener net.Listener
	server   *http.Server
	ready    atomic.Bool
}

// Option changes what a Server serves.
type Option func(*http.ServeMux)

// WithPprof serves Go's profiles under /debug/pprof/ (metrics.pprof): for
// profiling a running worker; off by default, since a profile may be taken by
// whoever reaches the port.
func WithPprof() Option {
	return func(mux *http.ServeMux) {
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}
}

// Listen binds addr and returns a Server ready to Serve. /readyz answers 503
// until SetReady(true).
func Listen(addr string, gatherer prometheus.Gatherer, log *slog.Logger, opts ...Option) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics listener: %w", err)
	}
	s := &Server{listener: ln}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !s.ready.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	for _, o := range opts {
		o(mux)
	}
	s.server = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	return s, nil
}

// UseTLS serves over TLS with cfg (tlsconfig.Server) instead of plaintext.
// Call it before Serve.
func (s *Server) UseTLS(cfg *tls.Config) { s.listener = tls.NewListener(s.listener, cfg) }

// Addr is the bound address (useful with ":0").
func (s *Server) Addr() string { return s.listener.Addr().String() }

// SetReady sets what /readyz answers.
func (s *Server) SetReady(ready bool) { s.ready.Store(ready) }

// Readiness is orderflow_ready: 1 while /readyz answers ready, else 0. The
// kubelet acts on /readyz; this is for the alert and the dashboard, which
// see a process that runs but does no work (up, yet not ready) for long.
func (s *Server) Readiness() prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "orderflow_ready",
		Help: "1 while the process answers ready on /readyz (consuming and committing), else 0.",
	}, func() float64 {
		if s.ready.Load() {
			return 1
		}
		return 0
	})
}

// ServeWhileRunning listens on addr and serves gatherer, ready, in the
// background until the returned stop is called (stop waits for the server to
// end, within timeout; it may be called more than once): for a one-shot
// command or a step of the demo to be scraped while it runs.
func ServeWhileRunning(ctx context.Context, addr string, gatherer prometheus.Gatherer, log *slog.Logger, timeout time.Duration) (stop func(), err error) {
	srv, err := Listen(addr, gatherer, log)
	if err != nil {
		return nil, err
	}
	srv.SetReady(true)
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ctx, timeout); err != nil {
			log.Warn("metrics server", "err", err)
		}
	}()
	return sync.OnceFunc(func() {
		cancel()
		<-done
	}), nil
}

// Close releases the listener of a Server that will not Serve.
func (s *Server) Close() error { return s.listener.Close() }

// Serve serves until ctx ends, then shuts down within timeout.
func (s *Server) Serve(ctx context.Context, timeout time.Duration) error {
	errc := make(chan error, 1)
	go func() { errc <- s.server.Serve(s.listener) }()
	select {
	case err := <-errc:
		return fmt.Errorf("metrics server: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := s.server.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("metrics server shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("metrics server: %w", err)
	}
	return nil
}
