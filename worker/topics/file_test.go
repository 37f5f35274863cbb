package topics

import (
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
)

func readDeployFile(t *testing.T) File {
	t.Helper()
	data, err := os.ReadFile("../../deploy/kafka/topics.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f, err := ParseFile(data)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// The deployed file says what this package works out: the same topics with
// the same partitions, and on each exactly the configs that keep personal
// data within the promise; production replicates and needs two in sync.
func TestDeployFileIsThePipelinesTopics(t *testing.T) {
	f := readDeployFile(t)
	want := map[string]Spec{}
	for _, s := range Pipeline(DefaultNames()) {
		want[s.Name] = s
	}
	for _, env := range []string{"local", "staging", "production"} {
		plan, err := f.Plan(env, "")
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]Spec{}
		for _, s := range plan.Topics {
			got[s.Name] = s
		}
		if !slices.Equal(slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want))) {
			t.Fatalf("%s: topics %v, want %v", env, slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want)))
		}
		for name, w := range want {
			g := got[name]
			if g.Partitions != w.Partitions {
				t.Errorf("%s: %s has %d partitions, worker/topics %d", env, name, g.Partitions, w.Partitions)
			}
			configs := maps.Clone(g.Configs)
			delete(configs, ConfigMinInsyncReplicas)
			if !maps.Equal(configs, w.Configs) {
				t.Errorf("%s: %s configs %v, want %v", env, name, configs, w.Configs)
			}
		}
	}
	prod, _ := f.Plan("production", "")
	for _, s := range prod.Topics {
		if s.ReplicationFactor < 3 || s.Configs[ConfigMinInsyncReplicas] != "2" {
			t.Errorf("production %s: replication %d, min.insync.replicas %s: want 3 and 2", s.Name, s.ReplicationFactor, s.Configs[ConfigMinInsyncReplicas])
		}
	}
}

// Least privilege, read off the file: the worker reads the order streams and
// writes only the DLQ and the courier outbox; the dispatcher never touches the
// order streams; nobody may Alter, Delete or act on the cluster (ParseFile
// refuses those); every principal's group is its own.
func TestDeployFileGrantsEachCommandItsTopicsOnly(t *testing.T) {
	f := readDeployFile(t)
	plan, err := f.Plan("production", "")
	if err != nil {
		t.Fatal(err)
	}
	may := map[string][]string{}
	for _, a := range plan.ACLs {
		pattern := ""
		if a.Prefixed {
			pattern = "*"
		}
		may[a.Principal] = append(may[a.Principal], a.Operation+" "+a.ResourceType+" "+a.Name+pattern)
	}
	worker := strings.Join(may["User:orderflow-worker"], "\n")
	for _, want := range []string{"Read topic orders.*", "Write topic orders.dlq", "Write topic connector.courier", "Read group orderflow"} {
		if !strings.Contains(worker, want) {
			t.Errorf("the worker may not %s:\n%s", want, worker)
		}
	}
	for _, never := range []string{"Write topic orders.*", "Write topic orders.amazon", "Read topic connector.", "Write topic connector.parked", "Write topic connector.accounting"} {
		if strings.Contains(worker, never) {
			t.Errorf("the worker may %s", never)
		}
	}
	dispatcher := strings.Join(may["User:orderflow-dispatcher"], "\n")
	if strings.Contains(dispatcher, "orders.") {
		t.Errorf("the dispatcher may touch the order streams:\n%s", dispatcher)
	}
	if !strings.Contains(dispatcher, "Write topic connector.parked") || !strings.Contains(dispatcher, "Read topic connector.courier") {
		t.Errorf("the dispatcher lacks what it needs:\n%s", dispatcher)
	}
}

func TestFileRefusesWhatWouldWeakenIt(t *testing.T) {
	base := "environments: {local: {replication_factor: 1, min_insync_replicas: 1}}\n"
	cases := map[string]string{
		"a misspelt key":         base + "topics: [{name: a, partitions: 1, config: {retention.ms: \"1\"}}]\n",
		"an operation too broad": base + "acls: {u: [{topic: a, operations: [All]}]}\n",
		"alter on a topic":       base + "acls: {u: [{topic: a, operations: [Alter]}]}\n",
		"topic and group":        base + "acls: {u: [{topic: a, group: g, operations: [Read]}]}\n",
		"an unknown pattern":     base + "acls: {u: [{topic: a, pattern: match, operations: [Read]}]}\n",
		"no partitions":          base + "topics: [{name: a}]\n",
		"a topic twice":          base + "topics: [{name: a, partitions: 1}, {name: a, partitions: 1}]\n",
		"min ISR above replicas": "environments: {prod: {replication_factor: 2, min_insync_replicas: 3}}\n",
		"min ISR on a topic":     base + "topics: [{name: a, partitions: 1, configs: {min.insync.replicas: \"1\"}}]\n",
	}
	for name, doc := range cases {
		if _, err := ParseFile([]byte(doc)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	f, err := ParseFile([]byte(base))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Plan("production", ""); err == nil {
		t.Error("an environment the file lacks was planned")
	}
}
