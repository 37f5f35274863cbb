#!/usr/bin/env bash
# Applies orderflow's Vault policies (policies/*.hcl, as orderflow-<role>) and, with
# --approle, an AppRole role per command (orderflow-<role>, holding only its policy),
# printing each role_id; with --kubernetes, a Kubernetes auth role per command instead
# (orderflow-<role>, bound to the ServiceAccount orderflow-<role> of each namespace in
# K8S_NAMESPACES and to tokens for audience "vault": deploy/kubernetes). Idempotent:
# run it again after editing a policy.
#
# Usage: VAULT_ADDR=... VAULT_TOKEN=... deploy/vault/apply.sh [--approle [--credentials DIR] | --kubernetes]
# --credentials DIR (local stack) also issues a secret_id per role and writes
# DIR/<role>/role_id, DIR/<role>/secret_id (mode 0600) and DIR/<role>.env, the
# ORDERFLOW_VAULT_AUTH_* overrides that make a command log in as that role
# (deploy/local/as-role sources it; orderflow demo reads it).
# (the local stack: set -a; . .stack/env; set +a, then VAULT_ADDR=$ORDERFLOW_VAULT_ADDRESS
# VAULT_TOKEN=$ORDERFLOW_VAULT_TOKEN). --kubernetes reads K8S_NAMESPACES (comma-separated,
# default orderflow), K8S_AUTH_MOUNT (default kubernetes), and where Vault reviews the
# pods' tokens: KUBERNETES_HOST (default https://kubernetes.default.svc, for a Vault
# running in the cluster), KUBERNETES_CA_CERT (a PEM file) and TOKEN_REVIEWER_JWT (a
# token of a ServiceAccount bound to system:auth-delegator), the last two needed only
# when Vault runs outside the cluster.
set -euo pipefail
dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
: "${VAULT_ADDR:?set VAULT_ADDR}" "${VAULT_TOKEN:?set VAULT_TOKEN}"
approle=false kubernetes=false credentials=""
usage() { echo "usage: $0 [--approle [--credentials DIR] | --kubernetes]" >&2; exit 2; }
while (($#)); do
  case "$1" in
    --approle) approle=true ;;
    --kubernetes) kubernetes=true ;;
    --credentials) credentials="${2:?--credentials needs a directory}"; shift ;;
    *) usage ;;
  esac
  shift
done
[[ -z "$credentials" ]] || $approle || { echo "--credentials needs --approle" >&2; exit 2; }
! { $approle && $kubernetes; } || usage

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

if $kubernetes; then
  mount="${K8S_AUTH_MOUNT:-kubernetes}"
  if ! api GET sys/auth | jq -e --arg m "$mount/" '.[$m]' >/dev/null; then
    api POST "sys/auth/$mount" '{"type":"kubernetes"}' >/dev/null
  fi
  ca=""
  [[ -n "${KUBERNETES_CA_CERT:-}" ]] && ca="$(cat "$KUBERNETES_CA_CERT")"
  api POST "auth/$mount/config" "$(jq -n --arg host "${KUBERNETES_HOST:-https://kubernetes.default.svc}" \
    --arg ca "$ca" --arg jwt "${TOKEN_REVIEWER_JWT:-}" \
    '{kubernetes_host: $host} + (if $ca == "" then {} else {kubernetes_ca_cert: $ca} end)
      + (if $jwt == "" then {} else {token_reviewer_jwt: $jwt} end)')" >/dev/null
  for file in "$dir"/policies/*.hcl; do
    role="$(basename "$file" .hcl)"
    [[ "$role" == analyst ]] && continue # analysts get no Vault login at all
    api POST "auth/$mount/role/orderflow-$role" "$(jq -n --arg r "orderflow-$role" --arg ns "${K8S_NAMESPACES:-orderflow}" \
      '{bound_service_account_names: [$r], bound_service_account_namespaces: ($ns | split(",")),
        audience: "vault", token_policies: [$r], token_ttl: "1h", token_max_ttl: "24h"}')" >/dev/null
    echo "kubernetes role orderflow-$role: service account orderflow-$role in ${K8S_NAMESPACES:-orderflow}"
  done
fi
