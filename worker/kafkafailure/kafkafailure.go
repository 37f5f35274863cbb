// Package kafkafailure classifies kafka-go's errors for the worker's error
// policy (worker/failure): a broker that refuses the worker's credentials, or
// its access to a topic, group or the cluster, stops the worker, since no
// retry can change that; every other Kafka error is transient (the client
// reconnects, the partition's leader moves, the coordinator comes back).
package kafkafailure

import (
	"errors"
	"fmt"

	"github.com/segmentio/kafka-go"

	"github.com/orderflow/orderflow/worker/failure"
)

// refusals are the error codes by which a broker refuses the client itself.
var refusals = map[kafka.Error]bool{
	kafka.TopicAuthorizationFailed:   true,
	kafka.GroupAuthorizationFailed:   true,
	kafka.ClusterAuthorizationFailed: true,
	kafka.UnsupportedSASLMechanism:   true,
	kafka.IllegalSASLState:           true,
	kafka.SASLAuthenticationFailed:   true,
}

// Classify returns err marked as permanent for the worker when a broker
// refused the client (anywhere in its chain, or in any of a writer's
// per-message errors), and err unchanged otherwise. Classify(nil) is nil.
func Classify(err error) error {
	if err == nil {
		return nil
	}
	if code, ok := Refusal(err); ok {
		// The code is wrapped too: a writer's per-message errors do not unwrap.
		return failure.Stop(fmt.Errorf("kafka refuses this worker (%w; check kafka.sasl and the principal's ACLs): %w", code, err))
	}
	return err
}

// Refusal returns the code of the refusal in err's chain, if there is one.
func Refusal(err error) (kafka.Error, bool) {
	var code kafka.Error
	if errors.As(err, &code) && refusals[code] {
		return code, true
	}
	// A writer reports one error per message, in a type that does not unwrap.
	var perMessage kafka.WriteErrors
	if errors.As(err, &perMessage) {
		for _, e := range perMessage {
			if e == nil {
				continue
			}
			if code, ok := Refusal(e); ok {
				return code, true
			}
		}
	}
	return 0, false
}
