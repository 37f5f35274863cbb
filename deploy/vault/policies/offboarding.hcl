# orderflow offboard: destroys a leaving seller's keys (crypto-shredding every
# token and ciphertext made with them). Reads a key to find it, allows its
# deletion, deletes it. No hmac, encrypt or decrypt: it never sees data.

path "transit/keys/+" {
  capabilities = ["read", "delete"]
}

path "transit/keys/+/config" {
  capabilities = ["update"]
}

path "secret/data/orderflow/leases/*" {
  capabilities = ["create", "read", "update"]
}
