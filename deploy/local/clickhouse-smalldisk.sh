#!/usr/bin/env bash
# The small-disk ClickHouse: one more Debian clickhouse-server 18.16 beside the stack's
# own (untouched), whose data and temporary files are on a size-limited tmpfs mounted
# under the stack folder, so that tests can fill its disk and grow it again on cue (the
# disk-full fault of issue 18). Its config, users, logs and PID file stay off that
# file system: a full disk must not stop the server from logging or loading its users.
# Mounting needs root (or CAP_SYS_ADMIN); the data is in memory and gone at stop.
#
# Usage: clickhouse-smalldisk.sh start [SIZE_MB] | stop | resize SIZE_MB | status
#   start   mounts the disk (SIZE_MB, default 64) unless mounted, starts the server unless
#           it runs, and writes .stack/smalldisk.env (its addresses, for tests); with
#           SIZE_MB and the disk already mounted, resizes it
#   stop    stops the server, unmounts the disk (its data is lost) and removes smalldisk.env
#   resize  remounts the disk at SIZE_MB (growing it, or shrinking it down to what is in
#           use), with the server running: ClickHouse sees the new space at once
#   status  says whether the server runs and how full its disk is; non-zero unless it runs
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DEFAULT_SIZE_MB=64
dir="$STACK_DIR/smalldisk"
disk="$dir/disk" # the tmpfs mount point: ClickHouse's <path> and <tmp_path> are in it
pidfile="$dir/clickhouse.pid"
marker="--config-file=$dir/config.xml"

healthy() { clickhouse-client --host 127.0.0.1 --port "$SMALLDISK_TCP_PORT" -q 'SELECT 1' >/dev/null 2>&1; }
mounted() { mountpoint -q "$disk"; }

# usage_line: "N of M MiB used" of the disk.
usage_line() {
  df -B1M --output=used,size "$disk" | awk 'NR == 2 { printf "%s of %s MiB used", $1, $2 }'
}

check_size() {
  [[ "${1:-}" =~ ^[1-9][0-9]*$ ]] || die "size '${1:-}': a whole number of MiB, at least 1"
}

mount_disk() {
  local size=$1
  mkdir -p "$disk"
  mount -t tmpfs -o "size=${size}m,mode=0755" orderflow-smalldisk "$disk" ||
    die "cannot mount a ${size} MiB tmpfs on $disk: this needs root (or CAP_SYS_ADMIN)"
  log "mounted a ${size} MiB tmpfs on $disk"
}

resize() {
  local size=$1
  check_size "$size"
  mounted || die "no disk mounted on $disk: '$0 start' first"
  # tmpfs refuses to shrink below what is in use (EINVAL).
  mount -o "remount,size=${size}m" "$disk" ||
    die "cannot resize $disk to ${size} MiB ($(usage_line))"
  log "resized to ${size} MiB: $(usage_line)"
}

write_config() {
  mkdir -p "$disk/data" "$disk/tmp" "$dir/user_files" "$dir/format_schemas" "$dir/log" "$dir/users.d"
  cat >"$dir/config.xml" <<XML
<?xml version="1.0"?>
<!-- Written by deploy/local/clickhouse-smalldisk.sh; edits are overwritten at the next start. -->
<yandex>
$(server_logger "$dir")
    <listen_host>127.0.0.1</listen_host>
    <http_port>$SMALLDISK_HTTP_PORT</http_port>
    <tcp_port>$SMALLDISK_TCP_PORT</tcp_port>
$(server_basics "$dir" "$disk")
    <max_session_timeout>3600</max_session_timeout>
    <default_session_timeout>60</default_session_timeout>
</yandex>
XML
  write_default_users "$dir/users.xml" deploy/local/clickhouse-smalldisk.sh
  # orderflow's users, one per role, as on the stack's server (clickhouse.sh), with the
  # same passwords: orderflow migrate and orderflow run log in as on the stack.
  (cd "$repo_root" && go run ./deploy/clickhouse/render -format users.xml -dev-passwords -network 127.0.0.1 -network ::1) >"$dir/users.d/orderflow.xml.tmp"
  mv "$dir/users.d/orderflow.xml.tmp" "$dir/users.d/orderflow.xml"
}

