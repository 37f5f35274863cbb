package topics

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// File is deploy/kafka/topics.yaml: the topics as deployed, their replication
// per environment, and each principal's ACLs.
type File struct {
	// PersonalDataConfigs is the file's anchor for the configs every topic shares.
	PersonalDataConfigs map[string]string      `yaml:"personal_data_configs"`
	Environments        map[string]Environment `yaml:"environments"`
	Topics              []FileTopic            `yaml:"topics"`
	// ACLs maps each principal's user name to what it may do.
	ACLs map[string][]Grant `yaml:"acls"`
}

// Environment is the replication of one environment's topics.
type Environment struct {
	ReplicationFactor int `yaml:"replication_factor"`
	MinInsyncReplicas int `yaml:"min_insync_replicas"`
}

// FileTopic is one topic of the file.
type FileTopic struct {
	Name       string            `yaml:"name"`
	Partitions int               `yaml:"partitions"`
	Configs    map[string]string `yaml:"configs"`
}

// Grant allows operations on one topic or group (exactly one of them), by its
// literal name or, with Pattern "prefixed", every name that starts with it.
type Grant struct {
	Topic      string   `yaml:"topic"`
	Group      string   `yaml:"group"`
	Pattern    string   `yaml:"pattern"`
	Operations []string `yaml:"operations"`
}

// ConfigMinInsyncReplicas is the topic config the environments set.
const ConfigMinInsyncReplicas = "min.insync.replicas"

// Operations a grant may name: those a client of orderflow's needs. Cluster
// operations, Alter and Delete are never granted to a command.
var grantable = []string{"Read", "Write", "Describe"}

// ParseFile reads the file strictly: an unknown key is an error, since a
// misspelt config would otherwise leave a topic keeping data too long.
func ParseFile(data []byte) (File, error) {
	var f File
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return File{}, fmt.Errorf("topics file: %w", err)
	}
	return f, f.validate()
}

func (f File) validate() error {
	var errs []error
	if len(f.Environments) == 0 {
		errs = append(errs, errors.New("topics file: no environments"))
	}
	for name, e := range f.Environments {
		if e.ReplicationFactor < 1 || e.MinInsyncReplicas < 1 || e.MinInsyncReplicas > e.ReplicationFactor {
			errs = append(errs, fmt.Errorf("topics file: environment %s: want 1 <= min_insync_replicas <= replication_factor", name))
		}
	}
	seen := map[string]bool{}
	for i, t := range f.Topics {
		if t.Name == "" || seen[t.Name] {
			errs = append(errs, fmt.Errorf("topics file: topic %d: a name, once", i))
		}
		seen[t.Name] = true
		if t.Partitions < 1 {
			errs = append(errs, fmt.Errorf("topics file: topic %s: partitions must be at least 1", t.Name))
		}
		if _, ok := t.Configs[ConfigMinInsyncReplicas]; ok {
			errs = append(errs, fmt.Errorf("topics file: topic %s: %s is the environment's", t.Name, ConfigMinInsyncReplicas))
		}
	}
	for _, principal := range slices.Sorted(maps.Keys(f.ACLs)) {
		for i, g := range f.ACLs[principal] {
			if (g.Topic == "") == (g.Group == "") {
				errs = append(errs, fmt.Errorf("topics file: acls.%s[%d]: one of topic and group", principal, i))
			}
			if g.Pattern != "" && g.Pattern != "literal" && g.Pattern != "prefixed" {
				errs = append(errs, fmt.Errorf("topics file: acls.%s[%d]: pattern is literal or prefixed", principal, i))
			}
			if len(g.Operations) == 0 {
				errs = append(errs, fmt.Errorf("topics file: acls.%s[%d]: no operations", principal, i))
			}
			for _, op := range g.Operations {
				if !slices.Contains(grantable, op) {
					errs = append(errs, fmt.Errorf("topics file: acls.%s[%d]: operation %q is not one of %v", principal, i, op, grantable))
				}
			}
		}
	}
	return errors.Join(errs...)
}

// ACL is one Allow entry: a principal may do Operation on a resource.
type ACL struct {
	Principal    string // "User:orderflow-worker"
	ResourceType string // "topic" or "group"
	Name         string
	Prefixed     bool
	Operation    string // "Read", "Write" or "Describe"
}

func (a ACL) String() string {
	pattern := "literal"
	if a.Prefixed {
		pattern = "prefixed"
	}
	return fmt.Sprintf("%s may %s %s %s (%s)", a.Principal, a.Operation, a.ResourceType, a.Name, pattern)
}

// Plan is what the file asks of one environment's cluster.
type Plan struct {
	Topics []Spec
	ACLs   []ACL
}

// Plan returns the environment's topics and ACLs, with prefix at the start of
// every topic, group and principal name (tests apply the file to names of
// their own).
func (f File) Plan(environment, prefix string) (Plan, error) {
	env, ok := f.Environments[environment]
	if !ok {
		return Plan{}, fmt.Errorf("topics file: no environment %q (have %v)", environment, slices.Sorted(maps.Keys(f.Environments)))
	}
	var p Plan
	for _, t := range f.Topics {
		configs := maps.Clone(t.Configs)
		if configs == nil {
			configs = map[string]string{}
		}
		configs[ConfigMinInsyncReplicas] = strconv.Itoa(env.MinInsyncReplicas)
		p.Topics = append(p.Topics, Spec{Name: prefix + t.Name, Partitions: t.Partitions, ReplicationFactor: env.ReplicationFactor, Configs: configs})
	}
	for _, user := range slices.Sorted(maps.Keys(f.ACLs)) {
		for _, g := range f.ACLs[user] {
			acl := ACL{Principal: "User:" + prefix + user, ResourceType: "topic", Name: prefix + g.Topic, Prefixed: g.Pattern == "prefixed"}
			if g.Group != "" {
				acl.ResourceType, acl.Name = "group", prefix+g.Group
			}
			for _, op := range g.Operations {
				acl.Operation = op
				p.ACLs = append(p.ACLs, acl)
			}
		}
	}
	return p, nil
}
