package vault

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/orderflow/orderflow/worker/stacktest"
)

// auditEntry is what the test reads of one line of Vault's file audit device.
type auditEntry struct {
	Type string `json:"type"`
	Auth struct {
		DisplayName string            `json:"display_name"`
		Policies    []string          `json:"policies"`
		Metadata    map[string]string `json:"metadata"`
	} `json:"auth"`
	Request struct {
		Path string         `json:"path"`
		Data map[string]any `json:"data"`
	} `json:"request"`
	Error string `json:"error"`
}

// Breach readiness (P12) on the stack's Vault: every decrypt, allowed or
// refused, is in the audit log attributable to the role that asked (its
// AppRole role name and its policy), and the log holds neither the plaintext
// nor the ciphertext (the device HMACs every value).
func TestEveryDecryptIsAttributableToARole(t *testing.T) {
	addr, rootToken := stacktest.Vault(t)
	auditLog := stacktest.VaultAuditLog(t)
	root := client(t, addr, rootToken)
	ctx := context.Background()
	apply := exec.CommandContext(ctx, "bash", "apply.sh", "--approle")
	apply.Env = append(os.Environ(), "VAULT_ADDR="+addr, "VAULT_TOKEN="+rootToken)
	if out, err := apply.CombinedOutput(); err != nil {
		t.Fatalf("apply.sh: %v\n%s", err, out)
	}
	key := strings.ReplaceAll(stacktest.UniqueName("audit"), "_", "-") + "-acme-enc"
	mustWrite(t, root, "transit/keys/"+key, map[string]any{"type": "aes256-gcm96"})
	mustWrite(t, root, "transit/keys/"+key+"/config", map[string]any{"deletion_allowed": true})
	t.Cleanup(func() { _, _ = root.Logical().Delete("transit/keys/" + key) })
	plaintext := base64.StdEncoding.EncodeToString([]byte("Margaret Ellison, 14 Valley Drive"))
	ct := mustWrite(t, root, "transit/encrypt/"+key, map[string]any{"plaintext": plaintext}).Data["ciphertext"].(string)

	before, err := os.Stat(auditLog)
	if err != nil {
		t.Fatalf("the audit log: %v (deploy/local/vault.sh enables the device)", err)
	}
	login := func(role string) string {
		name := "auth/approle/role/orderflow-" + role
		roleID, err := root.Logical().ReadWithContext(ctx, name+"/role-id")
		if err != nil {
			t.Fatal(err)
		}
		secretID := mustWrite(t, root, name+"/secret-id", nil)
		return mustWrite(t, root, "auth/approle/login", map[string]any{"role_id": roleID.Data["role_id"], "secret_id": secretID.Data["secret_id"]}).Auth.ClientToken
	}
	decrypt := call{method: "PUT", path: "transit/decrypt/" + key, body: map[string]any{"ciphertext": ct}}
	allowed := map[string]bool{"dispatcher": true, "dlq-replay": true, "worker": false, "eraser": false}
	for role, may := range allowed {
		err := do(ctx, client(t, addr, login(role)), decrypt)
		if (err == nil) != may {
			t.Fatalf("%s decrypt: %v, want allowed %v", role, err, may)
		}
	}

	f, err := os.Open(auditLog)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Seek(before.Size(), 0); err != nil {
		t.Fatal(err)
	}
	var raw bytes.Buffer
	seen := map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		raw.Write(sc.Bytes())
		var e auditEntry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil || e.Request.Path != decrypt.path || e.Type != "response" {
			continue
		}
		role := strings.TrimPrefix(e.Auth.Metadata["role_name"], "orderflow-")
		if _, ok := allowed[role]; !ok || !slices.Contains(e.Auth.Policies, "orderflow-"+role) {
			t.Errorf("a decrypt's audit entry names no orderflow role: display %q, policies %v, metadata %v", e.Auth.DisplayName, e.Auth.Policies, e.Auth.Metadata)
			continue
		}
		seen[role]++
		if refused := e.Error != ""; refused == allowed[role] {
			t.Errorf("%s's decrypt is logged with error %q, want refused %v", role, e.Error, !allowed[role])
		}
	}
	for role := range allowed {
		if seen[role] != 1 {
			t.Errorf("%d audit responses of %s's decrypt, want 1", seen[role], role)
		}
	}
	for _, secret := range []string{plaintext, ct, "Margaret Ellison"} {
		if strings.Contains(raw.String(), secret) {
			t.Errorf("the audit log holds a value in the clear: %.20s...", secret)
		}
	}
}
