package quickbooks

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/orderflow/orderflow/connectors/accounting"
	"github.com/orderflow/orderflow/worker/order"
)

// queryPage is the most rows one query asks for: QuickBooks' maximum.
const queryPage = 1000

// MappingError names what of the mapping the company does not have.
type MappingError struct {
	// Problems are one sentence each, naming the mapping key and the Id.
	Problems []string
}

// Unwrap makes a MappingError match accounting.ErrMapping.
func (e *MappingError) Unwrap() error { return accounting.ErrMapping }

func (e *MappingError) Error() string {
	s := "quickbooks: the mapping does not match the company:"
	for _, p := range e.Problems {
		s += " " + p + ";"
	}
	return s[:len(s)-1]
}

// CheckMapping reads the company's accounts, tax codes and tax rates (and
// items, when the mapping has invoice items) and checks that every account
// and item of the mapping exists and is active, and that
// every tax code exists, is active and has a sales rate of the VAT rate it
// is mapped from (the no-VAT code: a rate of 0). It returns a
// *MappingError naming every mismatch, or the error of a call. Post checks
// the mapping before its first posting; a start-up calls it to refuse a
// wrong configuration early.
func (c *Client) CheckMapping(ctx context.Context) error {
	_, err := c.check(ctx)
	return err
}

// resolvedMapping is the checked mapping, checking it on first use.
func (c *Client) resolvedMapping(ctx context.Context) (*resolved, error) {
	c.mappingMu.Lock()
	m := c.mapping
	c.mappingMu.Unlock()
	if m != nil {
		return m, nil
	}
	return c.check(ctx)
}

type account struct {
	ID     string `json:"Id"`
	Active bool   `json:"Active"`
}

type taxCode struct {
	ID               string `json:"Id"`
	Active           bool   `json:"Active"`
	SalesTaxRateList struct {
		TaxRateDetail []struct {
			TaxRateRef ref `json:"TaxRateRef"`
		} `json:"TaxRateDetail"`
	} `json:"SalesTaxRateList"`
}

type taxRate struct {
	ID        string      `json:"Id"`
	Active    bool        `json:"Active"`
	RateValue json.Number `json:"RateValue"`
}

func (c *Client) check(ctx context.Context) (*resolved, error) {
	var accounts []account
	var codes []taxCode
	var rates []taxRate
	if err := query(ctx, c, "Account", &accounts); err != nil {
		return nil, err
	}
	if err := query(ctx, c, "TaxCode", &codes); err != nil {
		return nil, err
	}
	if err := query(ctx, c, "TaxRate", &rates); err != nil {
		return nil, err
	}
	var items []account // an Item's Id and Active are all CheckMapping reads
	if len(c.cfg.Mapping.Items) > 0 {
		if err := query(ctx, c, "Item", &items); err != nil {
			return nil, err
		}
	}
	activeAccount := map[string]bool{}
	for _, a := range accounts {
		activeAccount[a.ID] = a.Active
	}
	rateValue := map[string]order.Amount{}
	for _, r := range rates {
		if v, err := order.ParseAmount(r.RateValue.String()); err == nil && r.Active {
			rateValue[r.ID] = v
		}
	}
	codeByID := map[string]taxCode{}
	for _, tc := range codes {
		codeByID[tc.ID] = tc
	}
	mp := c.cfg.Mapping
	var problems []string
	checkAccount := func(key, id string) {
		active, ok := activeAccount[id]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("%s: account %s is not in the company", key, id))
		case !active:
			problems = append(problems, fmt.Sprintf("%s: account %s is inactive", key, id))
		}
	}
	for _, k := range accounting.LineKinds() {
		if id, ok := mp.Accounts[k]; ok && !(k == accounting.LineMarketplaceVAT && mp.MarketplaceVAT == MarketplaceVATOmit) {
			checkAccount("mapping.accounts."+string(k), id)
		}
	}
	checkAccount("mapping.clearing_account", mp.ClearingAccount)
	activeItem := map[string]bool{}
	for _, it := range items {
		activeItem[it.ID] = it.Active
	}
	for _, k := range accounting.LineKinds() {
		id, ok := mp.Items[k]
		if !ok {
			continue
		}
		active, known := activeItem[id]
		switch {
		case !invoiceKinds[k] && mp.Document != DocumentSalesReceipt:
			problems = append(problems, fmt.Sprintf("mapping.items.%s: an invoice has no %s line", k, k))
		case !known:
			problems = append(problems, fmt.Sprintf("mapping.items.%s: item %s is not in the company", k, id))
		case !active:
			problems = append(problems, fmt.Sprintf("mapping.items.%s: item %s is inactive", k, id))
		}
	}
	res := &resolved{cfg: mp, rates: map[string]string{}}
	// checkCode finds the code's sales rate of the percentage want.
	checkCode := func(key, id string, want order.Amount) string {
		tc, ok := codeByID[id]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("%s: tax code %s is not in the company", key, id))
			return ""
		case !tc.Active:
			problems = append(problems, fmt.Sprintf("%s: tax code %s is inactive", key, id))
			return ""
		}
		for _, d := range tc.SalesTaxRateList.TaxRateDetail {
			if v, ok := rateValue[d.TaxRateRef.Value]; ok && v == want {
				return d.TaxRateRef.Value
			}
		}
		problems = append(problems, fmt.Sprintf("%s: tax code %s has no active sales rate of %s%%", key, id, want))
		return ""
	}
	for _, vat := range sortedStrings(mapsKeys(mp.TaxCodes)) {
		want, err := order.ParseAmount(vat)
		if err != nil {
			problems = append(problems, fmt.Sprintf("mapping.tax_codes: key %q is not a VAT rate", vat))
			continue
		}
		res.rates[vat] = checkCode("mapping.tax_codes."+vat, mp.TaxCodes[vat], want)
	}
	if mp.MarketplaceVAT != MarketplaceVATOmit {
		checkCode("mapping.no_vat_tax_code", mp.NoVATTaxCode, 0)
	}
	if len(problems) > 0 {
		return nil, &MappingError{Problems: problems}
	}
	c.mappingMu.Lock()
	c.mapping = res
	c.mappingMu.Unlock()
	return res, nil
}

// query reads every row of an entity, a page at a time.
func query[T any](ctx context.Context, c *Client, entity string, out *[]T) error {
	for start := 1; ; start += queryPage {
		var answer struct {
			QueryResponse map[string]json.RawMessage `json:"QueryResponse"`
		}
		stmt := "select * from " + entity + " startposition " + strconv.Itoa(start) + " maxresults " + strconv.Itoa(queryPage)
		if err := c.call(ctx, "query", http.MethodGet, "/query", url.Values{"query": {stmt}}, nil, &answer); err != nil {
			return fmt.Errorf("quickbooks: read %s: %w", entity, err)
		}
		var rows []T
		if raw, ok := answer.QueryResponse[entity]; ok {
			if err := json.Unmarshal(raw, &rows); err != nil {
				return fmt.Errorf("quickbooks: read %s: the answer is not the documented JSON", entity)
			}
		}
		*out = append(*out, rows...)
		if len(rows) < queryPage {
			return nil
		}
	}
}

func mapsKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func sortedStrings(s []string) []string {
	slices.Sort(s)
	return s
}
