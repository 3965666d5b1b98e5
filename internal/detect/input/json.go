package input

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"unicode/utf16"
	"unicode/utf8"
)

// jscan walks one JSON text in place without building values: the parsers ask for the keys
// they know and skip everything else, so a 4 KB eslogger line costs one pass and no
// allocation.
//
// It is lenient: the end of an object or array is found by counting brackets outside strings,
// so some invalid JSON (mismatched brackets, bad literals inside a skipped value) passes. It
// never reads past b and never panics. A syntax error it does notice sets bad and moves to the
// end, after which every call returns its zero result; every loop over keys or elements
// therefore ends.
type jscan struct {
	b   []byte
	i   int
	bad bool
}

func (s *jscan) reset(b []byte) { *s = jscan{b: b} }

func (s *jscan) fail() {
	s.bad = true
	s.i = len(s.b)
}

// ws skips white space. Lines are mostly compact JSON, so the test for none is kept small
// enough to be inlined.
func (s *jscan) ws() {
	if s.i < len(s.b) && s.b[s.i] <= ' ' {
		s.wsLoop()
	}
}

func (s *jscan) wsLoop() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// peek returns the next byte that is not white space, or 0 at the end.
func (s *jscan) peek() byte {
	s.ws()
	if s.i >= len(s.b) {
		return 0
	}
	return s.b[s.i]
}

// done reports whether only white space is left.
func (s *jscan) done() bool { return !s.bad && s.peek() == 0 }

// object enters an object. When the value is not one it is skipped and object returns false.
func (s *jscan) object() bool {
	if s.peek() != '{' {
		s.skip()
		return false
	}
	s.i++
	return true
}

// key returns the next key of the object entered last, raw (escapes left as they are), and
// leaves the scanner at its value, which the caller must read or skip. At the closing brace
// or on an error it returns false.
func (s *jscan) key() ([]byte, bool) {
	// compact JSON: [,]"key":
	b, i := s.b, s.i
	if i < len(b) && b[i] == ',' {
		i++
	}
	if i < len(b) && b[i] == '"' {
		if end, _ := stringEnd(b, i+1); end >= 0 && end+1 < len(b) && b[end+1] == ':' {
			s.i = end + 2
			return b[i+1 : end], true
		}
	}
	return s.keySpaced()
}

// keySpaced is key for JSON with white space, and for the end of the object.
func (s *jscan) keySpaced() ([]byte, bool) {
	c := s.peek()
	if c == ',' {
		s.i++
		c = s.peek()
	}
	if c == '}' {
		s.i++
		return nil, false
	}
	if c != '"' {
		s.fail()
		return nil, false
	}
	k, _ := s.strRaw()
	if s.peek() != ':' {
		s.fail()
		return nil, false
	}
	s.i++
	return k, true
}

// array enters an array. When the value is not one it is skipped and array returns false.
func (s *jscan) array() bool {
	if s.peek() != '[' {
		s.skip()
		return false
	}
	s.i++
	return true
}

// more reports whether another element follows in the array entered last; the caller must
// read or skip it. At the closing bracket or on an error it returns false.
func (s *jscan) more() bool {
	c := s.peek()
	if c == ',' {
		s.i++
		c = s.peek()
	}
	switch c {
	case ']':
		s.i++
		return false
	case 0:
		s.fail()
		return false
	}
	return true
}

// strRaw reads the string at s.i (which must be '"') and returns its content between the
// quotes, escapes undecoded, and whether it holds any.
func (s *jscan) strRaw() (raw []byte, esc bool) {
	start := s.i + 1
	end, esc := stringEnd(s.b, start)
	if end < 0 {
		s.fail()
		return nil, false
	}
	s.i = end + 1
	return s.b[start:end], esc
}

// The skipping loops test eight bytes at a time: zeros(x) has the top bit of the lowest byte
// of x that is zero set (higher bytes may be flagged wrongly, so only the lowest is used).
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

func zeros(x uint64) uint64 { return (x - ones) & ^x & highs }

// stringEnd finds the closing quote of the string whose content starts at i, and whether the
// string holds escapes; -1 when it is not closed.
func stringEnd(b []byte, i int) (end int, esc bool) {
	for {
		for i+8 <= len(b) {
			x := binary.LittleEndian.Uint64(b[i:])
			if m := zeros(x^('"'*ones)) | zeros(x^('\\'*ones)); m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				break
			}
			i += 8
		}
		if i >= len(b) {
			return -1, esc
		}
		switch b[i] {
		case '"':
			return i, esc
		case '\\':
			esc = true
			i += 2
		default:
			i++
		}
	}
}

