package dispatch_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/orderflow/orderflow/connectors/courier"
	"github.com/orderflow/orderflow/connectors/dispatch"
	"github.com/orderflow/orderflow/connectors/outbox"
	"github.com/orderflow/orderflow/connectors/outbox/outboxtest"
	"github.com/orderflow/orderflow/worker/stacktest"
)

// Every job of the normaliser's fixtures reaches the connector once, through
// transient failures (a third answered Retry with a Retry-After first),
// duplicates on the outbox (the sink writes at least once) and one refusal,
// which is parked, still encrypted, with its reason; an order's cancel never
// overtakes its create; the batch is committed only after all that; the
// connector sees the allow-listed fields only, phone and email only for the
// tenant with notifications on.
func TestDispatchDeliversEachJobOnceAndParksARefusal(t *testing.T) {
	v := outboxtest.NewVault(t)
	jobs := v.Jobs(t)
	var creates []outbox.Job
	for _, j := range jobs {
		if j.Kind == outbox.KindCreate {
			creates = append(creates, j)
		}
	}
	if len(creates) < 10 {
		t.Fatalf("the fixtures make %d create jobs; want at least 10", len(creates))
	}
	// An order cancelled after it became ready: its cancel follows its create
	// on the same key.
	cancelled := creates[0]
	cancelled.Kind, cancelled.Recipient, cancelled.SourceVersion = outbox.KindCancel, "", cancelled.SourceVersion+1
	cancelled.IdempotencyKey = outbox.IdempotencyKey(cancelled.TenantID, cancelled.Channel, cancelled.ChannelOrderID, outbox.KindCancel, cancelled.SourceVersion)
	jobs = append(jobs, cancelled)
	refused := creates[1]
	notified := creates[2].TenantID

	r := newRig(t)
	msgs := jobMessages(t, jobs)
	r.produce(t, append(msgs, msgs[3], msgs[4])...) // two written twice

	third := 0
	conn := newScripted(func(d courier.Delivery, attempt int) courier.Result {
		switch {
		case d.IdempotencyKey == refused.IdempotencyKey:
			return courier.Result{Outcome: courier.Failed, Err: errRefused}
		case attempt == 1 && d.IdempotencyKey[0]%3 == 0:
			third++
			return courier.Result{Outcome: courier.Retry, RetryAfter: 20 * time.Millisecond, Err: fmt.Errorf("HTTP 429")}
		}
		return courier.Result{Outcome: courier.Done}
	})
	d := r.dispatcher(t, v.Client, connectors([]string{"*"}, notified), conn, 5)
	r.runUntilCommitted(t, d)

	for _, j := range jobs {
		want := 1
		if j.IdempotencyKey == refused.IdempotencyKey {
			want = 0
		}
		if got := conn.doneCount(j.IdempotencyKey); got != want {
			t.Errorf("%s job of %s: delivered %d times, want %d", j.Kind, j.Key(), got, want)
		}
	}
	if third == 0 {
		t.Fatal("no delivery was answered Retry: the test proves nothing about retries")
	}
	createAt := slices.Index(conn.order, "create:"+cancelled.ChannelOrderID)
	cancelAt := slices.Index(conn.order, "cancel:"+cancelled.ChannelOrderID)
	if createAt < 0 || cancelAt < createAt {
		t.Errorf("the order's create was delivered at %d and its cancel at %d: the cancel must come after", createAt, cancelAt)
	}

	// What the connector was given: the allow-list, phone only with
	// notifications on.
	for key, got := range conn.got {
		if got.Kind != outbox.KindCreate {
			continue
		}
		var tenant string
		for _, j := range jobs {
			if j.IdempotencyKey == key {
				tenant = j.TenantID
			}
		}
		sources := got.Fields.Sources()
		if !slices.Contains(sources, "shipping_address.line1") || !slices.Contains(sources, "parcel.weight_grams") {
			t.Errorf("a create without its address line or weight: %v", sources)
		}
		for _, s := range sources {
			if (s == "shipping_address.phone" || s == "shipping_address.email") && tenant != notified {
				t.Errorf("%s sent for a tenant without delivery notifications", s)
			}
			if strings.HasPrefix(s, "buyer.") || strings.HasPrefix(s, "free_text.") {
				t.Errorf("%s is never sent to a courier", s)
			}
		}
	}

	parked := r.parkedJobs(t)
	if len(parked) != 1 {
		t.Fatalf("%d jobs parked, want the refused one", len(parked))
	}
	p := parked[0]
	if string(p.Key) != refused.Key() || outboxtest.Decode(t, p.Value).IdempotencyKey != refused.IdempotencyKey {
		t.Errorf("the parked job is not the refused one")
	}
	if !strings.Contains(string(p.Value), refused.Recipient) {
		t.Errorf("the parked job is not the job as it was on the outbox (still encrypted)")
	}
	for k, want := range map[string]string{
		dispatch.HeaderReason: dispatch.ReasonRefused, dispatch.HeaderConnector: "rm", dispatch.HeaderTenant: refused.TenantID,
		dispatch.HeaderError: errRefused.Error(), dispatch.HeaderAttempts: "1", dispatch.HeaderFromTopic: r.courier,
	} {
		if got := headerOf(p, k); got != want {
			t.Errorf("parked header %s = %q, want %q", k, got, want)
		}
	}

	nCreate, nCancel := 0, 0
	for _, j := range jobs {
		if j.Kind == outbox.KindCreate {
			nCreate++
		} else {
			nCancel++
		}
	}
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   int
	}{
		{"orderflow_connector_jobs_total", map[string]string{"connector": "rm", "kind": "create", "outcome": "delivered"}, nCreate - 1},
		{"orderflow_connector_jobs_total", map[string]string{"connector": "rm", "kind": "cancel", "outcome": "delivered"}, nCancel},
		{"orderflow_connector_jobs_total", map[string]string{"connector": "rm", "kind": "create", "outcome": "parked"}, 1},
		{"orderflow_connector_parked_total", map[string]string{"connector": "rm", "reason": "refused"}, 1},
		{"orderflow_connector_retries_total", map[string]string{"connector": "rm"}, third},
	} {
		if got := counter(t, r.reg, c.name, c.labels); int(got) < c.want || (c.name != "orderflow_connector_jobs_total" && int(got) != c.want) {
			t.Errorf("%s%v = %v, want %d", c.name, c.labels, got, c.want)
		}
	}
	// A duplicate on the outbox is delivered once: when both copies are in
	// one batch, the second is counted a duplicate; across batches the
	// provider's de-duplication answers it (the connectors' tests).
	delivered := counter(t, r.reg, "orderflow_connector_jobs_total", map[string]string{"connector": "rm", "kind": "create", "outcome": "delivered"})
	dups := counter(t, r.reg, "orderflow_connector_jobs_total", map[string]string{"connector": "rm", "outcome": "duplicate"})
	if int(delivered+dups) != nCreate-1+2 {
		t.Errorf("delivered %v + duplicates %v creates, want %d jobs and 2 copies", delivered, dups, nCreate-1)
	}
}

