#!/usr/bin/env bash
# Prometheus from Debian's package, with its own config and TSDB under the stack
# folder. It scrapes the worker's metrics address, the smoke test's endpoint and the
# Pushgateway, and evaluates orderflow's alert rules (dashboards/alerts/orderflow.yaml).
# Usage: prometheus.sh start|stop|status
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

dir="$STACK_DIR/prometheus"
pidfile="$dir/prometheus.pid"
addr="http://127.0.0.1:$PROMETHEUS_PORT"
marker="--web.listen-address=127.0.0.1:$PROMETHEUS_PORT"

healthy() { curl -fsS "$addr/-/ready" >/dev/null 2>&1; }

write_config() {
  mkdir -p "$dir/data"
  cat >"$dir/prometheus.yml" <<YAML
# Written by deploy/local/prometheus.sh; edits are overwritten at the next start.
global:
  scrape_interval: 5s
  evaluation_interval: 5s
# The alert rules production uses; \`make demo\` prints which fire. (No
# Alertmanager here: Prometheus' Alerts page and API show them.)
rule_files:
  - $repo_root/dashboards/alerts/orderflow.yaml
scrape_configs:
  # Every 2 s: a demo step lasts seconds, and rate() needs two samples.
  - job_name: orderflow
    scrape_interval: 2s
    static_configs:
      - targets: ["127.0.0.1:$WORKER_METRICS_PORT"]
  # Served only while the Prometheus smoke test runs.
  - job_name: orderflow-smoke
    scrape_interval: 1s
    static_configs:
      - targets: ["127.0.0.1:$TEST_SCRAPE_PORT"]
  # What the one-shot commands pushed: honor_labels keeps their own job
  # (orderflow-purge, orderflow-offboard) and database labels, instead of this
  # job's name and an exported_job label.
  - job_name: pushgateway
    honor_labels: true
    static_configs:
      - targets: ["127.0.0.1:$PUSHGATEWAY_PORT"]
YAML
}

start() {
  command -v prometheus >/dev/null || die "prometheus missing: run deploy/local/install.sh"
  write_config
  if pid_alive "$pidfile" "$marker"; then
    wait_until 30 "Prometheus at $addr" healthy || die "Prometheus runs but is not ready; see $dir/prometheus.log"
    curl -fsS -X POST "$addr/-/reload" >/dev/null || die "Prometheus did not reload its config"
    log "already running (pid $(<"$pidfile"))"
    return 0
  fi
  require_free_port prometheus "$PROMETHEUS_PORT"
  start_bg "$pidfile" "$dir/prometheus.log" prometheus \
    "--config.file=$dir/prometheus.yml" "--storage.tsdb.path=$dir/data" \
    --storage.tsdb.retention.time=7d "$marker" --web.enable-lifecycle
  wait_until 60 "Prometheus at $addr" healthy || die "Prometheus did not start; see $dir/prometheus.log"
  log "started (pid $(<"$pidfile"))"
}

status() { service_status prometheus "$addr" "(not ready yet)"; }

service_main "$@"
