package normalize

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// jsonReader decodes one JSON document in a single pass, for a normaliser that reads
// a large payload into a few fields: encoding/json validates a whole document before
// it decodes it, and so reads every byte twice, which costs more than the rest of
// normalisation together.
//
// Its errors are those decodeJSON gives, so that a fault reads the same whatever the
// decoder: syntax errors are ReasonMalformedJSON ("truncated JSON", "invalid JSON at
// byte N", N counted from the start of data), and a value of the wrong JSON type is
// ReasonSchemaMismatch naming the field's path, array indices included
// ("payload.lineItems[1].quantity"), never quoting the value. The first error stops
// the reader: every later call returns at once.
//
// Every string value read is unescaped into buf and referred to by a span; the
// caller turns buf into one string when the document is read, so that all of a
// message's strings cost one allocation. Invalid UTF-8 and unpaired surrogates become
// U+FFFD, as encoding/json makes them.
//
// null stands for an absent value wherever a value is expected, as in encoding/json.
// Object keys match exactly (encoding/json also matches them case-insensitively).
type jsonReader struct {
	data   []byte
	pos    int
	buf    []byte    // unescaped string values, referred to by spans
	key    []byte    // an escaped object key, unescaped
	path   []pathSeg // the containers the reader is in, for error messages
	prefix string    // the path of data within the message ("payload")
	err    *Error
}

// span locates a string value in jsonReader.buf; the zero span is the empty string.
type span struct{ off, end uint32 }

// in returns the span's text within all, the string made of jsonReader.buf.
func (s span) in(all string) string { return all[s.off:s.end] }

// pathSeg is an object key or, when key is empty, an array index.
type pathSeg struct {
	key   string
	index int
}

// maxJSONDepth bounds nesting, as encoding/json does, so that skipping a hostile
// value cannot exhaust the stack.
const maxJSONDepth = 10000

func (r *jsonReader) reset(data []byte, prefix string) {
	r.data, r.pos, r.prefix, r.err = data, 0, prefix, nil
	r.buf, r.key, r.path = r.buf[:0], r.key[:0], r.path[:0]
}

func (r *jsonReader) push(key string) { r.path = append(r.path, pathSeg{key: key}) }
func (r *jsonReader) pushIndex(i int) { r.path = append(r.path, pathSeg{index: i}) }
func (r *jsonReader) pop()            { r.path = r.path[:len(r.path)-1] }

// fieldPath renders the reader's path followed by key (if any).
func (r *jsonReader) fieldPath(key string) string {
	var b strings.Builder
	b.WriteString(r.prefix)
	for _, s := range r.path {
		if s.key == "" {
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(s.index))
			b.WriteByte(']')
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(s.key)
	}
	if key != "" {
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(key)
	}
	return b.String()
}

// syntaxError records malformed JSON at r.pos, in decodeJSON's words.
func (r *jsonReader) syntaxError() {
	if r.err != nil {
		return
	}
	if r.pos >= len(r.data) {
		r.err = &Error{Reason: ReasonMalformedJSON, Field: r.prefix, Err: errors.New("truncated JSON")}
	} else {
		r.err = &Error{Reason: ReasonMalformedJSON, Field: r.prefix, Err: fmt.Errorf("invalid JSON at byte %d", r.pos+1)}
	}
	r.pos = len(r.data)
}

// typeError records a value of kind got where the schema has want, at field key.
func (r *jsonReader) typeError(key, got, want string) {
	if r.err != nil {
		return
	}
	r.err = &Error{Reason: ReasonSchemaMismatch, Field: r.fieldPath(key),
		Err: fmt.Errorf("JSON %s where the schema has %s", got, want)}
	r.pos = len(r.data)
}

func (r *jsonReader) skipSpace() {
	for r.pos < len(r.data) {
		switch r.data[r.pos] {
		case ' ', '\t', '\n', '\r':
			r.pos++
		default:
			return
		}
	}
}

// peek returns the next non-space byte, or 0 at the end of data.
func (r *jsonReader) peek() byte {
	r.skipSpace()
	if r.pos >= len(r.data) {
		return 0
	}
	return r.data[r.pos]
}

// kindOf names the JSON type of a value starting with c, or "" if none does.
func jsonKind(c byte) string {
	switch {
	case c == '"':
		return "string"
	case c == '{':
		return "object"
	case c == '[':
		return "array"
	case c == 't' || c == 'f':
		return "bool"
	case c == 'n':
		return "null"
	case c == '-' || c >= '0' && c <= '9':
		return "number"
	}
	return ""
}

// null consumes a null if one is next and reports whether it did.
func (r *jsonReader) null() bool {
	if r.peek() != 'n' {
		return false
	}
	r.literal("null")
	return r.err == nil
}

func (r *jsonReader) literal(lit string) {
	end := r.pos + len(lit)
	if end > len(r.data) {
		for i := r.pos; i < len(r.data); i++ {
			if r.data[i] != lit[i-r.pos] {
				r.pos = i
				r.syntaxError()
				return
			}
		}
		r.pos = len(r.data)
		r.syntaxError()
		return
	}
	for i := 0; i < len(lit); i++ {
		if r.data[r.pos+i] != lit[i] {
			r.pos += i
			r.syntaxError()
			return
		}
	}
	r.pos = end
}