// A job that meets only transient failures is parked once it has had its
// attempts; a job of a tenant no connector lists, and a message that is no
// job, are parked at once. A dry-run replay counts them and moves nothing;
// a replay of one reason puts those back (and parks the rest again, so none
// is lost), and once the tenant is routed the dispatcher delivers them.
func TestParkedJobsReplay(t *testing.T) {
	v := outboxtest.NewVault(t)
	jobs := v.Jobs(t)
	tenants := tenantsOf(jobs)
	if len(tenants) < 2 {
		t.Fatalf("the fixtures have %d tenants; want 2", len(tenants))
	}
	unrouted := tenants[1]
	var flaky outbox.Job
	var unroutedJobs []outbox.Job
	for _, j := range jobs {
		switch {
		case j.TenantID == unrouted:
			unroutedJobs = append(unroutedJobs, j)
		case flaky.IdempotencyKey == "" && j.Kind == outbox.KindCreate:
			flaky = j
		}
	}
	r := newRig(t)
	r.produce(t, jobMessages(t, jobs)...)
	r.produce(t, kafka.Message{Key: []byte("x"), Value: []byte(`{"v":99,"kind":"create"}`)}, kafka.Message{Key: []byte("y"), Value: []byte("not json")})

	conn := newScripted(func(d courier.Delivery, attempt int) courier.Result {
		if d.IdempotencyKey == flaky.IdempotencyKey {
			return courier.Result{Outcome: courier.Retry, Err: fmt.Errorf("HTTP 503")}
		}
		return courier.Result{Outcome: courier.Done}
	})
	var onlyRouted []string
	for _, tenant := range tenants {
		if tenant != unrouted {
			onlyRouted = append(onlyRouted, tenant)
		}
	}
	r.runUntilCommitted(t, r.dispatcher(t, v.Client, connectors(onlyRouted), conn, 3))

	reasons := map[string]int{}
	for _, p := range r.parkedJobs(t) {
		reasons[headerOf(p, dispatch.HeaderReason)]++
		if headerOf(p, dispatch.HeaderReason) == dispatch.ReasonRetriesExhausted && headerOf(p, dispatch.HeaderAttempts) != "3" {
			t.Errorf("parked after %s attempts, want 3", headerOf(p, dispatch.HeaderAttempts))
		}
	}
	want := map[string]int{dispatch.ReasonRetriesExhausted: 1, dispatch.ReasonNoConnector: len(unroutedJobs), dispatch.ReasonMalformed: 2}
	if fmt.Sprint(reasons) != fmt.Sprint(want) {
		t.Fatalf("parked by reason %v, want %v", reasons, want)
	}
	if n := conn.attempts[flaky.IdempotencyKey]; n != 3 {
		t.Errorf("the flaky job was tried %d times, want 3", n)
	}

	replayCfg := dispatch.ReplayConfig{
		Brokers: r.brokers, Admin: stacktest.KafkaClient(r.brokers), ParkedTopic: r.parked, CourierTopic: r.courier,
		GroupID: r.group + "-replay",
	}
	ctx := context.Background()
	courierEnd := r.outboxSize(t)
	sum, err := dispatch.Replay(ctx, replayCfg)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Read != 3+len(unroutedJobs) || sum.Matched != sum.Read || sum.Replayed != 0 {
		t.Errorf("dry run: %+v", sum)
	}
	if got := r.outboxSize(t); got != courierEnd {
		t.Fatalf("a dry run wrote %d jobs to the outbox", got-courierEnd)
	}

	replayCfg.Apply = true
	replayCfg.Filter = dispatch.ReplayFilter{Reason: dispatch.ReasonNoConnector}
	sum, err = dispatch.Replay(ctx, replayCfg)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Replayed != len(unroutedJobs) || sum.Kept != 3 {
		t.Errorf("replay of no_connector: %+v, want %d put back and 3 parked again", sum, len(unroutedJobs))
	}
	replayCfg.Apply, replayCfg.Filter = false, dispatch.ReplayFilter{}
	if sum, err = dispatch.Replay(ctx, replayCfg); err != nil || sum.Read != 3 {
		t.Errorf("after the replay, the group reads %d parked jobs (%v), want the 3 parked again", sum.Read, err)
	}

	// Route the tenant now; the replayed jobs are delivered once each.
	r.runUntilCommitted(t, r.dispatcher(t, v.Client, connectors([]string{"*"}), conn, 3))
	for _, j := range unroutedJobs {
		if got := conn.doneCount(j.IdempotencyKey); got != 1 {
			t.Errorf("replayed %s job: delivered %d times, want 1", j.Kind, got)
		}
	}
	if got := counter(t, r.reg, "orderflow_connector_replayed_total", map[string]string{"connector": "rm", "outcome": "delivered"}); int(got) != len(unroutedJobs) {
		t.Errorf("orderflow_connector_replayed_total = %v, want %d", got, len(unroutedJobs))
	}
}

