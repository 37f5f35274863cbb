package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/orderflow/orderflow/connectors/courier/clickanddrop/clickanddroptest"
	"github.com/orderflow/orderflow/connectors/courier/webhook"
	"github.com/orderflow/orderflow/connectors/courier/webhook/webhooktest"
	"github.com/orderflow/orderflow/connectors/outbox"
	"github.com/orderflow/orderflow/connectors/projection"
	"github.com/orderflow/orderflow/schemas/policy"
	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/protected"
	"github.com/orderflow/orderflow/worker/stacktest"
	"github.com/orderflow/orderflow/worker/telemetry"
	"github.com/orderflow/orderflow/worker/transit"
	"github.com/orderflow/orderflow/worker/transit/transittest"
)

// envDispatcherChild makes this test binary the dispatcher process of
// TestCourierJobsReachTheirCouriersOnce (see TestDispatcherChild).
const envDispatcherChild = "ORDERFLOW_TEST_DISPATCHER_CHILD"

// TestDispatcherChild is not a test: run by TestCourierJobsReachTheirCouriersOnce
// as a child process with envDispatcherChild set to a config file, it is
// `orderflow dispatch --config FILE`, so that the parent can SIGKILL it.
func TestDispatcherChild(t *testing.T) {
	path := os.Getenv(envDispatcherChild)
	if path == "" {
		t.Skip("the dispatcher process of TestCourierJobsReachTheirCouriersOnce; it runs only as that test's child")
	}
	os.Exit(run([]string{"dispatch", "--config", path}, os.Stdout, os.Stderr))
}

