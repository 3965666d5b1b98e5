package input

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/firewarden/firewarden/internal/detect/event"
)

// Format is a telemetry format, or Auto.
type Format string

// The formats. Each but Auto is also the event.Event.Source of the records read in it.
const (
	Auto       Format = "auto"       // recognise the format of each line
	Eslogger   Format = "eslogger"   // Apple eslogger JSON lines (macOS 13+)
	Osquery    Format = "osquery"    // osquery results log, es_process_events rows
	UnifiedLog Format = "unifiedlog" // log show|stream --style ndjson
	Santa      Format = "santa"      // Santa's santa.log
	ECS        Format = "ecs"        // Elastic Defend / Endgame ECS documents, ndjson
)

// formats are the concrete formats in the order they are named in messages.
var formats = [...]Format{Eslogger, Osquery, UnifiedLog, Santa, ECS}

// ParseFormat reads a format name as the command line gives it.
func ParseFormat(s string) (Format, error) {
	if Format(s) == Auto {
		return Auto, nil
	}
	for _, f := range formats {
		if Format(s) == f {
			return f, nil
		}
	}
	return "", fmt.Errorf("unknown telemetry format %q (valid: auto, eslogger, osquery, unifiedlog, santa, ecs)", s)
}

// index gives the format's place in formats, or -1.
func (f Format) index() int {
	for i, g := range formats {
		if f == g {
			return i
		}
	}
	return -1
}

// title is the format's name in prose.
func (f Format) title() string {
	switch f {
	case UnifiedLog:
		return "unified log"
	case Santa:
		return "Santa"
	case ECS:
		return "ECS"
	}
	return string(f)
}

// MaxLine is the longest line a Reader decodes, in bytes without the line end. A longer line is
// passed over (read to its end in buffer-sized pieces, never held whole), counted in
// Stats.TooLong and reported to Options.Skip; the Reader carries on with the next line. eslogger
// caps its own messages at 32 KiB when logging to the unified log (eslogger(1)); exec lines with
// long environments are the largest records seen, but eslogger escapes each control character of
// an argument as six bytes, so any user can make a longer line by running a program with a few
// hundred KB of them.
const MaxLine = 1 << 20

// readBuffer is the size of the Reader's read buffer: lines up to it are decoded in place; a
// longer one (up to MaxLine) is assembled in a second buffer.
const readBuffer = 64 << 10

// DefaultMaxProcs is the process table's size when Options.MaxProcs is 0: a busy Mac runs well
// under a thousand processes, and a fleet's stream interleaves hosts.
const DefaultMaxProcs = 1 << 16

// maxAncestry is how many images Event.Ancestry holds at most, nearest first.
const maxAncestry = 4

// Options configure a Reader. The zero value reads any format with default limits.
type Options struct {
	// Format is the input's format; "" means Auto.
	Format Format
	// Host is the host name for records that carry none (eslogger, unified log, Santa
	// without machineid).
	Host string
	// MaxProcs caps the process table; 0 means DefaultMaxProcs. The oldest-written process is
	// forgotten first.
	MaxProcs int
	// Interesting, when not nil, sees every recognised line as read (JSON still escaped:
	// eslogger writes "\/" for "/", so look for "socketfilterfw", not a full path) and returns
	// whether to decode it. It must not keep the slice. Turning down a line only saves work:
	// the process table is still updated from it. It must return true for every line that can
	// matter; false positives only cost time. nil decodes every line.
	Interesting func(line []byte) bool
	// Skip, when not nil, is told of every line the Reader passes over without reading it (one
	// longer than MaxLine, a JSON document longer than MaxDocument), and of JSON that spread
	// over several lines but is not valid (a document cut short, an array never closed), as it
	// happens. Lines no format recognises are not skips: they are read, and counted in
	// Stats.Malformed.
	Skip func(Skip)
}

// Skip is a line a Reader passed over unread.
type Skip struct {
	Input  string // the input's name
	Line   int64  // the line's number, from 1
	Reason string // why, e.g. "line longer than 1048576 bytes"
}

