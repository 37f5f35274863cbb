package kubernetes_test

import (
	"maps"
	"os"
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
// a missing reference fails it, as the pod would. Each secret the file or the
// environment references must be under one of the container's mounts; the test
// puts a stand-in at each.
func TestEveryPodsConfigurationLoads(t *testing.T) {
	known := map[string]bool{}
	for _, k := range config.Keys() {
		known[k.Env] = true
	}
	for _, m := range renderAll(t) {
		cfgMap := m.configMap(t, "orderflow-config")
		envMap := m.configMap(t, "orderflow-environment")
		for _, p := range m.pods() {
			for _, c := range p.spec.Containers {
				where := m.target + ": " + p.kind + " " + p.name
				cfg := loadContainerConfig(t, where, c, cfgMap, envMap, known)
				if cfg == nil {
					continue
				}
				checkReplicas(t, where, m, p, c, *cfg)
			}
		}
	}
}

func loadContainerConfig(t *testing.T, where string, c corev1.Container, cfgMap, envMap *corev1.ConfigMap, known map[string]bool) *config.Config {
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
	for _, kv := range environ {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, config.EnvPrefix) && !known[name] {
			t.Errorf("%s: %s is no configuration key's variable: it would be ignored", where, name)
		}
	}
	// Every secret file referenced, by the file or the environment, must be
	// mounted; the test serves a stand-in from a directory of its own.
	dir := t.TempDir()
	for _, match := range fileRef.FindAllStringSubmatch(text+"\n"+strings.Join(environ, "\n"), -1) {
		path := match[1] + match[2]
		if !mountedAt(c, path) {
			t.Errorf("%s: references %s, which none of its volumes mounts", where, path)
		}
		local := filepath.Join(dir, strings.TrimPrefix(path, secretsDir))
		if err := os.MkdirAll(filepath.Dir(local), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(local, []byte("stand-in\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	text = strings.ReplaceAll(text, secretsDir, dir+"/")
	for i := range environ {
		environ[i] = strings.ReplaceAll(environ[i], secretsDir, dir+"/")
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
	if cfg.Vault.Auth.Method != "kubernetes" || cfg.Vault.Auth.Kubernetes.Role != envValue(c, "ORDERFLOW_VAULT_AUTH_KUBERNETES_ROLE") && envValue(c, "ORDERFLOW_VAULT_AUTH_KUBERNETES_ROLE") != "" {
		t.Errorf("%s: Vault login %s as %s", where, cfg.Vault.Auth.Method, cfg.Vault.Auth.Kubernetes.Role)
	}
	return &cfg
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
// is everyone's file and the connectors, nothing else, in every target.
func TestDispatcherConfigurationIsTheOthersPlusConnectors(t *testing.T) {
	for _, m := range renderAll(t) {
		cm := m.configMap(t, "orderflow-config")
		var common, dispatcher map[string]any
		if err := yaml.Unmarshal([]byte(cm.Data["orderflow.yaml"]), &common); err != nil {
			t.Fatal(err)
		}
		if err := yaml.Unmarshal([]byte(cm.Data["dispatcher.yaml"]), &dispatcher); err != nil {
			t.Fatal(err)
		}
		if _, ok := common["connectors"]; ok {
			t.Errorf("%s: orderflow.yaml has connectors: every role would need their credentials", m.target)
		}
		if _, ok := dispatcher["connectors"]; !ok {
			t.Errorf("%s: dispatcher.yaml has no connectors", m.target)
		}
		delete(dispatcher, "connectors")
		if diff := cmp.Diff(common, dispatcher); diff != "" {
			t.Errorf("%s: dispatcher.yaml differs from orderflow.yaml outside connectors (-orderflow.yaml +dispatcher.yaml):\n%s", m.target, diff)
		}
	}
}
