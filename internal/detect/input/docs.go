package input

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// MaxDocument is the largest JSON document a Reader keeps when the document is not one line of
// its own: spread over several lines (pretty-printed), an element of a JSON array, or one of
// several documents on a line. It is four times MaxLine because pretty-printing indents every
// key. A longer document is scanned to its end without being kept, passed over and reported
// (Stats.TooLong, Options.Skip); the Reader carries on after it.
const MaxDocument = 4 << 20

// errScanning is readLine's word that it handed the line it was reading to the scanner (a JSON
// array longer than maxLine): the Reader reads pieces until the array ends.
var errScanning = errors.New("scanning")

// docScan follows one JSON value through the pieces of a stream, keeping only its bracket depth
// and whether it is inside a string, so its memory does not grow with the value. Like jscan it
// counts brackets without matching their kinds: the decoder rejects what is not a JSON object.
type docScan struct {
	begun  bool
	depth  int  // brackets open
	str    bool // inside a string
	esc    bool // inside a string, after a backslash
	scalar bool // a number or literal: it ends at the next delimiter
}

// brokenString is feed's reason for a value that cannot be JSON: a string holding a raw line
// end, which JSON forbids, so a string never runs on to the next line.
const brokenString = "a line ends inside a string"

// feed scans b, the next bytes of the value (which must start with b[0], not white space, on
// the first call). eol says b ends a line. It returns the index just past the value when the
// value ends in b, else -1; broken is not "" when the value cannot be valid JSON. Every call
// with a non-empty b either ends the value or consumes b whole, so callers make progress.
func (d *docScan) feed(b []byte, eol bool) (end int, broken string) {
	i := 0
	if !d.begun && len(b) > 0 {
		d.begun = true
		switch c := b[0]; {
		case c == '{' || c == '[':
			d.depth = 1
		case c == '"':
			d.str = true
		case delim[c]:
			return 1, "" // a stray delimiter: a one-byte value, which no format reads
		default:
			d.scalar = true
		}
		i = 1
	}
	for ; i < len(b); i++ {
		if d.str && !d.esc {
			// Most strings hold no escape: find the closing quote with IndexByte and check
			// the run before it in two more passes, all of them vectorised.
			if j := bytes.IndexByte(b[i:], '"'); j > 0 {
				run := b[i : i+j]
				if bytes.IndexByte(run, '\\') < 0 {
					if bytes.IndexByte(run, '\n') >= 0 || bytes.IndexByte(run, '\r') >= 0 {
						return -1, brokenString
					}
					i += j // at the quote, which the switch below closes
				}
			}
		}
		c := b[i]
		switch {
		case d.str:
			switch {
			case c == '\n' || c == '\r':
				return -1, brokenString
			case d.esc:
				d.esc = false
			case c == '\\':
				d.esc = true
			case c == '"':
				d.str = false
				if d.depth == 0 {
					return i + 1, ""
				}
			}
		case d.scalar:
			if delim[c] {
				return i, ""
			}
		default:
			switch c {
			case '"':
				d.str = true
			case '{', '[':
				d.depth++
			case '}', ']':
				d.depth--
				if d.depth == 0 {
					return i + 1, ""
				}
			}
		}
	}
	if eol {
		switch {
		case d.str:
			return -1, brokenString
		case d.scalar:
			return len(b), ""
		}
	}
	return -1, ""
}

// arrayStart reports whether rest, what follows a '[' that begins a line or a value, opens a
// JSON array of documents rather than a Santa line ("[2022-05-12T11:38:03.923Z] I santad: …"):
// after white space comes an object, an array, the closing bracket or the end of the line.
func arrayStart(rest []byte) bool {
	for _, c := range rest {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		case '{', '[', ']':
			return true
		}
		return false
	}
	return true
}

// record returns the next record to decode: a non-blank line as read (scanned false), or a
// JSON document the scanner found (scanned true), and sets r.recLine to the line it starts on.
// Lines are read whole while each holds one record; the Reader switches to scanning pieces for
// what does not (a document spread over lines, a JSON array, several documents on a line) and
// back to lines at the first line end outside any document.
func (r *Reader) record() ([]byte, bool, error) {
	for {
		if !r.scanning {
			line, err := r.readLine()
			if err == errScanning {
				continue
			}
			if err != nil {
				return nil, false, err
			}
			t := bytes.TrimSpace(line)
			if len(t) == 0 {
				continue
			}
			if r.firstLine == "" {
				r.firstLine = cut(t, 80)
			}
			if t[0] == '[' && arrayStart(t[1:]) {
				r.scan(t, true, false)
				continue
			}
			r.recLine = r.lines
			return t, false, nil
		}
		if len(r.pend) == 0 {
			if r.pendEOL && !r.inArray && !r.docOpen && !r.dropLine {
				r.scanning = false
				continue
			}
			if err := r.nextPiece(); err != nil {
				r.scanEnd()
				return nil, false, err
			}
			continue
		}
		if rec, scanned := r.step(); rec != nil {
			return rec, scanned, nil
		}
	}
}

// scan hands b, the rest of a line, to the scanner. eol says b ends the line; fresh that b
// starts it.
func (r *Reader) scan(b []byte, eol, fresh bool) {
	r.scanning = true
	r.pend, r.pendEOL, r.fresh = b, eol, fresh
}

