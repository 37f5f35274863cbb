#!/usr/bin/env bash
# The local ClickHouse cluster: three more Debian clickhouse-server 18.16 processes beside
# the stack's own (which stays a single server, untouched), coordinated by ZooKeeper
# (zookeeper.sh), each with its own config, ports and data under the stack folder.
#
# One cluster, CLUSTER_NAME, of 2 shards: shard 1 is ch1 and ch2, two replicas of each
# other; shard 2 is ch3 alone. So one cluster proves both what sharding must get right
# (an order's snapshots on one shard, FINAL per shard through Distributed) and what
# replication must (a row written on one replica read on the other, a stopped replica
# catching up).
#
# Usage: clickhouse-cluster.sh start|stop|status [N]
#   start   starts ZooKeeper and the servers not running, checks that each sees
#           ZooKeeper and the cluster, and writes .stack/cluster.env (the addresses, for
#           tests); with N (1-3), starts server chN alone (a test restarting a replica)
#   stop    stops the servers and ZooKeeper, and removes cluster.env; with N, chN alone
#   status  says what runs; exits non-zero unless ZooKeeper and all three servers do
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CLUSTER_NAME=orderflow
cluster_dir="$STACK_DIR/cluster"
servers=(1 2 3)

# The topology: server N's shard and, within it, its replica name.
shard_of() { case $1 in 1 | 2) echo 1 ;; 3) echo 2 ;; esac; }
tcp_port() { echo $((CLUSTER_TCP_PORT + $1 - 1)); }
http_port() { echo $((CLUSTER_HTTP_PORT + $1 - 1)); }
interserver_port() { echo $((CLUSTER_INTERSERVER_PORT + $1 - 1)); }

# use_server N: points the functions below, and lib.sh's service_status, at server chN.
use_server() {
  [[ "$1" =~ ^[1-3]$ ]] || die "no cluster server '$1': 1, 2 or 3"
  n=$1
  dir="$cluster_dir/ch$n"
  pidfile="$dir/clickhouse.pid"
  marker="--config-file=$dir/config.xml"
}

client() { clickhouse-client --host 127.0.0.1 --port "$(tcp_port "$n")" "$@"; }
healthy() { client -q 'SELECT 1' >/dev/null 2>&1; }
# joined: the server reaches ZooKeeper and knows the cluster's three replicas.
joined() {
  [[ $(client -q "SELECT count() FROM system.clusters WHERE cluster = '$CLUSTER_NAME'" 2>/dev/null) == 3 ]] &&
    client -q "SELECT count() FROM system.zookeeper WHERE path = '/'" >/dev/null 2>&1
}

# replica_xml SERVER: one <replica> of <remote_servers>.
replica_xml() {
  printf '                <replica><host>127.0.0.1</host><port>%s</port></replica>\n' "$(tcp_port "$1")"
}

write_config() {
  mkdir -p "$dir/data" "$dir/tmp" "$dir/user_files" "$dir/format_schemas" "$dir/log" "$dir/users.d"
  cat >"$dir/config.xml" <<XML
<?xml version="1.0"?>
<!-- Written by deploy/local/clickhouse-cluster.sh; edits are overwritten at the next start. -->
<yandex>
$(server_logger "$dir")
    <listen_host>127.0.0.1</listen_host>
    <http_port>$(http_port "$n")</http_port>
    <tcp_port>$(tcp_port "$n")</tcp_port>
    <!-- Replicas fetch parts from each other here; they announce this host. -->
    <interserver_http_port>$(interserver_port "$n")</interserver_http_port>
    <interserver_http_host>127.0.0.1</interserver_http_host>
$(server_basics "$dir")
    <max_session_timeout>3600</max_session_timeout>
    <default_session_timeout>60</default_session_timeout>
    <zookeeper>
        <node><host>127.0.0.1</host><port>$ZOOKEEPER_PORT</port></node>
        <session_timeout_ms>30000</session_timeout_ms>
    </zookeeper>
    <!-- A server finds itself in a cluster by host and native port, so all three use
         127.0.0.1. internal_replication: a Distributed insert writes one replica of a
         shard and replication copies it (the tables are Replicated*MergeTree). -->
    <remote_servers>
        <$CLUSTER_NAME>
            <shard>
                <internal_replication>true</internal_replication>
$(replica_xml 1)
$(replica_xml 2)
            </shard>
            <shard>
                <internal_replication>true</internal_replication>
$(replica_xml 3)
            </shard>
        </$CLUSTER_NAME>
    </remote_servers>
    <!-- Replicated tables name their ZooKeeper path by {shard} and themselves by {replica}:
         ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/db.table', '{replica}', v).
         A second cluster over these servers would need a shard macro of its own. -->
    <macros>
        <cluster>$CLUSTER_NAME</cluster>
        <shard>0$(shard_of "$n")</shard>
        <replica>ch$n</replica>
    </macros>
    <!-- CREATE/ALTER/DROP ... ON CLUSTER: queued in ZooKeeper, run by every server. -->
    <!-- ON CLUSTER tasks. Tests run hundreds an hour: keep the queue short (the default
         keeps a week and 1,000 of them), so that ZooKeeper's snapshot stays small and
         it starts in a second. -->
    <distributed_ddl>
        <path>/clickhouse/task_queue/ddl</path>
        <cleanup_delay_period>60</cleanup_delay_period>
        <task_max_lifetime>3600</task_max_lifetime>
        <max_tasks_in_queue>300</max_tasks_in_queue>
    </distributed_ddl>
</yandex>
XML
  write_default_users "$dir/users.xml" deploy/local/clickhouse-cluster.sh
  # orderflow's users, one per role, as on the stack's server (clickhouse.sh).
  cp "$users_xml" "$dir/users.d/orderflow.xml.tmp"
  mv "$dir/users.d/orderflow.xml.tmp" "$dir/users.d/orderflow.xml"
}

