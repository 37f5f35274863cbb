package normalize

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"
)

// jsonReader reads one JSON document in a single pass, for a normaliser that wants a
// few fields of a large payload: encoding/json validates a whole document before it
// decodes it, and so reads every byte twice, which costs more than the rest of
// normalisation together. The syntax is jsontext's (the encoding/json/v2 tokenizer,
// which checks every byte it reads): this type only walks the document, keeps the
// path for error messages and keeps the string values. A channel's decoder reads its
// payload through a jsonReader wherever the payload stands: inside the message, on
// Normalize's reader, or on its own.
//
// Errors, the first of which stops the reader (every later call returns at once):
//   - a document cut short is ReasonMalformedJSON "truncated JSON";
//   - any other syntax error is ReasonMalformedJSON "invalid JSON at byte N", N being
//     the 1-based position, in the document given to reset, of the first byte that
//     cannot continue valid JSON (for a bad escape sequence, its backslash). Normalize
//     reads the whole message with one reader before any payload is read on its own,
//     so there N counts from the message's first byte, as it did when encoding/json
//     checked the message (its SyntaxError.Offset);
//   - a member name given twice in one object is ReasonMalformedJSON "duplicate
//     object member name at byte N" (N the 1-based position of the repeated name):
//     RFC 8259 leaves such objects' meaning open, and a payload that can be read two
//     ways must not be read either way;
//   - a value of the wrong JSON type is ReasonSchemaMismatch naming the field's path,
//     array indices included ("payload.lineItems[1].quantity"), never quoting the
//     value.
//
// Every string value read is unescaped into buf and referred to by a span; the caller
// turns buf into one string when the document is read, so that all of a message's
// strings cost one allocation. Invalid UTF-8 and unpaired surrogate escapes become
// U+FFFD, as encoding/json makes them: a channel's text is kept rather than the
// order lost for one bad byte in a buyer's note.
//
// null stands for an absent value wherever a value is expected, as in encoding/json.
// Member names match exactly, as the channels' models spell them (encoding/json also
// matches them case-insensitively).
type jsonReader struct {
	data   []byte
	in     bytes.Buffer // holds data: jsontext parses a bytes.Buffer in place
	dec    jsontext.Decoder
	buf    []byte    // unescaped string values, referred to by spans
	key    []byte    // an escaped member name, unescaped
	path   []pathSeg // the containers the reader is in, for error messages
	prefix string    // the path of data within the message ("payload")
	err    *Error
}

// jsonOptions are the decoder's options for a document. Duplicate member names stay
// an error (jsontext's default, said here so that nobody drops it unawares): no
// fixture or channel document has one. Invalid UTF-8 is let through, for
// appendUnquoted to replace.
var jsonOptions = []jsontext.Options{
	jsontext.AllowDuplicateNames(false),
	jsontext.AllowInvalidUTF8(true),
}

// checkedOptions are jsonOptions for a value that a reader has already read whole,
// and so checked for duplicate names: looking for them again would cost a sixth of
// the time a normaliser takes. The syntax is checked again all the same, as jsontext
// always does.
var checkedOptions = []jsontext.Options{
	jsontext.AllowDuplicateNames(true),
	jsontext.AllowInvalidUTF8(true),
}

// maxPooledBuffer keeps a rare huge message from pinning a pooled reader's string
// buffer: a reader whose buffer grew past it is dropped rather than pooled.
const maxPooledBuffer = 1 << 20

// span locates a string value in jsonReader.buf; the zero span is the empty string.
type span struct{ off, end uint32 }

// in returns the span's text within all, the string made of jsonReader.buf.
func (s span) in(all string) string { return all[s.off:s.end] }

// empty reports an absent or empty string value.
func (s span) empty() bool { return s.off == s.end }

// pathSeg is an object member's name or, when key is empty, an array index.
type pathSeg struct {
	key   string
	index int
}

// reset prepares the reader for data, whose path in the message is prefix.
func (r *jsonReader) reset(data []byte, prefix string) { r.resetWith(data, prefix, jsonOptions) }

// resetChecked is reset for data that a reader has already read whole, such as a
// payload that Normalize's reader kept as bytes: its member names are not checked for
// repeats again.
func (r *jsonReader) resetChecked(data []byte, prefix string) {
	r.resetWith(data, prefix, checkedOptions)
}

func (r *jsonReader) resetWith(data []byte, prefix string, opts []jsontext.Options) {
	r.data, r.prefix, r.err = data, prefix, nil
	r.buf, r.key, r.path = r.buf[:0], r.key[:0], r.path[:0]
	r.in = *bytes.NewBuffer(data)
	r.dec.Reset(&r.in, opts...)
}

