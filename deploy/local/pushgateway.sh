#!/usr/bin/env bash
# The Prometheus Pushgateway from Debian's package (prometheus-pushgateway), where
# the one-shot commands, `orderflow purge` and `orderflow offboard`, push their
# metrics when they end; the stack's Prometheus scrapes it with honor_labels. Its
# persistence file lives under the stack folder, so pushed groups survive a
# restart. Usage: pushgateway.sh start|stop|status
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

dir="$STACK_DIR/pushgateway"
pidfile="$dir/pushgateway.pid"
addr="http://127.0.0.1:$PUSHGATEWAY_PORT"
marker="--web.listen-address=127.0.0.1:$PUSHGATEWAY_PORT"

healthy() { curl -fsS "$addr/-/ready" >/dev/null 2>&1; }

start() {
  command -v prometheus-pushgateway >/dev/null || die "prometheus-pushgateway missing: run deploy/local/install.sh"
  mkdir -p "$dir"
  if pid_alive "$pidfile" "$marker"; then
    wait_until 30 "the Pushgateway at $addr" healthy || die "the Pushgateway runs but is not ready; see $dir/pushgateway.log"
    log "already running (pid $(<"$pidfile"))"
    return 0
  fi
  require_free_port pushgateway "$PUSHGATEWAY_PORT"
  start_bg "$pidfile" "$dir/pushgateway.log" prometheus-pushgateway "$marker" \
    "--persistence.file=$dir/pushgateway.data" --persistence.interval=1m
  wait_until 30 "the Pushgateway at $addr" healthy || die "the Pushgateway did not start; see $dir/pushgateway.log"
  log "started (pid $(<"$pidfile"))"
}

status() { service_status pushgateway "$addr" "(not ready yet)"; }

service_main "$@"
