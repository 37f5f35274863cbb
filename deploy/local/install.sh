#!/usr/bin/env bash
# Installs what the local stack needs and a fresh machine lacks: Debian packages
# (ClickHouse, Prometheus and its Pushgateway, kcat, curl, jq, and ZooKeeper for the
# local cluster), the Kafka broker's jars from Maven Central
# and the Vault dev server built from MPL-2.0 source. Reuses whatever an earlier run on
# the same machine left, so a second run takes a second.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

for tool in go java mvn python3; do
  command -v "$tool" >/dev/null || die "$tool is required and is not on PATH (the machine image provides it)"
done

# Debian packages, installed only when one of their commands is missing.
declare -A package_of=(
  [clickhouse-server]=clickhouse-server [clickhouse-client]=clickhouse-client
  [prometheus]=prometheus [promtool]=prometheus [prometheus-pushgateway]=prometheus-pushgateway
  [kcat]=kcat [curl]=curl [jq]=jq [openssl]=openssl
  # The image test (deploy/image) builds and runs the container image without a registry.
  [podman]=podman [runc]=runc
)
missing=()
for cmd in "${!package_of[@]}"; do
  command -v "$cmd" >/dev/null || missing+=("${package_of[$cmd]}")
done
# ZooKeeper (the local ClickHouse cluster's coordinator, clickhouse-cluster.sh) puts no
# command on PATH: zookeeper.sh runs its jar.
[[ -f /usr/share/java/zookeeper.jar ]] || missing+=(zookeeper)
if ((${#missing[@]})); then
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  sudo=()
  [[ $(id -u) == 0 ]] || sudo=(sudo)
  log "installing Debian packages: ${missing[*]}"
  start=$SECONDS
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  log "Debian packages installed in $((SECONDS - start))s"
fi

# Kafka: the broker's classpath, resolved by Maven and kept per machine.
libs="$CACHE_DIR/kafka-$KAFKA_VERSION/libs"
if [[ ! -f "$libs/.complete" ]]; then
  log "fetching Kafka $KAFKA_VERSION jars from Maven Central"
  start=$SECONDS
  rm -rf "$libs.tmp"
  mkdir -p "$(dirname "$libs")"
  if ! mvn -q -B -Dstyle.color=never -f "$local_dir/kafka-pom.xml" -Dkafka.version="$KAFKA_VERSION" \
    dependency:copy-dependencies -DoutputDirectory="$libs.tmp" >"$libs.mvn.log" 2>&1; then
    cat "$libs.mvn.log" >&2
    die "Maven could not resolve the Kafka broker's jars (log above)"
  fi
  ls "$libs.tmp"/kafka_2.13-"$KAFKA_VERSION".jar >/dev/null || die "Maven did not supply kafka_2.13-$KAFKA_VERSION.jar"
  touch "$libs.tmp/.complete"
  rm -rf "$libs"
  mv "$libs.tmp" "$libs"
  log "Kafka jars ready in $((SECONDS - start))s"
fi

# Vault: built once per machine (minutes when cold), then reused.
start=$SECONDS
"$local_dir/build-vault.sh" >/dev/null
((SECONDS - start < 2)) || log "Vault ready in $((SECONDS - start))s"