// The courier path end to end on the real stack: the normaliser's fixtures
// (each written twice) and a later snapshot cancelling one ready order go
// through `orderflow run` into the outbox, and `orderflow dispatch`, a
// separate process, delivers the jobs to the Click & Drop stand-in (one
// tenant) and the webhook receiver (another) while both fail a third of
// their requests (5xx and 429 with Retry-After, some after applying the
// work) and the dispatcher is SIGKILLed mid-stream and started again. Every
// ready-to-ship order reaches its courier exactly once; the cancellation is
// applied; the jobs of a tenant no connector lists are parked, and once the
// configuration routes it, `orderflow replay-parked --execute` puts them back
// and they are delivered; every request carries exactly the fields the
// connector's allow-list gives the job.
func TestCourierJobsReachTheirCouriersOnce(t *testing.T) {
	e := newStackEnv(t)
	e.useMigrated(t)
	keyPrefix := e.ownVaultKeys("of-e2e")
	e.vars = append(e.vars, "ORDERFLOW_RETENTION_INTERVAL=0")
	vault := transittest.NewClient(t, transit.Config{KeyPrefix: keyPrefix})
	const rmTenant, hookTenant, lateTenant = "bramble-home", "acme-uk", "lumen-imports"
	t.Cleanup(func() {
		for _, tenant := range []string{rmTenant, hookTenant, lateTenant} {
			_ = vault.DestroyTenantKeys(context.Background(), tenant)
		}
	})

	// The stand-ins fail every third call, 5xx and 429 in turn; some of the
	// 5xx come after the work was applied.
	const rmKey = "rm-e2e-api-key"
	rm := clickanddroptest.New(t, clickanddroptest.Config{APIKey: rmKey})
	var rmFaults []clickanddroptest.Fault
	for i := range 600 {
		switch {
		case i%3 != 1:
			rmFaults = append(rmFaults, clickanddroptest.Fault{})
		case i%6 == 1:
			rmFaults = append(rmFaults, clickanddroptest.Fault{Status: http.StatusServiceUnavailable, AfterApply: i%12 == 1})
		default:
			rmFaults = append(rmFaults, clickanddroptest.Fault{Status: http.StatusTooManyRequests, RetryAfter: "1"})
		}
	}
	rm.Fail(rmFaults...)
	secretText, secret := newWebhookSecret(t)
	hook := webhooktest.New(webhooktest.Config{
		Keys: map[string][]byte{"k1": secret},
		Fault: func(n int) (webhooktest.Fault, bool) {
			switch {
			case n%3 != 1:
				return webhooktest.Fault{}, false
			case n%6 == 1:
				return webhooktest.Fault{Status: http.StatusBadGateway, AfterApply: n%12 == 1}, true
			}
			return webhooktest.Fault{Status: http.StatusTooManyRequests, RetryAfter: "1"}, true
		},
	})
	t.Cleanup(hook.Close)

	routed := func(hookTenants ...string) string {
		return writeConnectorsConfig(t, rm.URL, hook.URL, rmTenant, hookTenants, 0)
	}
	childEnv := couriersEnv(e, rmKey, secretText)

	// The orders, through the worker, into the outbox.
	e.produceFixtures(t)
	cancelled, err := os.ReadFile("testdata/ebay-typical-two-line-cancelled.json")
	if err != nil {
		t.Fatal(err)
	}
	w := &kafka.Writer{Addr: kafka.TCP(e.brokers...), Topic: e.ebay, BatchTimeout: time.Millisecond, RequiredAcks: kafka.RequireAll}
	if err := w.WriteMessages(context.Background(), kafka.Message{Key: []byte("typical-two-line.json"), Value: cancelled}); err != nil {
		t.Fatal(err)
	}
	_ = w.Close()
	runWorkerThrough(t, e)
	jobs := readJobs(t, e)
	want := expectJobs(t, jobs, rmTenant, hookTenant, lateTenant)

	// The dispatcher, killed once it has delivered some, then started again.
	cfgPath := routed(hookTenant)
	first := startDispatcher(t, childEnv, cfgPath)
	waitFor(t, "the first deliveries", func() bool { return len(rm.Orders())+len(hook.Deliveries()) >= 3 })
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()
	second := startDispatcher(t, childEnv, cfgPath)
	dispatchGroup := envValue(childEnv, "ORDERFLOW_DISPATCH_GROUP_ID")
	waitCommitted(t, e, dispatchGroup, []string{e.courier}, 3)
	stopDispatcher(t, second)

	checkDeliveries(t, rm, hook, want, false)
	parked := stacktest.ReadAll(t, e.brokers, e.parked, 3)
	if len(parked) != want.lateJobs {
		t.Fatalf("%d jobs parked, want the %d of the tenant no connector lists", len(parked), want.lateJobs)
	}

	// Fix the configuration, replay, and the parked jobs are delivered.
	cfgPath = routed(hookTenant, lateTenant)
	if out := runOrderflow(t, childEnv, "replay-parked", "--config", cfgPath); !strings.Contains(out, fmt.Sprintf("read %d parked jobs, %d selected; dry run", len(parked), len(parked))) {
		t.Errorf("replay-parked dry run says:\n%s", out)
	}
	if out := runOrderflow(t, childEnv, "replay-parked", "--config", cfgPath, "--execute", "--reason", "no_connector"); !strings.Contains(out, fmt.Sprintf("put back %d on the outbox", len(parked))) {
		t.Errorf("replay-parked --execute says:\n%s", out)
	}
	third := startDispatcher(t, childEnv, cfgPath)
	waitCommitted(t, e, dispatchGroup, []string{e.courier}, 3)
	stopDispatcher(t, third)
	checkDeliveries(t, rm, hook, want, true)

	statuses := map[int]int{}
	for _, c := range rm.Calls() {
		statuses[c.Status]++
	}
	if statuses[http.StatusServiceUnavailable] == 0 || statuses[http.StatusTooManyRequests] == 0 || hook.Requests() <= len(hook.Deliveries()) {
		t.Errorf("the stand-ins failed too little to prove anything: Click & Drop answered %v; the webhook had %d requests for %d deliveries",
			statuses, hook.Requests(), len(hook.Deliveries()))
	}

	// Every request carried exactly the allow-listed fields of its job.
	checkFields(t, vault, jobs, rm, hook, rmTenant)
}

// wanted is what the outbox asks of each courier, by order reference.
type wanted struct {
	rmCreates, hookCreates, late []string
	cancelled                    string
	// lateJobs counts the late tenant's jobs on the outbox: each fixture is
	// written twice, so its job is there twice, and parked twice.
	lateJobs int
}

// expectJobs reads what the couriers should receive from the outbox the
// worker wrote, and checks it is what the fixtures call for: creates for
// each tenant, the cancel after its create.
func expectJobs(t *testing.T, jobs []outbox.Job, rmTenant, hookTenant, lateTenant string) wanted {
	t.Helper()
	var w wanted
	cancels := map[string]bool{}
	for _, j := range jobs {
		if j.Kind == outbox.KindCancel {
			cancels[j.ChannelOrderID] = true
		}
		if j.TenantID == lateTenant {
			w.lateJobs++
		}
	}
	seen := map[string]bool{}
	for _, j := range jobs {
		if j.Kind != outbox.KindCreate || seen[j.ChannelOrderID] {
			continue
		}
		seen[j.ChannelOrderID] = true
		switch j.TenantID {
		case rmTenant:
			w.rmCreates = append(w.rmCreates, j.ChannelOrderID)
		case hookTenant:
			w.hookCreates = append(w.hookCreates, j.ChannelOrderID)
			if cancels[j.ChannelOrderID] {
				w.cancelled = j.ChannelOrderID
			}
		case lateTenant:
			w.late = append(w.late, j.ChannelOrderID)
		}
	}
	if len(w.rmCreates) < 5 || len(w.hookCreates) < 5 || len(w.late) != 1 || w.cancelled == "" {
		t.Fatalf("the outbox holds %d creates for Click & Drop, %d for the webhook, %d of the late tenant and cancelled %q: the fixtures changed?",
			len(w.rmCreates), len(w.hookCreates), len(w.late), w.cancelled)
	}
	return w
}

