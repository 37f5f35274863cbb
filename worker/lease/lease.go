// Package lease is a mutual-exclusion lease kept in HashiCorp Vault's KV
// version 2 secrets engine, so that one holder at a time, across processes
// and machines, may do a job: the purger takes it so that one retention pass
// at a time deletes (worker/retention).
//
// # Why it holds
//
// The lease is one KV entry. Every write of it is a check-and-set write
// (options.cas = the version the writer last saw; 0 for "must not exist"),
// which Vault applies only if the entry is still at that version, atomically:
// of two processes that both saw version N, exactly one writes version N+1,
// and the other gets "check-and-set parameter did not match" and knows it
// lost. Taking the lease is such a write, over an entry that is absent,
// released, or expired; renewing it and releasing it are such writes by the
// holder, over its own last version, so a holder whose lease was taken over
// finds out at its next write and never writes over the new holder's.
//
// Expiry is judged on Vault's clock alone: an entry expires at its version's
// created_time (set by Vault) plus the TTL the holder wrote into it, compared
// with the Date of Vault's answer, so that no two machines' clocks are
// compared. The holder, for its part, counts its lease as valid for the TTL
// from the moment before it sent its last successful write, on its own
// monotonic clock: Vault stamped that version later, so the holder's view
// ends before anyone else's can. Fence refuses once less than a third of the
// TTL is left, which leaves that third for the statement it guards.
//
// A renewal whose write Vault applied but whose answer never came (a
// timeout) leaves the holder one version behind its own entry: its next
// check-and-set fails although nobody else wrote. So on a mismatch the
// holder reads the entry, and if it is still its own (its holder name and
// TTL, not released) it carries on from that version; only another holder's
// entry means the lease was lost.
//
// What it cannot do is make the guarded system check a token: ClickHouse has
// no compare-and-set. A statement sent under a valid lease may still run
// after the lease has ended (a stalled connection, a slow server), when
// another holder may be purging too. For the purger's ALTER TABLE ... DELETE
// that is harmless: its predicate names only rows that had expired as of the
// pass, and expired rows stay expired, so a late one only repeats a removal.
// A DROP PARTITION is not like that: it removes whatever the partition holds
// when it runs, so one that runs late also removes rows written into the
// partition after the purger counted it. The purger keeps that window as
// short as it can (worker/retention, dropExpired); no lease can close it.
package lease

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/vault/api"
)

// ErrLost is returned (wrapped) by Fence once the lease is no longer held: taken
// over after it expired, released, or not renewed in time.
var ErrLost = errors.New("lease: not held")

// Config configures a Lease. New fills the defaults and checks it.
type Config struct {
	// Client is an authenticated Vault client; its token needs read, create and
	// update on <Mount>/data/<Key>. Required.
	Client *api.Client
	// Mount is the KV version 2 engine's mount path. Default "secret".
	Mount string
	// Key is the lease's path under the mount, such as
	// "orderflow/leases/purge-orderflow". Required.
	Key string
	// TTL is how long the lease lasts without renewal: how long a holder that
	// died keeps others out. A held lease is renewed every TTL/3. Default 1m;
	// at least 3s.
	TTL time.Duration
	// Holder names this holder in the entry and in logs. Default: host name,
	// process id and a random suffix.
	Holder string
	// RequestTimeout bounds one request to Vault. Default 10s, and at most
	// TTL/3.
	RequestTimeout time.Duration
	// Logger receives takeovers, losses and renewal failures. Default
	// slog.Default().
	Logger *slog.Logger
}

// Lease is one would-be holder of one lease. Its methods are safe for
// concurrent use; Acquire, Fence and Release are meant for one job at a time.
type Lease struct {
	cfg  Config
	path string // <mount>/data/<key>
	log  *slog.Logger

	mu         sync.Mutex
	held       bool
	version    int       // the entry's version this holder last wrote
	validUntil time.Time // monotonic: TTL after the last successful write was sent
	stop       context.CancelFunc
	done       chan struct{} // closed when the renewal goroutine returns
}

