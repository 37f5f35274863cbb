#!/usr/bin/env bash
# Builds the Vault dev server from MPL-2.0 source (v1.14.1, the last MPL-2.0 release)
# through the Go module proxy, once per machine. v1.14.2 and later are BUSL-1.1 and
# must not be used. The binary is cached outside the work tree, so every clone on the
# machine (CI's fresh clones included) reuses it.
#
# Prints the path of the binary on stdout; progress goes to stderr.
set -euo pipefail

VAULT_VERSION=v1.14.1
VAULT_SDK_VERSION=v0.9.2
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache_root="${ORDERFLOW_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/orderflow}"
bin="$cache_root/vault-$VAULT_VERSION/vault"

if [[ -x "$bin" ]] && "$bin" version 2>/dev/null | grep -q "Vault ${VAULT_VERSION}"; then
  echo "$bin"
  exit 0
fi

log() { echo "build-vault: $*" >&2; }
log "building Vault $VAULT_VERSION from source (about 8 minutes on a cold machine, 1 warm)"

modcache="$(go env GOMODCACHE)"
GOFLAGS=-mod=mod go mod download "github.com/hashicorp/vault@$VAULT_VERSION" >&2
src="$modcache/github.com/hashicorp/vault@$VAULT_VERSION"
[[ -d "$src" ]] || { log "module source not found at $src"; exit 1; }

if ! grep -q "Mozilla Public License, version 2.0" "$src/LICENSE"; then
  log "refusing to build: $src/LICENSE is not MPL-2.0"
  exit 1
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/orderflow-vault-build.XXXXXX")"
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
cp -r "$src" "$work/vault"
chmod -R u+w "$work/vault"
cd "$work/vault"

# The release go.mod replaces api, sdk and api/auth/* with folders the module zip lacks.
for rep in $(go mod edit -json | jq -r '.Replace[]? | select(.New.Path | startswith("./")) | .Old.Path'); do
  go mod edit -dropreplace="$rep"
done
go mod edit -require="github.com/hashicorp/vault/sdk@$VAULT_SDK_VERSION"

# sdk v0.9.2 panics on the first request to a path that declares a CreateOperation
# handler without an existence check. v1.14.1 declares them in the managed-keys stubs'
# operation lists and in transit's cache-config path; the patch removes them and fails
# loudly if the source does not look as expected.
python3 "$here/patch-vault.py" .

mkdir -p "$(dirname "$bin")"
GOFLAGS=-mod=mod go build -ldflags "-s -w" -o "$bin.tmp" . >&2
mv "$bin.tmp" "$bin"
cp LICENSE "$(dirname "$bin")/LICENSE"
log "built $bin"
echo "$bin"
