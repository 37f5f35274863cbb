// Package privacytest helps tests prove that no personal data leaks: a corpus of
// personal values (card numbers, emails, phone numbers, names, addresses), a way
// to plant each of them into every field of a message, and a check that a text
// (an error, a log line, a header, a metric label) holds none of them, not even in
// part.
//
// It is for tests only; it depends on nothing beyond the standard library and
// the canonical order type, whose personal values OrderValues lists.
package privacytest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"iter"
	"log/slog"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"
)

// Value is one personal value of the corpus.
type Value struct {
	Kind string // "card", "email", "phone", "name", "address"
	Text string
}

// Corpus is what an attacker or a careless buyer might put into any field. Card
// numbers are Luhn-valid test numbers, typed several ways; the phone numbers are
// Ofcom's drama numbers; names and addresses are invented but look real.
var Corpus = []Value{
	{"card", "4111 1111 1111 1111"},
	{"card", "5500-0055-5555-5559"},
	{"card", "378282246310005"},
	{"card", "4012888888881881"},
	{"card", "４１１１　１１１１　１１１１　１１１１"}, // full-width, as a Japanese keyboard types it
	{"email", "siobhan.przybylski@example.co.uk"},
	{"phone", "+44 7700 900461"},
	{"phone", "07700900461"},
	{"phone", "٠٧٧٠٠٩٠٠٤٦١"}, // Arabic-Indic digits
	{"name", "Siobhán Przybylski"},
	{"address", "Flat 9, 27 Quarrendon Road"},
	{"address", "Quarrendon Road, Aylesbury HP19 9XX"},
}

// notPersonal matches what Leaks leaves out of its digit runs: RFC 3339
// timestamps, IPv4 addresses with their ports (as network errors name them;
// digits with dots alone could be a number typed so) and durations.
var notPersonal = regexp.MustCompile(`\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?` +
	`|\b(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d):\d{1,5}\b` +
	// Go's durations, as slog writes a time.Duration: 1h2m3.004005006s.
	`|\b(?:\d+(?:\.\d+)?(?:h|m|s|ms|us|µs|ns))+\b`)

// fragment is the length of the shortest piece of a personal value that counts
// as a leak: a text holding six characters in a row of one (or six of its
// digits) gives it away.
const fragment = 6

// Leaks returns the corpus values of which text holds a fragment, each once, in
// corpus order: the value itself, any six characters of it in a row
// (case-insensitive), or any six of its digits in a row with the separators
// removed (so "4111-1111" and "41111111" both give the card away), digits of
// any script compared by their values (so "４１１１..." gives "4111..." away, and
// the other way round). Empty when text is clean.
//
// Timestamps (RFC 3339, as slog writes them), IPv4 addresses with a port and
// durations (268.326073ms) are left out: they are no one's
// personal data, and their digits run into each other ("12:46:31.012" reads
// 124631012, a piece of the Amex test number; "1.900461234s" holds the drama
// phone number's last six) where a log line is full of them.
func Leaks(text string) []string {
	text = notPersonal.ReplaceAllString(text, "x")
	lower := strings.ToLower(text)
	runs := digitRuns(text)
	var out []string
	for _, v := range Corpus {
		if leaks(lower, runs, v.Text) {
			out = append(out, v.Kind+" "+strconv.Quote(v.Text))
		}
	}
	return out
}

func leaks(lower string, runs []string, value string) bool {
	runes := []rune(strings.ToLower(value))
	for i := 0; i+fragment <= len(runes); i++ {
		piece := string(runes[i : i+fragment])
		if strings.TrimSpace(piece) != piece {
			continue // "d, Ayl" is a leak; " Road," starts on a space and is a piece of another
		}
		if strings.Contains(lower, piece) {
			return true
		}
	}
	vd := Digits(value)
	for i := 0; i+fragment <= len(vd); i++ {
		for _, run := range runs {
			if strings.Contains(run, vd[i:i+fragment]) {
				return true
			}
		}
	}
	return false
}

// digitRuns returns the digits of text in runs, a run being digits separated by
// nothing or by spaces and punctuation other than letters ("4111-1111 1111"
// is one run, "partition 1 offset 11" three).
func digitRuns(text string) []string {
	var runs []string
	var b strings.Builder
	flush := func() {
		if b.Len() > 0 {
			runs = append(runs, b.String())
			b.Reset()
		}
	}
	for _, r := range text {
		switch {
		case unicode.IsDigit(r):
			b.WriteByte('0' + digitValue(r))
		case unicode.IsLetter(r):
			flush()
		}
	}
	flush()
	return runs
}

