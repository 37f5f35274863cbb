# orderflow run: tokens (HMAC) and ciphertexts (encrypt) of buyers' data, with the
# tenant keys of a transit mount that holds only orderflow's keys.
#
# update only on hmac and encrypt: with create there, an encrypt to a key that
# does not exist would create it (transit upserts), so a worker could re-create a
# tenant key that offboarding shredded. Keys are created on their own path:
# transit/keys/<name> (create; update for one that exists, which changes nothing)
# and its config (deletion allowed, so that offboarding can destroy it). "+" is
# one path segment: rotate, trim and export stay out of reach.

path "transit/hmac/+/sha2-256" {
  capabilities = ["update"]
}

path "transit/encrypt/+" {
  capabilities = ["update"]
}

path "transit/keys/+" {
  capabilities = ["create", "update"]
}

path "transit/keys/+/config" {
  capabilities = ["update"]
}

# The purge lease (retention.lease: one pass at a time across processes).
path "secret/data/orderflow/leases/*" {
  capabilities = ["create", "read", "update"]
}
