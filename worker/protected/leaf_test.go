package protected

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLeaf keeps this package a leaf that the writers and connectors can
// import without the protect stage: it imports worker/order and the standard
// library, nothing else (no Vault client, policy, card scanner or metrics).
// Telemetry's TestStagesLeaveTheServerOut keeps net/http out too.
func TestLeaf(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{join .Imports "\n"}}`, ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, imp := range strings.Fields(string(out)) {
		first, _, _ := strings.Cut(imp, "/")
		if imp != module+"/worker/order" && strings.Contains(first, ".") {
			t.Errorf("protected imports %s: only worker/order and the standard library may be imported", imp)
		}
	}
}
