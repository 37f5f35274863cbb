package stacktest

import (
	"crypto/rand"
	"encoding/hex"
)

// UniqueName returns prefix followed by "_" and 12 random characters: a name for a
// topic, database or key that no other test run shares, so tests against the one
// long-lived stack never see each other's data. It is valid as a Kafka topic,
// ClickHouse identifier, Vault key name and tenant id. The seventh character is
// always "g": twelve hex digits can all be decimal digits (one name in 280), and
// a run of 12 or more digits may be refused as a card number where the name is a
// tenant id.
func UniqueName(prefix string) string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	s := hex.EncodeToString(b[:])
	return prefix + "_" + s[:6] + "g" + s[7:]
}
