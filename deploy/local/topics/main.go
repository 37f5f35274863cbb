// Command topics creates the pipeline's Kafka topics on the local stack's broker,
// leaving existing ones as they are. deploy/local/stack.sh runs it after every start.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"
)

// labelRetention is how long a topic may hold raw personal data: the 21 days after
// which label data must be gone (DESIGN.md, promise P9).
const labelRetention = 21 * 24 * time.Hour

type topic struct {
	name       string
	partitions int
	retention  time.Duration
}

// topics are the pipeline's topics. The input topics carry raw buyer data, and so do
// the DLQ and the connector outboxes (encrypted, but still personal), so none keeps a
// message longer than the label promise allows.
var topics = []topic{
	{name: "orders.amazon", partitions: 6, retention: labelRetention},
	{name: "orders.ebay", partitions: 6, retention: labelRetention},
	{name: "orders.dlq", partitions: 3, retention: labelRetention},
	{name: "connector.courier", partitions: 6, retention: labelRetention},
	{name: "connector.accounting", partitions: 6, retention: labelRetention},
	{name: "connector.parked", partitions: 3, retention: labelRetention},
}

func main() {
	brokers := flag.String("brokers", "127.0.0.1:19092", "bootstrap broker address")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := createTopics(ctx, *brokers); err != nil {
		slog.Error("creating topics", "err", err)
		os.Exit(1)
	}
}

func createTopics(ctx context.Context, brokers string) error {
	client := &kafka.Client{Addr: kafka.TCP(brokers), Timeout: 30 * time.Second}
	configs := make([]kafka.TopicConfig, 0, len(topics))
	for _, t := range topics {
		configs = append(configs, kafka.TopicConfig{
			Topic:             t.name,
			NumPartitions:     t.partitions,
			ReplicationFactor: 1,
			ConfigEntries: []kafka.ConfigEntry{
				{ConfigName: "retention.ms", ConfigValue: strconv.FormatInt(t.retention.Milliseconds(), 10)},
			},
		})
	}
	resp, err := client.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: configs})
	if err != nil {
		return fmt.Errorf("create topics on %s: %w", brokers, err)
	}
	created := 0
	for name, topicErr := range resp.Errors {
		switch {
		case topicErr == nil:
			created++
		case errors.Is(topicErr, kafka.TopicAlreadyExists):
		default:
			return fmt.Errorf("create topic %s: %w", name, topicErr)
		}
	}
	fmt.Fprintf(os.Stderr, "topics: %d created, %d already present\n", created, len(topics)-created)
	return nil
}