write_env() {
  cat >"$STACK_DIR/smalldisk.env.tmp" <<ENV
# Written by deploy/local/clickhouse-smalldisk.sh start (make smalldisk-up): the small-disk
# ClickHouse, for the disk-full tests (stacktest.ClickHouseSmallDisk). Source it after env.
ORDERFLOW_TEST_CLICKHOUSE_SMALLDISK_ADDR=127.0.0.1:$SMALLDISK_TCP_PORT
ORDERFLOW_TEST_CLICKHOUSE_SMALLDISK_HTTP=http://127.0.0.1:$SMALLDISK_HTTP_PORT
# The size-limited file system that holds the server's data: a test fills it with files
# of its own (stacktest.SmallDisk.Fill).
ORDERFLOW_TEST_CLICKHOUSE_SMALLDISK_DIR=$disk
# "<this> resize SIZE_MB" grows (or shrinks) that file system, the server running.
ORDERFLOW_TEST_CLICKHOUSE_SMALLDISK_CONTROL=$local_dir/clickhouse-smalldisk.sh
ENV
  mv "$STACK_DIR/smalldisk.env.tmp" "$STACK_DIR/smalldisk.env"
}

start() {
  local size=${1:-}
  [[ -z "$size" ]] || check_size "$size"
  command -v clickhouse-server >/dev/null || die "clickhouse-server missing: run deploy/local/install.sh"
  mkdir -p "$dir"
  if pid_alive "$pidfile" "$marker"; then
    wait_until 60 "ClickHouse (small disk) on 127.0.0.1:$SMALLDISK_TCP_PORT" healthy || die "ClickHouse (small disk) runs but does not answer; see $dir/log"
    [[ -z "$size" ]] || resize "$size"
    write_env
    log "already running (pid $(<"$pidfile")), disk $(usage_line)"
    return 0
  fi
  require_free_port clickhouse-smalldisk "$SMALLDISK_TCP_PORT"
  require_free_port clickhouse-smalldisk-http "$SMALLDISK_HTTP_PORT"
  # A disk left mounted (the server died) keeps its data: the server starts on it again.
  if mounted; then
    [[ -z "$size" ]] || resize "$size"
  else
    mount_disk "${size:-$DEFAULT_SIZE_MB}"
  fi
  write_config
  start_bg "$pidfile" "$dir/log/stdout.log" clickhouse-server "$marker"
  wait_until 60 "ClickHouse (small disk) on 127.0.0.1:$SMALLDISK_TCP_PORT" healthy || die "ClickHouse (small disk) did not start; see $dir/log"
  write_env
  log "started (pid $(<"$pidfile"), 127.0.0.1:$SMALLDISK_TCP_PORT), disk $(usage_line); addresses in $STACK_DIR/smalldisk.env"
}

stop() {
  rm -f "$STACK_DIR/smalldisk.env"
  stop_pid "$pidfile" "$marker"
  if mounted; then
    umount "$disk" || die "cannot unmount $disk (in use? fuser -vm $disk tells)"
    log "unmounted $disk"
  fi
}

status() {
  local disk_state="disk not mounted"
  if mounted; then disk_state="disk $(usage_line)"; fi
  service_status smalldisk "127.0.0.1:$SMALLDISK_TCP_PORT (native), $disk_state" "(not answering yet), $disk_state"
}

case "${1:-}:$#" in
  start:[12]) shift; start "$@" ;;
  stop:1) stop ;;
  resize:2) resize "$2" ;;
  status:1) status ;;
  *) echo "usage: $0 start [SIZE_MB] | stop | resize SIZE_MB | status" >&2; exit 2 ;;
esac
