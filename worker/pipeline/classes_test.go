package pipeline_test

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	vault "github.com/hashicorp/vault/api"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderflow/orderflow/worker/clickhousedb/clickhousetest"
	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/deadletter"
	"github.com/orderflow/orderflow/worker/facts"
	"github.com/orderflow/orderflow/worker/failure"
	"github.com/orderflow/orderflow/worker/order"
	"github.com/orderflow/orderflow/worker/pipeline"
	"github.com/orderflow/orderflow/worker/pipeline/pipelinetest"
	"github.com/orderflow/orderflow/worker/protected"
	"github.com/orderflow/orderflow/worker/stacktest"
	"github.com/orderflow/orderflow/worker/telemetry/telemetrytest"
	"github.com/orderflow/orderflow/worker/transit"
)

// The error classes against the real servers (Kafka, Vault, ClickHouse);
// policy_test.go injects each at every stage in-process.

// spoiler is the real protect stage followed by a bug: it gives one order a
// status no table can hold. Nothing upstream makes such an order (the
// normaliser refuses it), so this is how the writer is made to refuse one.
type spoiler struct {
	stage  pipeline.Protector
	victim pipelinetest.Key
}

func (s spoiler) Protect(ctx context.Context, orders []order.Order) ([]protected.Order, error) {
	out, err := s.stage.Protect(ctx, orders)
	for i := range out {
		if pipelinetest.ProtectedKeyOf(out[i]) == s.victim {
			out[i].Status = "Lost in the post"
		}
	}
	return out, err
}

// Permanent for one order, on the real servers: the ClickHouse writer refuses
// an order; its messages are dead-lettered (stage write, reason unwritable,
// under its tenant's key, the error header naming the rule), every other
// order is in ClickHouse, and every partition is committed to its end, the
// victim's included: the order no longer stalls its partition.
func TestAnOrderTheWriterRefusesIsDeadLetteredAndItsPartitionGoesOn(t *testing.T) {
	s := newStream(t)
	s.produceFixtures(t)
	ch, conn := clickhousetest.Migrated(t)
	writer, err := facts.New(facts.Config{Conn: conn, Database: ch.Database, RestrictedDatabase: ch.RestrictedDatabase,
		LabelRetention: config.Period{Days: 366}})
	if err != nil {
		t.Fatal(err)
	}
	keys := slices.SortedFunc(maps.Keys(s.goodByKey), func(a, b pipelinetest.Key) int {
		return strings.Compare(a.ChannelOrderID, b.ChannelOrderID)
	})
	victim := keys[len(keys)/2]
	reg := prometheus.NewRegistry()
	w := s.startWorkerWith(t, writer, reg, spoiler{stage: s.stage, victim: victim})
	s.waitCommitted(t, 2*time.Minute)
	w.stop(t)

	if n := clickhousetest.Count(t, conn, "SELECT count() FROM "+ch.Database+".order_facts FINAL"); n != uint64(len(s.goodByKey)-1) {
		t.Errorf("order_facts has %d orders, want %d: all but the refused one", n, len(s.goodByKey)-1)
	}
	if n := clickhousetest.Count(t, conn, "SELECT count() FROM "+ch.Database+".order_facts FINAL WHERE channel_order_id = ?", victim.ChannelOrderID); n != 0 {
		t.Errorf("the refused order is in order_facts")
	}
	unwritable := 0
	for _, m := range stacktest.ReadAll(t, s.brokers, s.dlq, 3) {
		h := headerMap(m)
		if h[deadletter.HeaderStage] != pipeline.StageWrite {
			continue
		}
		unwritable++
		if h[deadletter.HeaderReason] != pipeline.ReasonUnwritable || h[deadletter.HeaderPayloadKey] != deadletter.PayloadKeyTenant ||
			h[deadletter.HeaderTenantID] != victim.TenantID {
			t.Errorf("letter of the refused order: reason %q, payload_key %q, tenant %q; want unwritable under %s's key",
				h[deadletter.HeaderReason], h[deadletter.HeaderPayloadKey], h[deadletter.HeaderTenantID], victim.TenantID)
		}
		if e := h[deadletter.HeaderError]; !strings.Contains(e, "status is not a canonical status") || strings.Contains(e, "Lost") {
			t.Errorf("error header %q: want the rule, not the value", e)
		}
		if o, err := normalizer.Normalize(s.decryptLetter(t, m)); err != nil || pipelinetest.KeyOf(o) != victim {
			t.Errorf("the letter holds another message (%v)", err)
		}
	}
	if unwritable != 2 { // the fixture is produced twice
		t.Errorf("%d letters of stage write, want the refused order's 2 messages", unwritable)
	}
	if n := telemetrytest.Sum(t, reg, "orderflow_pipeline_retries_total"); n != 0 {
		t.Errorf("%v retries: a refused order is not retried", n)
	}
}

// Permanent for the worker, on the real Vault: a token whose policy allows
// nothing of transit (a misconfigured role) makes the pipeline stop at the
// protect stage with an error that says so, after one request and no retry;
// nothing is written or committed.
func TestPermissionDeniedStopsTheWorker(t *testing.T) {
	s := newStream(t)
	s.produceFixtures(t)
	addr, root := stacktest.Vault(t)
	vc, err := vault.NewClient(&vault.Config{Address: addr})
	if err != nil {
		t.Fatal(err)
	}
	vc.SetToken(root)
	secret, err := vc.Auth().Token().Create(&vault.TokenCreateRequest{Policies: []string{"default"}, TTL: "10m", NoParent: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = vc.Auth().Token().RevokeTree(secret.Auth.ClientToken) })
	vreg := prometheus.NewRegistry()
	// As the worker builds it: one attempt per request.
	denied, err := transit.New(context.Background(), transit.Config{Address: addr, MaxAttempts: 1, Registerer: vreg,
		Auth: transit.Auth{Token: config.Secret(secret.Auth.ClientToken)}})
	if err != nil {
		t.Fatalf("the token cannot even look itself up: %v", err)
	}
	t.Cleanup(func() { _ = denied.Close() })
	sink := pipelinetest.NewMemorySink()
	reg := prometheus.NewRegistry()
	w := s.startWorkerWith(t, sink, reg, stageOn(t, denied))
	var runErr error
	select {
	case runErr = <-w.done:
	case <-time.After(time.Minute):
		w.cancel()
		<-w.done
		t.Fatal("the worker kept going for a minute with a token Vault refuses")
	}
	var stop *pipeline.StopError
	if !errors.As(runErr, &stop) || stop.Stage != pipeline.StageProtect || failure.Of(runErr) != failure.Worker {
		t.Fatalf("Run = %v, want a stop at the protect stage", runErr)
	}
	if transit.StatusCode(runErr) != 403 || !strings.Contains(runErr.Error(), "permission denied") {
		t.Errorf("Run's error %q does not say Vault denied the request", runErr)
	}
	if n := telemetrytest.Sum(t, reg, "orderflow_pipeline_retries_total"); n != 0 {
		t.Errorf("%v pipeline retries of a refusal", n)
	}
	if n := telemetrytest.Sum(t, vreg, "orderflow_vault_retries_total"); n != 0 {
		t.Errorf("%v Vault client retries of a refusal", n)
	}
	if n := len(sink.Orders()); n != 0 {
		t.Errorf("%d orders written", n)
	}
	for topic, parts := range s.inputs {
		for p, off := range stacktest.CommittedOffsets(t, s.brokers, s.group, topic, parts) {
			if off > 0 {
				t.Errorf("%s/%d committed to %d", topic, p, off)
			}
		}
	}
}
