# orderflow purge (the CronJob) and the worker's scheduled purge: nothing in
# transit. Rows are deleted in ClickHouse; the only Vault use is the lease that
# keeps passes one at a time.

path "secret/data/orderflow/leases/*" {
  capabilities = ["create", "read", "update"]
}
