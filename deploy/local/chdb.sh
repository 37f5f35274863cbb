#!/usr/bin/env bash
# Makes the virtualenv that holds chdb-core, PyPI's in-process build of a
# current ClickHouse, and prints its python's path. The stack's server is
# Debian's ClickHouse 18.16; the current-ClickHouse test
# (schemas/clickhouse/current) runs the schema, the sample queries and the
# retention SQL on this one too. Made once per machine (about a minute), then
# reused: a second run takes a moment.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CHDB_VERSION=26.9.0
venv="$CACHE_DIR/chdb-core-$CHDB_VERSION"
if [[ ! -f "$venv/.complete" ]]; then
  log "installing chdb-core $CHDB_VERSION from PyPI into $venv"
  start=$SECONDS
  rm -rf "$venv"
  mkdir -p "$(dirname "$venv")"
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install -q --disable-pip-version-check "chdb-core==$CHDB_VERSION" >&2
  "$venv/bin/python" -c 'import chdb' || die "chdb-core $CHDB_VERSION installed but does not import"
  touch "$venv/.complete"
  log "chdb-core ready in $((SECONDS - start))s"
fi
echo "$venv/bin/python"
