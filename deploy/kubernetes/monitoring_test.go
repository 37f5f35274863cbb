package kubernetes_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "write base/prometheusrule.yaml from dashboards/alerts/orderflow.yaml")

const (
	alertRules     = "../../dashboards/alerts/orderflow.yaml"
	prometheusRule = "base/prometheusrule.yaml"
)

// prometheusRuleFrom is the PrometheusRule whose spec is the rule file: the
// file's text indented under spec, comments and all, so that it reads as the
// file does. (Why it is generated rather than built by kustomize: README.md,
// "Alert rules".)
func prometheusRuleFrom(rules []byte) []byte {
	var b bytes.Buffer
	b.WriteString(`# Generated from dashboards/alerts/orderflow.yaml by deploy/kubernetes/monitoring_test.go
# (go test ./deploy/kubernetes -run TestPrometheusRule -update); do not edit: edit the
# rule file. Its text is indented under spec, as it is.
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: orderflow
  labels:
    app.kubernetes.io/name: orderflow
spec:
`)
	for line := range strings.Lines(string(rules)) {
		if strings.TrimSpace(line) != "" {
			b.WriteString("  ")
		}
		b.WriteString(line)
	}
	return b.Bytes()
}

// TestPrometheusRuleIsTheAlertRules: the committed PrometheusRule is what the
// rule file gives (rerun with -update after editing the rules), and the
// rendered one's groups equal the file's, rule by rule, in every target.
func TestPrometheusRuleIsTheAlertRules(t *testing.T) {
	rules := readFile(t, alertRules)
	want := prometheusRuleFrom(rules)
	if *update {
		if err := os.WriteFile(prometheusRule, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if got := readFile(t, prometheusRule); !bytes.Equal(got, want) {
		t.Errorf("%s differs from what %s gives: run go test ./deploy/kubernetes -run TestPrometheusRule -update", prometheusRule, alertRules)
	}
	var file struct {
		Groups []monitoringv1.RuleGroup `json:"groups"`
	}
	if err := yaml.UnmarshalStrict(rules, &file); err != nil {
		t.Fatal(err)
	}
	if len(file.Groups) == 0 {
		t.Fatalf("%s has no groups", alertRules)
	}
	for _, m := range renderAll(t) {
		if len(m.rules) != 1 {
			t.Fatalf("%s: %d PrometheusRules, want 1", m.target, len(m.rules))
		}
		if diff := cmp.Diff(file.Groups, m.rules[0].Spec.Groups); diff != "" {
			t.Errorf("%s: the PrometheusRule's groups differ from %s (-file +rendered):\n%s", m.target, alertRules, diff)
		}
	}
}

// TestDashboardsConfigMapHoldsEveryDashboard: one ConfigMap for Grafana's
// sidecar holds every dashboards/*.json, byte for byte.
func TestDashboardsConfigMapHoldsEveryDashboard(t *testing.T) {
	files, err := filepath.Glob("../../dashboards/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no dashboards found: %v", err)
	}
	for _, m := range renderAll(t) {
		cm, ok := m.configMaps["orderflow-dashboards"]
		if !ok {
			t.Fatalf("%s: no ConfigMap orderflow-dashboards", m.target)
		}
		if cm.Labels["grafana_dashboard"] != "1" {
			t.Errorf("%s: the dashboards' ConfigMap lacks the sidecar's label grafana_dashboard: \"1\": %v", m.target, cm.Labels)
		}
		if len(cm.Data) != len(files) {
			t.Errorf("%s: the ConfigMap holds %d dashboards, dashboards/ has %d", m.target, len(cm.Data), len(files))
		}
		for _, f := range files {
			if cm.Data[filepath.Base(f)] != string(readFile(t, f)) {
				t.Errorf("%s: the ConfigMap's %s is not dashboards/%s", m.target, filepath.Base(f), filepath.Base(f))
			}
		}
	}
}

// TestScrapesKeepTheJobLabel: the ServiceMonitor scrapes the metrics port of
// every Service (the worker's, the dispatcher's and the eraser's) and sets job="orderflow",
// which the dashboards and alert rules select on.
func TestScrapesKeepTheJobLabel(t *testing.T) {
	for _, m := range renderAll(t) {
		if len(m.monitors) != 1 {
			t.Fatalf("%s: %d ServiceMonitors, want 1", m.target, len(m.monitors))
		}
		sm := m.monitors[0]
		if len(m.services) != 4 {
			t.Errorf("%s: %d Services, want the worker's, the dispatcher's, the eraser's and the eBay endpoint's", m.target, len(m.services))
		}
		for _, svc := range m.services {
			if !selects(sm.Spec.Selector.MatchLabels, svc.Labels) {
				t.Errorf("%s: the ServiceMonitor does not select Service %s", m.target, svc.Name)
			}
			if !slices.ContainsFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool { return p.Name == "metrics" && p.Port == metricsPort }) {
				t.Errorf("%s: Service %s has no port metrics (%d)", m.target, svc.Name, metricsPort)
			}
		}
		if len(sm.Spec.Endpoints) != 1 || sm.Spec.Endpoints[0].Port != "metrics" {
			t.Fatalf("%s: the ServiceMonitor does not scrape port metrics: %+v", m.target, sm.Spec.Endpoints)
		}
		job := ""
		for _, r := range sm.Spec.Endpoints[0].RelabelConfigs {
			if r.TargetLabel == "job" && (r.Action == "" || strings.EqualFold(r.Action, "replace")) && len(r.SourceLabels) == 0 && r.Replacement != nil {
				job = *r.Replacement
			}
		}
		if job != "orderflow" {
			t.Errorf("%s: the scraped job label is %q, want orderflow (dashboards and alerts select job=\"orderflow\")", m.target, job)
		}
	}
}

