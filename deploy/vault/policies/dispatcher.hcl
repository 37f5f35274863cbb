# orderflow dispatch: decrypts the delivery data of courier jobs (a tenant's
# -enc key) to hand a courier the label; reads and rotates the accounting
# providers' OAuth2 refresh tokens (connectors/accounting/tokenstore, on the
# lease's KV mount). Nothing else in transit: no tokens, no encrypt, no keys.

path "transit/decrypt/+" {
  capabilities = ["update"]
}

path "secret/data/orderflow/connectors/*" {
  capabilities = ["create", "read", "update"]
}