// skip moves past one value of any kind.
func (s *jscan) skip() {
	switch s.peek() {
	case '"':
		s.strRaw()
	case '{', '[':
		s.skipNested()
	case 0:
		s.fail()
	default:
		s.scalar()
	}
}

// span skips one value and returns its text.
func (s *jscan) span() []byte {
	s.ws()
	start := s.i
	s.skip()
	if s.bad {
		return nil
	}
	return s.b[start:s.i]
}

// jclass marks the bytes skipNested stops at: 1 a string, 2 an opening and 3 a closing bracket.
var jclass = [256]uint8{'"': 1, '{': 2, '[': 2, '}': 3, ']': 3}

// skipNested skips an object or array by counting brackets outside strings, in a plain loop
// over the bytes (eslogger lines are mostly short keys and numbers, on which it beat
// eight-bytes-at-a-time variants: 850 against 470–630 MB/s skipping the v9 sample). Objects
// without nested values, such as the stat objects that make half of an eslogger line, are
// first tried with flatEnd, which is several times faster.
func (s *jscan) skipNested() {
	b := s.b
	depth := 0
	tries := 0
	for i := s.i; i < len(b); i++ {
		switch jclass[b[i]] {
		case 0:
		case 1:
			for i++; i < len(b); i++ {
				if b[i] == '\\' {
					i++
					continue
				}
				if b[i] == '"' {
					break
				}
			}
		case 2:
			if tries < maxFlatTries {
				at, r, long := flatEnd(b, i+1)
				switch r {
				case flatClosed:
					if depth == 0 {
						s.i = at + 1
						return
					}
					i = at
					continue
				case flatOpens:
					depth++
					i = at - 1 // the loop moves to the nested value
					continue
				}
				if long {
					tries++ // a failure that cost a long look
				}
			}
			depth++
		case 3:
			depth--
			if depth == 0 {
				s.i = i + 1
				return
			}
		}
	}
	s.fail()
}

func closer(open byte) byte {
	if open == '[' {
		return ']'
	}
	return '}'
}

// flatWindow bounds how far flatEnd looks, and maxFlatTries how often one skipNested lets it
// fail, so that a line of nothing but brackets costs linear time.
// flatMin is the smallest content flatEnd tries: its five passes cost more than the plain
// loop on a smaller one ({"fdtype":1,"fd":0}).
const (
	flatWindow   = 2048
	maxFlatTries = 16
	flatMin      = 40
)

var (
	quote        = []byte{'"'}
	escapedQuote = []byte{'\\', '"'}
)

// flatResult is what flatEnd found.
type flatResult uint8

const (
	flatNo     flatResult = iota // nothing: the plain loop goes on
	flatClosed                   // the closing bracket of the value
	flatOpens                    // the first nested value, outside any string
)

// flatEnd looks at the object or array whose content starts at i, up to its first closing
// bracket of the same kind. When that stretch holds no nested object or array and no escaped
// quote, every quote in it is a real one, and the bracket closes the value unless it is inside
// a string, which an even number of quotes before it rules out (flatClosed). When the stretch
// does hold a nested value, the same test on the stretch before the value's opening bracket says
// it is outside any string (flatOpens), so skipNested can jump to it. Other escapes (eslogger
// writes every "/" as "\/") do not matter. Each test is one pass of bytes.IndexByte,
// bytes.Index or bytes.Count, which read 16 or 32 bytes at a step. long says flatEnd looked
// further than flatMin bytes.
func flatEnd(b []byte, i int) (at int, r flatResult, long bool) {
	w := b[i:min(len(b), i+flatWindow)]
	end := -1
	if i > 0 {
		end = bytes.IndexByte(w, closer(b[i-1]))
	}
	if end < 0 {
		return 0, flatNo, true
	}
	if end < flatMin {
		return 0, flatNo, false
	}
	w = w[:end]
	r, at = flatClosed, i+end
	if k := bytes.IndexByte(w, '{'); k >= 0 {
		w, r, at = w[:k], flatOpens, i+k
	}
	if k := bytes.IndexByte(w, '['); k >= 0 {
		w, r, at = w[:k], flatOpens, i+k
	}
	if bytes.Count(w, quote)%2 != 0 || bytes.IndexByte(w, '\\') >= 0 && bytes.Index(w, escapedQuote) >= 0 {
		return 0, flatNo, true
	}
	return at, r, true
}

