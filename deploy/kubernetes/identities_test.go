package kubernetes_test

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	chroles "github.com/orderflow/orderflow/deploy/clickhouse"
	"github.com/orderflow/orderflow/worker/topics"
)

// clickHouseRoleOf is the ClickHouse role (deploy/clickhouse/roles.go) of each
// command the manifests run; the test holds it to the role's own Uses.
var clickHouseRoleOf = map[string]string{
	"run":        "writer",
	"dispatch":   "dispatcher",
	"purge":      "purger",
	"offboard":   "offboarding",
	"migrate":    "migrator",
	"replay-dlq": "dlq_replay",
	"erase":      "eraser",
}

// TestEveryPodUsesItsOwnClickHouseUser: each pod that reaches ClickHouse logs
// in as its command's user of deploy/clickhouse (orderflow_<role>, whose Uses
// names the command), with the password of the Secret
// orderflow-clickhouse-<role>; every workload role of deploy/clickhouse is
// some pod's; a pod that does not reach ClickHouse holds no ClickHouse login.
func TestEveryPodUsesItsOwnClickHouseUser(t *testing.T) {
	roles := map[string]chroles.Role{}
	for _, r := range chroles.Roles() {
		if r.Audience == chroles.Workload {
			roles[r.Name] = r
		}
	}
	for _, m := range renderAll(t) {
		used := map[string]bool{}
		for _, p := range m.pods() {
			where := m.target + ": " + p.kind + " " + p.name
			c := p.spec.Containers[0]
			user := envValue(c, "ORDERFLOW_CLICKHOUSE_USERNAME")
			secret := volumeSecret(p.spec, c, "/var/run/secrets/orderflow/clickhouse")
			if p.labels["orderflow.io/egress-clickhouse"] != "true" {
				if user != "" || secret != "" || hasEnv(c, "ORDERFLOW_CLICKHOUSE_USERNAME") {
					t.Errorf("%s: reaches no ClickHouse but holds a ClickHouse login (user %q, Secret %q)", where, user, secret)
				}
				continue
			}
			name, ok := clickHouseRoleOf[c.Args[0]]
			role, known := roles[name]
			if !ok || !known {
				t.Errorf("%s: %s has no ClickHouse workload role in deploy/clickhouse", where, c.Args[0])
				continue
			}
			if !strings.Contains(role.Uses, "orderflow "+c.Args[0]) {
				t.Errorf("%s: ClickHouse role %s is for %q, not orderflow %s", where, name, role.Uses, c.Args[0])
			}
			used[name] = true
			if want := role.User("orderflow_"); user != want {
				t.Errorf("%s: ClickHouse user %q (ORDERFLOW_CLICKHOUSE_USERNAME, a literal), want %s", where, user, want)
			}
			if want := "orderflow-clickhouse-" + strings.ReplaceAll(name, "_", "-"); secret != want {
				t.Errorf("%s: ClickHouse password from Secret %q, want %s", where, secret, want)
			}
		}
		for name := range roles {
			if !used[name] {
				t.Errorf("%s: ClickHouse role %s of deploy/clickhouse is no pod's", m.target, name)
			}
		}
	}
}

