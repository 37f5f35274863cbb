package kubernetes_test

import (
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

// metricsPort is metrics.listen's port in config/orderflow.yaml.
const metricsPort = 9464

// servesMetrics are the commands that serve /metrics, /healthz and /readyz:
// run and dispatch for as long as they run, purge and offboard while they run.
// The others serve nothing, so a liveness probe would kill them.
var servesMetrics = []string{"run", "dispatch", "purge", "offboard", "erase", "notifications"}

// TestEveryPodIsRestricted: every container of every workload runs as the
// image's non-root user with a read-only root filesystem, no privilege
// escalation, no capability and the runtime's seccomp profile, and holds no
// Kubernetes API token.
func TestEveryPodIsRestricted(t *testing.T) {
	for _, m := range renderAll(t) {
		for _, p := range m.pods() {
			where := m.target + ": " + p.kind + " " + p.name
			ps := p.spec.SecurityContext
			if ps == nil || !isTrue(ps.RunAsNonRoot) || ps.RunAsUser == nil || *ps.RunAsUser != 65532 ||
				ps.SeccompProfile == nil || ps.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
				t.Errorf("%s: the pod's securityContext is not runAsNonRoot, uid 65532, seccomp RuntimeDefault: %+v", where, ps)
			}
			if p.spec.AutomountServiceAccountToken == nil || *p.spec.AutomountServiceAccountToken {
				t.Errorf("%s: mounts a Kubernetes API token; it needs none (Vault gets a projected token)", where)
			}
			if p.spec.HostNetwork || p.spec.HostPID || p.spec.HostIPC {
				t.Errorf("%s: shares a host namespace", where)
			}
			for _, c := range p.spec.Containers {
				sc := c.SecurityContext
				switch {
				case sc == nil:
					t.Errorf("%s, container %s: no securityContext", where, c.Name)
				case !isTrue(sc.RunAsNonRoot), sc.RunAsUser == nil || *sc.RunAsUser != 65532:
					t.Errorf("%s, container %s: not runAsNonRoot as uid 65532", where, c.Name)
				case !isTrue(sc.ReadOnlyRootFilesystem):
					t.Errorf("%s, container %s: the root filesystem is writable", where, c.Name)
				case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation, isTrue(sc.Privileged):
					t.Errorf("%s, container %s: may escalate privileges", where, c.Name)
				case sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0:
					t.Errorf("%s, container %s: capabilities are not drop [ALL]: %+v", where, c.Name, sc.Capabilities)
				case sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault:
					t.Errorf("%s, container %s: seccomp is not RuntimeDefault", where, c.Name)
				}
			}
			if len(p.spec.InitContainers)+len(p.spec.EphemeralContainers) > 0 {
				t.Errorf("%s: has init or ephemeral containers, which this test does not check", where)
			}
		}
	}
}

// TestEveryContainerHasResourcesAndProbes: requests and limits for CPU and
// memory (requests no higher than limits), and for every command that serves
// metrics a liveness probe on /healthz and a readiness probe on /readyz on the
// metrics port; the others, which serve nothing, no probe.
func TestEveryContainerHasResourcesAndProbes(t *testing.T) {
	for _, m := range renderAll(t) {
		for _, p := range m.pods() {
			for _, c := range p.spec.Containers {
				where := m.target + ": " + p.kind + " " + p.name + ", container " + c.Name
				for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
					req, okReq := c.Resources.Requests[r]
					lim, okLim := c.Resources.Limits[r]
					if !okReq || !okLim {
						t.Errorf("%s: %s needs a request and a limit", where, r)
					} else if req.Cmp(lim) > 0 {
						t.Errorf("%s: %s request %s above its limit %s", where, r, req.String(), lim.String())
					}
				}
				if len(c.Args) == 0 {
					t.Errorf("%s: no command in args", where)
					continue
				}
				if !slices.Contains(servesMetrics, c.Args[0]) {
					if p.kind == "Deployment" {
						t.Errorf("%s: a Deployment whose command %s serves no probe", where, c.Args[0])
					}
					if c.LivenessProbe != nil || c.ReadinessProbe != nil {
						t.Errorf("%s: %s serves no metrics, yet has probes that would fail", where, c.Args[0])
					}
					continue
				}
				checkProbe(t, where+" liveness", c, c.LivenessProbe, "/healthz")
				checkProbe(t, where+" readiness", c, c.ReadinessProbe, "/readyz")
			}
		}
	}
}

func checkProbe(t *testing.T, where string, c corev1.Container, probe *corev1.Probe, path string) {
	t.Helper()
	if probe == nil || probe.HTTPGet == nil {
		t.Errorf("%s: no HTTP probe on %s", where, path)
		return
	}
	if probe.HTTPGet.Path != path {
		t.Errorf("%s: probes %s, want %s", where, probe.HTTPGet.Path, path)
	}
	if port := containerPort(c, probe.HTTPGet.Port); port != metricsPort {
		t.Errorf("%s: probes port %s = %d, want the metrics listener's %d", where, probe.HTTPGet.Port.String(), port, metricsPort)
	}
}

func containerPort(c corev1.Container, port intstr.IntOrString) int32 {
	if port.Type == intstr.Int {
		return port.IntVal
	}
	for _, p := range c.Ports {
		if p.Name == port.StrVal {
			return p.ContainerPort
		}
	}
	return 0
}

