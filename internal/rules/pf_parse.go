package rules

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// The parsed form of a pf rule set: a tree of anchors, each an ordered list of statements that
// are either filter rules or anchor calls.

type pfAddrKind uint8

const (
	pfHostAny pfAddrKind = iota
	pfHostSelf
	pfHostSet
	pfHostTable
)

// pfAddrElem is one host of a from/to list. A list is an OR of its elements, which is what
// pfctl's expansion of a list into one rule per element amounts to (so "{ a, !b }" matches every
// address but b).
type pfAddrElem struct {
	neg   bool
	kind  pfAddrKind
	af    uint8   // the family of a literal address; 0 for any, self and tables
	set   pfIPSet // literal addresses; a table's set once resolved
	table string
	text  string // as written, for explanations
	iface bool   // written as an interface name, read as self
	// self: the element also stands for the host's own side of the packet, as self does (an
	// interface whose addresses are not given, a table holding self).
	self bool
	// unsure says, as "what: why", that what the element matches is not known from the file and
	// the options (a host name, no-route, en0:network without en0's addresses): it then matches
	// only set, and the rules that use it are unsure.
	unsure string
	// resolved says what an interface address stood for ("en0:network is 192.0.2.0/24"), for
	// explanations.
	resolved string
	undef    bool // a table no statement defines (empty here; filled at run time, if ever)
	// runtime is a table whose contents are filled at run time (see pfTable.filledAtRunTime).
	runtime bool
}

// pfHost is a from or to clause.
type pfHost struct {
	addrs     []pfAddrElem // OR; nil means any
	ports     []pfIPSet    // OR of port sets; nil means any
	nAddrs    int          // elements in the address list as written (addrs merges literals)
	nPorts    int          // elements in the port list as written (ports is their union)
	addrText  string
	portText  string
	portsSeen bool
}

type pfIfElem struct {
	neg  bool
	name string
}

// pfCond is what filter rules and anchor calls share: the conditions on a packet.
type pfCond struct {
	dir      Dir // 0: both
	ifs      []pfIfElem
	ifText   string
	af       uint8
	protos   []uint8
	protoTxt string
	src, dst pfHost
	x        pfOpts // the options past from/to (pf_opts.go)
}

type pfReturn uint8

const (
	pfRetNone pfReturn = iota
	pfRetReturn
	pfRetRST
	pfRetICMP
)

type pfState uint8

const (
	pfNoState pfState = iota
	pfKeepState
	pfModulateState
	pfSynproxyState
)

type pfICMPElem struct {
	typ  int16
	code int16 // -1: any code
}

// pfFilter is a pass or block rule.
type pfFilter struct {
	cond     pfCond
	pass     bool
	ret      pfReturn
	quick    bool
	state    pfState
	flags    uint8 // effective TCP flags: flags/mask, mask 0 for none (including pf's default S/SA)
	mask     uint8
	icmp     []pfICMPElem
	icmpText string
	where    string
	text     string
	// unsure lists, as "what: why", the conditions of the rule whose outcome the file and the
	// packet do not decide (a user or group match, a host name not resolved, a table filled at
	// run time, a tag set elsewhere): a verdict that rests on the rule is conditional on them.
	unsure []string
	// match is an OpenBSD match rule: it never decides a verdict, it applies its options (see
	// pf_translate.go).
	match bool
	// xl is the address translation the rule does: a nat, rdr or binat rule of the macOS/FreeBSD
	// dialect, or the nat-to, rdr-to, binat-to or af-to option of an OpenBSD rule; nil if none.
	xl       *pfXlate
	xtargets []pfXTarget // while parsing: the targets of xl
}

// pfCall is an anchor rule: evaluate the rules of an anchor (or of each child of it, for "/*")
// when the packet matches cond.
type pfCall struct {
	cond     pfCond
	quick    bool
	path     string // the anchor, resolved to an absolute path
	wildcard bool
	where    string
	file     string
	line     int
	text     string
	targets  []*pfAnchor // resolved at compile time
	size     int         // number of filter rules the call expands to
	xkind    pfXKind     // for nat-anchor, rdr-anchor, binat-anchor: the rules it evaluates
	// noteAt and ignAt are where, among the notes and ignored statements, a translation anchor
	// call goes when its rules turn out to be loaded at run time.
	noteAt, ignAt int
}

type pfStmt struct {
	f    *pfFilter
	call *pfCall
}

type pfTableEntry struct {
	neg    bool
	prefix netip.Prefix
}

type pfTable struct {
	name     string
	where    string
	entries  []pfTableEntry
	set      pfIPSet
	persist  bool // pfctl -t NAME -T add fills it at run time
	readOnly bool // const: nothing alters it once loaded
	overload bool // a rule's "overload <name>" adds sources to it at run time
	self     bool // it holds self, or an interface whose addresses are not given
	// unsure lists, as "what: why", the entries whose addresses are not known (host names,
	// interfaces whose addresses are not given): they are left out.
	unsure []string
}

// filledAtRunTime reports whether the table's contents are unknown from the file alone: it is
// the target of overload, or a table not marked const that is persist or empty (pf.conf(5): such
// tables exist to be filled with pfctl -t NAME -T add, or by overload, while pf runs).
func (t *pfTable) filledAtRunTime() bool {
	return t.overload || !t.readOnly && (t.persist || len(t.entries) == 0 && !t.self && len(t.unsure) == 0)
}

// pfAnchor is a ruleset: the main one (path "") or a named anchor.
type pfAnchor struct {
	path    string
	stmts   []pfStmt
	xstmts  []pfStmt // translation rules and translation anchor calls (pf_translate.go)
	tables  map[string]*pfTable
	defined string // where its rules came from, once some did
	size    int
	sized   bool
}

// PFSyntaxError is a statement of a pf rule set ParsePF could not accept, or a file it could not
// load. File is the name the caller gave (or the path a load or include named).
type PFSyntaxError struct {
	File string
	Line int
	Msg  string
	Err  error // the loader's error, for a file that could not be read
}

func (e *PFSyntaxError) Error() string {
	s := fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *PFSyntaxError) Unwrap() error { return e.Err }

func pfLineError(line int, msg string) *PFSyntaxError { return &PFSyntaxError{Line: line, Msg: msg} }

// pfClass orders statements the way pfctl's require-order expects them.
const (
	pfClassOption = iota + 1
	pfClassNormalization
	pfClassTranslation
	pfClassFilter
)

type pfOrderNote struct {
	class int
	where string
}

const pfMaxLoadDepth = 16

// pfCheckEvery is how many statements ParsePF parses between looks at its context: often enough
// to stop within milliseconds, rarely enough to cost nothing.
const pfCheckEvery = 4096

type pfParser struct {
	ctx     context.Context // checked every pfCheckEvery statements
	stmts   *int            // statements parsed, in every file
	rs      *PFRuleset
	lex     *pfLexer
	data    []byte
	file    string
	anchor  *pfAnchor
	ahead   []pfTok // tokens read ahead, from ai on
	ai      int
	lastEnd int
	depth   int
	blocks  int     // inline anchor blocks open in this file
	toks    []pfTok // the tokens consumed so far, macros expanded
	load    func(path string) ([]byte, error)
}

func (p *pfParser) fill(n int) {
	if p.ai > 0 && p.ai == len(p.ahead) {
		p.ahead, p.ai = p.ahead[:0], 0 // reuse the buffer rather than grow a new one
	}
	for len(p.ahead)-p.ai < n {
		p.ahead = append(p.ahead, p.lex.lex())
	}
}

