#!/usr/bin/env bash
# ClickHouse from Debian's clickhouse-server package, run with its own config and data
# under the stack folder (never the system service). Usage: clickhouse.sh start|stop|status
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

dir="$STACK_DIR/clickhouse"
pidfile="$dir/clickhouse.pid"
marker="--config-file=$dir/config.xml"

healthy() { clickhouse-client --host 127.0.0.1 --port "$CLICKHOUSE_TCP_PORT" -q 'SELECT 1' >/dev/null 2>&1; }

write_config() {
  mkdir -p "$dir/data" "$dir/tmp" "$dir/user_files" "$dir/format_schemas" "$dir/log" "$dir/users.d"
  cat >"$dir/config.xml" <<XML
<?xml version="1.0"?>
<!-- Written by deploy/local/clickhouse.sh; edits are overwritten at the next start. -->
<yandex>
$(server_logger "$dir")
    <listen_host>127.0.0.1</listen_host>
    <http_port>$CLICKHOUSE_HTTP_PORT</http_port>
    <tcp_port>$CLICKHOUSE_TCP_PORT</tcp_port>
    <!-- TLS as in production: the stack's server certificate, and a client certificate
         signed by its CA required (tls.sh). -->
    <tcp_port_secure>$CLICKHOUSE_TLS_PORT</tcp_port_secure>
    <openSSL>
        <server>
            <certificateFile>$TLS_DIR/server.pem</certificateFile>
            <privateKeyFile>$TLS_DIR/server-key.pem</privateKeyFile>
            <caConfig>$TLS_DIR/ca.pem</caConfig>
            <loadDefaultCAFile>false</loadDefaultCAFile>
            <verificationMode>strict</verificationMode>
            <disableProtocols>sslv2,sslv3,tlsv1,tlsv1_1</disableProtocols>
            <preferServerCiphers>true</preferServerCiphers>
            <cacheSessions>true</cacheSessions>
        </server>
    </openSSL>
$(server_basics "$dir")
    <!-- Every part written, merged or removed, with its table, partition and rows: the
         bench counts the parts each batch insert creates from it (issue 16). -->
    <part_log>
        <database>system</database>
        <table>part_log</table>
        <flush_interval_milliseconds>1000</flush_interval_milliseconds>
    </part_log>
    <max_session_timeout>3600</max_session_timeout>
    <default_session_timeout>60</default_session_timeout>
</yandex>
XML
  write_default_users "$dir/users.xml" deploy/local/clickhouse.sh
}

# write_users installs orderflow's users, one per role (deploy/clickhouse), with
# the local stack's passwords (render -format env prints them). The server merges
# users.d/*.xml into users.xml and reloads both by itself within seconds; tests
# add users of their own there too. Written whole, then renamed: only *.xml is read.
write_users() {
  mkdir -p "$dir/users.d"
  (cd "$repo_root" && go run ./deploy/clickhouse/render -format users.xml -dev-passwords -network 127.0.0.1 -network ::1) >"$dir/users.d/orderflow.xml.tmp"
  mv "$dir/users.d/orderflow.xml.tmp" "$dir/users.d/orderflow.xml"
}

start() {
  command -v clickhouse-server >/dev/null || die "clickhouse-server missing: run deploy/local/install.sh"
  if pid_alive "$pidfile" "$marker"; then
    wait_until 60 "ClickHouse on 127.0.0.1:$CLICKHOUSE_TCP_PORT" healthy || die "ClickHouse runs but does not answer; see $dir/log"
    write_users
    log "already running (pid $(<"$pidfile"))"
    return 0
  fi
  [[ -s "$TLS_DIR/server.pem" ]] || die "no certificates in $TLS_DIR: run deploy/local/tls.sh"
  require_free_port clickhouse "$CLICKHOUSE_TCP_PORT"
  require_free_port clickhouse-http "$CLICKHOUSE_HTTP_PORT"
  require_free_port clickhouse-tls "$CLICKHOUSE_TLS_PORT"
  write_config
  start_bg "$pidfile" "$dir/log/stdout.log" clickhouse-server "$marker"
  wait_until 60 "ClickHouse on 127.0.0.1:$CLICKHOUSE_TCP_PORT" healthy || die "ClickHouse did not start; see $dir/log"
  write_users
  log "started (pid $(<"$pidfile"))"
}

status() {
  service_status clickhouse "127.0.0.1:$CLICKHOUSE_TCP_PORT (native), http://127.0.0.1:$CLICKHOUSE_HTTP_PORT" "(not answering yet)"
}

service_main "$@"
