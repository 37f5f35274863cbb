package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/segmentio/kafka-go"

	"github.com/orderflow/orderflow/worker/channel"
	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/migrate"
	"github.com/orderflow/orderflow/worker/order"
	"github.com/orderflow/orderflow/worker/topics"
)

// names are one run's own topics, consumer groups and databases, so that a run
// never reads or writes anyone else's data on the shared stack.
type names struct {
	ID                         string        // bench_<12 hex digits>
	Topics                     config.Topics // each channel's and the DLQ
	WorkerGroup, KafkaRefGroup string
	Database, Restricted       string
}

func newNames() (names, error) {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return names{}, fmt.Errorf("run id: %w", err)
	}
	id := "bench_" + hex.EncodeToString(b[:])
	n := names{
		ID: id,
		Topics: config.Topics{Channels: map[order.Channel]string{}, DeadLetter: id + ".orders.dlq", Courier: id + ".connector.courier",
			Accounting: id + ".connector.accounting", Parked: id + ".connector.parked"},
		WorkerGroup: id + ".worker", KafkaRefGroup: id + ".kafka-ref",
		Database: id, Restricted: id + "_restricted",
	}
	for ch, topic := range channel.Default().Topics() {
		n.Topics.Channels[ch] = id + "." + topic
	}
	return n, nil
}

// topics lists the run's topics: each channel's, then the DLQ.
func (n names) topics() []string {
	return append(n.Topics.Orders(), n.Topics.DeadLetter, n.Topics.Courier, n.Topics.Accounting, n.Topics.Parked)
}

// inputPartitions is the partitions of the run's input topics: as many as
// the real ones (worker/topics).
const inputPartitions = topics.InputPartitions

// createTopics creates the run's topics as worker/topics defines the
// pipeline's (a run kept with --keep holds raw synthetic orders no longer
// than real ones are kept) and waits until every partition has a leader.
func createTopics(ctx context.Context, client *kafka.Client, n names) error {
	specs := topics.Worker(n.Topics.Orders(), n.Topics.DeadLetter, n.Topics.Courier, n.Topics.Accounting, n.Topics.Parked)
	created, err := topics.Create(ctx, client, specs...)
	if err != nil {
		return err
	}
	if len(created) != len(specs) {
		return fmt.Errorf("create topics: %d of the run's %d topics existed already", len(specs)-len(created), len(specs))
	}
	return nil
}

// deleteTopics deletes the run's topics and consumer groups.
func deleteTopics(ctx context.Context, client *kafka.Client, n names) error {
	var errs []error
	resp, err := client.DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: n.topics()})
	if err != nil {
		errs = append(errs, fmt.Errorf("delete topics: %w", err))
	} else {
		for topic, err := range resp.Errors {
			if err != nil && !errors.Is(err, kafka.UnknownTopicOrPartition) {
				errs = append(errs, fmt.Errorf("delete topic %s: %w", topic, err))
			}
		}
	}
	// A group's coordinator may differ from the bootstrap broker in a cluster;
	// on the one-node stack it never does. Groups that never formed are fine.
	for _, g := range []string{n.WorkerGroup, n.KafkaRefGroup} {
		gr, err := client.DeleteGroups(ctx, &kafka.DeleteGroupsRequest{GroupIDs: []string{g}})
		if err != nil {
			errs = append(errs, fmt.Errorf("delete group %s: %w", g, err))
			continue
		}
		// NonEmptyGroup: a member that was killed, not stopped, stays until
		// its session times out; the coordinator drops the group after that.
		if err := gr.Errors[g]; err != nil && !errors.Is(err, kafka.GroupIdNotFound) && !errors.Is(err, kafka.NonEmptyGroup) {
			errs = append(errs, fmt.Errorf("delete group %s: %w", g, err))
		}
	}
	return errors.Join(errs...)
}

// migrateDatabases creates the run's two databases with the whole schema.
func migrateDatabases(ctx context.Context, conn driver.Conn, n names) error {
	m, err := migrate.New(migrate.Config{
		Conn: conn, Database: n.Database, RestrictedDatabase: n.Restricted, AppliedBy: "orderflow-bench",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		return err
	}
	if _, err := m.Up(ctx); err != nil {
		return fmt.Errorf("migrate %s, %s: %w", n.Database, n.Restricted, err)
	}
	return nil
}

// dropDatabases drops the run's two databases, and with them the scratch table
// of reference (b).
func dropDatabases(ctx context.Context, conn driver.Conn, n names) error {
	var errs []error
	for _, db := range []string{n.Database, n.Restricted} {
		if err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+db); err != nil {
			errs = append(errs, fmt.Errorf("drop database %s: %w", db, err))
		}
	}
	return errors.Join(errs...)
}