// Digits returns s's decimal digits, of any script, as ASCII digits, dropping
// everything else: what a card number hidden in s reads as.
func Digits(s string) string {
	var b strings.Builder
	for _, r := range s {
		if unicode.IsDigit(r) {
			b.WriteByte('0' + digitValue(r))
		}
	}
	return b.String()
}

// digitValue is the value of a decimal digit of any script. Unicode puts each
// script's digits 0 to 9 in a row (some scripts several rows back to back), so
// the value is the distance from the start of the row, modulo ten.
func digitValue(r rune) byte {
	start := r
	for start > 0 && unicode.IsDigit(start-1) {
		start--
	}
	return byte((r - start) % 10)
}

// Planted is one message with one personal value put in one field.
type Planted struct {
	Path  string // the field, as a JSON path ("payload.order.OrderStatus")
	Value Value
	// AsNumber is true when the value went in as a JSON number (its digits).
	AsNumber bool
	build    func() []byte
}

// Message is the planted message, built when asked for: callers that skip a
// planting pay nothing for it.
func (p Planted) Message() []byte { return p.build() }

// Plant yields msg (a JSON document) once for every leaf field of it and every
// corpus value: the leaf replaced by the value as a JSON string, and, where the
// leaf is a number or the value has digits, also by the value's digits as a JSON
// number, as a buyer's phone number in a quantity would be. Objects' and arrays'
// own places are leaves too when empty. Paths name members and array indices.
func Plant(msg []byte) (iter.Seq[Planted], error) {
	var doc any
	if err := json.Unmarshal(msg, &doc); err != nil {
		return nil, fmt.Errorf("privacytest: the message is not JSON: %w", err)
	}
	var paths [][]any
	collect(doc, nil, &paths)
	return func(yield func(Planted) bool) {
		for _, path := range paths {
			for _, v := range Corpus {
				replacements := []any{v.Text}
				if d := Digits(v.Text); len(d) >= fragment && len(d) <= 18 {
					n, _ := strconv.ParseInt(d, 10, 64)
					replacements = append(replacements, n)
				}
				for _, r := range replacements {
					build := func() []byte {
						b, err := json.Marshal(set(clone(doc), path, r))
						if err != nil {
							panic(err) // a document read from JSON always marshals
						}
						return b
					}
					_, number := r.(int64)
					if !yield(Planted{Path: render(path), Value: v, AsNumber: number, build: build}) {
						return
					}
				}
			}
		}
	}, nil
}

// collect appends the path of every leaf of v.
func collect(v any, path []any, paths *[][]any) {
	switch v := v.(type) {
	case map[string]any:
		if len(v) == 0 {
			*paths = append(*paths, slices.Clone(path))
		}
		for _, k := range sortedKeys(v) {
			collect(v[k], append(path, k), paths)
		}
	case []any:
		if len(v) == 0 {
			*paths = append(*paths, slices.Clone(path))
		}
		for i, e := range v {
			collect(e, append(path, i), paths)
		}
	default:
		*paths = append(*paths, slices.Clone(path))
	}
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func set(doc any, path []any, value any) any {
	if len(path) == 0 {
		return value
	}
	switch node := doc.(type) {
	case map[string]any:
		k := path[0].(string)
		node[k] = set(node[k], path[1:], value)
		return node
	case []any:
		i := path[0].(int)
		node[i] = set(node[i], path[1:], value)
		return node
	}
	return value
}

func clone(v any) any {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			m[k] = clone(e)
		}
		return m
	case []any:
		s := make([]any, len(v))
		for i, e := range v {
			s[i] = clone(e)
		}
		return s
	}
	return v
}

func render(path []any) string {
	var b strings.Builder
	for _, p := range path {
		switch p := p.(type) {
		case string:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(p)
		case int:
			b.WriteString("[" + strconv.Itoa(p) + "]")
		}
	}
	return b.String()
}

// LogBuffer is where a test's loggers write, so that the test can search all
// they wrote: safe for the goroutines of the code under test to share.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String is everything written so far.
func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Logger is a JSON logger at debug level, the most it can say, writing to b.
// It leaves out each record's time: a timestamp's run of digits can hold a
// short numeric personal value by chance (a test failed on one), and no
// search needs it.
func (b *LogBuffer) Logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}}))
}
