#!/usr/bin/env bash
# The local stack: Kafka, ClickHouse, Vault, Prometheus and its Pushgateway on loopback,
# with data, logs and PID files under .stack/. Usage: stack.sh up|down|status
#   up      installs what is missing, starts what is not running, creates the topics,
#           writes .stack/env (the addresses, for tests and tools) and prints them
#   down    stops every server by its PID file (the local cluster's and the small-disk
#           ClickHouse's too, whose disk it unmounts)
#   status  says what runs; exits non-zero unless all five do
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

services=(clickhouse vault prometheus pushgateway kafka)

# kafka_tls_env USER: the overrides that take orderflow to the SASL_SSL listener as the
# SCRAM user USER, with the stack's client certificate.
kafka_tls_env() {
  cat <<ENV
ORDERFLOW_KAFKA_BROKERS=127.0.0.1:$KAFKA_TLS_PORT
ORDERFLOW_KAFKA_TLS_ENABLED=true
ORDERFLOW_KAFKA_TLS_CA_FILE=$TLS_DIR/ca.pem
ORDERFLOW_KAFKA_TLS_CERT_FILE=$TLS_DIR/client.pem
ORDERFLOW_KAFKA_TLS_KEY_FILE=$TLS_DIR/client-key.pem
ORDERFLOW_KAFKA_SASL_MECHANISM=scram-sha-512
ORDERFLOW_KAFKA_SASL_USERNAME=$1
ORDERFLOW_KAFKA_SASL_PASSWORD_FILE=$STACK_DIR/kafka/scram/$1
ENV
}

write_env() {
  cat >"$STACK_DIR/env" <<ENV
# Written by deploy/local/stack.sh up: the local stack's addresses. Source it (set -a)
# to point tests and tools at the stack; the ORDERFLOW_<KEY> names double as orderflow's
# own configuration overrides (kafka.brokers, vault.address, ...).
ORDERFLOW_KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT
ORDERFLOW_CLICKHOUSE_ADDR=127.0.0.1:$CLICKHOUSE_TCP_PORT
ORDERFLOW_CLICKHOUSE_HTTP=http://127.0.0.1:$CLICKHOUSE_HTTP_PORT
# The users.d folder beside ClickHouse's users.xml: the role tests add users there.
ORDERFLOW_CLICKHOUSE_USERS_DIR=$STACK_DIR/clickhouse/users.d
ORDERFLOW_VAULT_ADDRESS=http://127.0.0.1:$VAULT_PORT
ORDERFLOW_VAULT_TOKEN=$VAULT_DEV_ROOT_TOKEN
# orderflow reads its Vault token by reference: vault.auth.token.env names this variable.
ORDERFLOW_VAULT_AUTH_TOKEN_ENV=ORDERFLOW_VAULT_TOKEN
ORDERFLOW_PROMETHEUS_URL=http://127.0.0.1:$PROMETHEUS_PORT
# Where orderflow purge and offboard may push (the stack's Prometheus scrapes it). Not the
# config key itself (metrics.pushgateway is ORDERFLOW_METRICS_PUSHGATEWAY), so that
# sourcing this file makes no command push; deploy/local/orderflow.yaml sets it.
ORDERFLOW_PUSHGATEWAY_URL=http://127.0.0.1:$PUSHGATEWAY_PORT
ORDERFLOW_METRICS_ADDR=127.0.0.1:$WORKER_METRICS_PORT
ORDERFLOW_TEST_SCRAPE_ADDR=127.0.0.1:$TEST_SCRAPE_PORT
# TLS listeners beside the plaintext ones (deploy/local/tls.sh's CA signs every certificate):
# Kafka SASL_SSL (client certificate + SCRAM-SHA-512; passwords in the SCRAM folder),
# ClickHouse's secure native port (client certificate), Vault over HTTPS.
ORDERFLOW_STACK_TLS_DIR=$TLS_DIR
ORDERFLOW_STACK_KAFKA_TLS_BROKERS=127.0.0.1:$KAFKA_TLS_PORT
ORDERFLOW_STACK_KAFKA_SCRAM_DIR=$STACK_DIR/kafka/scram
ORDERFLOW_STACK_CLICKHOUSE_TLS_ADDR=127.0.0.1:$CLICKHOUSE_TLS_PORT
ORDERFLOW_STACK_VAULT_TLS_ADDRESS=https://127.0.0.1:$VAULT_TLS_PORT
# Vault's audit device (file, values HMAC'd): what a breach report reads.
ORDERFLOW_STACK_VAULT_AUDIT_LOG=$STACK_DIR/vault/audit.log
# <role>.env per command role (worker, dispatcher, purger, offboarding, dlq-replay): the
# overrides that log it in as its own Vault role (deploy/local/as-role, orderflow demo).
ORDERFLOW_STACK_ROLES_DIR=$STACK_DIR/roles
ENV
  cat >"$STACK_DIR/tls.env" <<ENV
# Written by deploy/local/stack.sh up. Sourced after env, it points orderflow's own
# connections at the TLS listeners: make demo TLS=1. (Tests keep env alone: their own
# clients use the plaintext listeners, and the TLS tests read ORDERFLOW_STACK_*.)
ENV
  kafka_tls_env admin >>"$STACK_DIR/tls.env"
  cat >>"$STACK_DIR/tls.env" <<ENV
ORDERFLOW_CLICKHOUSE_ADDR=127.0.0.1:$CLICKHOUSE_TLS_PORT
ORDERFLOW_CLICKHOUSE_TLS_ENABLED=true
ORDERFLOW_CLICKHOUSE_TLS_CA_FILE=$TLS_DIR/ca.pem
ORDERFLOW_CLICKHOUSE_TLS_CERT_FILE=$TLS_DIR/client.pem
ORDERFLOW_CLICKHOUSE_TLS_KEY_FILE=$TLS_DIR/client-key.pem
ORDERFLOW_VAULT_ADDRESS=https://127.0.0.1:$VAULT_TLS_PORT
ORDERFLOW_VAULT_CA_CERT_FILE=$TLS_DIR/ca.pem
ENV
  (cd "$repo_root" && go run ./deploy/clickhouse/render -format env -dev-passwords) >>"$STACK_DIR/env"
}