// New checks cfg and returns a Lease that is not held.
func New(cfg Config) (*Lease, error) {
	if cfg.Mount == "" {
		cfg.Mount = "secret"
	}
	if cfg.TTL == 0 {
		cfg.TTL = time.Minute
	}
	if cfg.RequestTimeout == 0 {
		cfg.RequestTimeout = 10 * time.Second
	}
	cfg.RequestTimeout = min(cfg.RequestTimeout, cfg.TTL/3)
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Holder == "" {
		host, _ := os.Hostname()
		suffix := make([]byte, 4)
		_, _ = rand.Read(suffix)
		cfg.Holder = fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(suffix))
	}
	switch {
	case cfg.Client == nil:
		return nil, errors.New("lease: a Vault client (Config.Client) is required")
	case cfg.Key == "" || strings.HasPrefix(cfg.Key, "/") || strings.Contains(cfg.Key, ".."):
		return nil, fmt.Errorf("lease: key %q is not a path under the mount", cfg.Key)
	case cfg.TTL < 3*time.Second:
		return nil, fmt.Errorf("lease: TTL %s is below 3s", cfg.TTL)
	}
	mount := strings.Trim(cfg.Mount, "/")
	return &Lease{cfg: cfg, path: mount + "/data/" + cfg.Key, log: cfg.Logger.With("component", "lease", "lease", mount+"/"+cfg.Key)}, nil
}

// String names the lease: "vault:<mount>/<key>".
func (l *Lease) String() string { return "vault:" + strings.Trim(l.cfg.Mount, "/") + "/" + l.cfg.Key }

// Holder is this holder's name, as written into the entry.
func (l *Lease) Holder() string { return l.cfg.Holder }

// entry is the lease's KV data.
type entry struct {
	Holder     string `json:"holder"`
	TTLSeconds int64  `json:"ttl_seconds"`
	// Released marks an entry its holder gave up: free to take at once.
	Released bool `json:"released"`
	// WrittenAt is the holder's clock, for people reading the entry; expiry
	// never uses it.
	WrittenAt string `json:"written_at"`
}

// current is what a read of the entry found.
type current struct {
	exists  bool
	version int
	entry   entry
	created time.Time // the version's created_time (Vault's clock)
	now     time.Time // the Date of Vault's answer
}

// expired reports whether the entry is free to take: absent, released,
// deleted, or older than its TTL on Vault's clock.
func (c current) free() bool {
	if !c.exists || c.entry.Released || c.entry.Holder == "" {
		return true
	}
	return !c.now.Before(c.created.Add(time.Duration(c.entry.TTLSeconds) * time.Second))
}

