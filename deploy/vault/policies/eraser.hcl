# orderflow erase and orderflow access (a buyer's erasure or access request):
# the HMAC of the request's identifiers under the tenant's key, to find the
# buyer's tokens. update only: an HMAC to a key that does not exist must not
# create it (no order of that tenant was ever stored, so nothing is held);
# read on the key's metadata (never its material) tells that case from a
# failure. It never encrypts or decrypts: an access export made under this
# policy says the ciphertexts are held encrypted.

path "transit/hmac/+/sha2-256" {
  capabilities = ["update"]
}

path "transit/keys/+" {
  capabilities = ["read"]
}
