package telemetry_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestStagesLeaveTheServerOut keeps the metrics server (net/http's server side
// and net/http/pprof, which registers itself on http.DefaultServeMux) out of
// the pipeline's stages and the types they share: those declare metrics
// through telemetry/metricsreg and never import this package.
//
// normalize and protected are pure and reach no net/http at all. The protect
// stage and the facts writer cannot avoid net/http itself: client_golang's
// prometheus package pulls it in (prometheus/common/expfmt, expvar), and
// clickhouse-go does for its HTTP protocol. What they must not reach is a
// server: this package, promhttp or pprof; nor may they import net/http
// themselves.
func TestStagesLeaveTheServerOut(t *testing.T) {
	const worker = "github.com/orderflow/orderflow/worker/"
	pure := map[string]bool{"normalize": true, "protected": true, "protect": false, "facts": false}
	var pkgs []string
	for p := range pure {
		pkgs = append(pkgs, worker+p)
	}
	slices.Sort(pkgs)
	out, err := exec.Command("go", append([]string{"list", "-e", "-json=ImportPath,Imports,Deps,Error"}, pkgs...)...).Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	seen := 0
	for dec := json.NewDecoder(bytes.NewReader(out)); ; seen++ {
		var p struct {
			ImportPath    string
			Imports, Deps []string
			Error         *struct{ Err string }
		}
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("reading go list: %v", err)
		}
		name := strings.TrimPrefix(p.ImportPath, worker)
		if p.Error != nil {
			t.Errorf("%s: %s", name, p.Error.Err)
			continue
		}
		for _, banned := range []string{"net/http/pprof", worker + "telemetry", "github.com/prometheus/client_golang/prometheus/promhttp"} {
			if slices.Contains(p.Deps, banned) {
				t.Errorf("%s depends on %s", name, banned)
			}
		}
		if slices.Contains(p.Imports, "net/http") {
			t.Errorf("%s imports net/http", name)
		}
		if pure[name] && slices.Contains(p.Deps, "net/http") {
			t.Errorf("%s depends on net/http, which a pure package must not", name)
		}
	}
	if seen != len(pkgs) {
		t.Errorf("go list described %d packages, want %d", seen, len(pkgs))
	}
}
