package topics

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/segmentio/kafka-go"
)

// Drift is one way an existing topic differs from its Spec.
type Drift struct {
	Topic string
	// Setting is a config name, "partitions", or "topic" (the topic is missing).
	Setting string
	// Want and Got are the values; Got is the topic's effective value (its own
	// or the broker's default).
	Want, Got string
	// Fixable drifts are set by Reconcile. A missing topic is created by
	// Create instead; fewer partitions than wanted are reported, never added,
	// since adding partitions moves keys and so breaks each order's sequence.
	Fixable bool
}

func (d Drift) String() string {
	switch d.Setting {
	case "topic":
		return fmt.Sprintf("%s: missing", d.Topic)
	case "partitions":
		return fmt.Sprintf("%s: %s partitions, want %s (not changed: adding partitions moves orders' keys)", d.Topic, d.Got, d.Want)
	}
	return fmt.Sprintf("%s: %s = %s, want %s", d.Topic, d.Setting, d.Got, d.Want)
}

// Check reads the topics' partitions and effective configs and returns how
// they differ from the specs, in the specs' order.
func Check(ctx context.Context, client *kafka.Client, specs ...Spec) ([]Drift, error) {
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.Name
	}
	meta, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: names})
	if err != nil {
		return nil, fmt.Errorf("topics: metadata: %w", err)
	}
	partitions := map[string]int{}
	for _, t := range meta.Topics {
		if t.Error == nil {
			partitions[t.Name] = len(t.Partitions)
		}
	}
	req := &kafka.DescribeConfigsRequest{}
	for _, s := range specs {
		if _, ok := partitions[s.Name]; ok {
			req.Resources = append(req.Resources, kafka.DescribeConfigRequestResource{
				ResourceType: kafka.ResourceTypeTopic, ResourceName: s.Name, ConfigNames: slices.Sorted(maps.Keys(s.Configs)),
			})
		}
	}
	effective := map[string]map[string]string{}
	if len(req.Resources) > 0 {
		resp, err := client.DescribeConfigs(ctx, req)
		if err != nil {
			return nil, fmt.Errorf("topics: describe configs: %w", err)
		}
		for _, r := range resp.Resources {
			if r.Error != nil {
				return nil, fmt.Errorf("topics: describe configs of %s: %w", r.ResourceName, r.Error)
			}
			values := map[string]string{}
			for _, e := range r.ConfigEntries {
				values[e.ConfigName] = e.ConfigValue
			}
			effective[r.ResourceName] = values
		}
	}
	var drifts []Drift
	for _, s := range specs {
		n, ok := partitions[s.Name]
		if !ok {
			drifts = append(drifts, Drift{Topic: s.Name, Setting: "topic", Want: "present", Got: "missing"})
			continue
		}
		if n < s.Partitions {
			drifts = append(drifts, Drift{Topic: s.Name, Setting: "partitions", Want: fmt.Sprint(s.Partitions), Got: fmt.Sprint(n)})
		}
		for _, k := range slices.Sorted(maps.Keys(s.Configs)) {
			got, set := effective[s.Name][k]
			if !set {
				got = "(unknown to the broker)"
			}
			if !Meets(k, got, s.Configs[k]) {
				drifts = append(drifts, Drift{Topic: s.Name, Setting: k, Want: s.Configs[k], Got: got, Fixable: set})
			}
		}
	}
	return drifts, nil
}

// Reconcile checks the topics and sets every fixable drifted config on them
// (IncrementalAlterConfigs: other configs stay as they are). It returns the
// drifts it found, fixed or not.
func Reconcile(ctx context.Context, client *kafka.Client, specs ...Spec) ([]Drift, error) {
	drifts, err := Check(ctx, client, specs...)
	if err != nil {
		return nil, err
	}
	byTopic := map[string][]kafka.IncrementalAlterConfigsRequestConfig{}
	var order []string
	for _, d := range drifts {
		if !d.Fixable {
			continue
		}
		if _, seen := byTopic[d.Topic]; !seen {
			order = append(order, d.Topic)
		}
		byTopic[d.Topic] = append(byTopic[d.Topic], kafka.IncrementalAlterConfigsRequestConfig{
			Name: d.Setting, Value: d.Want, ConfigOperation: kafka.ConfigOperationSet,
		})
	}
	if len(order) == 0 {
		return drifts, nil
	}
	req := &kafka.IncrementalAlterConfigsRequest{}
	for _, t := range order {
		req.Resources = append(req.Resources, kafka.IncrementalAlterConfigsRequestResource{
			ResourceType: kafka.ResourceTypeTopic, ResourceName: t, Configs: byTopic[t],
		})
	}
	resp, err := client.IncrementalAlterConfigs(ctx, req)
	if err != nil {
		return drifts, fmt.Errorf("topics: alter configs: %w", err)
	}
	var errs []error
	for _, r := range resp.Resources {
		if r.Error != nil {
			errs = append(errs, fmt.Errorf("topics: alter configs of %s: %w", r.ResourceName, r.Error))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return drifts, err
	}
	return drifts, awaitFixed(ctx, client, specs)
}

// awaitFixed waits until no fixable drift is left: the brokers apply a config
// change after the controller has answered.
func awaitFixed(ctx context.Context, client *kafka.Client, specs []Spec) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		drifts, err := Check(ctx, client, specs...)
		left := slices.ContainsFunc(drifts, func(d Drift) bool { return d.Fixable })
		if err == nil && !left {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("topics: the changed configs are not in effect yet: %w", errors.Join(err, ctx.Err()))
		case <-time.After(100 * time.Millisecond):
		}
	}
}