// TestEveryPodHasItsOwnRole: each pod that talks to Vault runs as the
// ServiceAccount of its role, logs in as that role, mounts the projected token
// for Vault's audience only, and every Secret it references is its role's.
func TestEveryPodHasItsOwnRole(t *testing.T) {
	for _, m := range renderAll(t) {
		for _, p := range m.pods() {
			where := m.target + ": " + p.kind + " " + p.name
			c := p.spec.Containers[0]
			role := envValue(c, "ORDERFLOW_VAULT_AUTH_KUBERNETES_ROLE")
			if role == "" {
				if p.spec.ServiceAccountName != "" {
					t.Errorf("%s: runs as %s but logs in to Vault as no role", where, p.spec.ServiceAccountName)
				}
				continue
			}
			if p.spec.ServiceAccountName != role {
				t.Errorf("%s: logs in to Vault as %s but runs as ServiceAccount %q: apply.sh --kubernetes binds each role to its own account", where, role, p.spec.ServiceAccountName)
			}
			if _, ok := m.accounts[p.spec.ServiceAccountName]; !ok {
				t.Errorf("%s: ServiceAccount %s is not in the manifests", where, p.spec.ServiceAccountName)
			}
			if !hasVaultToken(p.spec) {
				t.Errorf("%s: no projected service-account token for audience vault", where)
			}
		}
	}
}

func hasVaultToken(spec *corev1.PodSpec) bool {
	for _, v := range spec.Volumes {
		if v.Projected == nil {
			continue
		}
		for _, s := range v.Projected.Sources {
			if s.ServiceAccountToken != nil && s.ServiceAccountToken.Audience == "vault" {
				return true
			}
		}
	}
	return false
}

func envValue(c corev1.Container, name string) string {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

// TestProductionStaysInTheUK: every production pod may run only on nodes of
// the UK region's Glasgow and London zones (components/uk-residency's values),
// and every Deployment spreads over both zones.
func TestProductionStaysInTheUK(t *testing.T) {
	var residency corev1.ConfigMap
	if err := yaml.UnmarshalStrict(readFile(t, "components/uk-residency/residency.yaml"), &residency); err != nil {
		t.Fatal(err)
	}
	region, zones := residency.Data["region"], []string{residency.Data["glasgow"], residency.Data["london"]}
	if region == "" || zones[0] == "" || zones[1] == "" || zones[0] == zones[1] {
		t.Fatalf("residency.yaml names region %q and zones %q: want one region and two zones", region, zones)
	}
	m, err := render("overlays/production")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range m.pods() {
		where := p.kind + " " + p.name
		if !pinned(p.spec, region, zones) {
			t.Errorf("%s: not pinned to region %s, zones %v by required node affinity: %+v", where, region, zones, p.spec.Affinity)
		}
		if p.kind != "Deployment" {
			continue
		}
		spread := map[string]corev1.UnsatisfiableConstraintAction{}
		for _, c := range p.spec.TopologySpreadConstraints {
			if c.MaxSkew != 1 || c.LabelSelector == nil || !selects(c.LabelSelector.MatchLabels, p.labels) {
				t.Errorf("%s: spread constraint on %s does not count this workload's pods with maxSkew 1", where, c.TopologyKey)
			}
			spread[c.TopologyKey] = c.WhenUnsatisfiable
		}
		if spread["topology.kubernetes.io/zone"] != corev1.DoNotSchedule {
			t.Errorf("%s: not spread over the zones with DoNotSchedule: %v", where, spread)
		}
		if _, ok := spread["topology.kubernetes.io/region"]; !ok {
			t.Errorf("%s: no spread constraint on the region: %v", where, spread)
		}
	}
	staging, err := render("overlays/staging")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range staging.pods() {
		if p.spec.Affinity != nil {
			t.Errorf("staging: %s %s is pinned too; the residency component is production's", p.kind, p.name)
		}
	}
}

// pinned reports whether every node selector term requires region and one of
// zones (terms are ORed, so each must).
func pinned(spec *corev1.PodSpec, region string, zones []string) bool {
	if spec.Affinity == nil || spec.Affinity.NodeAffinity == nil || spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return false
	}
	terms := spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
	if len(terms) == 0 {
		return false
	}
	for _, term := range terms {
		var okRegion, okZone bool
		for _, e := range term.MatchExpressions {
			if e.Operator != corev1.NodeSelectorOpIn {
				continue
			}
			switch e.Key {
			case "topology.kubernetes.io/region":
				okRegion = slices.Equal(e.Values, []string{region})
			case "topology.kubernetes.io/zone":
				okZone = slices.Equal(slices.Sorted(slices.Values(e.Values)), slices.Sorted(slices.Values(zones)))
			}
		}
		if !okRegion || !okZone {
			return false
		}
	}
	return true
}

// selects reports whether every label of selector is in labels.
func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func isTrue(b *bool) bool { return b != nil && *b }

// imageOf is the image of a workload's container, for the overlays' check.
func imageOf(spec *corev1.PodSpec) string { return spec.Containers[0].Image }

// TestOverlaysNameTheBuiltImage: the overlays run make image's image, never a
// bare name a node would pull from a public registry.
func TestOverlaysNameTheBuiltImage(t *testing.T) {
	for _, m := range renderAll(t) {
		if m.target == "base" {
			continue
		}
		for _, p := range m.pods() {
			if img := imageOf(p.spec); !strings.HasPrefix(img, "localhost/orderflow:") {
				t.Errorf("%s: %s %s runs image %q, want localhost/orderflow:<version>", m.target, p.kind, p.name, img)
			}
		}
	}
}
