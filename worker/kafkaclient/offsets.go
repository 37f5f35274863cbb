package kafkaclient

import (
	"context"
	"fmt"

	"github.com/segmentio/kafka-go"
)

// OffsetRange returns each partition's first offset and end offset (the
// offset its next message gets) of topic: what the DLQ and parked-job
// replays read up to, and what the demo counts a topic's messages by.
func OffsetRange(ctx context.Context, client *kafka.Client, topic string) (firsts, ends map[int]int64, err error) {
	meta, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return nil, nil, fmt.Errorf("metadata of %s: %w", topic, err)
	}
	if len(meta.Topics) != 1 || meta.Topics[0].Error != nil {
		return nil, nil, fmt.Errorf("topic %s not found", topic)
	}
	var req []kafka.OffsetRequest
	for _, p := range meta.Topics[0].Partitions {
		req = append(req, kafka.FirstOffsetOf(p.ID), kafka.LastOffsetOf(p.ID))
	}
	resp, err := client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: req}})
	if err != nil {
		return nil, nil, fmt.Errorf("offsets of %s: %w", topic, err)
	}
	firsts, ends = map[int]int64{}, map[int]int64{}
	for _, po := range resp.Topics[topic] {
		if po.Error != nil {
			return nil, nil, fmt.Errorf("offsets of %s/%d: %w", topic, po.Partition, po.Error)
		}
		firsts[po.Partition], ends[po.Partition] = po.FirstOffset, po.LastOffset
	}
	return firsts, ends, nil
}
