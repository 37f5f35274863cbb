package dispatch_test

import (
	"fmt"
	"testing"

	"github.com/orderflow/orderflow/connectors/outbox"
	"github.com/orderflow/orderflow/connectors/outbox/outboxtest"
)

// BenchmarkDispatch measures the dispatcher's own cost per job on the real
// Kafka and Vault: fetch, decode, one transit batch decrypt per tenant,
// projection, the calls (to a connector that answers at once), commit. Each
// iteration dispatches a fresh outbox of 2,000 jobs.
func BenchmarkDispatch(b *testing.B) {
	const jobsPerRun = 2000
	v := outboxtest.NewVault(b)
	var creates []outbox.Job
	for _, j := range v.Jobs(b) {
		if j.Kind == outbox.KindCreate {
			creates = append(creates, j)
		}
	}
	jobs := make([]outbox.Job, jobsPerRun)
	for i := range jobs {
		j := creates[i%len(creates)]
		j.ChannelOrderID = fmt.Sprintf("%s-%d", j.ChannelOrderID, i)
		j.IdempotencyKey = outbox.IdempotencyKey(j.TenantID, j.Channel, j.ChannelOrderID, j.Kind, j.SourceVersion)
		jobs[i] = j
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		r := newRig(b)
		r.produce(b, jobMessages(b, jobs)...)
		conn := newScripted(nil)
		d := r.dispatcher(b, v.Client, connectors([]string{"*"}), conn, 3)
		b.StartTimer()
		r.runUntilCommitted(b, d)
	}
	b.ReportMetric(float64(jobsPerRun*b.N)/b.Elapsed().Seconds(), "jobs/s")
}