// A storm of 429s with Retry-After, longer than the attempts a job has, is
// waited out: the provider pacing its clients is no failure of a job, so
// every job is delivered once and none parked; a job that fails without a
// Retry-After is still parked once it has had its attempts.
func TestDispatchWaitsOutA429StormAndParksOnlyFailures(t *testing.T) {
	v := outboxtest.NewVault(t)
	jobs := v.Jobs(t)
	r := newRig(t)
	r.produce(t, jobMessages(t, jobs)...)
	const maxAttempts, storm = 3, 7
	flaky := jobs[0]
	conn := newScripted(func(d courier.Delivery, attempt int) courier.Result {
		switch {
		case d.IdempotencyKey == flaky.IdempotencyKey:
			return courier.Result{Outcome: courier.Retry, Err: fmt.Errorf("HTTP 503")}
		case attempt <= storm:
			return courier.Result{Outcome: courier.Retry, RetryAfter: 5 * time.Millisecond, Err: fmt.Errorf("HTTP 429")}
		}
		return courier.Result{Outcome: courier.Done}
	})
	r.runUntilCommitted(t, r.dispatcher(t, v.Client, connectors([]string{"*"}), conn, maxAttempts))

	for _, j := range jobs[1:] {
		if j.IdempotencyKey == flaky.IdempotencyKey {
			continue
		}
		if got, tried := conn.doneCount(j.IdempotencyKey), conn.attempts[j.IdempotencyKey]; got != 1 || tried != storm+1 {
			t.Errorf("%s job of %s: delivered %d times after %d attempts, want once after the storm's %d 429s", j.Kind, j.Key(), got, tried, storm)
		}
	}
	parked := r.parkedJobs(t)
	if len(parked) != 1 || string(parked[0].Key) != flaky.Key() || headerOf(parked[0], dispatch.HeaderReason) != dispatch.ReasonRetriesExhausted {
		t.Fatalf("%d jobs parked, want only the one failing without a Retry-After", len(parked))
	}
	if n := conn.attempts[flaky.IdempotencyKey]; n != maxAttempts {
		t.Errorf("the failing job was tried %d times, want %d", n, maxAttempts)
	}
}