// checkDeliveries checks each courier's ledger: every ready order once, the
// cancelled order cancelled; with late, the replayed tenant's too.
func checkDeliveries(t *testing.T, rm *clickanddroptest.Server, hook *webhooktest.Server, w wanted, late bool) {
	t.Helper()
	rmCount := map[string]int{}
	for _, o := range rm.Orders() {
		rmCount[o.Reference]++
	}
	for _, ref := range w.rmCreates {
		if rmCount[ref] != 1 {
			t.Errorf("Click & Drop holds order %s %d times, want once", ref, rmCount[ref])
		}
	}
	if len(rmCount) != len(w.rmCreates) || len(rm.Duplicates()) != 0 {
		t.Errorf("Click & Drop holds %d orders (%d created twice), want %d", len(rmCount), len(rm.Duplicates()), len(w.rmCreates))
	}
	if v := rm.Violations(); len(v) > 0 {
		t.Errorf("requests broke Click & Drop's contract: %v", v)
	}
	hookCount := map[string]int{}
	for _, d := range hook.Deliveries() {
		if d.Kind == string(outbox.KindCreate) {
			hookCount[d.OrderReference]++
		}
	}
	wantHook := slices.Clone(w.hookCreates)
	if late {
		wantHook = append(wantHook, w.late...)
	}
	for _, ref := range wantHook {
		if hookCount[ref] != 1 {
			t.Errorf("the webhook receiver has order %s %d times, want once", ref, hookCount[ref])
		}
	}
	if len(hookCount) != len(wantHook) {
		t.Errorf("the webhook receiver has %d orders, want %d", len(hookCount), len(wantHook))
	}
	if o, _ := hook.Order(w.cancelled); o.Created != 1 || !o.Cancelled {
		t.Errorf("order %s: created %d times, cancelled %v at the webhook receiver; want created once, then cancelled", w.cancelled, o.Created, o.Cancelled)
	}
	if r := hook.Refusals(); len(r) > 0 {
		t.Errorf("the webhook receiver refused requests: %v", r)
	}
}

// checkFields compares every create each courier received, as allow-list
// sources, with the projection of its job through the connector's list: no
// field more, none less.
func checkFields(t *testing.T, vault *transit.Client, jobs []outbox.Job, rm *clickanddroptest.Server, hook *webhooktest.Server, rmTenant string) {
	t.Helper()
	lists, err := policy.LoadConnectors()
	if err != nil {
		t.Fatal(err)
	}
	byRef := map[string]outbox.Job{}
	for _, j := range jobs {
		if j.Kind == outbox.KindCreate {
			byRef[j.ChannelOrderID] = j
		}
	}
	expect := func(kind, ref string, notifications bool, parcel projection.Parcel) []string {
		j, ok := byRef[ref]
		if !ok {
			t.Fatalf("a %s delivery of order %s, which has no create job", kind, ref)
		}
		plain, err := vault.Decrypt(context.Background(), j.TenantID, []string{j.Recipient})
		if err != nil {
			t.Fatal(err)
		}
		label, err := protected.ParseDocument(plain[0])
		if err != nil {
			t.Fatal(err)
		}
		list, err := lists.For(kind)
		if err != nil {
			t.Fatal(err)
		}
		if kind == "clickanddrop" { // only it maps services (writeConnectorsConfig)
			parcel.ServiceCode = map[string]string{"NextDay": "TPN24"}[j.ShipServiceLevel]
		}
		p, err := projection.Project(list, projection.Input{Label: label, Job: &j, Notifications: notifications, Parcel: parcel})
		if err != nil {
			t.Fatal(err)
		}
		sources := p.Sources()
		if kind == "clickanddrop" && !slices.Contains(sources, "shipping_address.county") {
			// Click & Drop has no state: a US state goes in its county.
			if i := slices.Index(sources, "shipping_address.state_or_region"); i >= 0 {
				sources[i] = "shipping_address.county"
				slices.Sort(sources)
			}
		}
		return sources
	}
	checked := 0
	for _, o := range rm.Orders() {
		want := expect("clickanddrop", o.Reference, true, projection.Parcel{WeightGrams: 750, Format: "smallParcel", TariffCode: "420292"})
		if got := o.Sources(); !slices.Equal(got, want) {
			t.Errorf("Click & Drop order %s carried %v, want %v", o.Reference, got, want)
		}
		checked++
	}
	for _, d := range hook.Deliveries() {
		if d.Kind != string(outbox.KindCreate) {
			continue
		}
		want := expect("webhook", d.OrderReference, false, projection.Parcel{WeightGrams: 500, Format: "parcel"})
		if !slices.Equal(d.Sources, want) {
			t.Errorf("webhook delivery of %s carried %v, want %v", d.OrderReference, d.Sources, want)
		}
		for _, s := range d.Sources {
			if s == "shipping_address.phone" || s == "shipping_address.email" {
				t.Errorf("webhook delivery of %s carried %s without notifications on", d.OrderReference, s)
			}
		}
		checked++
	}
	if checked == 0 {
		t.Fatal("no delivery to check")
	}
}