// TestKafkaPrincipalsAreTopicsYAMLs: each pod that uses Kafka logs in as a
// principal of deploy/kafka/topics.yaml (its SCRAM username, a literal), whose
// ACLs let it read every consumer group its commands use (the worker's
// kafka.group_id; the dispatcher's dispatch.group_id and accounting_group_id;
// replay-parked's dispatch.replay_group_id, run from replay-dlq's pod); every
// principal of the file is some pod's. kafka-apply logs in as the admin (from
// its Secret, no principal of the file), with the file and the overlay's
// environment, and the topics ConfigMap is topics.yaml itself.
func TestKafkaPrincipalsAreTopicsYAMLs(t *testing.T) {
	source := readFile(t, "../kafka/topics.yaml")
	file, err := topics.ParseFile(source)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := file.Plan("production", "")
	if err != nil {
		t.Fatal(err)
	}
	readsGroup := map[string][]string{} // principal -> groups it may read
	for _, a := range plan.ACLs {
		if a.ResourceType == "group" && a.Operation == "Read" && !a.Prefixed {
			readsGroup[a.Principal] = append(readsGroup[a.Principal], a.Name)
		} else if _, ok := readsGroup[a.Principal]; !ok {
			readsGroup[a.Principal] = nil
		}
	}
	perTarget := map[string]map[string]bool{}
	for _, lp := range loadAllPods(t) {
		if perTarget[lp.m.target] == nil {
			perTarget[lp.m.target] = map[string]bool{}
		}
		if lp.pod.labels["orderflow.io/egress-kafka"] != "true" {
			if hasEnv(lp.c, "ORDERFLOW_KAFKA_SASL_USERNAME") || volumeSecret(lp.pod.spec, lp.c, "/var/run/secrets/orderflow/kafka") != "" {
				t.Errorf("%s: reaches no Kafka but holds a Kafka login", lp.where)
			}
			continue
		}
		if lp.c.Args[0] == "kafka-apply" {
			checkKafkaApply(t, lp, source)
			continue
		}
		user := envValue(lp.c, "ORDERFLOW_KAFKA_SASL_USERNAME")
		principal := "User:" + user
		groups, ok := readsGroup[principal]
		if user == "" || !ok {
			t.Errorf("%s: Kafka username %q (ORDERFLOW_KAFKA_SASL_USERNAME, a literal) is no principal of deploy/kafka/topics.yaml", lp.where, user)
			continue
		}
		perTarget[lp.m.target][principal] = true
		var uses []string
		switch lp.c.Args[0] {
		case "run":
			uses = []string{lp.cfg.Kafka.GroupID}
		case "dispatch":
			uses = []string{lp.cfg.Dispatch.GroupID, lp.cfg.Dispatch.AccountingGroupID}
		case "erase":
			uses = []string{lp.cfg.Kafka.GroupID + ".erasure"}
		case "notifications":
			// It writes requests.erasure and reads nothing.
		case "replay-dlq":
			// replay-parked runs from this pod's template (README.md).
			uses = []string{lp.cfg.Dispatch.ReplayGroupID}
		default:
			t.Errorf("%s: %s uses Kafka, and this test does not know its consumer groups", lp.where, lp.c.Args[0])
		}
		for _, g := range uses {
			if !slices.Contains(groups, g) {
				t.Errorf("%s: consumer group %s, which topics.yaml does not let %s read (it may read %v)", lp.where, g, principal, groups)
			}
		}
	}
	for target, seen := range perTarget {
		for principal := range readsGroup {
			if !seen[principal] {
				t.Errorf("%s: topics.yaml's principal %s is no pod's Kafka login", target, principal)
			}
		}
	}
}

func checkKafkaApply(t *testing.T, lp loadedPod, source []byte) {
	t.Helper()
	if e := envEntry(lp.c, "ORDERFLOW_KAFKA_SASL_USERNAME"); e == nil || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil ||
		e.ValueFrom.SecretKeyRef.Name != "orderflow-kafka-admin" {
		t.Errorf("%s: logs in to Kafka as other than the admin of Secret orderflow-kafka-admin", lp.where)
	}
	flags := map[string]string{}
	for i := 1; i+1 < len(lp.c.Args); i += 2 {
		flags[lp.c.Args[i]] = expand(lp.c.Args[i+1], lp.m.configMap(t, "orderflow-environment").Data)
	}
	want := map[string]string{"overlays/production": "production", "overlays/staging": "staging"}[lp.m.target]
	if env := flags["--environment"]; want != "" && env != want {
		t.Errorf("%s: --environment %q, want %s", lp.where, env, want)
	}
	file := flags["--file"]
	var topicsMap *corev1.ConfigMap
	for _, v := range lp.pod.spec.Volumes {
		if v.ConfigMap != nil && slices.ContainsFunc(lp.c.VolumeMounts, func(vm corev1.VolumeMount) bool {
			return vm.Name == v.Name && strings.TrimSuffix(vm.MountPath, "/")+"/topics.yaml" == file
		}) {
			topicsMap = lp.m.configMaps[v.ConfigMap.Name]
		}
	}
	if topicsMap == nil || topicsMap.Data["topics.yaml"] != string(source) {
		t.Errorf("%s: --file %s is not deploy/kafka/topics.yaml from a mounted ConfigMap", lp.where, file)
	}
}

// expand replaces $(NAME) as the kubelet does in args, from env.
func expand(arg string, env map[string]string) string {
	for k, v := range env {
		arg = strings.ReplaceAll(arg, "$("+k+")", v)
	}
	return arg
}

