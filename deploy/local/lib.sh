# Shared by the local stack scripts: where things live, which ports, and how a
# process is started, found and stopped by its PID file. Sourced, not run.

# shellcheck disable=SC2034  # the variables are read by the scripts that source this file
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
local_dir="$repo_root/deploy/local"
STACK_DIR="${ORDERFLOW_STACK_DIR:-$repo_root/.stack}"
# Downloads and builds shared by every clone on the machine (CI's fresh clones too).
CACHE_DIR="${ORDERFLOW_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/orderflow}"

# Ports: none is a server's default (9092, 9000, 8123, 8200, 9090, 9091), so a developer's
# own servers and the stack can run side by side.
KAFKA_PORT="${ORDERFLOW_KAFKA_PORT:-19092}"
KAFKA_CONTROLLER_PORT="${ORDERFLOW_KAFKA_CONTROLLER_PORT:-19093}"
# TLS listeners beside the plaintext ones (certificates from tls.sh): Kafka's SASL_SSL
# (SCRAM-SHA-512 and a client certificate), ClickHouse's secure native port, Vault's.
KAFKA_TLS_PORT="${ORDERFLOW_KAFKA_TLS_PORT:-19094}"
CLICKHOUSE_TLS_PORT="${ORDERFLOW_CLICKHOUSE_TLS_PORT:-19440}"
VAULT_TLS_PORT="${ORDERFLOW_VAULT_TLS_PORT:-18201}"
TLS_DIR="$STACK_DIR/tls"
CLICKHOUSE_TCP_PORT="${ORDERFLOW_CLICKHOUSE_TCP_PORT:-19000}"
CLICKHOUSE_HTTP_PORT="${ORDERFLOW_CLICKHOUSE_HTTP_PORT:-18123}"
VAULT_PORT="${ORDERFLOW_VAULT_PORT:-18200}"
PROMETHEUS_PORT="${ORDERFLOW_PROMETHEUS_PORT:-19090}"
PUSHGATEWAY_PORT="${ORDERFLOW_PUSHGATEWAY_PORT:-19091}"
# The local ClickHouse cluster (make cluster-up; clickhouse-cluster.sh): ZooKeeper, and
# three more ClickHouse servers beside the stack's own, server N (1-3) on the first
# port + N - 1 of each kind (native 19001-19003, HTTP 18124-18126, interserver 19011-19013).
ZOOKEEPER_PORT="${ORDERFLOW_ZOOKEEPER_PORT:-19181}"
CLUSTER_TCP_PORT="${ORDERFLOW_CLUSTER_TCP_PORT:-19001}"
CLUSTER_HTTP_PORT="${ORDERFLOW_CLUSTER_HTTP_PORT:-18124}"
CLUSTER_INTERSERVER_PORT="${ORDERFLOW_CLUSTER_INTERSERVER_PORT:-19011}"
# The small-disk ClickHouse (clickhouse-smalldisk.sh): one more 18.16 server whose data is
# on a size-limited tmpfs, for the disk-full tests. Beyond the cluster's ports, so the
# cluster can grow by a server.
SMALLDISK_TCP_PORT="${ORDERFLOW_SMALLDISK_TCP_PORT:-19005}"
SMALLDISK_HTTP_PORT="${ORDERFLOW_SMALLDISK_HTTP_PORT:-18128}"
# Scraped by the stack's Prometheus: the worker's metrics address, and one that the
# Prometheus smoke test serves while it runs.
WORKER_METRICS_PORT="${ORDERFLOW_WORKER_METRICS_PORT:-19100}"
TEST_SCRAPE_PORT="${ORDERFLOW_TEST_SCRAPE_PORT:-19101}"

KAFKA_VERSION=4.4.0
VAULT_VERSION=v1.14.1
# For local use only: the dev server keeps everything in memory and is never exposed.
VAULT_DEV_ROOT_TOKEN=orderflow-dev-root

log() { echo "$(basename "$0" .sh): $*" >&2; }
die() { log "error: $*"; exit 1; }

