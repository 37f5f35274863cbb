#!/usr/bin/env bash
# ZooKeeper from Debian's zookeeper package (3.8), standalone on loopback with its data
# under the stack folder: the local ClickHouse cluster's coordinator (replication and
# ON CLUSTER DDL). Started by clickhouse-cluster.sh; usage: zookeeper.sh start|stop|status
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

dir="$STACK_DIR/zookeeper"
pidfile="$dir/zookeeper.pid"
marker="$dir/zoo.cfg"
java_dir=/usr/share/java

# healthy: ZooKeeper serves: its four-letter "srvr" names its mode (zoo.cfg allows it).
# "ruok" answers "imok" as soon as the process listens, before the data tree is loaded,
# and a ClickHouse server started then fails to load its replicated tables.
healthy() {
  [[ $( (exec 3<>"/dev/tcp/127.0.0.1/$ZOOKEEPER_PORT" && printf srvr >&3 && timeout 2 cat <&3) 2>/dev/null) == *"Mode: "* ]]
}

write_config() {
  mkdir -p "$dir/data" "$dir/log"
  cat >"$dir/zoo.cfg" <<CFG
# Written by deploy/local/zookeeper.sh; edits are overwritten at the next start.
dataDir=$dir/data
clientPort=$ZOOKEEPER_PORT
clientPortAddress=127.0.0.1
tickTime=2000
# Local only: a handful of ClickHouse sessions; old snapshots and logs purged hourly.
maxClientCnxns=60
autopurge.snapRetainCount=3
autopurge.purgeInterval=1
4lw.commands.whitelist=ruok,srvr,mntr
CFG
}

start() {
  [[ -f "$java_dir/zookeeper.jar" ]] || die "ZooKeeper missing: run deploy/local/install.sh"
  if pid_alive "$pidfile" "$marker"; then
    wait_until 60 "ZooKeeper on 127.0.0.1:$ZOOKEEPER_PORT" healthy || die "ZooKeeper runs but does not answer; see $dir/log"
    log "already running (pid $(<"$pidfile"))"
    return 0
  fi
  require_free_port zookeeper "$ZOOKEEPER_PORT"
  write_config
  # The server class alone, not zkServer.sh: the PID is Java's, and no admin HTTP
  # server (it would take port 8080). A small heap and the serial collector keep it
  # near 100 MB.
  start_bg "$pidfile" "$dir/log/zookeeper.log" java -Xms32m -Xmx128m -XX:+UseSerialGC \
    -Dzookeeper.admin.enableServer=false \
    -cp "$java_dir/zookeeper.jar:$java_dir/zookeeper-jute.jar:$java_dir/slf4j-api.jar:$java_dir/slf4j-simple.jar" \
    org.apache.zookeeper.server.ZooKeeperServerMain "$marker"
  wait_until 60 "ZooKeeper on 127.0.0.1:$ZOOKEEPER_PORT" healthy || die "ZooKeeper did not start; see $dir/log"
  log "started (pid $(<"$pidfile"))"
}

status() {
  service_status zookeeper "127.0.0.1:$ZOOKEEPER_PORT" "(not answering yet)"
}

service_main "$@"
