package clickhousedb

import (
	"encoding/hex"
	"strings"
)

// Quote writes s as a ClickHouse string literal: a backslash and a quote are
// escaped, and every other byte stands for itself.
func Quote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// Literal writes s as a string literal for SQL that logs and purge_log
// record: as it is when plain (the caller has held it to a form with no
// quote or backslash), hex-encoded (unhex('...')) otherwise, so that no value
// can break out of the literal or read as something else.
func Literal(s string, plain bool) string {
	if plain {
		return "'" + s + "'"
	}
	return "unhex('" + hex.EncodeToString([]byte(s)) + "')"
}