// A provider's Retry-After holds back every job of the tenant at the
// connector, not only the jobs it answered: a job whose own retry comes
// sooner (a 500's short backoff) is not sent inside it.
func TestDispatchHoldsATenantBackForARetryAfter(t *testing.T) {
	v := outboxtest.NewVault(t)
	// Two creates of one tenant on one partition: one fetch, one batch.
	var jobs []outbox.Job
	byPlace := map[[2]any][]outbox.Job{}
	partitions := []int{0, 1, 2, 3, 4, 5}[:courierPartitions]
	for _, j := range v.Jobs(t) {
		if j.Kind != outbox.KindCreate {
			continue
		}
		place := [2]any{j.TenantID, (&kafka.Hash{}).Balance(kafka.Message{Key: []byte(j.Key())}, partitions...)}
		if byPlace[place] = append(byPlace[place], j); len(byPlace[place]) == 2 && jobs == nil {
			jobs = byPlace[place]
		}
	}
	if len(jobs) != 2 {
		t.Fatal("the fixtures have no two creates of one tenant on one partition")
	}
	r := newRig(t)
	r.produce(t, jobMessages(t, jobs)...)
	const wait = 400 * time.Millisecond
	var conn *scripted
	firstCall := map[string]int{} // the call of each job's first attempt
	conn = newScripted(func(d courier.Delivery, attempt int) courier.Result {
		switch {
		case attempt > 1:
			return courier.Result{Outcome: courier.Done}
		case d.IdempotencyKey == jobs[0].IdempotencyKey:
			firstCall[d.IdempotencyKey] = conn.calls // Deliver holds conn.mu
			return courier.Result{Outcome: courier.Retry, RetryAfter: wait, Err: fmt.Errorf("HTTP 429")}
		}
		firstCall[d.IdempotencyKey] = conn.calls
		return courier.Result{Outcome: courier.Retry, Err: fmt.Errorf("HTTP 500")}
	})
	r.runUntilCommitted(t, r.dispatcher(t, v.Client, connectors([]string{"*"}), conn, 3))
	conn.mu.Lock()
	defer conn.mu.Unlock()
	if conn.done[jobs[0].IdempotencyKey] != 1 || conn.done[jobs[1].IdempotencyKey] != 1 {
		t.Fatalf("the jobs were done %d and %d times; want each once after a retry", conn.done[jobs[0].IdempotencyKey], conn.done[jobs[1].IdempotencyKey])
	}
	call := firstCall[jobs[0].IdempotencyKey]
	if firstCall[jobs[1].IdempotencyKey] != call {
		t.Fatalf("the jobs were first sent in calls %d and %d, not together: the test proves nothing", call, firstCall[jobs[1].IdempotencyKey])
	}
	answered := conn.at[call-1]
	for i, at := range conn.at[call:] {
		if gap := at.Sub(answered); gap < wait {
			t.Errorf("call %d came %s after the 429, inside its Retry-After of %s", call+i+1, gap.Round(time.Millisecond), wait)
		}
	}
}