// writeConnectorsConfig writes the connectors section (which only a file can
// declare): Click & Drop for rmTenant with notifications on, the webhook for
// hookTenants without; each call bounded by timeout unless it is 0 (the
// connectors' default).
func writeConnectorsConfig(t *testing.T, rmURL, hookURL, rmTenant string, hookTenants []string, timeout time.Duration) string {
	t.Helper()
	cfg := fmt.Sprintf(`connectors:
  royalmail:
    kind: clickanddrop
    purpose: delivery
    endpoint: %s
    credentials: {env: TEST_RM_API_KEY}
    tenants: [%s]
    notifications: [%s]
    rate_per_second: 200
    burst: 20
    parcel: {weight_grams: 750, format: smallParcel, tariff_code: "420292"}
    services: {NextDay: TPN24}
  courierhook:
    kind: webhook
    purpose: delivery
    endpoint: %s
    credentials: {env: TEST_HOOK_SECRET}
    key_id: k1
    tenants: [%s]
    rate_per_second: 200
    burst: 20
    parcel: {weight_grams: 500}
`, rmURL, rmTenant, rmTenant, hookURL, strings.Join(hookTenants, ", "))
	if timeout != 0 {
		cfg = strings.ReplaceAll(cfg, "    burst: 20\n", fmt.Sprintf("    burst: 20\n    timeout: %s\n", timeout))
	}
	path := filepath.Join(t.TempDir(), "orderflow.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := config.Load(path, append(os.Environ(), "TEST_RM_API_KEY=x", "TEST_HOOK_SECRET=x", "ORDERFLOW_KAFKA_BROKERS=127.0.0.1:1")); err != nil {
		t.Fatalf("the test's connectors file: %v", err)
	}
	return path
}

func newWebhookSecret(t *testing.T) (text string, key []byte) {
	t.Helper()
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	text = "whsec_" + base64.StdEncoding.EncodeToString(raw)
	key, err := webhook.ParseSecret(text)
	if err != nil {
		t.Fatal(err)
	}
	return text, key
}

// startDispatcher starts `orderflow dispatch` as a child process; its output
// goes to the test's log.
func startDispatcher(t *testing.T, env []string, cfgPath string) *exec.Cmd {
	t.Helper()
	return startDispatcherLogging(t, env, cfgPath, nil)
}

// startDispatcherLogging is startDispatcher with the output's lines going to
// sink instead, when it is not nil.
func startDispatcherLogging(t *testing.T, env []string, cfgPath string, sink *lineLog) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestDispatcherChild$", "-test.v=false")
	cmd.Env = append(slices.Clone(env), envDispatcherChild+"="+cfgPath, "ORDERFLOW_METRICS_LISTEN="+freeAddr(t))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if sink != nil {
				sink.add(sc.Text())
				continue
			}
			t.Logf("dispatcher %d: %s", cmd.Process.Pid, sc.Text())
		}
	})
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		wg.Wait()
	})
	return cmd
}

// lineLog keeps the lines of the dispatchers' output, for a leak scan.
type lineLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *lineLog) add(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, line)
}

// Lines is what was logged so far.
func (l *lineLog) Lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.lines)
}