func (p *pfParser) peek() pfTok { p.fill(1); return p.ahead[p.ai] }

func (p *pfParser) next() pfTok {
	p.fill(1)
	t := p.ahead[p.ai]
	p.ai++
	if t.kind != pfEOF && t.kind != pfNL {
		p.lastEnd = t.end
		p.toks = append(p.toks, t)
	}
	return t
}

// joined is the text of the tokens consumed since mark, macros expanded, for explanations.
func (p *pfParser) joined(mark int) string {
	ts := p.toks[mark:]
	var b strings.Builder
	for i, t := range ts {
		if i > 0 {
			prev := ts[i-1]
			tight := t.is(",") || t.is(")") || prev.is("!") || prev.is("(") ||
				t.is(">") && i >= 2 && ts[i-2].is("<") || prev.is("<") && i+1 < len(ts) && ts[i+1].is(">")
			if !tight {
				b.WriteByte(' ')
			}
		}
		b.WriteString(t.s)
	}
	return b.String()
}

// accept consumes the keyword or punctuation s when it comes next.
func (p *pfParser) accept(s string) bool {
	if p.peek().is(s) {
		p.next()
		return true
	}
	return false
}

func (p *pfParser) errf(t pfTok, format string, args ...any) error {
	if p.lex.err != nil {
		return p.lexErr()
	}
	return &PFSyntaxError{File: p.file, Line: t.line, Msg: fmt.Sprintf(format, args...)}
}

func (p *pfParser) lexErr() error {
	var e *PFSyntaxError
	if errors.As(p.lex.err, &e) && e.File == "" {
		e.File = p.file
	}
	return p.lex.err
}

func (p *pfParser) where(t pfTok) string { return fmt.Sprintf("%s:%d", p.file, t.line) }

func (p *pfParser) text(start int) string {
	if start >= p.lastEnd {
		return ""
	}
	return pfNormText(p.data[start:p.lastEnd])
}

func (p *pfParser) expect(s string) error {
	if t := p.next(); !t.is(s) {
		return p.errf(t, "expected %q, found %s", s, t)
	}
	return nil
}

// skipBlank skips line ends, which lists and blocks may span.
func (p *pfParser) skipBlank() {
	for p.peek().kind == pfNL {
		p.next()
	}
}

func (p *pfParser) endStatement() error {
	t := p.peek()
	switch {
	case t.kind == pfNL:
		p.next()
		return nil
	case t.kind == pfEOF:
		if p.lex.err != nil {
			return p.lexErr()
		}
		return nil
	case t.is("}") && p.blocks > 0:
		return nil // the end of an inline anchor block; its caller consumes it
	}
	return p.errf(t, "unexpected %s", t)
}

func (p *pfParser) order(class int, t pfTok) {
	if p.anchor == p.rs.root {
		p.rs.order = append(p.rs.order, pfOrderNote{class, p.where(t)})
	}
}

// statements parses until the end of the file or, in an inline block, its closing brace.
func (p *pfParser) statements(block bool) error {
	for {
		t := p.peek()
		switch {
		case t.kind == pfEOF:
			if p.lex.err != nil {
				return p.lexErr()
			}
			if block {
				return p.errf(t, "missing } at the end of an anchor block")
			}
			return nil
		case t.kind == pfNL:
			p.next()
			continue
		case t.is("}"):
			if block {
				p.next()
				return nil
			}
			return p.errf(t, "unexpected }")
		}
		if *p.stmts++; *p.stmts%pfCheckEvery == 0 {
			if err := p.ctx.Err(); err != nil {
				return err
			}
		}
		if err := p.statement(); err != nil {
			return err
		}
	}
}

var pfReserved = map[string]bool{
	"pass": true, "block": true, "in": true, "out": true, "on": true, "from": true, "to": true,
	"all": true, "any": true, "quick": true, "log": true, "proto": true, "port": true,
	"anchor": true, "table": true, "set": true, "keep": true, "state": true, "inet": true,
	"inet6": true, "self": true, "flags": true, "no": true, "load": true, "scrub": true,
}

func (p *pfParser) statement() error {
	// Marks into toks are taken within a statement: the tokens of earlier ones are not needed,
	// and keeping them would hold every token of the file (and of every macro expansion).
	p.toks = p.toks[:0]
	t := p.next()
	if t.kind != pfWord {
		return p.errf(t, "unexpected %s at the start of a statement", t)
	}
	if p.peek().is("=") {
		return p.macro(t)
	}
	switch t.s {
	case "table":
		return p.table(t)
	case "set":
		return p.set(t)
	case "pass", "block":
		p.order(pfClassFilter, t)
		return p.filter(t)
	case "anchor":
		p.order(pfClassFilter, t)
		return p.anchorRule(t)
	case "load":
		return p.loadAnchor(t)
	case "include":
		return p.include(t)
	case "scrub":
		p.order(pfClassNormalization, t)
		return p.ignore(t, "traffic normalisation is not simulated")
	case "antispoof":
		p.order(pfClassFilter, t)
		return p.antispoof(t)
	case "scrub-anchor":
		p.order(pfClassNormalization, t)
		return p.ignore(t, "not a filter anchor")
	case "nat-anchor", "rdr-anchor", "binat-anchor":
		p.order(pfClassTranslation, t)
		return p.xanchorRule(t)
	case "dummynet-anchor":
		p.order(pfClassTranslation, t)
		return p.ignore(t, "not a filter anchor")
	case "nat", "rdr", "binat", "no":
		p.order(pfClassTranslation, t)
		return p.translation(t)
	case "match":
		p.order(pfClassFilter, t)
		return p.filter(t)
	case "nat64":
		return p.errf(t, "\"nat64\" is not a pf statement: translate address families with the af-to option of a pass or match rule")
	case "altq", "queue", "dummynet", "ether":
		return p.notModelled(t)
	}
	return p.errf(t, "unknown keyword %q", t.s)
}

// ignore consumes a statement the simulator does not model (with any block it opens) and notes
// it, so that nothing is skipped silently.
func (p *pfParser) ignore(first pfTok, why string) error {
	depth := 0
	for {
		t := p.peek()
		switch {
		case t.kind == pfEOF:
			if p.lex.err != nil {
				return p.lexErr()
			}
			if depth > 0 {
				return p.errf(t, "missing } in %q statement", first.s)
			}
		case t.kind == pfNL && depth == 0:
		case t.is("}") && depth == 0 && p.blocks > 0:
			// the end of the enclosing inline anchor block
		default:
			switch {
			case t.is("{"), t.is("("):
				depth++
			case t.is("}"), t.is(")"):
				depth--
			}
			p.next()
			continue
		}
		break
	}
	p.rs.ignored = append(p.rs.ignored, fmt.Sprintf("%s: %s (ignored: %s)", p.where(first), p.text(first.start), why))
	if w, ok := pfNoteWhy[first.s]; ok {
		why = w
	}
	p.rs.notes = append(p.rs.notes, fmt.Sprintf("%s: %s: not modelled (%s)", p.where(first), p.text(first.start), why))
	return p.endStatement()
}

// pfNoteWhy says, for the notes, why an ignored anchor statement can matter to a verdict.
var pfNoteWhy = map[string]string{
	"scrub-anchor":    "traffic normalisation is not simulated",
	"dummynet-anchor": "traffic shaping is not simulated",
}

