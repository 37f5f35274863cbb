// Package dashboards holds orderflow's Grafana dashboards and Prometheus
// alert rules; its tests check them.
package dashboards

import (
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/orderflow/orderflow/worker/stacktest"
	"go.yaml.in/yaml/v3"
)

type rules struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Expr        string            `yaml:"expr"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

// promtool returns the path of Prometheus' promtool (stacktest.Promtool).
func promtool(t *testing.T) string { return stacktest.Promtool(t) }

// The alert rules pass `promtool check rules`, and their unit tests
// (`promtool test rules`, orderflow_test.yaml) pass.
func TestAlertRulesCheckAndTheirTestsPass(t *testing.T) {
	tool := promtool(t)
	for _, args := range [][]string{{"check", "rules", "alerts/orderflow.yaml"}, {"test", "rules", "alerts/orderflow_test.yaml"}} {
		out, err := exec.Command(tool, args...).CombinedOutput()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// Every alert has a severity, a summary, a runbook_url to a section of
// RUNBOOK.md that exists, and a unit test that expects it firing.
func TestEveryAlertHasARunbookSectionAndATest(t *testing.T) {
	data, err := os.ReadFile("alerts/orderflow.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var r rules
	if err := yaml.Unmarshal(data, &r); err != nil {
		t.Fatal(err)
	}
	runbook, err := os.ReadFile("RUNBOOK.md")
	if err != nil {
		t.Fatal(err)
	}
	anchors := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^## (\S+)`).FindAllStringSubmatch(string(runbook), -1) {
		anchors[strings.ToLower(m[1])] = true
	}
	tests, err := os.ReadFile("alerts/orderflow_test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, g := range r.Groups {
		for _, rule := range g.Rules {
			n++
			if !slices.Contains([]string{"critical", "warning"}, rule.Labels["severity"]) {
				t.Errorf("%s: severity %q, want critical or warning", rule.Alert, rule.Labels["severity"])
			}
			if rule.Annotations["summary"] == "" {
				t.Errorf("%s: no summary", rule.Alert)
			}
			const prefix = "https://github.com/orderflow/orderflow/blob/main/dashboards/RUNBOOK.md#"
			url := rule.Annotations["runbook_url"]
			if !strings.HasPrefix(url, prefix) || !anchors[strings.TrimPrefix(url, prefix)] {
				t.Errorf("%s: runbook_url %q is not a section of RUNBOOK.md", rule.Alert, url)
			}
			if !strings.Contains(string(tests), "alertname: "+rule.Alert+"\n") {
				t.Errorf("%s: no unit test in alerts/orderflow_test.yaml", rule.Alert)
			}
		}
	}
	if n < 10 {
		t.Fatalf("%d alert rules: the file did not parse as expected", n)
	}
}
