package topics_test

import (
	"testing"

	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/topics"
)

// The topics' promise is the default period of the one retention class that
// declares it governs them (config's table of classes: label data, P9), so
// that the class and the topics' configs cannot drift apart.
func TestThePromiseIsTheTopicsClass(t *testing.T) {
	var governing []config.RetentionClass
	for _, c := range config.RetentionClasses() {
		if c.KafkaTopics {
			governing = append(governing, c)
		}
	}
	if len(governing) != 1 {
		t.Fatalf("%d retention classes govern the Kafka topics, want one", len(governing))
	}
	if c := governing[0]; c.Default.Approx() != topics.Promise {
		t.Errorf("class %s keeps its data %s by default, the topics' promise is %s", c.Name, c.Default, topics.Promise)
	}
}
