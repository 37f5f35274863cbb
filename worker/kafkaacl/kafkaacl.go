// Package kafkaacl makes the brokers' ACLs of a set of principals exactly
// those of deploy/kafka/topics.yaml (worker/topics.Plan): missing entries are
// created, and every other entry of those principals (a Deny, a host other
// than *, a grant left from an older file) is deleted. Principals the plan
// does not name are never touched.
package kafkaacl

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/segmentio/kafka-go"

	"github.com/orderflow/orderflow/worker/topics"
)

// Change is an ACL entry the brokers have and the plan does not (Remove), or
// the other way round.
type Change struct {
	Remove bool
	// Entry is the broker's wording of it, for the report.
	Entry string
	acl   kafka.ACLEntry
}

func (c Change) String() string {
	if c.Remove {
		return "remove: " + c.Entry
	}
	return "add: " + c.Entry
}

// Diff returns how the brokers' ACLs of the plan's principals differ from it.
func Diff(ctx context.Context, client *kafka.Client, want []topics.ACL) ([]Change, error) {
	wanted := map[string]kafka.ACLEntry{}
	principals := map[string]bool{}
	for _, a := range want {
		e, err := entry(a)
		if err != nil {
			return nil, err
		}
		wanted[key(e)] = e
		principals[a.Principal] = true
	}
	have := map[string]kafka.ACLEntry{}
	for _, p := range slices.Sorted(maps.Keys(principals)) {
		resp, err := client.DescribeACLs(ctx, &kafka.DescribeACLsRequest{Filter: kafka.ACLFilter{
			ResourceTypeFilter: kafka.ResourceTypeAny, ResourcePatternTypeFilter: kafka.PatternTypeAny,
			PrincipalFilter: p, Operation: kafka.ACLOperationTypeAny, PermissionType: kafka.ACLPermissionTypeAny,
		}})
		if err == nil {
			err = resp.Error
		}
		if err != nil {
			return nil, fmt.Errorf("kafka acls: describe %s: %w", p, err)
		}
		for _, r := range resp.Resources {
			for _, d := range r.ACLs {
				e := kafka.ACLEntry{
					ResourceType: r.ResourceType, ResourceName: r.ResourceName, ResourcePatternType: r.PatternType,
					Principal: d.Principal, Host: d.Host, Operation: d.Operation, PermissionType: d.PermissionType,
				}
				have[key(e)] = e
			}
		}
	}
	var changes []Change
	for _, k := range slices.Sorted(maps.Keys(wanted)) {
		if _, ok := have[k]; !ok {
			changes = append(changes, Change{Entry: k, acl: wanted[k]})
		}
	}
	for _, k := range slices.Sorted(maps.Keys(have)) {
		if _, ok := wanted[k]; !ok {
			changes = append(changes, Change{Remove: true, Entry: k, acl: have[k]})
		}
	}
	return changes, nil
}

// Apply makes the changes: creations first, so that a principal never loses
// an operation it keeps.
func Apply(ctx context.Context, client *kafka.Client, changes []Change) error {
	var create []kafka.ACLEntry
	var remove []kafka.DeleteACLsFilter
	for _, c := range changes {
		if !c.Remove {
			create = append(create, c.acl)
			continue
		}
		e := c.acl
		remove = append(remove, kafka.DeleteACLsFilter{
			ResourceTypeFilter: e.ResourceType, ResourceNameFilter: e.ResourceName, ResourcePatternTypeFilter: e.ResourcePatternType,
			PrincipalFilter: e.Principal, HostFilter: e.Host, Operation: e.Operation, PermissionType: e.PermissionType,
		})
	}
	if len(create) > 0 {
		resp, err := client.CreateACLs(ctx, &kafka.CreateACLsRequest{ACLs: create})
		if err == nil {
			err = errors.Join(resp.Errors...)
		}
		if err != nil {
			return fmt.Errorf("kafka acls: create: %w", err)
		}
	}
	if len(remove) > 0 {
		resp, err := client.DeleteACLs(ctx, &kafka.DeleteACLsRequest{Filters: remove})
		if err == nil {
			for _, r := range resp.Results {
				err = errors.Join(err, r.Error)
			}
		}
		if err != nil {
			return fmt.Errorf("kafka acls: delete: %w", err)
		}
	}
	return nil
}

// entry is the broker's form of a planned ACL: Allow, from any host.
func entry(a topics.ACL) (kafka.ACLEntry, error) {
	e := kafka.ACLEntry{ResourceName: a.Name, Principal: a.Principal, Host: "*", PermissionType: kafka.ACLPermissionTypeAllow,
		ResourcePatternType: kafka.PatternTypeLiteral}
	if a.Prefixed {
		e.ResourcePatternType = kafka.PatternTypePrefixed
	}
	switch a.ResourceType {
	case "topic":
		e.ResourceType = kafka.ResourceTypeTopic
	case "group":
		e.ResourceType = kafka.ResourceTypeGroup
	default:
		return e, fmt.Errorf("kafka acls: resource type %q is not topic or group", a.ResourceType)
	}
	if err := e.Operation.UnmarshalText([]byte(strings.ToLower(a.Operation))); err != nil || e.Operation == kafka.ACLOperationTypeUnknown {
		return e, fmt.Errorf("kafka acls: operation %q is not known", a.Operation)
	}
	return e, nil
}

// key is an entry in words, unique per entry.
func key(e kafka.ACLEntry) string {
	return fmt.Sprintf("%s %s %s on %s %s (%s) from %s", e.Principal, name(permissions, e.PermissionType), e.Operation,
		name(resourceTypes, e.ResourceType), e.ResourceName, name(patterns, e.ResourcePatternType), e.Host)
}

var (
	permissions   = map[kafka.ACLPermissionType]string{kafka.ACLPermissionTypeAllow: "Allow", kafka.ACLPermissionTypeDeny: "Deny"}
	resourceTypes = map[kafka.ResourceType]string{kafka.ResourceTypeTopic: "topic", kafka.ResourceTypeGroup: "group",
		kafka.ResourceTypeCluster: "cluster", kafka.ResourceTypeTransactionalID: "transactional-id"}
	patterns = map[kafka.PatternType]string{kafka.PatternTypeLiteral: "literal", kafka.PatternTypePrefixed: "prefixed"}
)

// name is v's word, or its number for one this package does not name.
func name[T ~int8](words map[T]string, v T) string {
	if w, ok := words[v]; ok {
		return w
	}
	return fmt.Sprintf("(%d)", v)
}