// Acquire takes the lease if it is free, and keeps it renewed until Release
// or until ctx ends (the job's context: a job that is cancelled stops
// renewing, and its lease expires a TTL later). It returns false, and no
// error, when another holder has it. Acquiring a lease already held by this
// Lease returns true.
func (l *Lease) Acquire(ctx context.Context) (bool, error) {
	// A lease lost earlier (taken over, or not renewed in time) leaves its
	// renewal's context behind, and its goroutine ended or ending.
	if held := l.stopRenewal(true); held {
		return true, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held {
		return true, nil // taken meanwhile by a concurrent Acquire
	}
	cur, err := l.read(ctx)
	if err != nil {
		return false, err
	}
	if !cur.free() {
		l.log.Info("lease held by another", "holder", cur.entry.Holder,
			"expires_in", cur.created.Add(time.Duration(cur.entry.TTLSeconds)*time.Second).Sub(cur.now))
		return false, nil
	}
	cas := 0
	if cur.exists {
		cas = cur.version
	}
	ok, err := l.write(ctx, cas, false)
	if err != nil || !ok {
		return false, err
	}
	if cur.exists && !cur.entry.Released && cur.entry.Holder != "" {
		l.log.Warn("took over an expired lease", "previous_holder", cur.entry.Holder)
	}
	l.held = true
	life, stop := context.WithCancel(ctx)
	l.stop, l.done = stop, make(chan struct{})
	go l.renewEvery(life, l.done)
	return true, nil
}

// Fence checks, before a statement the lease guards, that the lease is still
// held with at least a third of its TTL left, renewing it first when half
// of it is gone. It returns an error wrapping ErrLost otherwise; a Vault
// failure while renewing is an error too.
func (l *Lease) Fence(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.held {
		return fmt.Errorf("%w: %s", ErrLost, l)
	}
	var renewErr error
	if time.Until(l.validUntil) < l.cfg.TTL/2 {
		renewErr = l.renewLocked(ctx)
	}
	if !l.held {
		return fmt.Errorf("%w: %s was taken over or released", ErrLost, l)
	}
	if left := time.Until(l.validUntil); left < l.cfg.TTL/3 {
		return fmt.Errorf("%w: %s has %s left of %s (renewal: %v)", ErrLost, l, left.Round(time.Millisecond), l.cfg.TTL, renewErr)
	}
	return nil
}

// Release stops the renewal and gives the lease up, so that the next job need
// not wait for it to expire. Releasing a lease that is not held, or was taken
// over, does nothing.
func (l *Lease) Release(ctx context.Context) error {
	l.stopRenewal(false)
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.held {
		return nil
	}
	l.held = false
	ok, err := l.writeOwn(ctx, true)
	if err != nil {
		return fmt.Errorf("lease: releasing %s (it expires by itself): %w", l, err)
	}
	if !ok {
		l.log.Warn("lease was taken over before its release")
	}
	return nil
}

// stopRenewal cancels the renewal of the last holding, if any, and waits for
// its goroutine to end; l.mu must not be held, since the goroutine takes it.
// With ifLost it leaves a held lease's renewal alone and returns true.
func (l *Lease) stopRenewal(ifLost bool) (held bool) {
	l.mu.Lock()
	if ifLost && l.held {
		l.mu.Unlock()
		return true
	}
	stop, done := l.stop, l.done
	l.stop, l.done = nil, nil
	l.mu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
	return false
}

// renewEvery renews the lease every TTL/3 until ctx ends or the lease is lost.
func (l *Lease) renewEvery(ctx context.Context, done chan struct{}) {
	defer close(done)
	tick := time.NewTicker(l.cfg.TTL / 3)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		l.mu.Lock()
		err := l.renewLocked(ctx)
		held := l.held
		l.mu.Unlock()
		if err != nil && ctx.Err() == nil {
			l.log.Warn("lease renewal failed; retrying", "err", err)
		}
		if !held {
			return
		}
	}
}

// renewLocked writes the entry over the holder's own version; l.mu is held.
// Another holder's entry in its place (writeOwn) means the lease was taken
// over: it is lost.
func (l *Lease) renewLocked(ctx context.Context) error {
	if !l.held {
		return nil
	}
	ok, err := l.writeOwn(ctx, false)
	if err != nil {
		return err
	}
	if !ok {
		l.held = false
		l.log.Error("lease lost: another holder took it over after it expired")
	}
	return nil
}

// writeOwn writes the entry over the holder's own last version. If Vault
// refuses the check-and-set, the entry is read: when it is still this
// holder's (a write of ours that Vault applied but did not answer, such as a
// renewal that timed out), the write is made again over that version;
// otherwise it returns false: another holder wrote the entry.
func (l *Lease) writeOwn(ctx context.Context, released bool) (bool, error) {
	ok, err := l.write(ctx, l.version, released)
	if ok || err != nil {
		return ok, err
	}
	cur, err := l.read(ctx)
	if err != nil {
		return false, fmt.Errorf("lease: %s changed since this holder's last write, and reading it failed: %w", l, err)
	}
	if !l.ours(cur) {
		return false, nil
	}
	l.log.Warn("lease entry was one of this holder's unanswered writes; carrying on from it", "version", cur.version, "expected", l.version)
	return l.write(ctx, cur.version, released)
}

// ours reports whether an entry read back is this holder's, still held: its
// holder name (unique per process) and TTL, not released.
func (l *Lease) ours(cur current) bool {
	return cur.exists && cur.entry.Holder == l.cfg.Holder && !cur.entry.Released &&
		cur.entry.TTLSeconds == int64(l.cfg.TTL/time.Second)
}