# start_server N: starts chN unless it runs; waits until it has joined the cluster.
start_server() {
  use_server "$1"
  local tcp http inter
  tcp=$(tcp_port "$n") http=$(http_port "$n") inter=$(interserver_port "$n")
  if ! pid_alive "$pidfile" "$marker"; then
    require_free_port "clickhouse ch$n" "$tcp"
    require_free_port "clickhouse ch$n http" "$http"
    require_free_port "clickhouse ch$n interserver" "$inter"
    write_config
    start_bg "$pidfile" "$dir/log/stdout.log" clickhouse-server "$marker"
  fi
  wait_until 60 "ClickHouse ch$n on 127.0.0.1:$tcp" healthy || die "ClickHouse ch$n did not start; see $dir/log"
  wait_until 60 "ClickHouse ch$n to reach ZooKeeper" joined || die "ClickHouse ch$n does not see ZooKeeper or the cluster; see $dir/log"
  log "ch$n running (pid $(<"$pidfile"), shard $(shard_of "$n"), 127.0.0.1:$tcp)"
}

write_env() {
  cat >"$STACK_DIR/cluster.env.tmp" <<ENV
# Written by deploy/local/clickhouse-cluster.sh start (make cluster-up): the local ClickHouse
# cluster's addresses, for tests (stacktest.ClickHouseCluster). Source it after env.
ORDERFLOW_TEST_CLICKHOUSE_CLUSTER=$CLUSTER_NAME
# Each shard's replicas (native addresses, joined by ","), shard by shard.
ORDERFLOW_TEST_CLICKHOUSE_CLUSTER_SHARD_1=127.0.0.1:$(tcp_port 1),127.0.0.1:$(tcp_port 2)
ORDERFLOW_TEST_CLICKHOUSE_CLUSTER_SHARD_2=127.0.0.1:$(tcp_port 3)
ORDERFLOW_TEST_CLICKHOUSE_CLUSTER_HTTP=http://127.0.0.1:$(http_port 1),http://127.0.0.1:$(http_port 2),http://127.0.0.1:$(http_port 3)
ORDERFLOW_TEST_ZOOKEEPER=127.0.0.1:$ZOOKEEPER_PORT
# "<this> stop N" and "<this> start N" stop and start server N: 1 and 2 are shard 1's
# replicas in that order, 3 is shard 2.
ORDERFLOW_TEST_CLICKHOUSE_CLUSTER_CONTROL=$local_dir/clickhouse-cluster.sh
ENV
  mv "$STACK_DIR/cluster.env.tmp" "$STACK_DIR/cluster.env"
}

start() {
  command -v clickhouse-server >/dev/null || die "clickhouse-server missing: run deploy/local/install.sh"
  mkdir -p "$cluster_dir"
  "$local_dir/zookeeper.sh" start
  # The users file once for all three (go run takes seconds); a server started again
  # alone (a test's restarted replica) keeps the one the cluster started with.
  users_xml="$cluster_dir/orderflow-users.xml"
  if (($# == 0)) || [[ ! -s "$users_xml" ]]; then
    (cd "$repo_root" && go run ./deploy/clickhouse/render -format users.xml -dev-passwords -network 127.0.0.1 -network ::1) >"$users_xml.tmp"
    mv "$users_xml.tmp" "$users_xml"
  fi
  if (($# == 1)); then
    start_server "$1"
    return 0
  fi
  local pids=() failed=0 s pid
  for s in "${servers[@]}"; do
    start_server "$s" &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
  ((failed == 0)) || die "a cluster server did not start (see above); '$0 stop' stops the others"
  write_env
  log "cluster $CLUSTER_NAME up; addresses in $STACK_DIR/cluster.env"
}

stop() {
  if (($# == 1)); then
    use_server "$1"
    stop_pid "$pidfile" "$marker"
    return 0
  fi
  rm -f "$STACK_DIR/cluster.env"
  local s
  for s in "${servers[@]}"; do
    use_server "$s"
    stop_pid "$pidfile" "$marker"
  done
  "$local_dir/zookeeper.sh" stop
}

status() {
  local rc=0 s
  "$local_dir/zookeeper.sh" status || rc=1
  for s in "${servers[@]}"; do
    use_server "$s"
    service_status "ch$n" "127.0.0.1:$(tcp_port "$n") (native), shard $(shard_of "$n") of $CLUSTER_NAME" "(not answering yet)" || rc=1
  done
  return $rc
}

case "${1:-}:$#" in
  start:[12]) shift; start "$@" ;;
  stop:[12]) shift; stop "$@" ;;
  status:1) status ;;
  *) echo "usage: $0 start|stop [1|2|3] | status" >&2; exit 2 ;;
esac