# pid_alive PIDFILE MARKER: true when the PID in PIDFILE is a live process whose
# command line contains MARKER (so a recycled PID is never mistaken for ours).
pid_alive() {
  local pidfile=$1 marker=$2 pid
  [[ -s "$pidfile" ]] || return 1
  pid=$(<"$pidfile")
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [[ -r "/proc/$pid/cmdline" ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$marker"
}

# port_open PORT: true when something accepts TCP connections on 127.0.0.1:PORT.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# start_bg PIDFILE LOGFILE CMD...: starts CMD detached, output to LOGFILE, PID to PIDFILE.
start_bg() {
  local pidfile=$1 logfile=$2
  shift 2
  nohup "$@" >>"$logfile" 2>&1 </dev/null &
  echo $! >"$pidfile"
}

# stop_pid PIDFILE MARKER: SIGTERM, then SIGKILL after 30 s; removes the PID file.
stop_pid() {
  local pidfile=$1 marker=$2 pid i
  if ! pid_alive "$pidfile" "$marker"; then
    rm -f "$pidfile"
    log "not running"
    return 0
  fi
  pid=$(<"$pidfile")
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 300; i++)); do
    [[ -d "/proc/$pid" ]] || break
    # A zombie child of this shell counts as gone.
    [[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" == Z ]] && break
    sleep 0.1
  done
  if [[ -d "/proc/$pid" ]] && [[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ]]; then
    log "still running after 30 s, sending SIGKILL to $pid"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
  log "stopped (pid $pid)"
}

# wait_until SECONDS DESCRIPTION CMD...: polls CMD every 0.2 s until it succeeds.
wait_until() {
  local seconds=$1 what=$2 i
  shift 2
  for ((i = 0; i < seconds * 5; i++)); do
    if "$@"; then return 0; fi
    sleep 0.2
  done
  log "timed out after ${seconds}s waiting for $what"
  return 1
}

# require_free_port NAME PORT: refuses to start NAME when another process holds PORT.
require_free_port() {
  if port_open "$2"; then
    die "$1: port $2 is in use by another process; set ORDERFLOW_*_PORT to move the stack"
  fi
}

# The server scripts (clickhouse.sh, kafka.sh, ...) share one shape: each sets pidfile
# and marker, and defines healthy, start and status; the two functions below are the
# parts that are the same in all of them.

# service_status NAME RUNNING STARTING: the server's line in `stack.sh status`, with
# NAME padded to one column. RUNNING follows "running  pid N  " when the process lives
# and is healthy (returns 0); STARTING follows "starting pid N " when it lives but does
# not answer yet (returns 1); otherwise "stopped" (returns 1).
service_status() {
  local name=$1 running=$2 starting=$3
  if pid_alive "$pidfile" "$marker" && healthy; then
    printf '%-11s running  pid %s  %s\n' "$name" "$(<"$pidfile")" "$running"
  elif pid_alive "$pidfile" "$marker"; then
    printf '%-11s starting pid %s %s\n' "$name" "$(<"$pidfile")" "$starting"
    return 1
  else
    printf '%-11s stopped\n' "$name"
    return 1
  fi
}

# service_main ACTION: a server script's command line, start|stop|status; exits 2 with
# the usage on anything else. Stopping goes by the PID file alone.
service_main() {
  case "${1:-}" in
    start) start ;;
    stop) stop_pid "$pidfile" "$marker" ;;
    status) status ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
  esac
}

# write_default_users FILE WRITER writes a ClickHouse server's users.xml for the local
# stack: the default user, no password, reachable from loopback alone (the cluster's
# servers query each other as it). WRITER names the script, for the file's comment.
write_default_users() {
  cat >"$1" <<XML
<?xml version="1.0"?>
<!-- Written by $2. Local stack only: the default user has no password and is
     reachable from loopback alone. -->
<yandex>
    <profiles>
        <default>
            <max_memory_usage>2000000000</max_memory_usage>
            <use_uncompressed_cache>0</use_uncompressed_cache>
            <load_balancing>random</load_balancing>
        </default>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks>
                <ip>127.0.0.1</ip>
                <ip>::1</ip>
            </networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas>
        <default>
            <interval>
                <duration>3600</duration>
                <queries>0</queries>
                <errors>0</errors>
                <result_rows>0</result_rows>
                <read_rows>0</read_rows>
                <execution_time>0</execution_time>
            </interval>
        </default>
    </quotas>
</yandex>
XML
}

# server_logger DIR prints a local ClickHouse server's <logger>: warnings and errors, to
# DIR/log.
server_logger() {
  local dir=$1
  cat <<XML
    <logger>
        <level>warning</level>
        <log>$dir/log/clickhouse-server.log</log>
        <errorlog>$dir/log/clickhouse-server.err.log</errorlog>
        <size>100M</size>
        <count>3</count>
    </logger>
XML
}

# server_basics DIR [DATA_DIR] prints the elements of a local ClickHouse server's config.xml
# that every local server shares: limits, modest caches (the servers share a 2-core machine
# with the tests), and its directories under DIR, but for the data and temporary files,
# which go under DATA_DIR when given (the small-disk server's size-limited file system).
server_basics() {
  local dir=$1 data=${2:-$1}
  cat <<XML
    <max_connections>256</max_connections>
    <keep_alive_timeout>3</keep_alive_timeout>
    <max_concurrent_queries>100</max_concurrent_queries>
    <uncompressed_cache_size>268435456</uncompressed_cache_size>
    <mark_cache_size>268435456</mark_cache_size>
    <path>$data/data/</path>
    <tmp_path>$data/tmp/</tmp_path>
    <user_files_path>$dir/user_files/</user_files_path>
    <format_schema_path>$dir/format_schemas/</format_schema_path>
    <users_config>$dir/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <mlock_executable>false</mlock_executable>
    <builtin_dictionaries_reload_interval>3600</builtin_dictionaries_reload_interval>
XML
}
