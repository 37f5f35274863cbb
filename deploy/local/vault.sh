#!/usr/bin/env bash
# Vault dev server (in memory) built from MPL-2.0 source, with the transit engine
# enabled. Usage: vault.sh start|stop|status
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

dir="$STACK_DIR/vault"
pidfile="$dir/vault.pid"
addr="http://127.0.0.1:$VAULT_PORT"
marker="-dev-listen-address=127.0.0.1:$VAULT_PORT"
bin="$CACHE_DIR/vault-$VAULT_VERSION/vault"

healthy() { curl -fsS "$addr/v1/sys/health" >/dev/null 2>&1; }

api() {
  local method=$1 path=$2
  shift 2
  curl -fsS -X "$method" -H "X-Vault-Token: $VAULT_DEV_ROOT_TOKEN" "$addr/v1/$path" "$@"
}

# The dev server forgets everything when it stops, so this runs after every start.
configure() {
  if ! api GET sys/mounts | jq -e '.data["transit/"]' >/dev/null; then
    api POST sys/mounts/transit -d '{"type":"transit"}' >/dev/null || die "enabling transit failed"
    log "transit engine enabled"
  fi
  # The audit device, as production has it (P12: every decrypt attributable to a
  # role): one JSON line per request and response, every value and token HMAC'd
  # (log_raw off), so the log itself holds no plaintext. Vault refuses requests it
  # cannot audit.
  if ! api GET sys/audit | jq -e '.data["file/"] // .["file/"]' >/dev/null; then
    api PUT sys/audit/file -d "$(jq -n --arg p "$dir/audit.log" '{type: "file", options: {file_path: $p}}')" >/dev/null ||
      die "enabling the audit device failed"
    log "audit device enabled: $dir/audit.log"
  fi
}

start() {
  [[ -x "$bin" ]] || die "Vault binary missing at $bin: run deploy/local/install.sh"
  mkdir -p "$dir"
  if pid_alive "$pidfile" "$marker"; then
    wait_until 30 "Vault at $addr" healthy || die "Vault runs but does not answer; see $dir/vault.log"
    configure
    log "already running (pid $(<"$pidfile"))"
    return 0
  fi
  require_free_port vault "$VAULT_PORT"
  require_free_port vault-tls "$VAULT_TLS_PORT"
  [[ -s "$TLS_DIR/server.pem" ]] || die "no certificates in $TLS_DIR: run deploy/local/tls.sh"
  # A second listener with TLS, as in production (the dev server's own is plaintext).
  cat >"$dir/tls.hcl" <<HCL
listener "tcp" {
  address         = "127.0.0.1:$VAULT_TLS_PORT"
  tls_cert_file   = "$TLS_DIR/server.pem"
  tls_key_file    = "$TLS_DIR/server-key.pem"
  tls_min_version = "tls12"
}
HCL
  start_bg "$pidfile" "$dir/vault.log" "$bin" server -dev \
    "-dev-root-token-id=$VAULT_DEV_ROOT_TOKEN" "$marker" "-config=$dir/tls.hcl" -log-level=warn
  wait_until 60 "Vault at $addr" healthy || die "Vault did not start; see $dir/vault.log"
  configure
  log "started (pid $(<"$pidfile"))"
}

status() { service_status vault "$addr (dev, transit)" "(not answering yet)"; }

service_main "$@"