// expect checks that the next value is of kind want (or null) and reports whether it
// is present: false for null, for a wrong kind (a schema mismatch at key) and after
// any error.
func (r *jsonReader) expect(key string, open byte, want string) bool {
	if r.err != nil {
		return false
	}
	c := r.peek()
	switch {
	case c == open:
		return true
	case c == 'n':
		r.null()
		return false
	case jsonKind(c) == "":
		r.syntaxError()
	default:
		r.typeError(key, jsonKind(c), want)
	}
	return false
}

// beginObject enters the object that is the value of key, or reports false for null,
// a value of another type (a schema mismatch) or an earlier error. Read its members
// with nextKey.
func (r *jsonReader) beginObject(key string) bool {
	if !r.expect(key, '{', "object") {
		return false
	}
	r.pos++
	return true
}

// nextKey reads the next member's key and its colon; false at the object's end or
// after an error. first must be true before the first call for an object. The key is
// valid until the next call.
func (r *jsonReader) nextKey(first *bool) ([]byte, bool) {
	if r.err != nil {
		return nil, false
	}
	c := r.peek()
	if *first {
		*first = false
		if c == '}' {
			r.pos++
			return nil, false
		}
	} else {
		switch c {
		case '}':
			r.pos++
			return nil, false
		case ',':
			r.pos++
			c = r.peek()
		default:
			r.syntaxError()
			return nil, false
		}
	}
	if c != '"' {
		r.syntaxError()
		return nil, false
	}
	start, end, plain := r.scanString()
	if r.err != nil {
		return nil, false
	}
	key := r.data[start:end]
	if !plain {
		r.key = appendUnescaped(r.key[:0], key)
		key = r.key
	}
	if r.peek() != ':' {
		r.syntaxError()
		return nil, false
	}
	r.pos++
	return key, true
}

// beginArray enters the array that is the value of key; see beginObject. Read its
// elements with nextElem.
func (r *jsonReader) beginArray(key string) bool {
	if !r.expect(key, '[', "array") {
		return false
	}
	r.pos++
	return true
}

// nextElem reports whether another element follows; false at the array's end or
// after an error.
func (r *jsonReader) nextElem(first *bool) bool {
	if r.err != nil {
		return false
	}
	c := r.peek()
	if *first {
		*first = false
		if c == ']' {
			r.pos++
			return false
		}
		return true
	}
	switch c {
	case ']':
		r.pos++
		return false
	case ',':
		r.pos++
		return true
	}
	r.syntaxError()
	return false
}

// str reads the string value of key into buf; null gives the empty span.
func (r *jsonReader) str(key string) span {
	if !r.expect(key, '"', "string") {
		return span{}
	}
	start, end, plain := r.scanString()
	if r.err != nil {
		return span{}
	}
	off := len(r.buf)
	if plain {
		r.buf = append(r.buf, r.data[start:end]...)
	} else {
		r.buf = appendUnescaped(r.buf, r.data[start:end])
	}
	return span{off: uint32(off), end: uint32(len(r.buf))}
}

// integer reads the value of key as an integer of at most 32 bits, the schema's
// int32; present is false for null. A fraction, an exponent or a larger number is a
// schema mismatch.
func (r *jsonReader) integer(key string) (n int64, present bool) {
	if r.err != nil {
		return 0, false
	}
	switch c := r.peek(); {
	case c == '-' || c >= '0' && c <= '9':
	case c == 'n':
		r.null()
		return 0, false
	case jsonKind(c) == "":
		r.syntaxError()
		return 0, false
	default:
		r.typeError(key, jsonKind(c), "integer")
		return 0, false
	}
	start := r.pos
	end, isInt := r.scanNumber()
	if r.err != nil {
		return 0, false
	}
	digits := r.data[start:end]
	neg := digits[0] == '-'
	if neg {
		digits = digits[1:]
	}
	if !isInt || len(digits) > 10 {
		r.pos = start
		r.typeError(key, "number", "integer")
		return 0, false
	}
	for _, d := range digits {
		n = n*10 + int64(d-'0')
	}
	if neg {
		n = -n
	}
	if n > 1<<31-1 || n < -1<<31 {
		r.typeError(key, "number", "integer")
		return 0, false
	}
	return n, true
}

// skip reads over any one value, checking its syntax.
func (r *jsonReader) skip() { r.skipDepth(0) }

func (r *jsonReader) skipDepth(depth int) {
	if r.err != nil {
		return
	}
	if depth > maxJSONDepth {
		r.syntaxError()
		return
	}
	switch c := r.peek(); {
	case c == '"':
		r.scanString()
	case c == '{':
		r.pos++
		for first := true; ; {
			if _, ok := r.nextKey(&first); !ok {
				return
			}
			r.skipDepth(depth + 1)
		}
	case c == '[':
		r.pos++
		for first := true; r.nextElem(&first); {
			r.skipDepth(depth + 1)
		}
	case c == 't':
		r.literal("true")
	case c == 'f':
		r.literal("false")
	case c == 'n':
		r.literal("null")
	case c == '-' || c >= '0' && c <= '9':
		r.scanNumber()
	default:
		r.syntaxError()
	}
}

