package kubernetes_test

import (
	"maps"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/topics"
)

// secretsDir is where every pod mounts its Secrets and Vault's token; the
// configuration's file references point under it.
const secretsDir = "/var/run/secrets/"

var fileRef = regexp.MustCompile(`(?m)\{file: (` + secretsDir + `\S+)\}|_FILE=(` + secretsDir + `\S+)`)

// TestEveryPodsConfigurationLoads loads each container's configuration as it
// would at start, with worker/config itself: the file its --config names, from
// the rendered ConfigMap, with the container's ORDERFLOW_* environment (the
// environment ConfigMap's and its own) over it. An unknown key, a bad value or
// a missing file fails it, as the pod would: the test lays out, under a
// directory of its own, exactly the files the container's volumes mount (each
// Secret's items, the projected token), so a secret, a CA or a client
// certificate that the configuration names and no volume mounts is missing
// there as it would be in the pod. Each server the pod may reach (its
// orderflow.io/egress-* labels) must be reached over TLS with a mounted CA, and
// Kafka and ClickHouse with a client certificate (mutual TLS).
func TestEveryPodsConfigurationLoads(t *testing.T) {
	for _, lp := range loadAllPods(t) {
		checkTransport(t, lp)
		checkReplicas(t, lp.where, lp.m, lp.pod, lp.c, lp.cfg)
	}
}

// loadedPod is one container whose configuration loaded.
type loadedPod struct {
	where string
	m     *manifests
	pod   podTemplate
	c     corev1.Container
	cfg   config.Config
	// dir is where the test laid out the container's mounts: a path P of the
	// pod is dir+P here.
	dir string
}

// loadAllPods loads every container's configuration in every target (a
// container whose configuration does not load is an error, and left out).
func loadAllPods(t *testing.T) []loadedPod {
	t.Helper()
	known := map[string]bool{}
	for _, k := range config.Keys() {
		known[k.Env] = true
	}
	var out []loadedPod
	for _, m := range renderAll(t) {
		cfgMap := m.configMap(t, "orderflow-config")
		envMap := m.configMap(t, "orderflow-environment")
		for _, p := range m.pods() {
			for _, c := range p.spec.Containers {
				where := m.target + ": " + p.kind + " " + p.name
				dir := t.TempDir()
				if cfg := loadContainerConfig(t, where, p.spec, c, cfgMap, envMap, known, dir); cfg != nil {
					out = append(out, loadedPod{where, m, p, c, *cfg, dir})
				}
			}
		}
	}
	return out
}

// containerEnviron is the container's environment as the pod would see it:
// the envFrom ConfigMap's, then its own (a Secret's value as "from-<Secret>").
func containerEnviron(t *testing.T, where string, c corev1.Container, envMap *corev1.ConfigMap) []string {
	t.Helper()
	var environ []string
	for _, from := range c.EnvFrom {
		if from.ConfigMapRef == nil || from.ConfigMapRef.Name != envMap.Name {
			t.Errorf("%s: envFrom %+v is not the environment ConfigMap", where, from)
			continue
		}
		for _, k := range slices.Sorted(maps.Keys(envMap.Data)) {
			environ = append(environ, k+"="+envMap.Data[k])
		}
	}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			environ = append(environ, e.Name+"="+e.Value)
		case e.ValueFrom.SecretKeyRef != nil:
			environ = append(environ, e.Name+"=from-"+e.ValueFrom.SecretKeyRef.Name)
		}
	}
	return environ
}