// TestConnectorsStayWithinTheirEgress: in the overlays, the dispatcher's
// egress allow-list names no loopback host and no host that no connector
// calls (each entry is reviewed for residency: a stale one is a hole), and
// every connector URL's port is one the NetworkPolicy
// orderflow-egress-connectors opens.
func TestConnectorsStayWithinTheirEgress(t *testing.T) {
	for _, lp := range loadAllPods(t) {
		if lp.c.Args[0] != "dispatch" || lp.m.target == "base" {
			continue
		}
		var ports []int
		for _, p := range lp.m.policies {
			if p.Name == "orderflow-egress-connectors" {
				for _, rule := range p.Spec.Egress {
					for _, port := range rule.Ports {
						ports = append(ports, port.Port.IntValue())
					}
				}
			}
		}
		called := map[string]bool{}
		for name, c := range lp.cfg.Connectors {
			for key, raw := range map[string]string{"endpoint": c.Endpoint, "accounting.token_url": c.Accounting.TokenURL} {
				if raw == "" {
					continue
				}
				u, err := url.Parse(raw)
				if err != nil {
					t.Fatalf("%s: connectors.%s.%s: %v", lp.where, name, key, err)
				}
				port := u.Port()
				if port == "" {
					port = map[string]string{"https": "443", "http": "80"}[u.Scheme]
				}
				if !slices.Contains(ports, atoi(port)) {
					t.Errorf("%s: connectors.%s.%s calls port %s, which orderflow-egress-connectors does not open (%v)", lp.where, name, key, port, ports)
				}
				called[strings.ToLower(u.Hostname())] = true
			}
		}
		entries := slices.Clone(lp.cfg.Egress.AllowedHosts)
		for _, hosts := range lp.cfg.Egress.Tenants {
			entries = append(entries, hosts...)
		}
		for _, h := range entries {
			if h == "localhost" || h == "127.0.0.1" || h == "::1" {
				t.Errorf("%s: egress allows the loopback host %s (worker/config's default, for tests)", lp.where, h)
			} else if !called[strings.ToLower(h)] {
				t.Errorf("%s: egress allows %s, which no connector calls", lp.where, h)
			}
		}
	}
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return -1
	}
	return n
}

// volumeSecret is the Secret of the volume the container mounts at
// mountPath, or "".
func volumeSecret(spec *corev1.PodSpec, c corev1.Container, mountPath string) string {
	for _, vm := range c.VolumeMounts {
		if vm.MountPath != mountPath {
			continue
		}
		for _, v := range spec.Volumes {
			if v.Name == vm.Name && v.Secret != nil {
				return v.Secret.SecretName
			}
		}
	}
	return ""
}

func envEntry(c corev1.Container, name string) *corev1.EnvVar {
	for i := range c.Env {
		if c.Env[i].Name == name {
			return &c.Env[i]
		}
	}
	return nil
}

func hasEnv(c corev1.Container, name string) bool { return envEntry(c, name) != nil }

// TestMetricsSchemeIsTheListeners: the probes and the scrape speak what the
// metrics listener serves, HTTPS with a CA to verify it if metrics.tls is set
// (README.md says why production leaves it off), plain HTTP otherwise: turning
// it on in the configuration alone would fail every probe and scrape.
func TestMetricsSchemeIsTheListeners(t *testing.T) {
	for _, lp := range loadAllPods(t) {
		tls := lp.cfg.Metrics.TLS.Enabled()
		want := corev1.URISchemeHTTP
		if tls {
			want = corev1.URISchemeHTTPS
		}
		for _, probe := range []*corev1.Probe{lp.c.LivenessProbe, lp.c.ReadinessProbe} {
			if probe == nil || probe.HTTPGet == nil {
				continue
			}
			if got := cmpOr(probe.HTTPGet.Scheme, corev1.URISchemeHTTP); got != want {
				t.Errorf("%s: probes %s with scheme %s, but the listener serves %s", lp.where, probe.HTTPGet.Path, got, want)
			}
		}
		if lp.pod.labels["orderflow.io/scraped"] != "true" {
			continue
		}
		for _, sm := range lp.m.monitors {
			for _, ep := range sm.Spec.Endpoints {
				https := ep.Scheme != nil && strings.EqualFold(string(*ep.Scheme), "https")
				if https != tls || tls && ep.TLSConfig == nil {
					t.Errorf("%s: ServiceMonitor %s scrapes port %s with scheme %v (tlsConfig %v); the listener serves %s", lp.where, sm.Name, ep.Port, ep.Scheme, ep.TLSConfig != nil, want)
				}
			}
		}
	}
}

func cmpOr[T comparable](v, fallback T) T {
	var zero T
	if v == zero {
		return fallback
	}
	return v
}
