# orderflow erase (a buyer's erasure, one request or the requests topic): the
# HMAC of the request's identifiers under the tenant's key, to find the
# buyer's tokens, and nothing else. update only: an HMAC to a key that does
# not exist must not create it (no order of that tenant was ever stored, so
# nothing is held). It never encrypts, decrypts or reads a key.

path "transit/hmac/+/sha2-256" {
  capabilities = ["update"]
}
