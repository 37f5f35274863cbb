// Package kubernetes_test renders orderflow's Kubernetes manifests (the base and
// every overlay) with the kustomize API, as kubectl apply -k does, decodes every
// object strictly into its Kubernetes or Prometheus Operator type, so that a
// misspelt field fails here rather than being dropped by the API server, and
// checks what the manifests promise: least privilege, the restricted pod security
// standard, probes, measured resources, network policies, the UK residency of
// production, and the monitoring built from dashboards/.
package kubernetes_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8sjson "sigs.k8s.io/json"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// targets are the kustomizations an SRE may apply, or build on.
var targets = []string{"base", "overlays/staging", "overlays/production"}

// kinds are the only kinds the manifests may hold, each with the type its
// objects decode into. A kind not here is refused: a Secret above all.
var kinds = map[schema.GroupVersionKind]func() any{
	{Version: "v1", Kind: "Namespace"}:                                      func() any { return &corev1.Namespace{} },
	{Version: "v1", Kind: "ServiceAccount"}:                                 func() any { return &corev1.ServiceAccount{} },
	{Version: "v1", Kind: "ConfigMap"}:                                      func() any { return &corev1.ConfigMap{} },
	{Version: "v1", Kind: "Service"}:                                        func() any { return &corev1.Service{} },
	{Group: "apps", Version: "v1", Kind: "Deployment"}:                      func() any { return &appsv1.Deployment{} },
	{Group: "batch", Version: "v1", Kind: "CronJob"}:                        func() any { return &batchv1.CronJob{} },
	{Group: "policy", Version: "v1", Kind: "PodDisruptionBudget"}:           func() any { return &policyv1.PodDisruptionBudget{} },
	{Group: "networking.k8s.io", Version: "v1", Kind: "NetworkPolicy"}:      func() any { return &networkingv1.NetworkPolicy{} },
	{Group: "monitoring.coreos.com", Version: "v1", Kind: "ServiceMonitor"}: func() any { return &monitoringv1.ServiceMonitor{} },
	{Group: "monitoring.coreos.com", Version: "v1", Kind: "PrometheusRule"}: func() any { return &monitoringv1.PrometheusRule{} },
}

// manifests are one kustomization's rendered objects, decoded.
type manifests struct {
	target       string
	namespaces   []*corev1.Namespace
	accounts     map[string]*corev1.ServiceAccount
	configMaps   map[string]*corev1.ConfigMap
	services     []*corev1.Service
	deployments  []*appsv1.Deployment
	cronJobs     []*batchv1.CronJob
	budgets      []*policyv1.PodDisruptionBudget
	policies     []*networkingv1.NetworkPolicy
	monitors     []*monitoringv1.ServiceMonitor
	rules        []*monitoringv1.PrometheusRule
	objectsTotal int
}

// render builds the kustomization in dir as kubectl apply -k would and decodes
// every object strictly.
func render(dir string) (*manifests, error) {
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	resMap, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	m := &manifests{target: dir, accounts: map[string]*corev1.ServiceAccount{}, configMaps: map[string]*corev1.ConfigMap{}}
	for _, res := range resMap.Resources() {
		data, err := res.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", res.CurId(), err)
		}
		gvk := schema.FromAPIVersionAndKind(res.GetApiVersion(), res.GetKind())
		newObject, ok := kinds[gvk]
		if !ok {
			return nil, fmt.Errorf("%s %s: a kind the manifests may not hold", gvk, res.GetName())
		}
		obj := newObject()
		if err := decodeStrict(data, obj); err != nil {
			return nil, fmt.Errorf("%s %s: %w", gvk.Kind, res.GetName(), err)
		}
		m.objectsTotal++
		switch o := obj.(type) {
		case *corev1.Namespace:
			m.namespaces = append(m.namespaces, o)
		case *corev1.ServiceAccount:
			m.accounts[o.Name] = o
		case *corev1.ConfigMap:
			m.configMaps[o.Name] = o
		case *corev1.Service:
			m.services = append(m.services, o)
		case *appsv1.Deployment:
			m.deployments = append(m.deployments, o)
		case *batchv1.CronJob:
			m.cronJobs = append(m.cronJobs, o)
		case *policyv1.PodDisruptionBudget:
			m.budgets = append(m.budgets, o)
		case *networkingv1.NetworkPolicy:
			m.policies = append(m.policies, o)
		case *monitoringv1.ServiceMonitor:
			m.monitors = append(m.monitors, o)
		case *monitoringv1.PrometheusRule:
			m.rules = append(m.rules, o)
		}
	}
	return m, nil
}