var (
	pfMacroName = regexp.MustCompile(`^[A-Za-z0-9_]+$`)
	pfTableName = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*$`)
)

func (p *pfParser) macro(name pfTok) error {
	p.next() // =
	if !pfMacroName.MatchString(name.s) || pfReserved[name.s] {
		return p.errf(name, "bad macro name %q", name.s)
	}
	var parts []string
	for p.peek().value() {
		parts = append(parts, p.next().s)
	}
	if len(parts) == 0 {
		return p.errf(p.peek(), "macro %s needs a value", name.s)
	}
	v := strings.Join(parts, " ")
	if len(v) > pfMaxMacroLen {
		return p.errf(name, "macro %s is longer than %d bytes", name.s, pfMaxMacroLen)
	}
	p.lex.macros[name.s] = v
	return p.endStatement()
}

func (p *pfParser) tableName() (string, error) {
	if err := p.expect("<"); err != nil {
		return "", err
	}
	t := p.next()
	if t.kind != pfWord || !pfTableName.MatchString(t.s) {
		return "", p.errf(t, "bad table name %s", t)
	}
	if err := p.expect(">"); err != nil {
		return "", err
	}
	return t.s, nil
}

func (p *pfParser) table(first pfTok) error {
	name, err := p.tableName()
	if err != nil {
		return err
	}
	tb := &pfTable{name: name, where: p.where(first)}
	if p.anchor.tables == nil {
		p.anchor.tables = map[string]*pfTable{}
	}
	if old, ok := p.anchor.tables[name]; ok {
		return p.errf(first, "table <%s> is already defined at %s", name, old.where)
	}
	for {
		t := p.peek()
		switch {
		case t.is("persist"), t.is("const"), t.is("counters"):
			p.next()
			tb.persist = tb.persist || t.is("persist")
			tb.readOnly = tb.readOnly || t.is("const")
			continue
		case t.is("file"):
			p.next()
			f := p.next()
			if !f.value() {
				return p.errf(f, "file needs a path, found %s", f)
			}
			if err := p.tableFile(f, tb); err != nil {
				return err
			}
			continue
		case t.is("{"):
			p.next()
			for {
				p.skipBlank()
				t := p.peek()
				if t.is("}") {
					p.next()
					break
				}
				if t.is(",") {
					p.next()
					continue
				}
				if len(tb.entries)%pfCheckEvery == pfCheckEvery-1 {
					if err := p.ctx.Err(); err != nil {
						return err // a table of millions of entries is one statement
					}
				}
				if err := p.tableElem(tb); err != nil {
					return err
				}
			}
			continue
		}
		break
	}
	p.anchor.tables[name] = tb
	return p.endStatement()
}

func pfTableEntryOf(s string, neg bool) (pfTableEntry, error) {
	if strings.HasPrefix(s, "!") {
		neg, s = !neg, s[1:]
	}
	pre, err := pfParsePrefix(s)
	if err != nil {
		return pfTableEntry{}, fmt.Errorf("entry %q: want an address or a prefix", s)
	}
	return pfTableEntry{neg: neg, prefix: pre}, nil
}

func (p *pfParser) readFile(t pfTok, what, name string) ([]byte, error) {
	if p.load == nil {
		return nil, p.errf(t, "%s %q: no file loader was given", what, name)
	}
	if p.depth >= pfMaxLoadDepth {
		return nil, p.errf(t, "%s %q: files nested deeper than %d", what, name, pfMaxLoadDepth)
	}
	data, err := p.load(name)
	if err != nil {
		return nil, &PFSyntaxError{File: p.file, Line: t.line, Msg: fmt.Sprintf("%s %q", what, name), Err: err}
	}
	return data, nil
}

// tableFile reads a table file into tb: addresses or prefixes (or, as in pfctl, self, interface
// addresses and host names), one or more a line, "#" comments. Its errors and notes name the
// file, the line and the table but never quote the line: a table file is not pf syntax, and a
// rule set could name any file root can read ("/etc/shadow").
func (p *pfParser) tableFile(t pfTok, tb *pfTable) error {
	data, err := p.readFile(t, "table file", t.s)
	if errors.Is(err, fs.ErrNotExist) {
		// A rule set read off its host (pfSense's /etc/bogons, a list a cron job fetches): pfctl
		// on the host loads the file, so its contents are unknown here rather than an error, and
		// every verdict that rests on the table says so.
		why := fmt.Sprintf("table <%s>: file %s is not found (under --root), so its contents are unknown", tb.name, t.s)
		tb.unsure = append(tb.unsure, why)
		p.noteUnsure(t, why)
		return nil
	}
	if err != nil {
		return err
	}
	for i, line := range strings.Split(string(data), "\n") {
		if i%pfCheckEvery == pfCheckEvery-1 {
			if err := p.ctx.Err(); err != nil {
				return err
			}
		}
		if c := strings.IndexByte(line, '#'); c >= 0 {
			line = line[:c]
		}
		for _, f := range strings.Fields(line) {
			why, err := p.rs.opts.tableFileWord(tb, f)
			if err != nil {
				return &PFSyntaxError{File: t.s, Line: i + 1, Msg: fmt.Sprintf("table <%s>: an entry is not an address, a prefix, an interface, self or a host name", tb.name)}
			}
			if why != "" {
				why = fmt.Sprintf("table <%s>: %s:%d: %s", tb.name, t.s, i+1, why)
				tb.unsure = append(tb.unsure, why)
				p.noteUnsure(t, why)
			}
		}
	}
	return nil
}

// Options ParsePF accepts and ignores: they tune the engine, not which packets pass.
var pfIgnoredOptions = map[string]bool{
	"optimization": true, "ruleset-optimization": true, "loginterface": true, "timeout": true,
	"limit": true, "state-policy": true, "state-defaults": true, "hostid": true,
	"fingerprints": true, "debug": true, "reassemble": true, "syncookies": true,
	"keepcounters": true, "fail-policy": true,
}

func (p *pfParser) set(first pfTok) error {
	p.order(pfClassOption, first)
	opt := p.next()
	if opt.kind != pfWord {
		return p.errf(opt, "set needs an option, found %s", opt)
	}
	if p.anchor != p.rs.root {
		return p.setInAnchor(first, opt)
	}
	switch opt.s {
	case "skip":
		if err := p.expect("on"); err != nil {
			return err
		}
		var names []string
		if p.accept("{") {
			for {
				p.skipBlank()
				t := p.next()
				if t.is("}") {
					break
				}
				if t.is(",") {
					continue
				}
				if !t.value() {
					return p.errf(t, "set skip: bad interface %s", t)
				}
				names = append(names, t.s)
			}
		} else {
			t := p.next()
			if !t.value() {
				return p.errf(t, "set skip: bad interface %s", t)
			}
			names = append(names, t.s)
		}
		for _, n := range names {
			members, known := p.rs.opts.members(n)
			if !known {
				p.rs.notes = append(p.rs.notes, fmt.Sprintf("%s: set skip on %s: the members of the interface group %s are not known, so no interface is skipped for it (give --group %s=IF,IF)", p.where(first), n, n, n))
			}
			for _, m := range members {
				p.rs.skip = append(p.rs.skip, pfSkip{iface: m, where: p.where(first), text: p.text(first.start)})
			}
		}
	case "block-policy":
		t := p.next()
		switch {
		case t.is("drop"):
			p.rs.blockReturn = false
		case t.is("return"):
			p.rs.blockReturn = true
		default:
			return p.errf(t, "set block-policy: want drop or return, found %s", t)
		}
	case "require-order":
		t := p.next()
		switch {
		case t.is("yes"):
			p.rs.noRequireOrder = false
		case t.is("no"):
			p.rs.noRequireOrder = true
		default:
			return p.errf(t, "set require-order: want yes or no, found %s", t)
		}
	default:
		if !pfIgnoredOptions[opt.s] {
			return p.errf(opt, "unknown option \"set %s\"", opt.s)
		}
		return p.ignore(first, "engine tuning")
	}
	return p.endStatement()
}

func (p *pfParser) include(first pfTok) error {
	f := p.next()
	if !f.value() {
		return p.errf(f, "include needs a file name, found %s", f)
	}
	if err := p.endStatement(); err != nil {
		return err
	}
	data, err := p.readFile(first, "include", f.s)
	if err != nil {
		return err
	}
	sub := p.sub(data, f.s, p.anchor)
	return sub.statements(false)
}

func (p *pfParser) sub(data []byte, file string, a *pfAnchor) *pfParser {
	return &pfParser{
		ctx:    p.ctx,
		stmts:  p.stmts,
		rs:     p.rs,
		lex:    &pfLexer{data: data, line: 1, macros: p.lex.macros},
		data:   data,
		file:   file,
		anchor: a,
		depth:  p.depth + 1,
		load:   p.load,
	}
}

// pfResolveAnchor resolves an anchor name relative to the anchor cur, as pf does: a leading "/"
// makes it absolute, ".." climbs, and a final "*" ("name/*", or "*" alone) means the children.
func pfResolveAnchor(cur, name string) (abs string, wildcard bool, err error) {
	if name == "" {
		return "", false, errors.New("empty anchor name")
	}
	if name == "*" || strings.HasSuffix(name, "/*") {
		wildcard = true
		name = strings.TrimSuffix(strings.TrimSuffix(name, "*"), "/")
	}
	var parts []string
	if !strings.HasPrefix(name, "/") && cur != "" {
		parts = strings.Split(cur, "/")
	}
	for _, c := range strings.Split(name, "/") {
		switch {
		case c == "" || c == ".":
		case c == "..":
			if len(parts) == 0 {
				return "", false, fmt.Errorf("anchor %q climbs above the main ruleset", name)
			}
			parts = parts[:len(parts)-1]
		case strings.ContainsAny(c, "* \t"):
			return "", false, fmt.Errorf("bad anchor name %q", name)
		default:
			parts = append(parts, c)
		}
	}
	abs = strings.Join(parts, "/")
	if abs == "" && !wildcard {
		return "", false, fmt.Errorf("anchor %q names the main ruleset", name)
	}
	return abs, wildcard, nil
}

func (p *pfParser) anchorRule(first pfTok) error {
	c := &pfCall{where: p.where(first), file: p.file, line: first.line}
	name := ""
	if t := p.peek(); t.value() && !(t.kind == pfWord && pfAnchorKeyword[t.s]) {
		name = p.next().s
	}
	// pfctl reads "anchor name dir quick ..." (some versions "quick dir"): accept both.
	quick := p.accept("quick")
	switch {
	case p.accept("in"):
		c.cond.dir = In
	case p.accept("out"):
		c.cond.dir = Out
	}
	if p.accept("quick") {
		quick = true
	}
	c.quick = quick
	if err := p.cond(&c.cond); err != nil {
		return err
	}
	if err := p.anchorOpts(c); err != nil {
		return err
	}
	if t := p.peek(); t.kind == pfWord && !t.is("{") {
		return p.errf(t, "%q is not supported on anchor rules", t.s)
	}
	c.text = p.text(first.start)
	p.anchorNotes(c)
	block := p.peek().is("{")
	if name == "" {
		if !block {
			return p.errf(first, "anchor needs a name")
		}
		p.rs.anon++
		name = fmt.Sprintf("_%d", p.rs.anon)
	}
	abs, wild, err := pfResolveAnchor(p.anchor.path, name)
	if err != nil {
		return p.errf(first, "%v", err)
	}
	if block && wild {
		return p.errf(first, "anchor %q: an inline block needs a plain name", name)
	}
	c.path, c.wildcard = abs, wild
	if err := pfCheckCond(&c.cond); err != nil {
		return p.errf(first, "%v", err)
	}
	target := p.rs.anchorAt(abs)
	p.anchor.stmts = append(p.anchor.stmts, pfStmt{call: c})
	if !block {
		return p.endStatement()
	}
	p.next() // {
	if target.defined != "" {
		return p.errf(first, "anchor %q already has rules from %s", abs, target.defined)
	}
	target.defined = c.where
	saved := p.anchor
	p.anchor = target
	p.blocks++
	err = p.statements(true)
	p.blocks--
	p.anchor = saved
	if err != nil {
		return err
	}
	return p.endStatement()
}

var pfRuleWords = map[string]bool{
	"in": true, "out": true, "log": true, "quick": true, "on": true, "inet": true, "inet6": true,
	"proto": true, "from": true, "to": true, "all": true, "port": true,
}

var pfAnchorKeyword = map[string]bool{
	"in": true, "out": true, "quick": true, "on": true, "inet": true, "inet6": true,
	"proto": true, "from": true, "to": true, "all": true,
}

func (p *pfParser) loadAnchor(first pfTok) error {
	if err := p.expect("anchor"); err != nil {
		return err
	}
	n := p.next()
	if !n.value() {
		return p.errf(n, "load anchor needs a name, found %s", n)
	}
	if err := p.expect("from"); err != nil {
		return err
	}
	f := p.next()
	if !f.value() {
		return p.errf(f, "load anchor needs a file, found %s", f)
	}
	if err := p.endStatement(); err != nil {
		return err
	}
	abs, wild, err := pfResolveAnchor(p.anchor.path, n.s)
	if err != nil || wild {
		return p.errf(n, "load anchor: bad anchor name %q", n.s)
	}
	target := p.rs.anchorAt(abs)
	if target.defined != "" {
		return p.errf(first, "load anchor %q: the anchor already has rules from %s", abs, target.defined)
	}
	target.defined = p.where(first)
	data, err := p.readFile(first, "load anchor "+strconv.Quote(n.s)+" from", f.s)
	if err != nil {
		return err
	}
	return p.sub(data, f.s, target).statements(false)
}

func (p *pfParser) filter(first pfTok) error {
	f := &pfFilter{pass: first.s == "pass", match: first.s == "match", where: p.where(first)}
	if !f.pass && !f.match {
		t := p.peek()
		switch {
		case t.is("drop"):
			p.next()
		case t.is("return"):
			p.next()
			f.ret = pfRetReturn
		case t.is("return-rst"):
			p.next()
			f.ret = pfRetRST
		case t.is("return-icmp"), t.is("return-icmp6"):
			p.next()
			f.ret = pfRetICMP
		default:
			if p.rs.blockReturn {
				f.ret = pfRetReturn
			}
		}
		if f.ret != pfRetNone && p.peek().is("(") {
			if err := p.skipParens(); err != nil {
				return err
			}
		}
	}
	switch {
	case p.accept("in"):
		f.cond.dir = In
	case p.accept("out"):
		f.cond.dir = Out
	}
	for {
		if p.accept("log") {
			if p.peek().is("(") {
				if err := p.skipParens(); err != nil {
					return err
				}
			}
			continue
		}
		if q := p.peek(); p.accept("quick") {
			if f.match {
				return p.errf(q, "quick on a match rule is not supported by the simulator")
			}
			f.quick = true
			continue
		}
		break
	}
	if err := p.cond(&f.cond); err != nil {
		return err
	}
	if p.rs.expanded += pfExpansion(&f.cond); p.rs.expanded > pfMaxExpandedRules {
		return p.errf(first, "the rule set stands for more than %d rules once pfctl multiplies out its lists (one rule per combination of interfaces, protocols, addresses and ports): put long address lists in a table", pfMaxExpandedRules)
	}
	explicitFlags, explicitState, stateOpts := false, false, "" // stateOpts: why they matter
	for {
		t := p.peek()
		if t.is("!") {
			if ok, err := p.ruleOpt(&f.cond.x, &f.cond.x.unsure, t); err != nil {
				return err
			} else if ok {
				continue
			}
		}
		if t.kind != pfWord {
			break
		}
		switch t.s {
		case "nat-to", "rdr-to", "binat-to", "af-to":
			if err := p.xlateOption(f); err != nil {
				return err
			}
			continue
		case "flags":
			p.next()
			v := p.next()
			if v.is("any") {
				f.flags, f.mask = 0, 0
				explicitFlags = true
				continue
			}
			a, b, ok := strings.Cut(v.s, "/")
			fl, ok1 := pfParseFlags(a)
			mk, ok2 := pfParseFlags(b)
			if v.kind != pfWord || !ok || !ok1 || !ok2 || mk == 0 {
				return p.errf(v, "flags: want F/M (such as S/SA) or any, found %s", v)
			}
			if fl&mk != fl {
				return p.errf(v, "flags %s always false: %s is not within %s", v.s, a, b)
			}
			f.flags, f.mask, explicitFlags = fl, mk, true
		case "icmp-type", "icmp6-type":
			p.next()
			if err := p.icmpTypes(f, t.s == "icmp6-type"); err != nil {
				return err
			}
		case "keep", "modulate", "synproxy":
			p.next()
			if err := p.expect("state"); err != nil {
				return err
			}
			f.state = map[string]pfState{"keep": pfKeepState, "modulate": pfModulateState, "synproxy": pfSynproxyState}[t.s]
			explicitState = true
			if p.peek().is("(") {
				mark := len(p.toks)
				if err := p.skipParens(); err != nil {
					return err
				}
				if why := p.stateOpts(&f.cond.x, mark); why != "" {
					stateOpts = why
				}
			}
		case "no":
			p.next()
			if err := p.expect("state"); err != nil {
				return err
			}
			f.state, explicitState = pfNoState, true
		case "label":
			p.next()
			if v := p.next(); !v.value() {
				return p.errf(v, "label needs a string, found %s", v)
			}
		case "allow-opts":
			p.next()
		case "user", "group": // pfaddr: see userGroup in pf_addr.go
			p.next()
			if err := p.userGroup(f, t); err != nil {
				return err
			}
		default:
			if ok, err := p.ruleOpt(&f.cond.x, &f.cond.x.unsure, t); err != nil {
				return err
			} else if ok {
				continue
			}
			if pfRuleWords[t.s] {
				return p.errf(t, "unexpected %q: a rule reads pass|block, in|out, log, quick, on, inet|inet6, proto, from, to, then options", t.s)
			}
			return p.errf(t, "%q is not supported by the simulator", t.s)
		}
	}
	if f.pass && !explicitState {
		f.state = pfKeepState // pass rules keep state unless told not to
	}
	if !f.pass {
		f.state = pfNoState
	}
	if f.pass && f.state != pfNoState && !explicitFlags {
		f.flags, f.mask = pfSYN, pfSYN|pfACK // and then match only SYNs: pf's default flags S/SA
	}
	f.text = p.text(first.start)
	pfFinishOpts(&f.cond, &f.cond.x.unsure)
	f.unsure = append(f.unsure, f.cond.x.unsure...)
	if err := pfCheckFilter(f, explicitFlags); err != nil {
		return p.errf(first, "%v", err)
	}
	inbound, err := p.xlateDone(f, first)
	if err != nil {
		return err
	}
	if stateOpts != "" {
		// Limits (max, max-src-conn, …) and overload tables change what passes once traffic has
		// filled them.
		p.rs.notes = append(p.rs.notes, fmt.Sprintf("%s: %s: not modelled (state options: %s)", f.where, f.text, stateOpts))
	}
	p.anchor.stmts = append(p.anchor.stmts, pfStmt{f: f})
	if inbound != nil {
		p.anchor.stmts = append(p.anchor.stmts, pfStmt{f: inbound})
	}
	return p.endStatement()
}

func (p *pfParser) skipParens() error {
	open := p.next()
	depth := 1
	for depth > 0 {
		t := p.next()
		switch {
		case t.kind == pfEOF:
			return p.errf(open, "missing )")
		case t.is("("):
			depth++
		case t.is(")"):
			depth--
		}
	}
	return nil
}

func (p *pfParser) icmpTypes(f *pfFilter, v6 bool) error {
	mark := len(p.toks)
	one := func() error {
		t := p.next()
		names := pfICMPTypes
		if v6 {
			names = pfICMP6Types
		}
		typ, ok := names[t.s]
		if !ok {
			n, err := strconv.Atoi(t.s)
			if err != nil || n < 0 || n > 255 || !t.value() {
				return p.errf(t, "unknown icmp type %s", t)
			}
			typ = int16(n)
		}
		e := pfICMPElem{typ: typ, code: -1}
		if p.accept("code") {
			c := p.next()
			code, ok := pfICMPCodes[c.s]
			if !ok {
				n, err := strconv.Atoi(c.s)
				if err != nil || n < 0 || n > 255 || !c.value() {
					return p.errf(c, "unknown icmp code %s", c)
				}
				code = int16(n)
			}
			e.code = code
		}
		f.icmp = append(f.icmp, e)
		return nil
	}
	if err := p.listOrOne(one); err != nil {
		return err
	}
	f.icmpText = p.joined(mark)
	want := ProtoICMP
	if v6 {
		want = ProtoICMPv6
	}
	if len(f.cond.protos) == 0 || slices.ContainsFunc(f.cond.protos, func(x uint8) bool { return x != want }) {
		return p.errf(p.peek(), "icmp-type/code only applies to proto %s", pfProtoName(want))
	}
	return nil
}

// cond parses "[on ifspec] [inet|inet6] [proto …] [all | from … to …]".
func (p *pfParser) cond(c *pfCond) error {
	if on := p.peek(); p.accept("on") {
		mark := len(p.toks)
		ifs, err := p.ifspec()
		if err != nil {
			return err
		}
		c.ifText = p.joined(mark)
		var members []string
		if c.ifs, members, err = p.groups(on, ifs, c.ifText); err != nil {
			return err
		}
		if len(members) > 0 {
			// Explanations name the interfaces a group stood for.
			c.ifText += " (" + strings.Join(members, "; ") + ")"
		}
	}
	if t := p.peek(); t.kind == pfWord && pfRouteWords[t.s] != "" {
		// The older grammar (macOS, FreeBSD) puts routing right after the interface.
		p.next()
		if err := p.routeOpt(&c.x, t); err != nil {
			return err
		}
	}
	switch {
	case p.accept("inet"):
		c.af = 4
	case p.accept("inet6"):
		c.af = 6
	}
	if p.accept("proto") {
		mark := len(p.toks)
		one := func() error {
			t := p.next()
			if n, ok := pfProtoNames[t.s]; ok && t.value() {
				c.protos = append(c.protos, n)
				return nil
			}
			n, err := strconv.Atoi(t.s)
			if err != nil || n < 0 || n > 255 || !t.value() {
				return p.errf(t, "unknown protocol %s", t)
			}
			c.protos = append(c.protos, uint8(n))
			return nil
		}
		if err := p.listOrOne(one); err != nil {
			return err
		}
		if len(c.protos) == 0 {
			return p.errf(p.peek(), "empty protocol list")
		}
		c.protoTxt = p.joined(mark)
	}
	if p.accept("all") {
		return nil
	}
	if p.accept("from") {
		if err := p.host(&c.src); err != nil {
			return err
		}
	}
	if t := p.peek(); t.is("os") {
		if err := p.osOpt(c); err != nil {
			return err
		}
	}
	if p.accept("to") {
		if err := p.host(&c.dst); err != nil {
			return err
		}
	}
	return nil
}

func (p *pfParser) ifspec() ([]pfIfElem, error) {
	one := func() (pfIfElem, error) {
		neg := p.accept("!")
		t := p.next()
		if !t.value() || t.s == "" || strings.ContainsAny(t.s, " \t") {
			return pfIfElem{}, p.errf(t, "bad interface %s", t)
		}
		if t.kind == pfWord && (t.s == "any" || t.s == "all") {
			return pfIfElem{}, p.errf(t, "on %s is not supported: leave out \"on\" to match every interface", t.s)
		}
		if t.kind == pfWord && t.s == "rdomain" {
			return pfIfElem{}, p.errf(t, "on rdomain is not supported by the simulator")
		}
		return pfIfElem{neg: neg, name: t.s}, nil
	}
	if !p.accept("{") {
		e, err := one()
		return []pfIfElem{e}, err
	}
	var out []pfIfElem
	for {
		p.skipBlank()
		if p.accept("}") {
			break
		}
		if p.accept(",") {
			continue
		}
		e, err := one()
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	if len(out) == 0 {
		return nil, p.errf(p.peek(), "empty interface list")
	}
	return out, nil
}

// pfIfaceName matches what looks like an interface name (en0, lo0, utun3, bridge100), with an
// optional ":0" modifier.
var pfIfaceName = regexp.MustCompile(`^[a-z]+[0-9]+(:0)?$`)

func (p *pfParser) host(h *pfHost) error {
	mark := len(p.toks)
	if !p.peek().is("port") {
		list := p.peek().is("{")
		err := p.listOrOne(func() error {
			e, err := p.addrElem()
			h.addrs = append(h.addrs, e)
			return err
		})
		if err != nil {
			return err
		}
		if len(h.addrs) == 0 {
			return p.errf(p.peek(), "empty address list")
		}
		h.addrText = p.joined(mark)
		if !list {
			h.addrText = h.addrs[0].text
		}
		h.nAddrs = len(h.addrs)
		h.addrs = pfMergeLiterals(h.addrs)
	}
	if len(h.addrs) == 1 && h.addrs[0].kind == pfHostAny && !h.addrs[0].neg {
		h.addrs = nil // "any" is no condition
	}
	if p.accept("port") {
		mark := len(p.toks)
		err := p.listOrOne(func() error {
			s, err := p.portElem()
			h.ports = append(h.ports, s)
			return err
		})
		if err != nil {
			return err
		}
		if len(h.ports) == 0 {
			return p.errf(p.peek(), "empty port list")
		}
		h.portsSeen = true
		h.portText = p.joined(mark)
		h.nPorts = len(h.ports)
		if len(h.ports) > 1 {
			// An OR of port sets is their union: one set, however long the list.
			var all []pfRange
			for _, s := range h.ports {
				all = append(all, s...)
			}
			h.ports = []pfIPSet{pfNormalize(all)}
		}
	}
	return nil
}

// pfMergeLiterals replaces the literal addresses of an OR list, family by family, with one
// element holding their union: a list of thousands of addresses (a macro, typically) becomes a
// few intervals rather than thousands of elements, each rule and evaluation cheaper for it.
// Other elements (any, self, tables, negated entries) stay as they are; the merged element is
// never a list's only one, which is where an element's own text is shown.
func pfMergeLiterals(es []pfAddrElem) []pfAddrElem {
	var ranges [2][]pfRange
	var count, at [2]int
	out := es[:0:0]
	for _, e := range es {
		if e.kind != pfHostSet || e.neg || e.af != 4 && e.af != 6 || e.self || e.unsure != "" {
			out = append(out, e)
			continue
		}
		k := int(e.af / 6) // 4 → 0, 6 → 1
		ranges[k] = append(ranges[k], e.set...)
		if count[k]++; count[k] == 1 {
			at[k] = len(out)
			out = append(out, e)
		}
	}
	for k := range 2 {
		if count[k] > 1 {
			out[at[k]].set = pfNormalize(ranges[k])
			out[at[k]].text = ""
		}
	}
	return out
}

// pfMaxExpandedRules caps the rules a rule set stands for once pfctl multiplies out its lists:
// pfctl loads one rule per combination of list elements (interfaces, protocols, source and
// destination addresses and ports), so "from $hosts to any port $ports" with 5,000 hosts and
// 9,999 ports is 50 million rules that pf could not hold. The simulator keeps lists as sets and
// never builds the product, but a rule set past this size is not one pf can load, and refusing
// it keeps a hostile file from costing more than its size.
const pfMaxExpandedRules = 1_000_000

// pfExpansion is how many rules pfctl makes of a rule with these conditions, saturating at
// pfMaxExpandedRules+1.
func pfExpansion(c *pfCond) int {
	n := 1
	for _, k := range []int{len(c.ifs), len(c.protos), c.src.nAddrs, c.src.nPorts, c.dst.nAddrs, c.dst.nPorts} {
		if k > 1 {
			if n > (pfMaxExpandedRules+1)/k {
				return pfMaxExpandedRules + 1
			}
			n *= k
		}
	}
	return min(n, pfMaxExpandedRules+1)
}

// listOrOne parses "{ a, b … }" (commas optional, line breaks allowed) or a single element,
// calling one for each element.
func (p *pfParser) listOrOne(one func() error) error {
	if !p.accept("{") {
		return one()
	}
	for {
		p.skipBlank()
		if p.accept("}") {
			return nil
		}
		if p.accept(",") {
			continue
		}
		if err := one(); err != nil {
			return err
		}
	}
}

func (p *pfParser) addrElem() (pfAddrElem, error) {
	mark := len(p.toks)
	neg := p.accept("!")
	t := p.next()
	var e pfAddrElem
	switch {
	case t.is("<"):
		n := p.next()
		if n.kind != pfWord || !pfTableName.MatchString(n.s) {
			return e, p.errf(n, "bad table name %s", n)
		}
		if err := p.expect(">"); err != nil {
			return e, err
		}
		e = pfAddrElem{kind: pfHostTable, table: n.s}
	case t.is("("):
		var err error
		if e, err = p.parenElem(t); err != nil {
			return e, err
		}
	case t.is("any"):
		e = pfAddrElem{kind: pfHostAny}
	case t.is("self"):
		e = pfAddrElem{kind: pfHostSelf}
	case t.is("no-route"), t.is("urpf-failed"), t.is("route"):
		var err error
		if e, err = p.routeElem(t); err != nil {
			return e, err
		}
	case t.value():
		set, af, err := pfParseAddrWord(t.s)
		if err == nil && p.peek().is("-") && !p.peekAt(1).is(">") { // "->" ends a translation rule's hosts
			p.next()
			u := p.next()
			if set, err = pfRangeSet(t.s, u.s); err != nil {
				return e, p.errf(u, "bad address range %s - %s: %v", t.s, u.s, err)
			}
		}
		if err == nil {
			e = pfAddrElem{kind: pfHostSet, set: set, af: af}
			break
		}
		if e, err = p.wordElem(t); err != nil {
			return e, err
		}
	default:
		return e, p.errf(t, "expected an address, found %s", t)
	}
	e.neg = neg
	e.text = p.joined(mark)
	return e, nil
}

// pfParseAddrWord parses an address or prefix. IPv4 prefixes may be abbreviated as pfctl allows
// ("10/8", "192.168/16"). An IPv4-mapped IPv6 address or prefix ("::ffff:0:0/96") is IPv6, as in
// pfctl, and matches no packet: the simulator reads a mapped packet address as IPv4 (see pfU128).
func pfParseAddrWord(s string) (pfIPSet, uint8, error) {
	pre, err := pfParsePrefix(s)
	if err != nil {
		return nil, 0, err
	}
	af := uint8(6)
	if pre.Addr().Is4() {
		af = 4
	}
	return pfPrefixSet(pre), af, nil
}

// pfParsePrefix parses an address or a prefix the way pfctl's host_v4 and host_v6 do. A zone
// ("fe80::1%lo0") is dropped: pf compares the address alone. Host bits under the mask are cleared
// ("192.0.2.1/24" is 192.0.2.0/24).
func pfParsePrefix(s string) (netip.Prefix, error) {
	if a, err := netip.ParseAddr(s); err == nil && !strings.Contains(s, "/") { // a zone may hold a "/"
		a = a.WithZone("")
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	addr, bits, ok := strings.Cut(s, "/")
	if !ok {
		return netip.Prefix{}, fmt.Errorf("%q is not an address", s)
	}
	if a, zone, ok := strings.Cut(addr, "%"); ok && zone != "" && strings.Contains(a, ":") {
		addr = a
	}
	if !strings.Contains(addr, ":") {
		if n := strings.Count(addr, "."); n < 3 && addr != "" {
			addr += strings.Repeat(".0", 3-n)
		}
	}
	pre, err := netip.ParsePrefix(addr + "/" + bits)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not a prefix", s)
	}
	return pre.Masked(), nil
}

func (p *pfParser) portNum(t pfTok) (int, error) {
	if !t.value() {
		return 0, p.errf(t, "expected a port, found %s", t)
	}
	n, err := strconv.Atoi(t.s)
	if err != nil {
		if n, ok := p.rs.opts.service(t.s); ok {
			return int(n), nil
		}
		where := "the built-in list of common services"
		if p.rs.opts.Services != nil {
			where = "the services file (/etc/services under the root) nor in " + where
		}
		return 0, p.errf(t, "unknown port or service %q: not in %s (use the number)", t.s, where)
	}
	if n < 0 || n > 65535 {
		return 0, p.errf(t, "port %d out of range", n)
	}
	return n, nil
}

// portElem parses one port condition: N, op N, N:M, N >< M or N <> M.
func (p *pfParser) portElem() (pfIPSet, error) {
	t := p.next()
	if t.kind == pfPunct {
		n, err := p.portNum(p.next())
		if err != nil {
			return nil, err
		}
		switch t.s {
		case "=":
			return pfPortRange(n, n), nil
		case "!=":
			return pfPortRange(0, n-1).union(pfPortRange(n+1, 65535)), nil
		case "<":
			return pfPortRange(0, n-1), nil
		case "<=":
			return pfPortRange(0, n), nil
		case ">":
			return pfPortRange(n+1, 65535), nil
		case ">=":
			return pfPortRange(n, 65535), nil
		}
		return nil, p.errf(t, "bad port operator %s", t)
	}
	if a, b, ok := strings.Cut(t.s, ":"); ok && t.kind == pfWord {
		lo, err := p.portNum(pfTok{kind: pfWord, s: a, line: t.line})
		if err != nil {
			return nil, err
		}
		hi, err := p.portNum(pfTok{kind: pfWord, s: b, line: t.line})
		if err != nil {
			return nil, err
		}
		if lo > hi {
			return nil, p.errf(t, "port range %s is empty", t.s)
		}
		return pfPortRange(lo, hi), nil
	}
	n, err := p.portNum(t)
	if err != nil {
		return nil, err
	}
	switch op := p.peek(); {
	case op.is(":"):
		// "1000 : 2000", the range written with blanks
		p.next()
		m, err := p.portNum(p.next())
		if err != nil {
			return nil, err
		}
		if n > m {
			return nil, p.errf(op, "port range %d:%d is empty", n, m)
		}
		return pfPortRange(n, m), nil
	case op.is("><"), op.is("<>"):
		p.next()
		m, err := p.portNum(p.next())
		if err != nil {
			return nil, err
		}
		if op.s == "><" {
			return pfPortRange(n+1, m-1), nil
		}
		return pfPortRange(0, n-1).union(pfPortRange(m+1, 65535)), nil
	}
	return pfPortRange(n, n), nil
}

// pfCheckCond applies pfctl's consistency checks to the conditions of a rule.
func pfCheckCond(c *pfCond) error {
	if c.src.portsSeen || c.dst.portsSeen {
		if len(c.protos) == 0 || slices.ContainsFunc(c.protos, func(x uint8) bool { return x != ProtoTCP && x != ProtoUDP }) {
			return errors.New("port only applies to tcp/udp: add proto tcp or proto udp")
		}
	}
	for _, h := range []*pfHost{&c.src, &c.dst} {
		if c.af == 0 || len(h.addrs) == 0 {
			continue
		}
		// pfctl expands a list into one rule per element and drops those of the other family.
		kept := slices.DeleteFunc(slices.Clone(h.addrs), func(e pfAddrElem) bool { return e.af != 0 && e.af != c.af })
		if len(kept) == 0 {
			return fmt.Errorf("address %s is not %s: the rule expands to no valid combination", h.addrText, map[uint8]string{4: "inet", 6: "inet6"}[c.af])
		}
		h.addrs = kept
	}
	sa, da := pfFamilies(c.src.addrs), pfFamilies(c.dst.addrs)
	if sa != 0 && da != 0 && sa&da == 0 {
		return errors.New("source and destination address families differ: the rule expands to no valid combination")
	}
	if c.af == 4 && slices.Contains(c.protos, ProtoICMPv6) || c.af == 6 && slices.Contains(c.protos, ProtoICMP) {
		return errors.New("icmp version does not match address family")
	}
	return nil
}

// pfFamilies is the set of families (bit 4, bit 6) a list's literal elements fix, or 0 when some
// element (any, self, a table) leaves the family open.
func pfFamilies(es []pfAddrElem) uint8 {
	var m uint8
	for _, e := range es {
		if e.af == 0 {
			return 0
		}
		m |= 1 << (e.af / 2) // 4 → bit 2, 6 → bit 3
	}
	return m
}

func pfCheckFilter(f *pfFilter, explicitFlags bool) error {
	if err := pfCheckCond(&f.cond); err != nil {
		return err
	}
	c := &f.cond
	if explicitFlags && f.mask != 0 && len(c.protos) > 0 && !slices.Contains(c.protos, ProtoTCP) {
		return errors.New("flags only apply to tcp")
	}
	if !slices.Contains(c.protos, ProtoTCP) && len(c.protos) > 0 {
		f.flags, f.mask = 0, 0 // pfctl clears flags on rules for other protocols
	}
	if f.ret == pfRetRST && (len(c.protos) == 0 || slices.ContainsFunc(c.protos, func(x uint8) bool { return x != ProtoTCP })) {
		return errors.New("return-rst can only be applied to TCP rules: add proto tcp")
	}
	if len(f.icmp) > 0 {
		af := c.af
		if af == 0 {
			sa, da := pfFamilies(c.src.addrs), pfFamilies(c.dst.addrs)
			m := sa | da
			if sa != 0 && da != 0 {
				m = sa & da
			}
			switch m {
			case 1 << 2:
				af = 4
			case 1 << 3:
				af = 6
			}
		}
		if af == 0 {
			return errors.New("must indicate address family with icmp-type/code: add inet or inet6")
		}
		if af == 4 && c.protos[0] == ProtoICMPv6 || af == 6 && c.protos[0] == ProtoICMP {
			return errors.New("icmp version does not match address family")
		}
	}
	return nil
}

// antispoof expands "antispoof [log] [quick] for IF|(IF)|{ … } [inet|inet6] [label L]" as pfctl
// does (pf.conf(5), "BLOCKING SPOOFED TRAFFIC"): for each network of the interface, "block in on
// ! IF from NETWORK to any"; and, for an interface that is not a loopback, "block in from ADDR to
// any" for each of its own addresses, on every interface. The addresses come from the interface
// table (PFOptions.Ifaces; lo0 has 127.0.0.1/8 and ::1/128 unless given); an interface whose
// addresses are not known yields no rules and a note, so the verdict says it is conditional.
func (p *pfParser) antispoof(first pfTok) error {
	quick := false
	for {
		if p.accept("log") {
			if p.peek().is("(") {
				if err := p.skipParens(); err != nil {
					return err
				}
			}
			continue
		}
		if p.accept("quick") {
			quick = true
			continue
		}
		break
	}
	if err := p.expect("for"); err != nil {
		return err
	}
	var names []string
	one := func() error {
		paren := p.accept("(")
		t := p.next()
		if !t.value() || !pfIfaceName.MatchString(t.s) && !pfIfaceGroupName.MatchString(t.s) {
			return p.errf(t, "antispoof for %s: want an interface name, such as en0", t)
		}
		if paren {
			if err := p.expect(")"); err != nil {
				return err
			}
		}
		names = append(names, t.s)
		return nil
	}
	if err := p.listOrOne(one); err != nil {
		return err
	}
	if len(names) == 0 {
		return p.errf(p.peek(), "antispoof: empty interface list")
	}
	var af uint8
	switch {
	case p.accept("inet"):
		af = 4
	case p.accept("inet6"):
		af = 6
	}
	if err := p.antispoofOpts(); err != nil {
		return err
	}
	text := p.text(first.start)
	where := p.where(first)
	for _, name := range names {
		members, known := p.rs.opts.members(name)
		if !known {
			p.rs.notes = append(p.rs.notes, fmt.Sprintf("%s: %s: the members of the interface group %s are not known, so its rules are not simulated (give --group %s=IF,IF)", where, text, name, name))
		}
		for _, ifn := range members {
			addrs, ok := p.rs.opts.addrs(ifn)
			if !ok {
				p.rs.notes = append(p.rs.notes, fmt.Sprintf("%s: %s: the addresses of %s are not known, so its rules are not simulated (give --iface %s=ADDR/LEN)", where, text, ifn, ifn))
				continue
			}
			loop := pfLoopbackIf(ifn)
			for _, a := range addrs {
				fam := uint8(4)
				if a.Addr().Is6() {
					fam = 6
				}
				if af != 0 && fam != af {
					continue
				}
				net := a.Masked()
				p.antispoofRule(where, text, quick, fam, []pfIfElem{{neg: true, name: ifn}}, net)
				if !loop {
					p.antispoofRule(where, text, quick, fam, nil, netip.PrefixFrom(a.Addr(), a.Addr().BitLen()))
				}
			}
		}
	}
	if p.peek().kind == pfWord {
		return p.errf(p.peek(), "antispoof: unexpected %q: it reads antispoof [log] [quick] for IF [inet|inet6] [label L] [tracker N]", p.peek().s)
	}
	return p.endStatement()
}

// antispoofRule adds one rule of an antispoof expansion, located at the antispoof statement and
// written as pfctl -nv would show it.
func (p *pfParser) antispoofRule(where, text string, quick bool, af uint8, ifs []pfIfElem, from netip.Prefix) {
	fam := "inet"
	if af == 6 {
		fam = "inet6"
	}
	var b strings.Builder
	b.WriteString("block in ")
	if quick {
		b.WriteString("quick ")
	}
	ifText := ""
	if len(ifs) > 0 {
		ifText = "! " + ifs[0].name
		b.WriteString("on " + ifText + " ")
	}
	fmt.Fprintf(&b, "%s from %s to any", fam, from)
	f := &pfFilter{
		cond: pfCond{dir: In, ifs: ifs, ifText: ifText, af: af,
			src: pfHost{addrs: []pfAddrElem{{kind: pfHostSet, af: af, set: pfPrefixSet(from), text: from.String()}}, nAddrs: 1, addrText: from.String()}},
		quick: quick,
		state: pfNoState,
		where: where,
		text:  b.String() + " (" + text + ")",
	}
	// No return, whatever "set block-policy" says: pfctl makes antispoof's rules "block drop".
	p.rs.expanded++
	p.anchor.stmts = append(p.anchor.stmts, pfStmt{f: f})
}

// pfIfaceGroupName matches an interface group name (lo, egress, a group given with --group).
var pfIfaceGroupName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// pfLoopbackIf reports whether an interface is a loopback one, whose own addresses antispoof does
// not block.
func pfLoopbackIf(name string) bool { return strings.HasPrefix(name, "lo") }

// groups replaces the interface groups of an "on" list by their members (pf matches a group's
// name against every interface in it). A group whose members are not known stays as it is,
// matching no interface (or every one, negated), and a note makes the verdicts conditional.
// It also returns, for each group it expanded, "group: member …", for explanations.
func (p *pfParser) groups(on pfTok, ifs []pfIfElem, text string) ([]pfIfElem, []string, error) {
	out := ifs[:0:0]
	var desc []string
	for _, e := range ifs {
		members, known := p.rs.opts.members(e.name)
		switch {
		case !known:
			what := "matches no interface"
			if e.neg {
				what = "matches every interface"
			}
			p.rs.notes = append(p.rs.notes, fmt.Sprintf("%s: on %s: the members of the interface group %s are not known, so the rule %s (give --group %s=IF,IF)", p.where(on), text, e.name, what, e.name))
			out = append(out, e)
		case e.neg && len(members) > 1:
			// "on { !a !b }" is an OR in pf: it would match every interface.
			return nil, nil, p.errf(on, "on ! %s: a negated group of several interfaces (%s) is not supported by the simulator", e.name, strings.Join(members, ", "))
		default:
			if len(members) != 1 || members[0] != e.name {
				desc = append(desc, e.name+": "+strings.Join(members, " "))
			}
			for _, m := range members {
				out = append(out, pfIfElem{neg: e.neg, name: m})
			}
		}
	}
	return out, desc, nil
}
