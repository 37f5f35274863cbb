package protect_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/orderflow/orderflow/worker/privacytest"

	"github.com/orderflow/orderflow/worker/order"
	"github.com/orderflow/orderflow/worker/protect"
	"github.com/orderflow/orderflow/worker/transit/transittest"
)

// TestNoPersonalDataInLogsOrErrors runs the stage over every realistic fixture
// (and card numbers hidden in them), with the stage and its transit client
// logging at debug, through a Vault that fails for a while, then stays down,
// then recovers; then searches the logs, every error in every format, and the
// protected orders printed, marshalled and logged, for every name, email,
// phone, address line, free text and card number of the input.
func TestNoPersonalDataInLogsOrErrors(t *testing.T) {
	ctx := ctxFor(t)
	admin := directClient(t)
	proxy := newVaultProxy(t)
	var logs privacytest.LogBuffer
	logger := logs.Logger()
	cfg, reg := transitConfig(proxy.URL)
	cfg.MaxAttempts = 3
	cfg.BatchSize = 4 // many requests per call, several at once
	cfg.Logger = logger
	c := newClient(t, cfg)
	s, err := protect.New(protect.Config{Tokenizer: c, Encrypter: c, Policy: loadPolicy(t), Registerer: reg, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	tenant := transittest.NewTenant(t, admin)

	batch := forTenant(protect.Fixtures(t), tenant)
	cards := []string{"4111 1111 1111 1111", "5555-5555-5555-4444", "378282246310005"}
	for i, card := range cards { // card numbers where buyers type them
		o := batch[i]
		if o.ShippingAddress != nil {
			a := *o.ShippingAddress
			a.Line2 = "Flat 2, " + card
			o.ShippingAddress = &a
		}
		o.FreeText = append(append([]order.FreeText(nil), o.FreeText...), order.FreeText{Kind: order.FreeTextCheckoutNote, Text: "use card " + card})
		o.Buyer.Name += " " + card
		batch[i] = o
	}
	// Values shorter than 6 bytes would match by chance ("Flat 2").
	secrets := privacytest.OrderValues{MinLen: 6}.Of(batch)
	secrets = append(secrets, cards...)
	if len(secrets) < 150 {
		t.Fatalf("only %d personal values in the fixtures: the collection is broken", len(secrets))
	}

	var errs []error
	proxy.fail(2) // Vault fails, then recovers: retries are logged, the batch succeeds
	first, err := s.Protect(ctx, batch)
	if err != nil {
		t.Fatalf("Protect: %v", err)
	}
	proxy.fail(1_000_000) // Vault stays down: the batch fails
	if _, err := s.Protect(ctx, batch); err == nil {
		t.Errorf("Protect succeeded with Vault down")
	} else {
		errs = append(errs, err)
	}
	proxy.fail(0)
	second, err := s.Protect(ctx, batch)
	if err != nil {
		t.Fatalf("Protect after recovery: %v", err)
	}
	// An order the stage refuses.
	bad := batch[0]
	bad.TenantID = strings.ToUpper(batch[0].Buyer.Email)
	if _, err := s.Protect(ctx, []order.Order{bad}); err == nil {
		t.Errorf("Protect accepted an invalid tenant id")
	} else {
		errs = append(errs, err)
	}

	var out strings.Builder
	out.WriteString(logs.String())
	for _, err := range errs {
		fmt.Fprintf(&out, "%v %+v %#v %s %q\n", err, err, err, err, err)
	}
	var text bytes.Buffer
	textLog := slog.New(slog.NewTextHandler(&text, &slog.HandlerOptions{Level: slog.LevelDebug}))
	for _, o := range append(first, second...) {
		j, err := json.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&out, "%s %v %+v %#v\n", j, o, o, o)
		logger.Debug("protected order", "order", o)
		textLog.Debug("protected order", "order", o, "buyer", o.Buyer, "label", o.DeliveryLabel)
	}
	out.WriteString(logs.String())
	out.WriteString(text.String())
	haystack := out.String()
	if !strings.Contains(haystack, "retrying") && !strings.Contains(haystack, "retry") {
		t.Errorf("the logs show no retry: the failure path did not run\n%s", logs.String())
	}
	// Positive controls: the search looks at what it means to.
	if !strings.Contains(haystack, batch[5].ChannelOrderID) || !strings.Contains(haystack, "protect: tenant "+tenant) {
		t.Errorf("the orders or the errors are missing from what is searched: the search proves nothing")
	}
	for _, v := range secrets {
		if strings.Contains(haystack, v) {
			t.Errorf("personal data %q appears in the logs, errors or printed orders", v)
		}
	}
}