// write writes the entry with check-and-set on version cas (0: it must not
// exist) and records the new version. It returns false when Vault refused the
// check-and-set: someone else wrote the entry since.
func (l *Lease) write(ctx context.Context, cas int, released bool) (bool, error) {
	body, err := json.Marshal(map[string]any{
		"options": map[string]any{"cas": cas},
		"data": entry{Holder: l.cfg.Holder, TTLSeconds: int64(l.cfg.TTL / time.Second), Released: released,
			WrittenAt: time.Now().UTC().Format(time.RFC3339)},
	})
	if err != nil {
		return false, err
	}
	ctx, cancel := context.WithTimeout(ctx, l.cfg.RequestTimeout)
	defer cancel()
	sent := time.Now()
	resp, err := l.cfg.Client.Logical().WriteRawWithContext(ctx, l.path, body)
	if resp != nil {
		defer resp.Body.Close()
	}
	if err != nil {
		if casMismatch(err) {
			return false, nil
		}
		return false, fmt.Errorf("lease: writing %s: %w", l, err)
	}
	var out struct {
		Data struct {
			Version int `json:"version"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.Data.Version == 0 {
		return false, fmt.Errorf("lease: writing %s: no version in Vault's answer (%v)", l, err)
	}
	l.version = out.Data.Version
	l.validUntil = sent.Add(time.Duration(l.cfg.TTL/time.Second) * time.Second)
	return true, nil
}

// casMismatch reports whether err is KV v2's refusal of a check-and-set
// write: a 400 whose message says so (the API gives no code of its own; any
// other 400 is a real error).
func casMismatch(err error) bool {
	var re *api.ResponseError
	if !errors.As(err, &re) || re.StatusCode != http.StatusBadRequest {
		return false
	}
	for _, e := range re.Errors {
		if strings.Contains(e, "check-and-set") {
			return true
		}
	}
	return false
}

// read reads the entry's latest version and Vault's clock.
func (l *Lease) read(ctx context.Context) (current, error) {
	ctx, cancel := context.WithTimeout(ctx, l.cfg.RequestTimeout)
	defer cancel()
	resp, err := l.cfg.Client.Logical().ReadRawWithContext(ctx, l.path)
	if resp != nil {
		defer resp.Body.Close()
	}
	var re *api.ResponseError
	if err != nil && !(errors.As(err, &re) && re.StatusCode == http.StatusNotFound) {
		return current{}, fmt.Errorf("lease: reading %s: %w", l, err)
	}
	if resp == nil {
		return current{}, fmt.Errorf("lease: reading %s: no answer", l)
	}
	now, err := http.ParseTime(resp.Header.Get("Date"))
	if err != nil {
		return current{}, fmt.Errorf("lease: reading %s: Vault's answer has no Date to judge expiry by", l)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return current{}, fmt.Errorf("lease: reading %s: %w", l, err)
	}
	cur := current{now: now}
	var out struct {
		Data struct {
			Data     *entry `json:"data"`
			Metadata struct {
				Version      int       `json:"version"`
				CreatedTime  time.Time `json:"created_time"`
				DeletionTime string    `json:"deletion_time"`
				Destroyed    bool      `json:"destroyed"`
			} `json:"metadata"`
		} `json:"data"`
	}
	// A 404 has a body too: for a deleted latest version it still carries
	// the metadata (and the version to write over).
	if len(body) > 0 {
		if err := json.Unmarshal(body, &out); err != nil {
			return current{}, fmt.Errorf("lease: reading %s: %w", l, err)
		}
	}
	md := out.Data.Metadata
	if md.Version == 0 {
		return cur, nil // never written: create with cas 0
	}
	cur.exists, cur.version, cur.created = true, md.Version, md.CreatedTime
	if out.Data.Data != nil && md.DeletionTime == "" && !md.Destroyed {
		cur.entry = *out.Data.Data
	}
	return cur, nil
}