// A tenant offboarded while its jobs wait (its keys destroyed) has them
// discarded: nothing of it is sent, nothing parked, the batch committed.
// Credentials a provider refuses stop the dispatcher with nothing committed.
func TestDispatchDiscardsOffboardedAndStopsOnRefusedCredentials(t *testing.T) {
	v := outboxtest.NewVault(t)
	jobs := v.Jobs(t)
	tenant := jobs[0].TenantID
	var theirs []outbox.Job
	for _, j := range jobs {
		if j.TenantID == tenant && j.Kind == outbox.KindCreate {
			theirs = append(theirs, j)
		}
	}
	if len(theirs) == 0 {
		t.Fatal("no create job of the first tenant")
	}
	if err := v.Client.DestroyTenantKeys(context.Background(), tenant); err != nil {
		t.Fatal(err)
	}
	r := newRig(t)
	r.produce(t, jobMessages(t, theirs)...)
	conn := newScripted(nil)
	r.runUntilCommitted(t, r.dispatcher(t, v.Client, connectors([]string{"*"}), conn, 3))
	if conn.calls != 0 || len(r.parkedJobs(t)) != 0 {
		t.Errorf("an offboarded tenant's jobs: %d connector calls, %d parked; want none", conn.calls, len(r.parkedJobs(t)))
	}
	if got := counter(t, r.reg, "orderflow_connector_jobs_total", map[string]string{"outcome": "discarded"}); int(got) != len(theirs) {
		t.Errorf("discarded %v jobs, want %d", got, len(theirs))
	}

	// Refused credentials: Run stops with the error; nothing is committed.
	r2 := newRig(t)
	i := slices.IndexFunc(jobs, func(j outbox.Job) bool { return j.TenantID != tenant })
	r2.produce(t, jobMessages(t, jobs[i:i+1])...)
	refusing := newScripted(nil)
	refusing.fail = fmt.Errorf("clickanddrop lookup: HTTP 401: %w", courier.ErrCredentialsRefused)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err := r2.dispatcher(t, v.Client, connectors([]string{"*"}), refusing, 3).Run(ctx)
	if err == nil || !strings.Contains(err.Error(), "credentials") {
		t.Fatalf("Run with refused credentials: %v, want it to stop naming the credentials", err)
	}
	for p, off := range stacktest.CommittedOffsets(t, r2.brokers, r2.group, r2.courier, courierPartitions) {
		if off > 0 {
			t.Errorf("partition %d committed to %d after refused credentials", p, off)
		}
	}
}

// A buyer's erasure withdraws the labels of their orders: a create job of an
// order erased before it was read is discarded without its label being
// decrypted; one erased while it waits for a retry is not sent again; a
// cancel, which carries no label, still goes; the other orders' jobs go once.
func TestDispatchDiscardsTheLabelsOfErasedBuyers(t *testing.T) {
	v := outboxtest.NewVault(t)
	var creates []outbox.Job
	orders := map[string]bool{}
	for _, j := range v.Jobs(t) {
		if j.Kind == outbox.KindCreate && j.Recipient != "" && !orders[j.Key()] {
			orders[j.Key()] = true
			creates = append(creates, j)
		}
	}
	if len(creates) < 3 {
		t.Fatalf("%d create jobs with a label; want 3", len(creates))
	}
	before, during, kept := creates[0], creates[1], creates[2]
	cancel := before
	cancel.Kind, cancel.Recipient, cancel.SourceVersion = outbox.KindCancel, "", before.SourceVersion+1
	cancel.IdempotencyKey = outbox.IdempotencyKey(cancel.TenantID, cancel.Channel, cancel.ChannelOrderID, outbox.KindCancel, cancel.SourceVersion)

	erased := &erasedSet{orders: map[string]bool{}}
	erased.add(before)
	dec := &recordingDecrypter{Decrypter: v.Client}
	r := newRig(t)
	r.erased = erased
	r.produce(t, jobMessages(t, []outbox.Job{before, cancel, during, kept})...)
	conn := newScripted(func(d courier.Delivery, attempt int) courier.Result {
		if d.IdempotencyKey == during.IdempotencyKey && attempt == 1 {
			erased.add(during) // the buyer's erasure lands while the job waits
			return courier.Result{Outcome: courier.Retry, Err: errors.New("HTTP 503")}
		}
		return courier.Result{Outcome: courier.Done}
	})
	r.runUntilCommitted(t, r.dispatcher(t, dec, connectors([]string{"*"}), conn, 3))

	if slices.Contains(dec.ciphertexts(), before.Recipient) {
		t.Error("the label of an order erased before it was read was decrypted")
	}
	if n := conn.attempts[before.IdempotencyKey]; n != 0 {
		t.Errorf("the create of an order erased before it was read was sent %d times", n)
	}
	if n := conn.attempts[during.IdempotencyKey]; n != 1 {
		t.Errorf("the create erased during its retry was sent %d times, want only the attempt before the erasure", n)
	}
	if conn.done[cancel.IdempotencyKey] != 1 || conn.done[kept.IdempotencyKey] != 1 {
		t.Errorf("the cancel and the other order were delivered %d and %d times, want once each",
			conn.done[cancel.IdempotencyKey], conn.done[kept.IdempotencyKey])
	}
	if got := counter(t, r.reg, "orderflow_connector_jobs_total", map[string]string{"outcome": "discarded"}); got != 2 {
		t.Errorf("discarded %v jobs, want the 2 creates of erased orders", got)
	}
	if parked := r.parkedJobs(t); len(parked) != 0 {
		t.Errorf("%d jobs parked, want none", len(parked))
	}
}