func (s Skip) String() string { return fmt.Sprintf("%s:%d: %s", s.Input, s.Line, s.Reason) }

// Stats counts what a Reader has read so far.
type Stats struct {
	Lines     int64 // lines read, blank ones included
	Events    int64 // events returned by Next
	Skipped   int64 // recognised lines Options.Interesting turned down
	Ignored   int64 // recognised records that describe no event (see Next)
	Malformed int64 // non-blank lines and JSON documents no format (or not the format asked for) recognised
	TooLong   int64 // lines longer than MaxLine and documents longer than MaxDocument, passed over unread (see Options.Skip)
	Evicted   int64 // processes the table forgot because it was full
	// Records counts recognised lines by format, skipped and ignored ones included. A unified
	// log record holding an eslogger message counts as unified log.
	Records map[Format]int64
}

// NoTelemetryError is Next's error at the end of an input that had non-blank lines but not one
// the format asked for (any, with Auto) recognised: probably the wrong file or the wrong
// --format. The command line exits 2 on it.
type NoTelemetryError struct {
	Input     string
	Format    Format // the format asked for, or Auto
	FirstLine string // the first non-blank line, cut to 80 bytes
}

func (e *NoTelemetryError) Error() string {
	what := "eslogger, osquery, unified log, Santa or ECS"
	if e.Format != Auto {
		what = e.Format.title()
	}
	return fmt.Sprintf("detect: %s: no line is %s telemetry (first line: %q)", e.Input, what, e.FirstLine)
}

// A Reader reads one input. It is not safe for concurrent use.
type Reader struct {
	src  io.Reader
	name string
	opt  Options

	br   *bufio.Reader
	long []byte // a line longer than br's buffer, assembled; at most maxLine+2+bufSize bytes
	// maxLine and bufSize are MaxLine and readBuffer, but for tests that exercise long lines
	// with small ones.
	maxLine, bufSize int
	started          bool
	err              error  // sticky: returned by every Next once set
	cur              []byte // the line being decoded

	ev    event.Event
	top   jtop
	inner jtop // an ECS _source document, or the eslogger message inside a unified log record
	js    jscan

	procs    *bounded[procKey, proc]
	cmds     cmdRing                  // the command lines of the processes in procs
	entities *bounded[string, string] // ECS process.entity_id → executable; made when needed
	names    interner                 // paths and host names
	buf      []byte                   // scratch for decoding one string
	msg      []byte                   // a unified log eventMessage, decoded

	rows    [][]byte // osquery rows of the current line not returned yet
	rowHost string
	rowTime int

	lines, events, skipped, ignored, malformed, tooLong int64
	records                                             [len(formats)]int64
	firstLine                                           string
	recLine                                             int64 // the line the record being decoded starts on

	// JSON that is not one document a line is read in pieces and scanned (docs.go).
	scanning  bool   // pieces are read and scanned, not lines
	pend      []byte // the rest of the current piece, not looked at yet
	pendEOL   bool   // the current piece ends its line
	fresh     bool   // pend starts its line
	midLine   bool   // the last piece read did not end its line
	dropLine  bool   // pass over the rest of the current line
	inArray   bool   // between or inside the elements of a JSON array
	arrayLine int64  // where the array opened
	docOpen   bool   // a document has begun and not ended
	docScan   docScan
	doc       []byte // the open document, when it is not within one piece
	docLine   int64  // where it began
	docOver   bool   // it outgrew maxDoc: scanned to its end, not kept
	maxDoc    int    // MaxDocument, but for tests
}

