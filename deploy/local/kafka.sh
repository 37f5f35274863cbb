#!/usr/bin/env bash
# Apache Kafka 4.x, single-node KRaft (broker + controller in one JVM), from the jars
# Maven Central serves. Usage: kafka.sh start|stop|status
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

dir="$STACK_DIR/kafka"
pidfile="$dir/kafka.pid"
marker="kafka.Kafka $dir/server.properties"
libs="$CACHE_DIR/kafka-$KAFKA_VERSION/libs"

healthy() { port_open "$KAFKA_PORT" && kcat -b "127.0.0.1:$KAFKA_PORT" -L -m 2 >/dev/null 2>&1; }

write_config() {
  mkdir -p "$dir/data"
  cat >"$dir/server.properties" <<PROPS
# Written by deploy/local/kafka.sh; edits are overwritten at the next start.
process.roles=broker,controller
node.id=1
# Static quorum: formatted without --standalone (never mix with controller.quorum.bootstrap.servers).
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
# PLAINTEXT for the tests (its ANONYMOUS principal is a super user); SASL_SSL as in
# production: TLS with a client certificate signed by the stack's CA, then SCRAM-SHA-512,
# and every request authorised by the ACLs that orderflow kafka-apply writes.
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,SASL_SSL://127.0.0.1:$KAFKA_TLS_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,SASL_SSL://127.0.0.1:$KAFKA_TLS_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT
sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
ssl.keystore.type=PEM
ssl.keystore.location=$TLS_DIR/kafka-server.pem
ssl.truststore.type=PEM
ssl.truststore.location=$TLS_DIR/ca.pem
# Kafka applies ssl.client.auth to SASL_SSL listeners only when named per listener (KIP-684).
listener.name.sasl_ssl.ssl.client.auth=required
ssl.enabled.protocols=TLSv1.3,TLSv1.2
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
# The plaintext listener and the controller are ANONYMOUS; admin is the SCRAM user the
# stack's kafka-apply logs in as over TLS.
super.users=User:ANONYMOUS;User:admin
allow.everyone.if.no.acl.found=false
log.dirs=$dir/data
num.partitions=1
default.replication.factor=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=6
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# Topics are created by orderflow kafka-apply (deploy/kafka/topics.yaml), never by a typo.
auto.create.topics.enable=false
# Consumer groups form at once in tests instead of after the default 3 s.
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=4
log.retention.hours=504
log.segment.bytes=268435456
PROPS
  cat >"$dir/log4j2.properties" <<'PROPS'
status = warn
appender.console.type = Console
appender.console.name = console
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.console.ref = console
logger.kafka.name = kafka
logger.kafka.level = info
logger.state.name = state.change.logger
logger.state.level = warn
logger.request.name = kafka.request.logger
logger.request.level = warn
PROPS
}

# The JVM command line; start_bg runs it directly so that the PID file holds java's PID.
java_cmd=(java -Xms256m -Xmx512m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true
  "-Dlog4j2.configurationFile=$dir/log4j2.properties" -cp "$libs/*")

start() {
  [[ -d "$libs" ]] || die "Kafka jars missing at $libs: run deploy/local/install.sh"
  if pid_alive "$pidfile" "$marker"; then
    wait_until 60 "Kafka on 127.0.0.1:$KAFKA_PORT" healthy || die "Kafka runs (pid $(<"$pidfile")) but does not answer; see $dir/kafka.log"
    log "already running (pid $(<"$pidfile"))"
    return 0
  fi
  require_free_port kafka "$KAFKA_PORT"
  require_free_port kafka-controller "$KAFKA_CONTROLLER_PORT"
  require_free_port kafka-tls "$KAFKA_TLS_PORT"
  [[ -s "$TLS_DIR/kafka-server.pem" ]] || die "no certificates in $TLS_DIR: run deploy/local/tls.sh"
  write_config
  if [[ ! -f "$dir/data/meta.properties" ]]; then
    local cluster_id
    # Kafka's own ids never start with '-' (the tool would read one as an option).
    cluster_id=$(python3 -c 'import base64, uuid
while True:
    cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    if not cid.startswith("-"):
        print(cid)
        break')
    log "formatting storage (cluster $cluster_id)"
    "${java_cmd[@]}" kafka.tools.StorageTool format --cluster-id="$cluster_id" -c "$dir/server.properties" >>"$dir/kafka.log" 2>&1 \
      || die "storage format failed; see $dir/kafka.log"
  fi
  start_bg "$pidfile" "$dir/kafka.log" "${java_cmd[@]}" kafka.Kafka "$dir/server.properties"
  wait_until 90 "Kafka on 127.0.0.1:$KAFKA_PORT" healthy || die "Kafka did not start; see $dir/kafka.log"
  log "started (pid $(<"$pidfile"))"
}

# Unlike the others, its "starting" line names the address too (hence the leading space).
status() { service_status kafka "127.0.0.1:$KAFKA_PORT" " 127.0.0.1:$KAFKA_PORT (not answering yet)"; }

service_main "$@"