func loadContainerConfig(t *testing.T, where string, spec *corev1.PodSpec, c corev1.Container, cfgMap, envMap *corev1.ConfigMap, known map[string]bool, dir string) *config.Config {
	t.Helper()
	i := slices.Index(c.Args, "--config")
	if i < 0 || i+1 >= len(c.Args) || !strings.HasPrefix(c.Args[i+1], "/etc/orderflow/") {
		t.Errorf("%s: args %q name no --config under /etc/orderflow", where, c.Args)
		return nil
	}
	text, ok := cfgMap.Data[strings.TrimPrefix(c.Args[i+1], "/etc/orderflow/")]
	if !ok {
		t.Errorf("%s: --config %s is not a key of ConfigMap %s", where, c.Args[i+1], cfgMap.Name)
		return nil
	}
	environ := containerEnviron(t, where, c, envMap)
	for _, kv := range environ {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, config.EnvPrefix) && !known[name] {
			t.Errorf("%s: %s is no configuration key's variable: it would be ignored", where, name)
		}
	}
	// Every secret file referenced, by the file or the environment, must be
	// under one of the container's mounts.
	refs := fileRef.FindAllStringSubmatch(text+"\n"+strings.Join(environ, "\n"), -1)
	var referenced []string
	for _, match := range refs {
		path := match[1] + match[2]
		referenced = append(referenced, path)
		if !mountedAt(c, path) {
			t.Errorf("%s: references %s, which none of its volumes mounts", where, path)
		}
	}
	layOutMounts(t, where, spec, c, referenced, dir)
	text = strings.ReplaceAll(text, secretsDir, dir+secretsDir)
	for i := range environ {
		environ[i] = strings.ReplaceAll(environ[i], secretsDir, dir+secretsDir)
	}
	file := filepath.Join(dir, "orderflow.yaml")
	if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(file, environ)
	if err != nil {
		t.Errorf("%s: its configuration does not load: %v", where, err)
		return nil
	}
	if cfg.Vault.Address != "" && cfg.Vault.Auth.Method != "kubernetes" || cfg.Vault.Auth.Kubernetes.Role != envValue(c, "ORDERFLOW_VAULT_AUTH_KUBERNETES_ROLE") && envValue(c, "ORDERFLOW_VAULT_AUTH_KUBERNETES_ROLE") != "" {
		t.Errorf("%s: Vault login %s as %s", where, cfg.Vault.Auth.Method, cfg.Vault.Auth.Kubernetes.Role)
	}
	return &cfg
}