// delim marks the bytes that end a number or literal.
var delim = [256]bool{',': true, '}': true, ']': true, ':': true, ' ': true, '\t': true, '\n': true, '\r': true, '"': true, '{': true, '[': true}

// scalar reads a number or literal: everything up to the next delimiter. An empty one is an
// error, which is what guarantees progress in key and element loops.
func (s *jscan) scalar() []byte {
	b := s.b
	j := s.i
	for j < len(b) && !delim[b[j]] {
		j++
	}
	if j == s.i {
		s.fail()
		return nil
	}
	v := b[s.i:j]
	s.i = j
	return v
}

// jstr is a JSON string as the line holds it: the bytes between the quotes, escapes undecoded.
// ok is false for null, a missing key or a value of another type.
type jstr struct {
	raw []byte
	esc bool
	ok  bool
}

// str reads a string; any other value is skipped and gives the zero jstr.
func (s *jscan) str() jstr {
	if s.peek() != '"' {
		s.skip()
		return jstr{}
	}
	raw, esc := s.strRaw()
	if s.bad {
		return jstr{}
	}
	return jstr{raw: raw, esc: esc, ok: true}
}

// String decodes the string (allocating).
func (j jstr) String() string {
	if !j.esc {
		return string(j.raw)
	}
	return string(unescape(nil, j.raw))
}

// decode appends the decoded string to dst, without allocating when dst has room.
func (j jstr) decode(dst []byte) []byte {
	if !j.esc {
		return append(dst, j.raw...)
	}
	return unescape(dst, j.raw)
}

// is reports whether the string is exactly lit (which must need no escaping).
func (j jstr) is(lit string) bool { return j.ok && !j.esc && string(j.raw) == lit }

// integer reads an integer: a JSON number without fraction or exponent, or a string holding one
// (osquery writes every column as a string). Anything else is skipped and gives ok false.
func (s *jscan) integer() (int64, bool) {
	switch c := s.peek(); {
	case c == '"':
		raw, esc := s.strRaw()
		if esc || s.bad {
			return 0, false
		}
		return atoi(raw)
	case c == '-' || c >= '0' && c <= '9':
		return atoi(s.scalar())
	}
	s.skip()
	return 0, false
}

// intOr reads an integer as int, or gives def.
func (s *jscan) intOr(def int) int {
	if v, ok := s.integer(); ok {
		return int(v)
	}
	return def
}

// boolean reads true or false; osquery's "1" and "0" count too. ok is false for anything else.
func (s *jscan) boolean() (v, ok bool) {
	switch s.peek() {
	case 't', 'f':
		switch string(s.scalar()) {
		case "true":
			return true, true
		case "false":
			return false, true
		}
		return false, false
	case '"':
		raw, _ := s.strRaw()
		switch string(raw) {
		case "1", "true":
			return true, true
		case "0", "false":
			return false, true
		}
		return false, false
	}
	s.skip()
	return false, false
}

// atoi parses an optionally signed decimal integer of at most 18 digits, so it cannot overflow.
func atoi(b []byte) (int64, bool) {
	neg := false
	if len(b) > 0 && b[0] == '-' {
		neg, b = true, b[1:]
	}
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// unescape appends the JSON string content raw, with its escapes decoded, to dst. A broken
// escape is kept as written; a lone surrogate becomes U+FFFD, as encoding/json does.
func unescape(dst, raw []byte) []byte {
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '\\' || i+1 >= len(raw) {
			dst = append(dst, c)
			continue
		}
		i++
		switch raw[i] {
		case '"', '\\', '/':
			dst = append(dst, raw[i])
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
			r, ok := hex4(raw[i+1:])
			if !ok {
				dst = append(dst, '\\', 'u')
				continue
			}
			i += 4
			if utf16.IsSurrogate(r) {
				r2, ok := rune(0), false
				if i+2 < len(raw) && raw[i+1] == '\\' && raw[i+2] == 'u' {
					r2, ok = hex4(raw[i+3:])
				}
				if d := utf16.DecodeRune(r, r2); ok && d != utf8.RuneError {
					i += 6
					r = d
				} else {
					r = utf8.RuneError
				}
			}
			dst = utf8.AppendRune(dst, r)
		default:
			dst = append(dst, '\\', raw[i])
		}
	}
	return dst
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}