// erasedSet is a buyer erasure's registered orders, as retention.Blocklist
// gives them.
type erasedSet struct {
	mu     sync.Mutex
	orders map[string]bool
}

func (e *erasedSet) add(j outbox.Job) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.orders[j.TenantID+"/"+string(j.Channel)+"/"+j.ChannelOrderID] = true
}

func (e *erasedSet) Erased(tenant, channel, id string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.orders[tenant+"/"+channel+"/"+id]
}

// recordingDecrypter keeps every ciphertext it was asked to decrypt.
type recordingDecrypter struct {
	dispatch.Decrypter
	mu   sync.Mutex
	seen []string
}

func (d *recordingDecrypter) Decrypt(ctx context.Context, tenant string, cts []string) ([][]byte, error) {
	d.mu.Lock()
	d.seen = append(d.seen, cts...)
	d.mu.Unlock()
	return d.Decrypter.Decrypt(ctx, tenant, cts)
}

func (d *recordingDecrypter) ciphertexts() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.seen)
}

// One order's jobs go one a round, and each round's call for the tenant
// takes a token of the tenant's bucket at the connector: three jobs of one
// order at 5 calls a second, burst 1, make three calls, two of which wait.
func TestDispatchTakesATokenPerCallOfATenant(t *testing.T) {
	v := outboxtest.NewVault(t)
	var create outbox.Job
	for _, j := range v.Jobs(t) {
		if j.Kind == outbox.KindCreate {
			create = j
			break
		}
	}
	cancel := create
	cancel.Kind, cancel.Recipient, cancel.SourceVersion = outbox.KindCancel, "", create.SourceVersion+1
	cancel.IdempotencyKey = outbox.IdempotencyKey(cancel.TenantID, cancel.Channel, cancel.ChannelOrderID, outbox.KindCancel, cancel.SourceVersion)
	again := create // restored by the seller: ready again
	again.SourceVersion += 2
	again.IdempotencyKey = outbox.IdempotencyKey(again.TenantID, again.Channel, again.ChannelOrderID, outbox.KindCreate, again.SourceVersion)

	r := newRig(t)
	r.produce(t, jobMessages(t, []outbox.Job{create, cancel, again})...)
	cs := connectors([]string{"*"})
	rm := cs["rm"]
	rm.RatePerSecond, rm.Burst = 5, 1
	cs["rm"] = rm
	conn := newScripted(nil)
	r.runUntilCommitted(t, r.dispatcher(t, v.Client, cs, conn, 3))

	ref := create.ChannelOrderID
	if want := []string{"create:" + ref, "cancel:" + ref, "create:" + ref}; !slices.Equal(conn.order, want) {
		t.Errorf("delivered %v, want %v", conn.order, want)
	}
	if conn.calls != 3 {
		t.Errorf("%d calls, want one per job of the order", conn.calls)
	}
	if got := counter(t, r.reg, "orderflow_connector_rate_limit_waits_total", map[string]string{"connector": "rm"}); got != 2 {
		t.Errorf("orderflow_connector_rate_limit_waits_total = %v, want 2", got)
	}
}
