package pipeline_test

import (
	"github.com/orderflow/orderflow/worker/channel"
	"github.com/orderflow/orderflow/worker/normalize"
)

// normalizer reads the shipped channels, as the pipeline's default does: the
// tests use it to say what a message normalises to.
var normalizer = func() *normalize.Normalizer {
	n, err := channel.Default().Normalizer(normalize.Config{})
	if err != nil {
		panic(err)
	}
	return n
}()