// NewReader returns a Reader of r; name (a file name, or "-") goes into every event's Input
// and into errors. Nothing is read until the first Next.
func NewReader(r io.Reader, name string, opt Options) *Reader {
	if opt.Format == "" {
		opt.Format = Auto
	}
	if opt.MaxProcs <= 0 {
		opt.MaxProcs = DefaultMaxProcs
	}
	return &Reader{
		maxLine: MaxLine, bufSize: readBuffer, maxDoc: MaxDocument,
		src:   r,
		name:  name,
		opt:   opt,
		procs: newBounded(opt.MaxProcs, MaxTableBytes, procBytes),
		names: interner{m: make(map[string]string), max: opt.MaxProcs},
		cmds:  cmdRing{max: MaxCommandBytes},
	}
}

// Next returns the next event. At the end of the input it returns io.EOF, or a
// *NoTelemetryError when no line was recognised at all; a read error or a gzip error (a
// truncated or corrupt file) stops the Reader with an error naming the last line read, and
// every later call returns the same error. The events returned before it stand. A line longer
// than MaxLine does not stop the Reader: it is passed over (see Options.Skip).
//
// The returned Event is reused by the next call, and its Raw points into the read buffer:
// copy the struct to keep it (its strings and slices are not reused) and clone Raw.
//
// Lines that are blank are passed over; lines no format recognises are counted in
// Stats.Malformed and passed over. Recognised records that describe no event are counted in
// Stats.Ignored: the unified log's closing {"count":N,"finished":1}, Santa actions other than
// EXEC, eslogger events other than exec, fork, exit, create, write, rename, unlink, close with
// modified true and profile_remove, osquery rows of other tables, ECS documents of other
// actions.
func (r *Reader) Next() (*event.Event, error) {
	if r.err != nil {
		return nil, r.err
	}
	if !r.started {
		if err := r.start(); err != nil {
			r.err = err
			return nil, err
		}
	}
	for {
		if len(r.rows) > 0 {
			if r.nextRow() {
				r.events++
				return &r.ev, nil
			}
			continue
		}
		rec, scanned, err := r.record()
		if err != nil {
			r.err = r.end(err)
			return nil, r.err
		}
		if r.decode(rec, scanned) {
			r.events++
			return &r.ev, nil
		}
	}
}

func cut(b []byte, n int) string {
	if len(b) > n {
		b = b[:n]
	}
	return string(b)
}

// start looks for gzip's magic bytes and sets up the line reader.
func (r *Reader) start() error {
	r.started = true
	br := bufio.NewReaderSize(r.src, r.bufSize)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("detect: %s: %w", r.name, err)
		}
		br = bufio.NewReaderSize(gz, r.bufSize)
	}
	r.br = br
	return nil
}

// readLine returns the next line, its line end included, and counts it. A line longer than
// MaxLine is passed over and reported, and the line after it returned. The error is io.EOF at
// the end of the input, or what stopped the read; a line cut short by an error (a truncated
// gzip member) is dropped, since it cannot be whole.
func (r *Reader) readLine() ([]byte, error) {
	for {
		b, err := r.br.ReadSlice('\n')
		switch {
		case err == nil:
			r.lines++
			return b, nil
		case err == io.EOF && len(b) > 0: // the last line has no line end
			r.lines++
			return b, nil
		case err != bufio.ErrBufferFull:
			return nil, err
		}
		// Longer than the buffer: assemble it up to maxLine plus "\r\n", or pass it over.
		r.long = append(r.long[:0], b...)
		for err == bufio.ErrBufferFull && len(r.long) <= r.maxLine+2 {
			b, err = r.br.ReadSlice('\n')
			r.long = append(r.long, b...)
		}
		if (err == nil || err == io.EOF) && len(dropEOL(r.long)) <= r.maxLine {
			r.lines++
			return r.long, nil
		}
		if t := bytes.TrimLeft(r.long, " \t"); (err == nil || err == io.EOF || err == bufio.ErrBufferFull) && len(t) > 0 && t[0] == '[' && arrayStart(t[1:]) {
			// A JSON array on one long line: its elements are read one by one.
			r.lines++
			r.midLine = err == bufio.ErrBufferFull
			if r.firstLine == "" {
				r.firstLine = cut(t, 80)
			}
			r.scan(t, !r.midLine, false)
			return nil, errScanning
		}
		for err == bufio.ErrBufferFull {
			_, err = r.br.ReadSlice('\n')
		}
		if len(r.long) > 4*r.bufSize {
			r.long = nil // do not keep a megabyte for the rest of the input
		}
		if err != nil && err != io.EOF {
			return nil, err
		}
		r.lines++
		r.tooLong++
		if r.opt.Skip != nil {
			r.opt.Skip(Skip{Input: r.name, Line: r.lines, Reason: fmt.Sprintf("line longer than %d bytes", r.maxLine)})
		}
		if err == io.EOF {
			return nil, err
		}
	}
}

