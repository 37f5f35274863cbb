package protect

import "github.com/go-json-experiment/json/jsontext"

// docBuffer accumulates the documents of one tenant's batch in one buffer, so
// that a batch costs one growing allocation instead of one per document. Each
// is a protected.Document as protected.ParseDocument reads it: a JSON object
// of the fields' paths and values.
type docBuffer struct {
	buf  []byte
	ends []int // end offset of each document in buf
}

// add appends the document of o's fields (those with a value) and returns its
// index.
func (b *docBuffer) add(fields []stringField, o *scrubbed) int {
	b.buf = append(b.buf, '{')
	first := true
	for _, f := range fields {
		v := f.get(o)
		if v == "" {
			continue
		}
		if !first {
			b.buf = append(b.buf, ',')
		}
		first = false
		b.buf = appendJSONString(b.buf, f.path)
		b.buf = append(b.buf, ':')
		b.buf = appendJSONString(b.buf, v)
	}
	b.buf = append(b.buf, '}')
	b.ends = append(b.ends, len(b.buf))
	return len(b.ends) - 1
}

// documents returns the documents as slices of the buffer, once every one has
// been added (adding may move the buffer).
func (b *docBuffer) documents() [][]byte {
	out := make([][]byte, len(b.ends))
	start := 0
	for i, end := range b.ends {
		out[i] = b.buf[start:end:end]
		start = end
	}
	return out
}

// appendJSONString appends s as a JSON string with jsontext (encoding/json/v2's
// implementation): minimal escaping (RFC 8785), no allocation, invalid UTF-8
// replaced by U+FFFD. The error it reports for invalid UTF-8 is ignored on
// purpose: the replacement is what the document should hold.
func appendJSONString(b []byte, s string) []byte {
	b, _ = jsontext.AppendQuote(b, s)
	return b
}