// TestNetworkIsDeniedButForWhatEachPodNeeds: a default deny of both
// directions; every orderflow.io/egress-* label a pod carries is answered by a
// policy; the internet only on 443 and only for the dispatcher; ingress only
// from Prometheus in the monitoring namespace to the metrics port.
func TestNetworkIsDeniedButForWhatEachPodNeeds(t *testing.T) {
	for _, m := range renderAll(t) {
		byName := map[string]*networkingv1.NetworkPolicy{}
		for _, p := range m.policies {
			byName[p.Name] = p
		}
		deny, ok := byName["orderflow-default-deny"]
		if !ok || len(deny.Spec.PodSelector.MatchLabels)+len(deny.Spec.PodSelector.MatchExpressions) != 0 ||
			len(deny.Spec.Ingress)+len(deny.Spec.Egress) != 0 ||
			!containsAll(policyTypes(deny), "Ingress", "Egress") {
			t.Errorf("%s: no default deny of ingress and egress for every pod: %+v", m.target, deny)
		}
		egressFor := map[string]*networkingv1.NetworkPolicy{}
		for _, p := range m.policies {
			for k := range p.Spec.PodSelector.MatchLabels {
				egressFor[k] = p
			}
			for _, rule := range p.Spec.Egress {
				for _, peer := range rule.To {
					if peer.IPBlock == nil {
						continue
					}
					internet := p.Name == "orderflow-egress-connectors" || p.Name == "orderflow-egress-ebay"
					if !internet || len(rule.Ports) != 1 || rule.Ports[0].Port.IntValue() != 443 || len(peer.IPBlock.Except) == 0 {
						t.Errorf("%s: policy %s opens addresses beyond the cluster other than the connectors' HTTPS: %+v", m.target, p.Name, rule)
					}
				}
			}
			for _, rule := range p.Spec.Ingress {
				if p.Name == "orderflow-ingress-ebay" {
					// eBay's notifications, from the ingress controller alone,
					// on the endpoint's port alone.
					if len(rule.From) != 1 || rule.From[0].NamespaceSelector == nil || rule.From[0].IPBlock != nil ||
						rule.From[0].NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] != "ingress-nginx" ||
						len(rule.Ports) != 1 || rule.Ports[0].Port.IntValue() != 8090 {
						t.Errorf("%s: policy %s lets in more than the ingress controller on the endpoint's port: %+v", m.target, p.Name, rule)
					}
					continue
				}
				for _, peer := range rule.From {
					if peer.NamespaceSelector == nil || peer.NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] != "monitoring" || peer.PodSelector == nil {
						t.Errorf("%s: policy %s lets in more than Prometheus of the monitoring namespace: %+v", m.target, p.Name, peer)
					}
				}
				if len(rule.Ports) != 1 || rule.Ports[0].Port.IntValue() != metricsPort {
					t.Errorf("%s: policy %s lets in more than the metrics port: %+v", m.target, p.Name, rule.Ports)
				}
			}
		}
		for _, pod := range m.pods() {
			for label := range pod.labels {
				if strings.HasPrefix(label, "orderflow.io/egress-") && egressFor[label] == nil {
					t.Errorf("%s: %s %s asks for %s, which no policy grants", m.target, pod.kind, pod.name, label)
				}
			}
			if pod.labels["orderflow.io/egress-connectors"] == "true" && pod.spec.Containers[0].Args[0] != "dispatch" {
				t.Errorf("%s: %s %s may reach the internet; only the dispatcher calls the connectors' APIs", m.target, pod.kind, pod.name)
			}
			if (pod.labels["orderflow.io/egress-ebay"] == "true" || pod.labels["orderflow.io/ingress-ebay"] == "true") && pod.spec.Containers[0].Args[0] != "notifications" {
				t.Errorf("%s: %s %s reaches or is reached from the internet; only eBay's notification endpoint is", m.target, pod.kind, pod.name)
			}
		}
	}
}