// dropEOL returns line without its line end: "\n" or "\r\n".
func dropEOL(line []byte) []byte {
	line = bytes.TrimSuffix(line, []byte("\n"))
	return bytes.TrimSuffix(line, []byte("\r"))
}

// end gives the error that ends the input: the read error err, or what io.EOF means here.
func (r *Reader) end(err error) error {
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("detect: %s: cut off after line %d (truncated file?): %w", r.name, r.lines, err)
	case err != io.EOF:
		return fmt.Errorf("detect: %s: after line %d: %w", r.name, r.lines, err)
	case r.firstLine != "" && r.recognised() == 0:
		return &NoTelemetryError{Input: r.name, Format: r.opt.Format, FirstLine: r.firstLine}
	}
	return io.EOF
}

func (r *Reader) recognised() int64 {
	var n int64
	for _, c := range r.records {
		n += c
	}
	return n
}

// Stats returns the counts so far.
func (r *Reader) Stats() Stats {
	s := Stats{
		Lines:     r.lines,
		Events:    r.events,
		Skipped:   r.skipped,
		Ignored:   r.ignored,
		Malformed: r.malformed,
		TooLong:   r.tooLong,
		Evicted:   r.procs.evicted,
		Records:   make(map[Format]int64, len(formats)),
	}
	for i, f := range formats {
		if r.records[i] > 0 {
			s.Records[f] = r.records[i]
		}
	}
	return s
}

// wants reports whether lines of format f are read.
func (r *Reader) wants(f Format) bool { return r.opt.Format == Auto || r.opt.Format == f }

// recognise counts a line of format f and reports whether to decode it in full.
func (r *Reader) recognise(f Format) (build bool) {
	r.records[f.index()]++
	if r.opt.Interesting != nil && !r.opt.Interesting(r.cur) {
		r.skipped++
		return false
	}
	return true
}

// decode reads one record, a non-blank line or (scanned) a JSON document the scanner found, and
// reports whether r.ev holds an event from it.
func (r *Reader) decode(line []byte, scanned bool) bool {
	r.cur = line
	switch {
	case line[0] == '{':
		return r.decodeJSON(line, scanned)
	case line[0] == '[' && r.wants(Santa):
		if rec, ok := parseSanta(line); ok {
			return r.santa(&rec, r.recognise(Santa))
		}
	}
	r.malformed++
	return false
}

func (r *Reader) decodeJSON(line []byte, scanned bool) bool {
	t := &r.top
	r.js.reset(line)
	if !t.walk(&r.js) {
		if !scanned {
			// Not one object on a line of its own: the start of a pretty-printed document,
			// several documents, or a broken line; the scanner tells which.
			r.scan(line, true, false)
			return false
		}
		r.malformed++
		return false
	}
	switch {
	case r.wants(UnifiedLog) && t.isCount():
		r.records[UnifiedLog.index()]++
		r.ignored++
		return false
	case r.wants(Eslogger) && t.isEslogger():
		return r.eslogger(t, r.recognise(Eslogger))
	case r.wants(Osquery) && t.isOsquery():
		return r.osquery(t, r.recognise(Osquery))
	case r.wants(UnifiedLog) && t.isUnifiedLog():
		return r.unifiedLog(t, r.recognise(UnifiedLog))
	case r.wants(ECS) && t.isECS():
		return r.ecs(t, r.recognise(ECS))
	}
	r.malformed++
	return false
}

