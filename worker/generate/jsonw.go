package generate

import "github.com/go-json-experiment/json/jsontext"

// Append-style JSON writing: payloads are built by appending to one buffer, with
// no reflection and no allocation, which is what makes the generator fast.

// appendString appends s as a JSON string (jsontext: encoding/json/v2's
// implementation, minimal escaping, no allocation; s is always valid UTF-8 here).
func appendString(b []byte, s string) []byte {
	b, _ = jsontext.AppendQuote(b, s)
	return b
}

// appendKV appends `"key":"value"`; key is a literal that needs no escaping.
func appendKV(b []byte, key, value string) []byte {
	b = append(b, '"')
	b = append(b, key...)
	b = append(b, '"', ':')
	return appendString(b, value)
}

// appendInt appends a decimal integer.
func appendInt(b []byte, v int64) []byte {
	if v < 0 {
		b = append(b, '-')
		v = -v
	}
	var tmp [20]byte
	i := len(tmp)
	for {
		i--
		tmp[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			break
		}
	}
	return append(b, tmp[i:]...)
}

// appendPadded appends v with at least width digits (v >= 0).
func appendPadded(b []byte, v int64, width int) []byte {
	var tmp [20]byte
	i := len(tmp)
	for v > 0 || len(tmp)-i < width {
		i--
		tmp[i] = byte('0' + v%10)
		v /= 10
	}
	return append(b, tmp[i:]...)
}

// appendMinor appends an amount in minor units (pence, cents) as Amazon writes
// it: two decimal places, "46.49", "0.00", "-16.99".
func appendMinor(b []byte, v int64) []byte {
	b, cents := appendMajor(b, v)
	return appendPadded(b, cents, 2)
}

// appendEbayMinor appends an amount as eBay writes it: no trailing zero beyond the
// first decimal place, "34.99", "32.0", "4.5", "0.0".
func appendEbayMinor(b []byte, v int64) []byte {
	b, cents := appendMajor(b, v)
	if cents%10 == 0 {
		return append(b, byte('0'+cents/10))
	}
	return appendPadded(b, cents, 2)
}

// appendMajor appends the sign, the major units and the decimal point of an
// amount in minor units, and returns what is left for the decimals (0-99),
// which each channel writes its own way.
func appendMajor(b []byte, v int64) ([]byte, int64) {
	if v < 0 {
		b = append(b, '-')
		v = -v
	}
	b = appendInt(b, v/100)
	return append(b, '.'), v % 100
}

// appendCommaMinor appends an amount with a decimal comma, "46,49": how a
// continental spreadsheet writes it, and what no channel's schema accepts.
func appendCommaMinor(b []byte, v int64) []byte {
	b = appendInt(b, v/100)
	b = append(b, ',')
	return appendPadded(b, v%100, 2)
}

// appendTime appends a UTC timestamp, given in Unix milliseconds, in RFC 3339:
// "2026-11-02T09:31:47Z", or with millis "2026-11-02T09:31:47.000Z" as eBay writes it.
func appendTime(b []byte, ms int64, millis bool) []byte {
	secs := floorDiv(ms, 1000)
	days := floorDiv(secs, 86400)
	sod := secs - days*86400
	y, m, d := civil(days)
	b = appendPadded(b, y, 4)
	b = append(b, '-', byte('0'+m/10), byte('0'+m%10), '-', byte('0'+d/10), byte('0'+d%10), 'T')
	h, mi, s := sod/3600, sod/60%60, sod%60
	b = append(b, byte('0'+h/10), byte('0'+h%10), ':', byte('0'+mi/10), byte('0'+mi%10), ':', byte('0'+s/10), byte('0'+s%10))
	if millis {
		b = append(b, '.')
		b = appendPadded(b, ms-secs*1000, 3)
	}
	return append(b, 'Z')
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// civil converts days since 1970-01-01 to a proleptic Gregorian date (Howard
// Hinnant's days_from_civil inverse).
func civil(z int64) (y, m, d int64) {
	z += 719468
	era := floorDiv(z, 146097)
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	if mp < 10 {
		m = mp + 3
	} else {
		m = mp - 9
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}

// Object members. Each helper starts its member with a comma unless it is the
// first of its object or array (the buffer then ends with '{' or '['), so optional
// members need no bookkeeping.

func sep(b []byte) []byte {
	if c := b[len(b)-1]; c != '{' && c != '[' {
		b = append(b, ',')
	}
	return b
}

// mKey appends the member name; the caller appends its value.
func mKey(b []byte, key string) []byte {
	b = sep(b)
	b = append(b, '"')
	b = append(b, key...)
	return append(b, '"', ':')
}

// mStr appends a string member.
func mStr(b []byte, key, value string) []byte {
	return appendString(mKey(b, key), value)
}

// mOpt appends a string member unless value is empty.
func mOpt(b []byte, key, value string) []byte {
	if value == "" {
		return b
	}
	return mStr(b, key, value)
}

// mRaw appends raw JSON members, such as `"IsIBA":false`.
func mRaw(b []byte, raw string) []byte {
	return append(sep(b), raw...)
}

func mInt(b []byte, key string, v int64) []byte {
	return appendInt(mKey(b, key), v)
}

func mBool(b []byte, key string, v bool) []byte {
	b = mKey(b, key)
	if v {
		return append(b, "true"...)
	}
	return append(b, "false"...)
}

// mTime appends a timestamp member (see appendTime).
func mTime(b []byte, key string, ms int64, millis bool) []byte {
	b = append(mKey(b, key), '"')
	b = appendTime(b, ms, millis)
	return append(b, '"')
}

// mBytes appends a string member whose value needs no escaping (ids, digits).
func mBytes(b []byte, key string, value []byte) []byte {
	b = append(mKey(b, key), '"')
	b = append(b, value...)
	return append(b, '"')
}