// release drops the reader's references to the document, so that a pooled reader does
// not keep a message alive, and reports whether the reader is small enough to pool.
func (r *jsonReader) release() bool {
	r.data, r.in = nil, bytes.Buffer{}
	r.dec.Reset(&r.in)
	return cap(r.buf) <= maxPooledBuffer
}

// is compares a string value with a constant while the document is being read.
func (r *jsonReader) is(sp span, s string) bool { return string(r.buf[sp.off:sp.end]) == s }

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

// fail records a jsontext error as the reader's error, in the words of the type's
// comment. jsontext's messages are not used: they quote member names and text.
func (r *jsonReader) fail(err error) {
	if r.err != nil {
		return
	}
	var se *jsontext.SyntacticError
	switch {
	case err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF):
		// io.EOF: nothing but space where the document should be.
		r.err = &Error{Reason: ReasonMalformedJSON, Field: r.prefix, Rule: "truncated JSON"}
	case errors.As(err, &se) && errors.Is(se.Err, jsontext.ErrDuplicateName):
		r.err = &Error{Reason: ReasonMalformedJSON, Field: r.prefix, Rule: "duplicate object member name", Detail: atByte(se.ByteOffset + 1)}
	case errors.As(err, &se):
		// ByteOffset is 0-based: the byte at which the text stopped being JSON.
		r.err = &Error{Reason: ReasonMalformedJSON, Field: r.prefix, Rule: "invalid JSON", Detail: atByte(r.faultAt(se.ByteOffset) + 1)}
	default:
		// A Decoder over a bytes.Buffer makes no other error; should one appear, its
		// message is not quoted, as it might hold document text.
		r.err = &Error{Reason: ReasonMalformedJSON, Field: r.prefix, Rule: "invalid JSON"}
	}
}

// faultAt returns the offset of the byte at fault for a syntax error that jsontext
// reports at offset. jsontext blames a trailing comma, as in {"a":1,}, on the comma
// when it reads token by token; the byte that cannot continue valid JSON is the
// bracket after it, where encoding/json and jsontext's own ReadValue put the fault.
func (r *jsonReader) faultAt(offset int64) int64 {
	if offset < 0 || offset >= int64(len(r.data)) || r.data[offset] != ',' {
		return offset
	}
	next := offset + 1
	for next < int64(len(r.data)) && isJSONSpace(r.data[next]) {
		next++
	}
	if next < int64(len(r.data)) && (r.data[next] == '}' || r.data[next] == ']') {
		return next
	}
	return offset
}

func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// typeError records a value of kind got where the schema has want, at member key.
func (r *jsonReader) typeError(key string, got jsontext.Kind, want string) {
	if r.err != nil {
		return
	}
	r.err = &Error{Reason: ReasonSchemaMismatch, Field: r.fieldPath(key), Rule: kindMismatch(got, want)}
}

// kindName names a value's JSON type as encoding/json's errors do.
func kindName(k jsontext.Kind) string {
	switch k {
	case '"':
		return "string"
	case '0':
		return "number"
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "bool"
	case 'n':
		return "null"
	}
	return "value"
}

// Each method below makes one decoder call where it can: a value's type is told by
// the value read, not by a PeekKind before it, which would cost a second pass over
// the space and separators before every value. Once the reader has an error, none
// reads any more.

// peek returns the kind of the next token without reading it: '"', '0' (a number),
// '{', '[', 't', 'f', 'n', or the '}' or ']' that ends the current container. It
// returns 0 after any error, recording a syntax error found on the way.
func (r *jsonReader) peek() jsontext.Kind {
	if r.err != nil {
		return 0
	}
	k := r.dec.PeekKind()
	if k == 0 {
		// PeekKind keeps its error for the next read to return.
		r.token()
		r.fail(&jsontext.SyntacticError{ByteOffset: r.dec.InputOffset()}) // should the read find none
	}
	return k
}

// token reads the next token and returns its kind, or 0 after an error.
func (r *jsonReader) token() jsontext.Kind {
	if r.err != nil {
		return 0
	}
	tok, err := r.dec.ReadToken()
	if err != nil {
		r.fail(err)
		return 0
	}
	return tok.Kind()
}

// value reads the next value: its bytes, which alias data and are valid until the
// next read, or nil after an error.
func (r *jsonReader) value() jsontext.Value {
	if r.err != nil {
		return nil
	}
	v, err := r.dec.ReadValue()
	if err != nil {
		r.fail(err)
		return nil
	}
	return v
}

