package kafkafailure_test

import (
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/segmentio/kafka-go"

	"github.com/orderflow/orderflow/worker/failure"
	"github.com/orderflow/orderflow/worker/kafkafailure"
)

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want failure.Class
	}{
		{"sasl refused, as the dialer wraps it", fmt.Errorf("SASL handshake failed: %w", kafka.SASLAuthenticationFailed), failure.Worker},
		{"unsupported mechanism", kafka.UnsupportedSASLMechanism, failure.Worker},
		{"topic not authorised", fmt.Errorf("fetch: %w", kafka.TopicAuthorizationFailed), failure.Worker},
		{"group not authorised", kafka.GroupAuthorizationFailed, failure.Worker},
		{"one message of a write refused", kafka.WriteErrors{nil, kafka.TopicAuthorizationFailed}, failure.Worker},
		{"leader moved", kafka.NotLeaderForPartition, failure.Transient},
		{"coordinator away", fmt.Errorf("join: %w", kafka.GroupCoordinatorNotAvailable), failure.Transient},
		{"connection lost", io.ErrUnexpectedEOF, failure.Transient},
		{"writes timed out", kafka.WriteErrors{kafka.RequestTimedOut, nil}, failure.Transient},
	} {
		got := kafkafailure.Classify(tc.err)
		if c := failure.Of(got); c != tc.want {
			t.Errorf("%s: class %v, want %v", tc.name, c, tc.want)
		}
		if code, ok := kafkafailure.Refusal(tc.err); ok && !errors.Is(got, code) {
			t.Errorf("%s: the classified error lost its cause", tc.name)
		}
	}
	if kafkafailure.Classify(nil) != nil {
		t.Error("Classify(nil) is not nil")
	}
}