// decodeStrict decodes as the API server does with strict field validation:
// field names match case-sensitively, and an unknown or duplicate field is an
// error (encoding/json would take "RunAsNonRoot" for runAsNonRoot, and drop an
// unknown one).
func decodeStrict(data []byte, obj any) error {
	strictErrs, err := k8sjson.UnmarshalStrict(data, obj)
	if err != nil {
		return err
	}
	if len(strictErrs) > 0 {
		msgs := make([]string, len(strictErrs))
		for i, e := range strictErrs {
			msgs[i] = e.Error()
		}
		return fmt.Errorf("strict decoding: %s", strings.Join(msgs, "; "))
	}
	return nil
}

// rendered holds each target's manifests once rendered: the tests read them,
// never change them, and do not run in parallel.
var rendered = map[string]*manifests{}

// renderAll renders every target, once for all the tests of this package.
func renderAll(t *testing.T) []*manifests {
	t.Helper()
	var out []*manifests
	for _, target := range targets {
		m, ok := rendered[target]
		if !ok {
			var err error
			if m, err = render(target); err != nil {
				t.Fatal(err)
			}
			rendered[target] = m
		}
		out = append(out, m)
	}
	return out
}

// TestEveryTargetRendersAndDecodesStrictly: kustomize builds the base and each
// overlay, and every object is a known kind that decodes strictly.
func TestEveryTargetRendersAndDecodesStrictly(t *testing.T) {
	for _, m := range renderAll(t) {
		if len(m.deployments) != 4 || len(m.cronJobs) < 1 || m.objectsTotal < 20 {
			t.Errorf("%s: %d objects, %d Deployments, %d CronJobs: not the whole of orderflow", m.target, m.objectsTotal, len(m.deployments), len(m.cronJobs))
		}
	}
}

// TestMisspeltFieldsAreRefused proves the strict decoding catches what
// kustomize and a lenient decoder would let through: each overlay in testdata/
// is the base with one misspelt field, which kustomize builds without a word.
func TestMisspeltFieldsAreRefused(t *testing.T) {
	cases := []struct{ dir, field string }{
		// readOnlyRootFileSystem for readOnlyRootFilesystem: the API server
		// would drop it and the root filesystem would be writable.
		{"testdata/misspelt-securitycontext", "readOnlyRootFileSystem"},
		// A field in the wrong case, which encoding/json would accept.
		{"testdata/wrong-case-field", "RunAsNonRoot"},
		// relabellings for relabelings: the job label would not be orderflow.
		{"testdata/misspelt-servicemonitor", "relabellings"},
	}
	for _, c := range cases {
		t.Run(filepath.Base(c.dir), func(t *testing.T) {
			_, err := render(c.dir)
			if err == nil {
				t.Fatalf("%s rendered and decoded: the misspelt field %s went through", c.dir, c.field)
			}
			if !strings.Contains(err.Error(), c.field) {
				t.Fatalf("%s: the error does not name the misspelt field %s: %v", c.dir, c.field, err)
			}
		})
	}
}

// podTemplate is one workload's pod, Deployment or CronJob.
type podTemplate struct {
	kind, name string
	spec       *corev1.PodSpec
	labels     map[string]string
	suspended  bool
}

func (m *manifests) pods() []podTemplate {
	var out []podTemplate
	for _, d := range m.deployments {
		out = append(out, podTemplate{"Deployment", d.Name, &d.Spec.Template.Spec, d.Spec.Template.Labels, false})
	}
	for _, c := range m.cronJobs {
		tpl := &c.Spec.JobTemplate.Spec.Template
		out = append(out, podTemplate{"CronJob", c.Name, &tpl.Spec, tpl.Labels, c.Spec.Suspend != nil && *c.Spec.Suspend})
	}
	return out
}

func (m *manifests) deployment(t *testing.T, name string) *appsv1.Deployment {
	t.Helper()
	for _, d := range m.deployments {
		if d.Name == name {
			return d
		}
	}
	t.Fatalf("%s: no Deployment %s", m.target, name)
	return nil
}

// configMap finds a generated ConfigMap by its name before kustomize's hash.
func (m *manifests) configMap(t *testing.T, name string) *corev1.ConfigMap {
	t.Helper()
	for full, cm := range m.configMaps {
		if full == name || (strings.HasPrefix(full, name+"-") && strings.Count(full[len(name)+1:], "-") == 0) {
			return cm
		}
	}
	t.Fatalf("%s: no ConfigMap %s", m.target, name)
	return nil
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func containsAll(have []string, want ...string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}