// couriersEnv is the environment of a dispatcher of the courier outbox
// against the Click & Drop and webhook stand-ins: groups of its own, small
// batches (many commits, for a kill to land between) and quick retries.
func couriersEnv(e *stackEnv, rmKey, hookSecret string) []string {
	return append(dispatcherEnv(e, 5),
		"TEST_RM_API_KEY="+rmKey, "TEST_HOOK_SECRET="+hookSecret,
		"ORDERFLOW_DISPATCH_GROUP_ID="+stacktest.UniqueName("dispatch"),
		"ORDERFLOW_DISPATCH_REPLAY_GROUP_ID="+stacktest.UniqueName("replay"))
}

// dispatcherEnv is the environment every dispatcher child of these tests
// shares: the stack's, batches of batch jobs at most, quick retries.
func dispatcherEnv(e *stackEnv, batch int) []string {
	return append(append(os.Environ(), e.vars...),
		fmt.Sprintf("ORDERFLOW_DISPATCH_BATCH_MAX_MESSAGES=%d", batch),
		"ORDERFLOW_DISPATCH_BATCH_MAX_WAIT=50ms",
		"ORDERFLOW_DISPATCH_RETRY_INITIAL=20ms", "ORDERFLOW_DISPATCH_RETRY_MAX=200ms", "ORDERFLOW_DISPATCH_MAX_ATTEMPTS=30",
		"ORDERFLOW_LOG_LEVEL=warn")
}

// withEnv is env with each key=value of kv in place of the key's earlier
// values.
func withEnv(env []string, kv ...string) []string {
	out := slices.Clone(env)
	for _, pair := range kv {
		k, _, _ := strings.Cut(pair, "=")
		out = append(slices.DeleteFunc(out, func(e string) bool { return strings.HasPrefix(e, k+"=") }), pair)
	}
	return out
}

// runWorkerThrough runs `orderflow run` in-process until it has committed
// everything on the input topics, then stops it.
func runWorkerThrough(t *testing.T, e *stackEnv) {
	t.Helper()
	workerCtx, stopWorker := context.WithCancel(context.Background())
	workerDone := make(chan error, 1)
	go func() {
		workerDone <- runWorker(workerCtx, e.config(t), nil, telemetry.NewRegistry(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	waitCommitted(t, e, e.config(t).Kafka.GroupID, []string{e.amazon, e.ebay}, 3)
	stopWorker()
	if err := <-workerDone; err != nil {
		t.Fatalf("worker: %v", err)
	}
}

// stopDispatcher stops a dispatcher as Kubernetes does (SIGTERM) and wants
// a clean exit.
func stopDispatcher(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("the dispatcher did not stop cleanly on SIGTERM: %v", err)
	}
}

// runOrderflow runs an orderflow command in-process with env, and returns its
// output.
func runOrderflow(t *testing.T, env []string, args ...string) string {
	t.Helper()
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && (strings.HasPrefix(k, "ORDERFLOW_") || strings.HasPrefix(k, "TEST_")) {
			t.Setenv(k, v)
		}
	}
	var stdout, stderr strings.Builder
	if code := run(args, &stdout, &stderr); code != 0 {
		t.Fatalf("orderflow %s: exit %d\n%s", strings.Join(args, " "), code, stderr.String())
	}
	return stdout.String()
}

func envValue(env []string, key string) string {
	v := ""
	for _, kv := range env {
		if k, val, ok := strings.Cut(kv, "="); ok && k == key {
			v = val
		}
	}
	return v
}

// waitCommitted waits until group has committed every partition of topics
// to its end.
func waitCommitted(t *testing.T, e *stackEnv, group string, topics []string, partitions int) {
	t.Helper()
	for _, topic := range topics {
		end := stacktest.EndOffsets(t, e.brokers, topic, partitions)
		waitFor(t, "group "+group+" to commit "+topic, func() bool {
			got := stacktest.CommittedOffsets(t, e.brokers, group, topic, partitions)
			for p, off := range end {
				if off > 0 && got[p] < off {
					return false
				}
			}
			return true
		})
	}
}

// waitFor waits until ok, for three minutes at most (twenty with the fault
// suite's long sizes, envFaultsLong).
func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	limit := 3 * time.Minute
	if os.Getenv(envFaultsLong) == "1" {
		limit = 20 * time.Minute
	}
	for deadline := time.Now().Add(limit); !ok(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// readJobs reads the courier outbox whole.
func readJobs(t *testing.T, e *stackEnv) []outbox.Job {
	t.Helper()
	var jobs []outbox.Job
	for _, m := range stacktest.ReadAll(t, e.brokers, e.courier, 3) {
		var j outbox.Job
		if err := json.Unmarshal(m.Value, &j); err != nil {
			t.Fatalf("a job on the outbox that does not decode: %v", err)
		}
		jobs = append(jobs, j)
	}
	return jobs
}
