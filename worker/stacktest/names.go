package stacktest

import (
	"crypto/rand"
	"encoding/hex"
)

// UniqueName returns prefix followed by "_" and 12 random hex digits: a name for a
// topic, database or key that no other test run shares, so tests against the one
// long-lived stack never see each other's data. It is valid as a Kafka topic,
// ClickHouse identifier and Vault key name.
func UniqueName(prefix string) string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return prefix + "_" + hex.EncodeToString(b[:])
}