# write_role_env adds to each command role's file (.stack/roles/<role>.env, whose Vault
# login deploy/vault/apply.sh wrote) its ClickHouse user (deploy/clickhouse) and, for the
# roles that use Kafka, its principal on the SASL_SSL listener (deploy/kafka/topics.yaml):
# deploy/local/as-role then runs a command with nothing but its own identities.
write_role_env() {
  local roles="$STACK_DIR/roles" role ch principal
  for role in worker dispatcher purger offboarding dlq-replay migrator; do
    case $role in
      worker) ch=writer principal=orderflow-worker ;;
      dispatcher) ch=dispatcher principal=orderflow-dispatcher ;;
      dlq-replay) ch=dlq_replay principal=orderflow-dlq-replay ;;
      *) ch=$role principal="" ;;
    esac
    # apply.sh rewrote the others; the migrator has no Vault login, so its file starts here.
    if [[ $role == migrator ]]; then echo "# orderflow migrate: ClickHouse DDL only." >"$roles/$role.env"; fi
    {
      echo "ORDERFLOW_CLICKHOUSE_USERNAME=orderflow_$ch"
      echo "ORDERFLOW_CLICKHOUSE_PASSWORD_ENV=ORDERFLOW_CLICKHOUSE_${ch^^}_PASSWORD"
      # The worker's user may not delete: purges run as the purger (orderflow purge).
      if [[ $role == worker ]]; then echo "ORDERFLOW_RETENTION_INTERVAL=0"; fi
      if [[ -n $principal ]]; then
        kafka_tls_env "$principal"
      fi
      # The file's groups are the ones its ACLs name.
      if [[ $role == worker ]]; then echo "ORDERFLOW_KAFKA_GROUP_ID=orderflow"; fi
    } >>"$roles/$role.env"
  done
}

up() {
  local began=$SECONDS
  mkdir -p "$STACK_DIR"
  "$local_dir/install.sh"
  "$local_dir/tls.sh"
  # The servers start independently; starting them side by side saves most of the wait.
  local pids=() failed=0 s
  for s in "${services[@]}"; do
    "$local_dir/$s.sh" start &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
  ((failed == 0)) || die "a server did not start (see above); 'make down' stops the others"
  # Topics and ACLs as code (deploy/kafka/topics.yaml), with a SCRAM login per principal.
  (cd "$repo_root" && ORDERFLOW_KAFKA_BROKERS="127.0.0.1:$KAFKA_PORT" go run ./worker/cmd/orderflow kafka-apply \
    --environment local --scram-dir "$STACK_DIR/kafka/scram" | tail -n 1)
  # One Vault policy and AppRole login per command (deploy/vault): deploy/local/as-role
  # and orderflow demo run each command with its own role's credentials.
  VAULT_ADDR="http://127.0.0.1:$VAULT_PORT" VAULT_TOKEN="$VAULT_DEV_ROOT_TOKEN" \
    "$repo_root/deploy/vault/apply.sh" --approle --credentials "$STACK_DIR/roles" >/dev/null
  write_env
  write_role_env
  status
  log "stack up in $((SECONDS - began))s; addresses in $STACK_DIR/env; stop it with 'make down'"
}

down() {
  local s
  # The local ClickHouse cluster too, when make cluster-up started it.
  if [[ -d "$STACK_DIR/cluster" ]]; then "$local_dir/clickhouse-cluster.sh" stop; fi
  # The small-disk ClickHouse, when make smalldisk-up started it: stopped, its tmpfs unmounted.
  if [[ -d "$STACK_DIR/smalldisk" ]]; then "$local_dir/clickhouse-smalldisk.sh" stop; fi
  for s in "${services[@]}"; do "$local_dir/$s.sh" stop; done
}

status() {
  local s rc=0
  for s in "${services[@]}"; do "$local_dir/$s.sh" status || rc=1; done
  return $rc
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