// newEvent resets r.ev for a record of the current line.
func (r *Reader) newEvent(source Format, host string) *event.Event {
	r.ev = event.Event{
		Source:  string(source),
		Host:    host,
		Input:   r.name,
		Line:    r.recLine,
		Raw:     r.cur,
		Process: event.Process{UID: event.Unknown, EUID: event.Unknown, AUID: event.Unknown},
	}
	return &r.ev
}

// intern decodes a string and returns the shared copy, without allocating when it was seen
// before.
func (r *Reader) intern(j jstr) string {
	if !j.ok {
		return ""
	}
	if !j.esc {
		return r.names.get(j.raw)
	}
	r.buf = j.decode(r.buf[:0])
	return r.names.get(r.buf)
}

// hostOr returns the record's host name, interned, or Options.Host.
func (r *Reader) hostOr(j jstr) string {
	if h := r.intern(j); h != "" {
		return h
	}
	return r.opt.Host
}

// lineage fills the parent's image and the ancestry of ev from the process table. parentPath
// is the parent's image when the record gives it ("" to look it up) and grand the parent's own
// parent when the record gives it (-1 to look it up).
func (r *Reader) lineage(ev *event.Event, host string, ppid int, parentPath string, grand int) {
	if p, ok := r.procs.get(procKey{host, ppid}); ok && ppid >= 0 {
		if parentPath == "" {
			parentPath = p.path
		}
		if grand < 0 {
			grand = p.ppid
		}
	}
	if parentPath == "" {
		return
	}
	ev.ParentPath = parentPath
	if ev.ParentCommandLine == "" {
		ev.ParentCommandLine = r.parentCommand(host, ppid, parentPath)
	}
	anc := make([]string, 1, maxAncestry)
	anc[0] = parentPath
	if p, ok := r.procs.get(procKey{host, ppid}); ok && ppid >= 0 && p.was != "" && p.path == parentPath {
		anc = append(anc, p.was)
	}
	for pid := grand; len(anc) < maxAncestry && pid >= 0; {
		p, ok := r.procs.get(procKey{host, pid})
		if !ok || p.path == "" {
			break
		}
		anc = append(anc, p.path)
		if p.was != "" && len(anc) < maxAncestry {
			anc = append(anc, p.was)
		}
		pid = p.ppid
	}
	ev.Ancestry = anc
}

// responsible fills the responsible process, its image from the event itself or the table.
func (r *Reader) responsible(ev *event.Event, host string, pid int) {
	if pid < 0 {
		return
	}
	ev.ResponsiblePID = pid
	switch {
	case pid == ev.PID && ev.Path != "":
		ev.ResponsiblePath = ev.Path
	case pid == ev.PPID && ev.ParentPath != "":
		ev.ResponsiblePath = ev.ParentPath
	default:
		if p, ok := r.procs.get(procKey{host, pid}); ok {
			ev.ResponsiblePath = p.path
		}
	}
}

// pid turns the parsers' "absent" (-1) into the event's 0.
func pid(v int) int { return max(v, 0) }

func boolPtr(v int8) *bool {
	if v == 0 {
		return nil
	}
	b := v == 2
	return &b
}

// tristate records a JSON boolean: 0 absent, 1 false, 2 true.
func tristate(v, ok bool) int8 {
	switch {
	case !ok:
		return 0
	case v:
		return 2
	}
	return 1
}

func parseTime(layout string, j jstr) time.Time {
	if !j.ok {
		return time.Time{}
	}
	t, err := time.Parse(layout, j.String())
	if err != nil {
		return time.Time{}
	}
	return t
}

// splitFallback splits a command line that is not exactly argv: shell rules first, plain
// white space when the line is not valid shell (an unclosed quote).
func splitFallback(s string) []string {
	if argv, err := SplitCommandLine(s); err == nil {
		return argv
	}
	return strings.Fields(s)
}