// kindOf returns the kind of the value v, by its first byte.
func kindOf(v jsontext.Value) jsontext.Kind {
	switch c := v[0]; c {
	case '"', '{', '[', 't', 'f', 'n':
		return jsontext.Kind(c)
	}
	return '0'
}

// null consumes a null if one is next and reports whether it did.
func (r *jsonReader) null() bool {
	if r.peek() != 'n' {
		return false
	}
	return r.token() == 'n'
}

// begin enters the container of kind want ('{' or '['), named wantName, that is the
// value of key, or reports false for null, a value of another type (a schema
// mismatch) or an earlier error.
func (r *jsonReader) begin(key string, want jsontext.Kind, wantName string) bool {
	switch k := r.token(); k {
	case want:
		return true
	case 'n', 0:
	default:
		// The value is read, or entered if a container: the reader stops here
		// all the same, and jsonReader.finish can read on from anywhere in it.
		r.typeError(key, k, wantName)
	}
	return false
}

// beginObject enters the object that is the value of key, or reports false for null,
// a value of another type (a schema mismatch) or an earlier error. Read its members
// with nextKey until it returns false.
func (r *jsonReader) beginObject(key string) bool { return r.begin(key, '{', "object") }

// beginArray enters the array that is the value of key; see beginObject. Read its
// elements with nextElem until it returns false.
func (r *jsonReader) beginArray(key string) bool { return r.begin(key, '[', "array") }

// nextKey reads the next member's name; false at the object's end (which it consumes)
// or after an error. The caller must then read or skip the member's value. The name
// is valid until the next call.
func (r *jsonReader) nextKey() ([]byte, bool) {
	start := int(r.dec.InputOffset())
	switch r.token() {
	case '"':
	case '}', 0:
		return nil, false
	default: // the decoder accepts nothing else as a member's name
		r.fail(&jsontext.SyntacticError{ByteOffset: int64(start)})
		return nil, false
	}
	// A name is read as a token, which may also be the object's end, in one call. A
	// token does not give its bytes: they are data[start:end], after the space and
	// the comma before the name.
	end := int(r.dec.InputOffset())
	for r.data[start] != '"' {
		start++
	}
	name := r.data[start+1 : end-1]
	if !plainText(name) { // rare: a name written with escapes
		r.key, _ = jsontext.AppendUnquote(r.key[:0], r.data[start:end])
		return r.key, true
	}
	return name, true
}