func policyTypes(p *networkingv1.NetworkPolicy) []string {
	if p == nil {
		return nil
	}
	var out []string
	for _, pt := range p.Spec.PolicyTypes {
		out = append(out, string(pt))
	}
	return out
}

// TestSchedulesAndBudgets: the purge is a CronJob that never runs twice at
// once and is not suspended; the one-off commands' CronJobs are; every
// Deployment has a PodDisruptionBudget that selects its pods and lets a drain
// proceed; no Secret is rendered.
func TestSchedulesAndBudgets(t *testing.T) {
	for _, m := range renderAll(t) {
		var purge *batchv1.CronJob
		for _, c := range m.cronJobs {
			if c.Spec.ConcurrencyPolicy != batchv1.ForbidConcurrent {
				t.Errorf("%s: CronJob %s allows concurrent runs", m.target, c.Name)
			}
			args := c.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Args
			suspended := c.Spec.Suspend != nil && *c.Spec.Suspend
			if args[0] == "purge" {
				purge = c
				if suspended {
					t.Errorf("%s: the purge CronJob is suspended", m.target)
				}
			} else if !suspended {
				t.Errorf("%s: CronJob %s (%s) runs on a schedule; it is a template for kubectl create job", m.target, c.Name, args[0])
			}
		}
		if purge == nil {
			t.Errorf("%s: no purge CronJob", m.target)
		}
		for _, d := range m.deployments {
			found := false
			for _, b := range m.budgets {
				if b.Spec.Selector != nil && selects(b.Spec.Selector.MatchLabels, d.Spec.Template.Labels) {
					found = true
					if b.Spec.MaxUnavailable == nil && b.Spec.MinAvailable == nil {
						t.Errorf("%s: PodDisruptionBudget %s sets no bound", m.target, b.Name)
					}
					if b.Spec.MinAvailable != nil && d.Spec.Replicas != nil && b.Spec.MinAvailable.IntValue() >= int(*d.Spec.Replicas) {
						t.Errorf("%s: PodDisruptionBudget %s would block every drain of %s", m.target, b.Name, d.Name)
					}
				}
			}
			if !found {
				t.Errorf("%s: Deployment %s has no PodDisruptionBudget", m.target, d.Name)
			}
		}
	}
}