// layOutMounts writes under dir a stand-in for every file the container's
// volume mounts provide under secretsDir: a Secret's items, a projected
// volume's token and items; for a Secret mounted whole (its keys unknown
// here), the referenced files under its mount.
func layOutMounts(t *testing.T, where string, spec *corev1.PodSpec, c corev1.Container, referenced []string, dir string) {
	t.Helper()
	volumes := map[string]corev1.Volume{}
	for _, v := range spec.Volumes {
		volumes[v.Name] = v
	}
	var files []string
	for _, vm := range c.VolumeMounts {
		if !strings.HasPrefix(vm.MountPath, secretsDir) {
			continue
		}
		if !vm.ReadOnly {
			t.Errorf("%s: mounts %s writable", where, vm.MountPath)
		}
		v, ok := volumes[vm.Name]
		if !ok {
			t.Errorf("%s: mounts volume %s, which the pod has not", where, vm.Name)
			continue
		}
		switch {
		case v.Secret != nil && len(v.Secret.Items) > 0:
			for _, item := range v.Secret.Items {
				files = append(files, path.Join(vm.MountPath, item.Path))
			}
		case v.Secret != nil:
			for _, ref := range referenced {
				if strings.HasPrefix(ref, strings.TrimSuffix(vm.MountPath, "/")+"/") {
					files = append(files, ref)
				}
			}
		case v.Projected != nil:
			for _, s := range v.Projected.Sources {
				if s.ServiceAccountToken != nil {
					files = append(files, path.Join(vm.MountPath, s.ServiceAccountToken.Path))
				}
				if s.Secret != nil {
					for _, item := range s.Secret.Items {
						files = append(files, path.Join(vm.MountPath, item.Path))
					}
				}
			}
		default:
			t.Errorf("%s: mounts volume %s at %s, neither a Secret nor a projected token", where, vm.Name, vm.MountPath)
		}
	}
	for _, f := range files {
		local := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(local), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(local, []byte("stand-in\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// checkTransport: each server the pod may reach is reached over TLS, with the
// CA (and for Kafka and ClickHouse the client certificate and key) from files
// its volumes mount; Kafka with SCRAM. Load reads the Kafka and ClickHouse
// files already; Vault's CA and token are read only when it connects.
func checkTransport(t *testing.T, lp loadedPod) {
	t.Helper()
	mounted := func(path string) bool {
		if !strings.HasPrefix(path, lp.dir+secretsDir) {
			return false
		}
		_, err := os.Stat(path)
		return err == nil
	}
	cfg := lp.cfg
	if lp.pod.labels["orderflow.io/egress-kafka"] == "true" {
		k := cfg.Kafka.TLS
		if !k.Enabled || !mounted(k.CAFile) || !mounted(k.CertFile) || !mounted(k.KeyFile) {
			t.Errorf("%s: reaches Kafka without mutual TLS from mounted files: %+v", lp.where, k)
		}
		if !strings.HasPrefix(cfg.Kafka.SASL.Mechanism, "scram-") || !mounted(cfg.Kafka.SASL.Password.File) {
			t.Errorf("%s: reaches Kafka without a SCRAM login whose password is a mounted file", lp.where)
		}
	}
	if lp.pod.labels["orderflow.io/egress-clickhouse"] == "true" {
		ch := cfg.ClickHouse.TLS
		if !ch.Enabled || !mounted(ch.CAFile) || !mounted(ch.CertFile) || !mounted(ch.KeyFile) {
			t.Errorf("%s: reaches ClickHouse without mutual TLS from mounted files: %+v", lp.where, ch)
		}
	}
	if lp.pod.labels["orderflow.io/egress-vault"] == "true" {
		if !strings.HasPrefix(cfg.Vault.Address, "https://") || !mounted(cfg.Vault.CACertFile) {
			t.Errorf("%s: reaches Vault at %s without its CA from a mounted file (vault.ca_cert_file %q)", lp.where, cfg.Vault.Address, cfg.Vault.CACertFile)
		}
		if !mounted(cfg.Vault.Auth.Kubernetes.TokenFile) {
			t.Errorf("%s: logs in to Vault with %s, which no volume mounts", lp.where, cfg.Vault.Auth.Kubernetes.TokenFile)
		}
	}
}

func mountedAt(c corev1.Container, path string) bool {
	for _, vm := range c.VolumeMounts {
		if strings.HasPrefix(path, strings.TrimSuffix(vm.MountPath, "/")+"/") {
			return true
		}
	}
	return false
}

// checkReplicas holds a consumer's replicas to the partitions of its topics:
// kafka-go's default range assignor shares each topic among the group on its
// own, so a member beyond a topic's partitions gets none of it.
func checkReplicas(t *testing.T, where string, m *manifests, p podTemplate, c corev1.Container, cfg config.Config) {
	t.Helper()
	var read []string
	switch c.Args[0] {
	case "run":
		read = cfg.Kafka.Topics.Orders()
	case "dispatch":
		read = []string{cfg.Kafka.Topics.Courier, cfg.Kafka.Topics.Accounting}
	default:
		return
	}
	specs := topics.Pipeline(topics.Names{Orders: cfg.Kafka.Topics.Orders(), DeadLetter: cfg.Kafka.Topics.DeadLetter,
		Courier: cfg.Kafka.Topics.Courier, Accounting: cfg.Kafka.Topics.Accounting, Parked: cfg.Kafka.Topics.Parked})
	bound := 0
	for _, s := range specs {
		if slices.Contains(read, s.Name) && (bound == 0 || s.Partitions < bound) {
			bound = s.Partitions
		}
	}
	if p.kind != "Deployment" || bound == 0 {
		t.Errorf("%s: %s reads %v, whose partitions are unknown", where, c.Args[0], read)
		return
	}
	replicas := int32(1) // the API server's default
	if r := m.deployment(t, p.name).Spec.Replicas; r != nil {
		replicas = *r
	}
	if replicas < 1 || int(replicas) > bound {
		t.Errorf("%s: %d replicas, want 1 to %d, the fewest partitions of %v", where, replicas, bound, read)
	}
}

// TestDispatcherConfigurationIsTheOthersPlusConnectors: the dispatcher's file
// is everyone's file and the connectors with their egress allow-list, nothing
// else, and kafka-apply's is everyone's kafka section alone, in every target.
func TestDispatcherConfigurationIsTheOthersPlusConnectors(t *testing.T) {
	for _, m := range renderAll(t) {
		cm := m.configMap(t, "orderflow-config")
		var common, dispatcher, kafkaApply map[string]any
		for key, into := range map[string]*map[string]any{"orderflow.yaml": &common, "dispatcher.yaml": &dispatcher, "kafka-apply.yaml": &kafkaApply} {
			if err := yaml.Unmarshal([]byte(cm.Data[key]), into); err != nil {
				t.Fatalf("%s: %s: %v", m.target, key, err)
			}
		}
		for _, key := range []string{"connectors", "egress"} {
			if _, ok := common[key]; ok {
				t.Errorf("%s: orderflow.yaml has %s: the connectors are the dispatcher's alone (every role would need their credentials)", m.target, key)
			}
			if _, ok := dispatcher[key]; !ok {
				t.Errorf("%s: dispatcher.yaml has no %s", m.target, key)
			}
			delete(dispatcher, key)
		}
		if diff := cmp.Diff(common, dispatcher); diff != "" {
			t.Errorf("%s: dispatcher.yaml differs from orderflow.yaml outside connectors and egress (-orderflow.yaml +dispatcher.yaml):\n%s", m.target, diff)
		}
		if diff := cmp.Diff(map[string]any{"kafka": common["kafka"]}, kafkaApply); diff != "" {
			t.Errorf("%s: kafka-apply.yaml is not orderflow.yaml's kafka section alone (-want +kafka-apply.yaml):\n%s", m.target, diff)
		}
	}
}