// plainText reports whether the text of a checked JSON string is itself: ASCII
// without escapes, as nearly every name and most values are. It tests eight bytes at
// a time, as it runs on every name and string value read.
func plainText(b []byte) bool {
	const ones, highs, backslashes = 0x0101010101010101, 0x8080808080808080, 0x5c5c5c5c5c5c5c5c
	for len(b) >= 8 {
		x := binary.LittleEndian.Uint64(b)
		y := x ^ backslashes // a zero byte where b has a backslash
		if (x|(y-ones)&^y)&highs != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c == '\\' || c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// nextElem reports whether another element follows, for the caller to read or skip;
// false at the array's end (which it consumes) or after an error.
func (r *jsonReader) nextElem() bool {
	switch r.peek() {
	case ']':
		r.token()
		return false
	case 0:
		return false
	case '}':
		r.token() // a syntax error
		return false
	}
	return true
}

// str reads the string value of key into buf; null gives the empty span.
func (r *jsonReader) str(key string) span {
	v := r.value()
	if v == nil {
		return span{}
	}
	switch k := kindOf(v); k {
	case '"':
	case 'n':
		return span{}
	default:
		r.typeError(key, k, "string")
		return span{}
	}
	off := len(r.buf)
	r.buf = appendUnquoted(r.buf, v)
	return span{off: uint32(off), end: uint32(len(r.buf))}
}

// appendUnquoted appends the text of the JSON string v, quotes included, that the
// decoder has checked, to dst.
func appendUnquoted(dst, v []byte) []byte {
	if text := v[1 : len(v)-1]; plainText(text) {
		return append(dst, text...) // the most of any payload: copied as it is
	}
	// Escapes or non-ASCII text. AppendUnquote's only possible error here reports
	// invalid UTF-8 or an unpaired surrogate escape, which it has already written as
	// U+FFFD.
	dst, _ = jsontext.AppendUnquote(dst, v)
	return dst
}

// integer reads the value of key as an integer of at most 32 bits, the schema's
// int32; present is false for null. A fraction, an exponent or a larger number is a
// schema mismatch.
func (r *jsonReader) integer(key string) (n int64, present bool) {
	digits := r.value()
	if digits == nil {
		return 0, false
	}
	switch k := kindOf(digits); k {
	case '0':
	case 'n':
		return 0, false
	default:
		r.typeError(key, k, "integer")
		return 0, false
	}
	// The decoder has checked the number's grammar: an optional minus, then digits,
	// then perhaps a fraction or an exponent.
	neg := digits[0] == '-'
	if neg {
		digits = digits[1:]
	}
	if len(digits) > 10 {
		r.typeError(key, '0', "integer")
		return 0, false
	}
	for _, d := range digits {
		if d < '0' || d > '9' { // '.', 'e' or 'E'
			r.typeError(key, '0', "integer")
			return 0, false
		}
		n = n*10 + int64(d-'0')
	}
	if neg {
		n = -n
	}
	if n > 1<<31-1 || n < -1<<31 {
		r.typeError(key, '0', "integer")
		return 0, false
	}
	return n, true
}

// boolean reads the boolean value of key; null is false.
func (r *jsonReader) boolean(key string) bool {
	switch k := r.token(); k {
	case 't':
		return true
	case 'f', 'n', 0:
	default:
		r.typeError(key, k, "boolean")
	}
	return false
}

// raw reads the next value, of any type, and returns its bytes: a slice of data, which
// the reader never changes. It returns nil after an error.
func (r *jsonReader) raw() []byte {
	v := r.value()
	if v == nil {
		return nil
	}
	// The value's place in data, from the decoder's offset: the slice is data's own
	// memory whatever buffering the decoder does.
	end := int(r.dec.InputOffset())
	return r.data[end-len(v) : end : end]
}

// valueStart returns the offset in data of the next value, past the space and the
// colon or comma before it, for a reader that looks ahead into it.
func (r *jsonReader) valueStart() int {
	i := int(r.dec.InputOffset())
	for i < len(r.data) && (isJSONSpace(r.data[i]) || r.data[i] == ':' || r.data[i] == ',') {
		i++
	}
	return i
}

// valueMark is the decoder's place before a value: its container's depth and the
// number of names and values read in it.
type valueMark struct {
	depth  int
	length int64
}

// mark returns the place before the next value, for finish.
func (r *jsonReader) mark() valueMark {
	depth := r.dec.StackDepth()
	_, n := r.dec.StackIndex(depth)
	return valueMark{depth: depth, length: n}
}

// finish reads what is left of the value that began at m, checking its syntax, for a
// reader that stopped in it at an error that was not one of syntax: the caller takes
// that error from r.err and clears it, so that a syntax error further on outranks it.
func (r *jsonReader) finish(m valueMark) {
	for r.err == nil {
		depth := r.dec.StackDepth()
		if depth < m.depth {
			return // past the value's container, where no decoder reads: nothing is left
		}
		if _, n := r.dec.StackIndex(m.depth); depth == m.depth && n > m.length {
			return
		}
		r.token()
	}
}

// skip reads over any one value, checking its syntax. It reads the value whole:
// over a bytes.Buffer that only checks it, in one call where SkipValue makes one per
// token.
func (r *jsonReader) skip() { r.value() }

// end checks that nothing but space follows the document.
func (r *jsonReader) end() {
	if r.err != nil {
		return
	}
	switch r.dec.PeekKind() {
	case 0:
		_, err := r.dec.ReadToken()
		if err != io.EOF {
			r.fail(err)
		}
	default:
		// jsontext reads a stream of values; a document is exactly one.
		rest := r.dec.UnreadBuffer()
		space := len(rest) - len(bytes.TrimLeft(rest, " \t\r\n"))
		r.fail(&jsontext.SyntacticError{ByteOffset: r.dec.InputOffset() + int64(space)})
	}
}

// members calls fn with the name of each member of the object that is the value of
// key ("" for an array element or the document), with the reader's path inside it.
// fn must read or skip the member's value. Nothing happens for null; another type is
// a schema mismatch. It reports whether the value was an object, as a decoder that
// tells an empty object from an absent one needs to know.
func (r *jsonReader) members(key string, fn func(name []byte)) bool {
	if !r.beginObject(key) {
		return false
	}
	if key != "" {
		r.push(key)
	}
	for {
		name, ok := r.nextKey()
		if !ok {
			break
		}
		fn(name)
	}
	if key != "" {
		r.pop()
	}
	return true
}

// elements calls fn with the index of each element of the array that is the value of
// key, with the reader's path at that element.
func (r *jsonReader) elements(key string, fn func(i int)) {
	if !r.beginArray(key) {
		return
	}
	r.push(key)
	for i := 0; r.nextElem(); i++ {
		r.pushIndex(i)
		fn(i)
		r.pop()
	}
	r.pop()
}
