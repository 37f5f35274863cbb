package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/orderflow/orderflow/deploy/clickhouse"
)

// The local stack's env lines and its users.xml agree: each password the
// commands are given is the one whose hash the server checks.
func TestDevPasswordsMatchTheirHashes(t *testing.T) {
	var env, xml, stderr bytes.Buffer
	if code := run([]string{"-format", "env", "-dev-passwords"}, &env, &stderr); code != 0 {
		t.Fatalf("env: exit %d: %s", code, stderr.String())
	}
	if code := run([]string{"-format", "users.xml", "-dev-passwords", "-network", "127.0.0.1", "-network", "::1"}, &xml, &stderr); code != 0 {
		t.Fatalf("users.xml: exit %d: %s", code, stderr.String())
	}
	for _, r := range clickhouse.Roles() {
		prefix := "ORDERFLOW_CLICKHOUSE_" + strings.ToUpper(r.Name) + "_PASSWORD="
		var password string
		for _, line := range strings.Split(env.String(), "\n") {
			if strings.HasPrefix(line, prefix) {
				password = strings.TrimPrefix(line, prefix)
			}
		}
		sum := sha256.Sum256([]byte(password))
		if password == "" || !strings.Contains(xml.String(), "<password_sha256_hex>"+hex.EncodeToString(sum[:])+"</password_sha256_hex>") {
			t.Errorf("%s: env gives %q, whose hash users.xml does not hold", r.Name, password)
		}
	}
	if strings.Contains(xml.String(), "from_env") {
		t.Error("with -dev-passwords and -network, users.xml still reads the environment")
	}
}

func TestEnvNeedsDevPasswords(t *testing.T) {
	var out, stderr bytes.Buffer
	if code := run([]string{"-format", "env"}, &out, &stderr); code != 2 || out.Len() != 0 {
		t.Errorf("exit %d, output %q: want 2 and nothing", code, out.String())
	}
}