// end checks that nothing but space follows the document.
func (r *jsonReader) end() {
	if r.err == nil && r.peek() != 0 {
		r.syntaxError()
	}
}

// plainByte[c] says that c stands for itself inside a JSON string: printable ASCII
// other than the quote and the backslash. scanString runs over such bytes in a tight
// loop, which is most of a payload's bytes.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// scanString reads the string at r.pos (its opening quote) and returns the bounds of
// its contents; plain means they need no unescaping: no escapes, valid UTF-8.
func (r *jsonReader) scanString() (start, end int, plain bool) {
	data := r.data
	i := r.pos + 1
	start, plain = i, true
	ascii := true
	for i < len(data) {
		for i < len(data) && plainByte[data[i]] {
			i++
		}
		if i >= len(data) {
			break
		}
		c := data[i]
		switch {
		case c == '"':
			r.pos = i + 1
			if !ascii && plain && !utf8.Valid(data[start:i]) {
				plain = false
			}
			return start, i, plain
		case c == '\\':
			plain = false
			i++
			if i >= len(data) {
				r.pos = i
				r.syntaxError()
				return 0, 0, false
			}
			switch data[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				for k := 1; k <= 4; k++ {
					if i+k >= len(data) {
						r.pos = len(data)
						r.syntaxError()
						return 0, 0, false
					}
					if !isHexDigit(data[i+k]) {
						r.pos = i + k
						r.syntaxError()
						return 0, 0, false
					}
				}
				i += 5
			default:
				r.pos = i
				r.syntaxError()
				return 0, 0, false
			}
		case c < 0x20:
			r.pos = i
			r.syntaxError()
			return 0, 0, false
		default: // c >= 0x80: checked as UTF-8 at the end
			ascii = false
			i++
		}
	}
	r.pos = len(data)
	r.syntaxError()
	return 0, 0, false
}

func isHexDigit(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func hexDigit(c byte) rune {
	switch {
	case c <= '9':
		return rune(c - '0')
	case c >= 'a':
		return rune(c - 'a' + 10)
	}
	return rune(c - 'A' + 10)
}

// appendUnescaped appends the unescaped form of a string's contents (checked by
// scanString) to dst, replacing invalid UTF-8 and unpaired surrogates with U+FFFD.
func appendUnescaped(dst, s []byte) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\':
			switch s[i+1] {
			case 'b':
				dst = append(dst, '\b')
			case 'f':
				dst = append(dst, '\f')
			case 'n':
				dst = append(dst, '\n')
			case 'r':
				dst = append(dst, '\r')
			case 't':
				dst = append(dst, '\t')
			case 'u':
				r1 := hexRune(s[i+2:])
				i += 6
				if utf16.IsSurrogate(r1) {
					if i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' {
						if dec := utf16.DecodeRune(r1, hexRune(s[i+2:])); dec != utf8.RuneError {
							dst = utf8.AppendRune(dst, dec)
							i += 6
							continue
						}
					}
					r1 = utf8.RuneError
				}
				dst = utf8.AppendRune(dst, r1)
				continue
			default: // '"', '\\', '/'
				dst = append(dst, s[i+1])
			}
			i += 2
		case c < utf8.RuneSelf:
			dst = append(dst, c)
			i++
		default:
			r, size := utf8.DecodeRune(s[i:])
			if r == utf8.RuneError && size == 1 {
				dst = utf8.AppendRune(dst, utf8.RuneError)
			} else {
				dst = append(dst, s[i:i+size]...)
			}
			i += size
		}
	}
	return dst
}

func hexRune(s []byte) rune {
	return hexDigit(s[0])<<12 | hexDigit(s[1])<<8 | hexDigit(s[2])<<4 | hexDigit(s[3])
}

// scanNumber reads the number at r.pos, checking JSON's grammar, and returns where it
// ends and whether it is an integer (no fraction or exponent).
func (r *jsonReader) scanNumber() (end int, isInt bool) {
	data, i := r.data, r.pos
	digits := func() bool {
		j := i
		for i < len(data) && data[i] >= '0' && data[i] <= '9' {
			i++
		}
		return i > j
	}
	isInt = true
	if i < len(data) && data[i] == '-' {
		i++
	}
	switch {
	case i < len(data) && data[i] == '0':
		i++
	case !digits():
		r.pos = i
		r.syntaxError()
		return 0, false
	}
	if i < len(data) && data[i] == '.' {
		isInt = false
		i++
		if !digits() {
			r.pos = i
			r.syntaxError()
			return 0, false
		}
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		isInt = false
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		if !digits() {
			r.pos = i
			r.syntaxError()
			return 0, false
		}
	}
	r.pos = i
	return i, isInt
}
