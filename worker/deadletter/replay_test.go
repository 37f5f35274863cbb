package deadletter_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/orderflow/orderflow/worker/clickhousedb/clickhousetest"
	"github.com/orderflow/orderflow/worker/deadletter"
	"github.com/orderflow/orderflow/worker/retention"
	"github.com/orderflow/orderflow/worker/stacktest"
	"github.com/orderflow/orderflow/worker/stream"
)

// A tenant offboarded while a replay runs stops being replayed at once: the
// replay reads the offboarded tenants (here the real list in ClickHouse,
// through the observer Blocklist replay-dlq uses) again before every batch.
// The offboarding is recorded while the first batch is being decrypted; of
// the tenant's letters, only the one in that batch goes back.
func TestATenantOffboardedDuringAReplayIsNotReplayedFromTheNextBatch(t *testing.T) {
	ch, conn := clickhousetest.Migrated(t)
	ctx, brokers, vault := onStack(t)
	dlq, source := newTopic(t, brokers, "test.dlq", 1), newTopic(t, brokers, "test.amazon", 1)
	tenants := newTenants(t, vault, "leaving", "staying")
	leaving, staying := tenants[0], tenants[1]

	// Three batches of two, each one letter of either tenant.
	var letters []deadletter.Letter
	for i := range 6 {
		tenant := []string{leaving, staying}[i%2]
		letters = append(letters, deadletter.Letter{
			Source: stream.Message{Topic: source, Offset: int64(i), Time: time.Now(), Key: fmt.Appendf(nil, "%s/%d", tenant, i),
				Value: fmt.Appendf(nil, `{"tenant_id":%q,"n":%d}`, tenant, i)},
			Reason: "bad_amount", Stage: "normalize", TenantID: tenant, Err: errors.New("bad_amount: payload.x: rule"),
		})
	}
	publish(ctx, t, brokers, dlq, vault, letters)

	list, err := retention.NewBlocklist(ctx, retention.BlocklistConfig{Conn: conn, Database: ch.Database})
	if err != nil {
		t.Fatal(err)
	}
	offboard := func() {
		batch, err := conn.PrepareBatch(ctx, "INSERT INTO "+ch.Database+".offboarded_tenants (tenant_id, offboarded_at)")
		if err != nil {
			t.Error(err)
			return
		}
		if err := batch.Append(leaving, time.Now().UTC()); err != nil {
			t.Error(err)
			return
		}
		if err := batch.Send(); err != nil {
			t.Error(err)
		}
	}
	sum, err := deadletter.Replay(ctx, deadletter.ReplayConfig{
		Brokers: brokers, Topic: dlq, Decrypter: &offboardingDuringFirstDecrypt{Decrypter: vault, offboard: offboard},
		Blocklist: list, Execute: true, BatchSize: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Matched != 6 || sum.Republished != 4 || sum.Offboarded[leaving] != 2 {
		t.Errorf("replay %+v: want 6 matched, 4 republished, 2 of %s skipped once it was offboarded", sum, leaving)
	}
	back := map[string]int{}
	for _, m := range stacktest.ReadAll(t, brokers, source, 1) {
		back[string(m.Key)[:len(string(m.Key))-2]]++
	}
	if back[leaving] != 1 || back[staying] != 3 {
		t.Errorf("republished per tenant %v: want 1 of %s (before its offboarding) and all 3 of %s", back, leaving, staying)
	}
}

// offboardingDuringFirstDecrypt decrypts with the real client, and the first
// time it is called records the offboarding: a seller leaving while a replay
// runs.
type offboardingDuringFirstDecrypt struct {
	deadletter.Decrypter
	offboard func()
	once     sync.Once
}

func (d *offboardingDuringFirstDecrypt) Decrypt(ctx context.Context, tenant string, ciphertexts []string) ([][]byte, error) {
	d.once.Do(d.offboard)
	return d.Decrypter.Decrypt(ctx, tenant, ciphertexts)
}
