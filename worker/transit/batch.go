package transit

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// batchOp is one of transit's batch operations on one key.
type batchOp struct {
	op     string // opHMAC, opEncrypt or opDecrypt
	key    string
	tenant string // the key's tenant, for the gate; "" for decrypt and the platform key
	path   string // such as "transit/encrypt/orderflow-acme-enc"
	field  string // the item's input field: "input", "plaintext" or "ciphertext"
}

// batchResult is one item of batch_results; which value is set depends on the op.
type batchResult struct {
	HMAC       string `json:"hmac"`
	Ciphertext string `json:"ciphertext"`
	Plaintext  string `json:"plaintext"`
	Error      string `json:"error"`
	Reference  string `json:"reference"`
}

func (r *batchResult) value(op string) string {
	switch op {
	case opHMAC:
		return r.HMAC
	case opEncrypt:
		return r.Ciphertext
	}
	return r.Plaintext
}

// run sends inputs (in the op's wire form: base64, or ciphertexts) to Vault in
// requests of at most BatchSize items, up to Concurrency of them at once, and
// returns each item's result in input order. original(i), if given, is item i
// as the caller gave it, used only to keep it out of an error.
//
// Item failures do not stop the other requests: the call then returns a
// BatchError naming every failed index. A failed request cancels the others and
// is returned.
func (c *Client) run(ctx context.Context, b batchOp, inputs []string, original func(int) string) ([]string, error) {
	out := make([]string, len(inputs))
	size := c.cfg.BatchSize
	if len(inputs) <= size {
		failed, err := c.send(ctx, b, inputs, 0, out, original)
		return finish(b, out, failed, err)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		failed   []ItemError
		unsent   bool // the context ended before every request was sent
		slots    = make(chan struct{}, c.cfg.Concurrency)
	)
	for lo := 0; lo < len(inputs); lo += size {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			unsent = true
			break
		}
		hi := min(lo+size, len(inputs))
		wg.Go(func() {
			defer func() { <-slots }()
			f, err := c.send(ctx, b, inputs[lo:hi], lo, out, original)
			mu.Lock()
			defer mu.Unlock()
			failed = append(failed, f...)
			if err != nil && firstErr == nil {
				firstErr = err
				cancel()
			}
		})
	}
	wg.Wait()
	if firstErr == nil && unsent {
		firstErr = &Error{Op: b.op, Key: b.key, Err: ctx.Err()} // the caller's context ended between requests
	}
	slices.SortFunc(failed, func(x, y ItemError) int { return x.Index - y.Index })
	return finish(b, out, failed, firstErr)
}

func finish(b batchOp, out []string, failed []ItemError, err error) ([]string, error) {
	if err != nil {
		return nil, err
	}
	if len(failed) > 0 {
		return nil, &BatchError{Op: b.op, Key: b.key, Total: len(out), Items: failed}
	}
	return out, nil
}

// send makes one batch request for inputs, which start at offset in the call,
// and writes the results to out[offset:].
func (c *Client) send(ctx context.Context, b batchOp, inputs []string, offset int, out []string, original func(int) string) ([]ItemError, error) {
	var results []batchResult
	decode := func(r io.Reader) (bool, error) {
		got, err := decodeBatchAnswer(r)
		if err != nil {
			return false, fmt.Errorf("reading Vault's answer: %w", err)
		}
		if len(got) != len(inputs) {
			return false, fmt.Errorf("vault answered %d batch results for %d items", len(got), len(inputs))
		}
		partial := false
		for i := range got {
			// Each item carries its index as its reference: order is checked, not assumed.
			if got[i].Reference != strconv.Itoa(i) {
				return false, fmt.Errorf("vault answered batch result %d with reference %q", i, got[i].Reference)
			}
			partial = partial || got[i].Error != ""
		}
		results = got
		return partial, nil
	}
	err := c.call(ctx, request{op: b.op, key: b.key, tenant: b.tenant, method: http.MethodPut, path: b.path,
		body: batchBody(b.field, inputs), items: len(inputs), batch: true}, decode)
	if err != nil {
		return nil, err
	}
	var failed []ItemError
	for i := range results {
		r := &results[i]
		v := r.value(b.op)
		switch {
		case r.Error != "":
			orig := ""
			if original != nil {
				orig = original(offset + i)
			}
			failed = append(failed, ItemError{Index: offset + i, Reason: itemReason(r.Error, inputs[i], orig)})
		case v == "" && b.op != opDecrypt: // an empty plaintext is a valid answer; an empty token or ciphertext is not
			failed = append(failed, ItemError{Index: offset + i, Reason: "vault answered no " + b.op + " result"})
		default:
			out[offset+i] = v
		}
	}
	return failed, nil
}

// decodeBatchAnswer reads the batch_results of Vault's answer. It uses
// encoding/json/v2's implementation (go-json-experiment/json, which the
// normaliser already uses): on the worker's hot path, decoding 256-item answers
// with encoding/json cost a tenth of the worker's CPU.
func decodeBatchAnswer(r io.Reader) ([]batchResult, error) {
	var answer struct {
		Data struct {
			BatchResults []batchResult `json:"batch_results"`
		} `json:"data"`
	}
	if err := jsonv2.UnmarshalRead(r, &answer); err != nil {
		return nil, err
	}
	return answer.Data.BatchResults, nil
}

// batchBody encodes {"batch_input":[{"<field>":"<input>","reference":"<i>"},...]}
// by hand: it is the hot path, and base64 inputs need no escaping.
func batchBody(field string, inputs []string) []byte {
	n := 20
	for _, in := range inputs {
		n += len(field) + len(in) + 32
	}
	b := make([]byte, 0, n)
	b = append(b, `{"batch_input":[`...)
	for i, in := range inputs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"`...)
		b = append(b, field...)
		b = append(b, `":`...)
		b, _ = jsontext.AppendQuote(b, in) // inputs are base64 or Vault ciphertext: valid UTF-8
		b = append(b, `,"reference":"`...)
		b = strconv.AppendInt(b, int64(i), 10)
		b = append(b, `"}`...)
	}
	return append(b, "]}"...)
}