// nextPiece reads the next piece of the input: a line, or as much of a long one as the buffer
// holds. Lines are counted as they start.
func (r *Reader) nextPiece() error {
	b, err := r.br.ReadSlice('\n')
	switch {
	case err == nil, err == io.EOF && len(b) > 0:
		r.pendEOL = true
	case err == bufio.ErrBufferFull:
		r.pendEOL = false
	default:
		return err
	}
	r.fresh = !r.midLine
	if r.fresh {
		r.lines++
	}
	r.midLine = !r.pendEOL
	r.pend = b
	return nil
}

// step looks at r.pend and returns a record when one is complete. Every call consumes part of
// r.pend or changes the state, so record's loop ends.
func (r *Reader) step() (rec []byte, scanned bool) {
	b := r.pend
	fresh := r.fresh
	r.fresh = false
	if r.dropLine {
		r.pend = nil
		r.dropLine = !r.pendEOL
		return nil, false
	}
	if r.docOpen {
		if !fresh || (b[0] != '{' && b[0] != '[') {
			return r.feedDoc(b), true
		}
		// An opening bracket at the very start of a line while a document is open:
		// pretty-printers indent every nested value, so this is the start of a new document,
		// and the open one was cut short (an NDJSON line truncated by a crash, say).
		r.breakDoc(r.lines-1, fmt.Sprintf("not closed before line %d", r.lines))
		r.inArray = false
	}
	i := 0
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	if i == len(b) {
		r.pend = nil
		return nil, false
	}
	b = b[i:]
	if r.inArray {
		switch b[0] {
		case ',':
			r.pend = b[1:]
			return nil, false
		case ']':
			r.inArray = false
			r.pend = b[1:]
			return nil, false
		}
		r.openDoc(b)
		return r.feedDoc(b), true
	}
	switch {
	case b[0] == '[' && arrayStart(b[1:]):
		r.inArray, r.arrayLine = true, r.lines
		r.pend = b[1:]
		return nil, false
	case fresh && r.pendEOL:
		// A line of its own after a document that was cut short: read it as a line.
		r.pend = nil
		r.recLine = r.lines
		return bytes.TrimSpace(b), false
	case b[0] == '{':
		r.openDoc(b)
		return r.feedDoc(b), true
	}
	// Text after a document on the same line that is no document.
	r.malformed++
	r.pend = nil
	r.dropLine = !r.pendEOL
	return nil, false
}

var newline = []byte{'\n'}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// openDoc starts a document at b.
func (r *Reader) openDoc(b []byte) {
	r.docOpen, r.docOver = true, false
	r.docScan = docScan{}
	r.doc = r.doc[:0]
	r.docLine = r.lines
	if r.firstLine == "" {
		r.firstLine = cut(bytes.TrimSpace(b), 80)
	}
}

// feedDoc scans b as the next part of the open document and returns the document when it
// ends in b (nil when it does not, or when it is not one to decode).
func (r *Reader) feedDoc(b []byte) []byte {
	end, broken := r.docScan.feed(b, r.pendEOL)
	if broken != "" {
		r.pend = nil
		r.dropLine = !r.pendEOL
		r.breakDoc(r.lines, broken)
		return nil
	}
	if end < 0 {
		r.keep(b)
		if r.pendEOL && b[len(b)-1] != '\n' {
			r.keep(newline) // the line end a whole line read was trimmed of, for Raw
		}
		r.pend = nil
		return nil
	}
	r.pend = b[end:]
	doc := b[:end]
	if len(r.doc) > 0 || r.docOver || len(doc) > r.maxDoc {
		r.keep(doc)
		doc = r.doc
	}
	r.docOpen = false
	if r.docOver {
		r.tooLong++
		r.note(r.docLine, fmt.Sprintf("JSON document longer than %d bytes", r.maxDoc))
		return nil
	}
	if doc[0] != '{' {
		r.malformed++ // an array element, or a value after a document, that is no object
		return nil
	}
	r.recLine = r.docLine
	return doc
}

// keep adds b to the open document, unless that makes it longer than maxDoc: then the
// document is scanned to its end without being kept.
func (r *Reader) keep(b []byte) {
	if r.docOver {
		return
	}
	if len(r.doc)+len(b) > r.maxDoc {
		r.docOver = true
		r.doc = r.doc[:0]
		if cap(r.doc) > 4*r.bufSize {
			r.doc = nil // do not keep megabytes for the rest of the input
		}
		return
	}
	r.doc = append(r.doc, b...)
}

// breakDoc drops the open document, which cannot be JSON (reason, found on line at). One that
// broke on the line it started on is a malformed line, as when lines are read whole; one that
// spread over lines is also reported, with the lines it took.
func (r *Reader) breakDoc(at int64, reason string) {
	r.docOpen = false
	r.doc = r.doc[:0]
	if r.docOver {
		r.tooLong++
		r.note(r.docLine, fmt.Sprintf("JSON document longer than %d bytes", r.maxDoc))
		return
	}
	r.malformed++
	if at > r.docLine {
		r.note(r.docLine, fmt.Sprintf("JSON document (lines %d-%d) is not valid: %s", r.docLine, at, reason))
	}
}

// scanEnd closes what is open at the end of the input.
func (r *Reader) scanEnd() {
	if r.docOpen {
		r.breakDoc(r.lines, "not closed at the end of the input (truncated?)")
	}
	if r.inArray {
		r.inArray = false
		r.note(r.arrayLine, "JSON array not closed at the end of the input (truncated?)")
	}
}

// note tells Options.Skip of something passed over.
func (r *Reader) note(line int64, reason string) {
	if r.opt.Skip != nil {
		r.opt.Skip(Skip{Input: r.name, Line: line, Reason: reason})
	}
}
