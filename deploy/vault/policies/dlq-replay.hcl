# orderflow replay-dlq and replay-parked: decrypt dead letters (the platform key)
# and parked jobs (tenant keys) to put them back; encrypt nothing new.

path "transit/decrypt/+" {
  capabilities = ["update"]
}
