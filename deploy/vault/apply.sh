#!/usr/bin/env bash
# Applies orderflow's Vault policies (policies/*.hcl, as orderflow-<role>) and, with
# --approle, an AppRole role per command (orderflow-<role>, holding only its policy),
# printing each role_id. Idempotent: run it again after editing a policy.
#
# Usage: VAULT_ADDR=... VAULT_TOKEN=... deploy/vault/apply.sh [--approle [--credentials DIR]]
# --credentials DIR (local stack) also issues a secret_id per role and writes
# DIR/<role>/role_id, DIR/<role>/secret_id (mode 0600) and DIR/<role>.env, the
# ORDERFLOW_VAULT_AUTH_* overrides that make a command log in as that role
# (deploy/local/as-role sources it; orderflow demo reads it).
# (the local stack: set -a; . .stack/env; set +a, then VAULT_ADDR=$ORDERFLOW_VAULT_ADDRESS
# VAULT_TOKEN=$ORDERFLOW_VAULT_TOKEN). In Kubernetes, the Kubernetes auth method binds
# each ServiceAccount to its policy instead (deploy/kubernetes).
set -euo pipefail
dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
: "${VAULT_ADDR:?set VAULT_ADDR}" "${VAULT_TOKEN:?set VAULT_TOKEN}"
approle=false credentials=""
while (($#)); do
  case "$1" in
    --approle) approle=true ;;
    --credentials) credentials="${2:?--credentials needs a directory}"; shift ;;
    *) echo "usage: $0 [--approle [--credentials DIR]]" >&2; exit 2 ;;
  esac
  shift
done
[[ -z "$credentials" ]] || $approle || { echo "--credentials needs --approle" >&2; exit 2; }

api() { # method path [json]
  curl -fsS -X "$1" -H "X-Vault-Token: $VAULT_TOKEN" ${3:+-d "$3"} "$VAULT_ADDR/v1/$2"
}

for file in "$dir"/policies/*.hcl; do
  role="$(basename "$file" .hcl)"
  api PUT "sys/policies/acl/orderflow-$role" "$(jq -n --rawfile p "$file" '{policy: $p}')" >/dev/null
  echo "policy orderflow-$role"
done

if $approle; then
  if ! api GET sys/auth | jq -e '."approle/"' >/dev/null; then
    api POST sys/auth/approle '{"type":"approle"}' >/dev/null
  fi
  for file in "$dir"/policies/*.hcl; do
    role="$(basename "$file" .hcl)"
    [[ "$role" == analyst ]] && continue # analysts get no Vault login at all
    api POST "auth/approle/role/orderflow-$role" \
      "$(jq -n --arg p "orderflow-$role" '{token_policies: [$p], token_ttl: "1h", token_max_ttl: "24h", secret_id_ttl: "0"}')" >/dev/null
    role_id="$(api GET "auth/approle/role/orderflow-$role/role-id" | jq -r .data.role_id)"
    echo "approle orderflow-$role role_id $role_id"
    [[ -n "$credentials" ]] || continue
    # A fresh secret_id at every apply; the old ones stay valid until Vault's tidy.
    (
      umask 077
      mkdir -p "$credentials/$role"
      printf '%s\n' "$role_id" >"$credentials/$role/role_id"
      api POST "auth/approle/role/orderflow-$role/secret-id" '{}' | jq -r .data.secret_id >"$credentials/$role/secret_id"
      cat >"$credentials/$role.env" <<ENV
# Written by deploy/vault/apply.sh: log in to Vault as orderflow-$role (AppRole).
ORDERFLOW_VAULT_AUTH_METHOD=approle
ORDERFLOW_VAULT_AUTH_APPROLE_ROLE_ID_FILE=$credentials/$role/role_id
ORDERFLOW_VAULT_AUTH_APPROLE_SECRET_ID_FILE=$credentials/$role/secret_id
ENV
    )
  done
fi
