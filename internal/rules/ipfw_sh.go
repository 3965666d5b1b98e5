package rules

import (
	"fmt"
	"strings"
)

// This file reads the part of sh that ipfw rule scripts are written in (FreeBSD's
// /etc/rc.firewall, the Handbook's `cmd="ipfw -q add"` scripts) into a syntax tree:
// simple commands, `&&`/`||`, pipelines, if/elif/else, case, for, while/until, `{ … }`,
// `( … )` and function definitions. ipfw_sh_run.go runs the tree. It is not a shell: what
// it does not model (arithmetic, here-documents other than messages and `cat >FILE <<EOF`,
// see ipfw_sh_overlay.go) is refused with its line, never skipped.

type shTokKind uint8

const (
	shWord    shTokKind = iota
	shOp                // ; ;; & && | || ( )
	shRedir             // > >> < >& <& <> >|, with the IO number if any ("2>")
	shNewline           // end of a line
	shRaw               // a line of ipfw arguments (`ipfw list` output, `add …` of a file for `ipfw pathname`)
	shEOF
)

type shTok struct {
	kind shTokKind
	val  string // a word as written (quotes and $ kept), an operator, or a raw line
	line int
	body string // a here-document's delimiter word: the body (tabs stripped for <<-)
}

// shSyntaxError is a script the reader cannot take apart.
type shSyntaxError struct {
	line int
	msg  string
}

func (e *shSyntaxError) Error() string { return e.msg }

// shLex splits src into tokens. A line whose first word is an ipfw rule number, an action,
// `add`, `flush` or an ipfw flag is kept whole as a raw line: it is ipfw's syntax, not sh's
// (`ipfw list` prints `//` comments and parentheses that sh would read as operators).
func shLex(src string, first int) ([]shTok, error) {
	var toks []shTok
	line, lineStart := first, true
	var heredocs []shHeredoc // opened on this line, their bodies start on the next
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == '\\' && i+1 < len(src) && src[i+1] == '\n':
			i += 2
			line++
			continue
		case c == ' ' || c == '\t' || c == '\r':
			i++
			continue
		case c == '\n':
			toks = append(toks, shTok{shNewline, "", line, ""})
			line++
			i++
			lineStart = true
			for _, h := range heredocs {
				n, lines, ok := shHeredocBody(src[i:], h)
				if !ok {
					return nil, &shSyntaxError{h.line, fmt.Sprintf("here-document <<%s is not closed by a line %s", h.delim, h.delim)}
				}
				toks[h.tok].body = shHeredocText(src[i:i+n], h)
				i += n
				line += lines
			}
			heredocs = nil
			continue
		case c == '#':
			for i < len(src) && src[i] != '\n' {
				i++
			}
			continue
		}
		if lineStart {
			if text, n, lines, ok := shRawLine(src[i:]); ok {
				toks = append(toks, shTok{shRaw, text, line, ""})
				i += n
				line += lines
				lineStart = false
				continue
			}
		}
		lineStart = false
		if op := shOpAt(src[i:]); op != "" {
			if op == "<<" || op == "<<-" {
				// The body is read at the end of the line, onto the delimiter's token;
				// shInterp.simple runs only a message or `cat >FILE` fed by one.
				j := i + len(op)
				for j < len(src) && (src[j] == ' ' || src[j] == '\t') {
					j++
				}
				w, n, _, err := shScanWord(src[j:])
				if err != nil || w == "" {
					return nil, &shSyntaxError{line, "here-document " + op + " needs a delimiter word"}
				}
				heredocs = append(heredocs, shHeredoc{delim: shUnquote(w), tabs: op == "<<-", line: line, tok: len(toks) + 1})
				toks = append(toks, shTok{shRedir, op, line, ""}, shTok{shWord, w, line, ""})
				i = j + n
				continue
			}
			kind := shOp
			if op[0] == '<' || op[0] == '>' {
				kind = shRedir
			}
			toks = append(toks, shTok{kind, op, line, ""})
			i += len(op)
			continue
		}
		// An IO number: digits right before a redirection ("2>/dev/null").
		j := i
		for j < len(src) && src[j] >= '0' && src[j] <= '9' {
			j++
		}
		if j > i && j < len(src) && (src[j] == '<' || src[j] == '>') {
			op := shOpAt(src[j:])
			if op == "<<" || op == "<<-" {
				i = j // the here-document is read above; its IO number does not matter
				continue
			}
			toks = append(toks, shTok{shRedir, src[i:j] + op, line, ""})
			i = j + len(op)
			continue
		}
		start := line
		w, n, lines, err := shScanWord(src[i:])
		if err != nil {
			return nil, &shSyntaxError{start, err.Error()}
		}
		toks = append(toks, shTok{shWord, w, start, ""})
		i += n
		line += lines
	}
	return append(toks, shTok{shEOF, "", line, ""}), nil
}

// shHeredoc is a here-document whose body follows the line that opened it.
type shHeredoc struct {
	delim string
	tabs  bool // <<-: leading tabs are stripped
	line  int
	tok   int // the index of the delimiter word's token
}

// shHeredocText returns the text of a body that shHeredocBody measured: its lines without the
// delimiter line, leading tabs stripped for <<-.
func shHeredocText(s string, h shHeredoc) string {
	body := s[:strings.LastIndexByte(strings.TrimSuffix(s, "\n"), '\n')+1]
	if !h.tabs {
		return body
	}
	lines := strings.SplitAfter(body, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimLeft(l, "\t")
	}
	return strings.Join(lines, "")
}

// shHeredocBody returns the length of the here-document body at the start of s, up to and
// including its delimiter line, and the newlines in it.
func shHeredocBody(s string, h shHeredoc) (n, lines int, ok bool) {
	for n < len(s) {
		end := strings.IndexByte(s[n:], '\n')
		l := s[n:]
		if end >= 0 {
			l = s[n : n+end]
		}
		if h.tabs {
			l = strings.TrimLeft(l, "\t")
		}
		if end < 0 {
			return len(s), lines, l == h.delim
		}
		n += end + 1
		lines++
		if l == h.delim {
			return n, lines, true
		}
	}
	return n, lines, false
}

// shUnquote removes the quotes of a here-document delimiter ('EOF', "EOF", \EOF).
func shUnquote(w string) string {
	return strings.NewReplacer("'", "", "\"", "", "\\", "").Replace(w)
}

// shOpAt returns the operator at the start of s, or "".
func shOpAt(s string) string {
	for _, op := range []string{";;", "&&", "||", ">>", ">&", "<&", "<>", ">|", "<<-", "<<"} {
		if strings.HasPrefix(s, op) {
			return op
		}
	}
	if strings.IndexByte(";&|()<>", s[0]) >= 0 {
		return s[:1]
	}
	return ""
}

// ipfwFileWords are the subcommands a file for `ipfw pathname` starts its lines with (without
// the program). `set` is not among them: it is a sh builtin too.
var ipfwFileWords = map[string]bool{"add": true, "flush": true, "table": true, "pipe": true, "queue": true,
	"sched": true, "nat": true, "delete": true, "enable": true, "disable": true}

// shRawLine reports whether the line at the start of s holds ipfw arguments rather than sh,
// and returns it (continuations joined), its length in s and the newlines it spans.
func shRawLine(s string) (text string, n, lines int, ok bool) {
	end := strings.IndexAny(s, " \t\n")
	if end < 0 {
		end = len(s)
	}
	first := s[:end]
	switch {
	case isNumber(first), ipfwActions[first], ipfwFileWords[first]:
	case len(first) > 1 && first[0] == '-' && first[1] != '-' && !strings.ContainsAny(first, ")|"):
	default:
		return "", 0, 0, false
	}
	if end := strings.IndexByte(s, '\n'); end >= 0 && (end == 0 || s[end-1] != '\\') {
		return strings.TrimSpace(s[:end]), end, 0, true // the common case: no continuation
	}
	var b strings.Builder
	for n < len(s) && s[n] != '\n' {
		if s[n] == '\\' && n+1 < len(s) && s[n+1] == '\n' {
			b.WriteByte(' ')
			n += 2
			lines++
			continue
		}
		b.WriteByte(s[n])
		n++
	}
	return strings.TrimSpace(b.String()), n, lines, true
}

// shScanWord reads one word at the start of s as written, and returns it, its length in s and
// the newlines inside it (quotes may span lines). `\` before a newline is removed.
func shScanWord(s string) (word string, n, lines int, err error) {
	var b strings.Builder
	i := 0
	for i < len(s) {
		c := s[i]
		if c == ' ' || c == '\t' || c == '\r' || c == '\n' || strings.IndexByte(";&|()<>", c) >= 0 {
			break
		}
		switch c {
		case '\\':
			if i+1 < len(s) && s[i+1] == '\n' {
				i += 2
				lines++
				continue
			}
			end := min(i+2, len(s))
			b.WriteString(s[i:end])
			i = end
			continue
		case '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return "", 0, 0, fmt.Errorf("quote ' left open")
			}
			b.WriteString(s[i : i+j+2])
			lines += strings.Count(s[i:i+j+2], "\n")
			i += j + 2
			continue
		case '"':
			j, err := shSkipDouble(s, i)
			if err != nil {
				return "", 0, 0, err
			}
			b.WriteString(s[i:j])
			lines += strings.Count(s[i:j], "\n")
			i = j
			continue
		case '$', '`':
			j, err := shSkipDollar(s, i)
			if err != nil {
				return "", 0, 0, err
			}
			b.WriteString(s[i:j])
			lines += strings.Count(s[i:j], "\n")
			i = j
			continue
		}
		b.WriteByte(c)
		i++
	}
	return b.String(), i, lines, nil
}

// shSkipDouble returns the index just past the double-quoted string opening at s[i].
func shSkipDouble(s string, i int) (int, error) {
	for j := i + 1; j < len(s); {
		switch s[j] {
		case '\\':
			j += 2
		case '"':
			return j + 1, nil
		case '$', '`':
			k, err := shSkipDollar(s, j)
			if err != nil {
				return 0, err
			}
			j = k
		default:
			j++
		}
	}
	return 0, fmt.Errorf("quote \" left open")
}

// shSkipDollar returns the index just past the expansion at s[i]: `$(…)`, `${…}`, backquotes,
// or a plain `$`.
func shSkipDollar(s string, i int) (int, error) {
	if s[i] == '`' {
		for j := i + 1; j < len(s); j++ {
			switch s[j] {
			case '\\':
				j++
			case '`':
				return j + 1, nil
			}
		}
		return 0, fmt.Errorf("command substitution ` left open")
	}
	if i+1 >= len(s) || (s[i+1] != '(' && s[i+1] != '{') {
		return i + 1, nil
	}
	open, closer := s[i+1], byte(')')
	if open == '{' {
		closer = '}'
	}
	depth := 0
	for j := i + 1; j < len(s); j++ {
		switch s[j] {
		case open:
			depth++
		case closer:
			depth--
			if depth == 0 {
				return j + 1, nil
			}
		case '\\':
			j++
		case '\'':
			k := strings.IndexByte(s[j+1:], '\'')
			if k < 0 {
				return 0, fmt.Errorf("quote ' left open")
			}
			j += k + 1
		case '"':
			k, err := shSkipDouble(s, j)
			if err != nil {
				return 0, err
			}
			j = k - 1
		case '$', '`':
			if s[j] == '$' && (j+1 >= len(s) || (s[j+1] != '(' && s[j+1] != '{')) {
				continue
			}
			k, err := shSkipDollar(s, j)
			if err != nil {
				return 0, err
			}
			j = k - 1
		}
	}
	return 0, fmt.Errorf("%s left open", s[i:i+2])
}

// The syntax tree.

type shCmdKind uint8

const (
	shSimple shCmdKind = iota
	shRawCmd
	shIf
	shFor
	shCase
	shWhile
	shUntil
	shBrace
	shSubshell
	shFuncDef
)

// shCmd is one command. Which fields are used depends on kind.
type shCmd struct {
	kind    shCmdKind
	line    int
	assigns []string // simple: NAME=value words before the command
	words   []string // simple: the words as written; for: the list; case: the word
	redirs  []string // redirections as written: the operator and its word
	docs    []string // the bodies of the here-documents among redirs, in order
	text    string   // raw: the ipfw arguments
	name    string   // for: the variable; funcdef: the function
	hasIn   bool     // for: an `in` list was given
	conds   [][]*shAndOr
	bodies  [][]*shAndOr // if: one per cond, plus the else body if elseOK; loops, groups: [0]
	elseOK  bool
	items   []shCaseItem
	fn      *shCmd // funcdef: the body
}

type shCaseItem struct {
	line int
	pats []string
	body []*shAndOr
}

// shAndOr is a list of pipelines joined by && and ||.
type shAndOr struct {
	line  int
	pipes []*shPipe
	ops   []string
}

type shPipe struct {
	line int
	bang bool
	cmds []*shCmd
}

type shParser struct {
	toks []shTok
	pos  int
}

func (p *shParser) peek() shTok { return p.toks[p.pos] }
func (p *shParser) next() shTok {
	t := p.toks[p.pos]
	if t.kind != shEOF {
		p.pos++
	}
	return t
}

func (p *shParser) errorf(t shTok, format string, args ...any) error {
	return &shSyntaxError{t.line, fmt.Sprintf(format, args...)}
}

// isWord reports whether t is the unquoted word w (a reserved word only counts unquoted).
func isWord(t shTok, w string) bool { return t.kind == shWord && t.val == w }

func (p *shParser) skipNewlines() {
	for p.peek().kind == shNewline {
		p.next()
	}
}

// shReserved are the words that end a list when they stand where a command would.
var shReserved = map[string]bool{"then": true, "else": true, "elif": true, "fi": true, "do": true,
	"done": true, "esac": true, "}": true}

// parseShScript reads a whole script whose first line is line first.
func parseShScript(src string, first int) ([]*shAndOr, error) {
	toks, err := shLex(src, first)
	if err != nil {
		return nil, err
	}
	p := &shParser{toks: toks}
	list, err := p.list()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != shEOF {
		return nil, p.errorf(t, "unexpected %s", shTokName(t))
	}
	return list, nil
}

func shTokName(t shTok) string {
	switch t.kind {
	case shNewline:
		return "end of line"
	case shEOF:
		return "end of file"
	case shRaw:
		return "ipfw arguments"
	}
	return "`" + t.val + "`"
}

// list reads commands up to a reserved word, `)`, `;;` or the end.
func (p *shParser) list() ([]*shAndOr, error) {
	var out []*shAndOr
	for {
		for t := p.peek(); t.kind == shNewline || (t.kind == shOp && (t.val == ";" || t.val == "&")); t = p.peek() {
			p.next()
		}
		t := p.peek()
		if t.kind == shEOF || (t.kind == shWord && shReserved[t.val]) || (t.kind == shOp && (t.val == ")" || t.val == ";;")) {
			return out, nil
		}
		ao, err := p.andOr()
		if err != nil {
			return nil, err
		}
		out = append(out, ao)
		if t := p.peek(); t.kind != shNewline && t.kind != shEOF && !(t.kind == shOp && (t.val == ";" || t.val == "&" || t.val == ";;" || t.val == ")")) && !(t.kind == shWord && shReserved[t.val]) {
			return nil, p.errorf(t, "unexpected %s", shTokName(t))
		}
	}
}

func (p *shParser) andOr() (*shAndOr, error) {
	ao := &shAndOr{line: p.peek().line}
	for {
		pl, err := p.pipeline()
		if err != nil {
			return nil, err
		}
		ao.pipes = append(ao.pipes, pl)
		t := p.peek()
		if t.kind != shOp || (t.val != "&&" && t.val != "||") {
			return ao, nil
		}
		p.next()
		p.skipNewlines()
		ao.ops = append(ao.ops, t.val)
	}
}

func (p *shParser) pipeline() (*shPipe, error) {
	pl := &shPipe{line: p.peek().line}
	if isWord(p.peek(), "!") {
		p.next()
		pl.bang = true
	}
	for {
		c, err := p.command()
		if err != nil {
			return nil, err
		}
		pl.cmds = append(pl.cmds, c)
		if t := p.peek(); t.kind != shOp || t.val != "|" {
			return pl, nil
		}
		p.next()
		p.skipNewlines()
	}
}

func (p *shParser) command() (*shCmd, error) {
	t := p.peek()
	switch {
	case t.kind == shRaw:
		p.next()
		return &shCmd{kind: shRawCmd, line: t.line, text: t.val}, nil
	case isWord(t, "if"):
		return p.ifCmd()
	case isWord(t, "for"):
		return p.forCmd()
	case isWord(t, "case"):
		return p.caseCmd()
	case isWord(t, "while"), isWord(t, "until"):
		return p.whileCmd()
	case isWord(t, "{"):
		p.next()
		body, err := p.list()
		if err != nil {
			return nil, err
		}
		if err := p.expect("}", t); err != nil {
			return nil, err
		}
		return p.redirected(&shCmd{kind: shBrace, line: t.line, bodies: [][]*shAndOr{body}})
	case t.kind == shOp && t.val == "(":
		p.next()
		body, err := p.list()
		if err != nil {
			return nil, err
		}
		if c := p.next(); c.kind != shOp || c.val != ")" {
			return nil, p.errorf(c, "subshell opened at line %d: want ), found %s", t.line, shTokName(c))
		}
		return p.redirected(&shCmd{kind: shSubshell, line: t.line, bodies: [][]*shAndOr{body}})
	case isWord(t, "function") && p.toks[p.pos+1].kind == shWord:
		// ksh and bash's `function name { … }`, which FreeBSD's sh accepts too.
		p.next()
		name := p.next()
		if o := p.peek(); o.kind == shOp && o.val == "(" {
			p.next()
			if c := p.next(); c.kind != shOp || c.val != ")" {
				return nil, p.errorf(c, "function %s: want ()", name.val)
			}
		}
		return p.funcBody(name)
	case t.kind == shWord && isShName(t.val) && p.toks[p.pos+1].kind == shOp && p.toks[p.pos+1].val == "(":
		p.next()
		p.next()
		if c := p.next(); c.kind != shOp || c.val != ")" {
			return nil, p.errorf(c, "function %s: want ()", t.val)
		}
		return p.funcBody(t)
	case t.kind == shWord && shReserved[t.val], t.kind == shWord && (t.val == "in"):
		return nil, p.errorf(t, "unexpected %s", shTokName(t))
	}
	return p.simple()
}

func (p *shParser) funcBody(name shTok) (*shCmd, error) {
	p.skipNewlines()
	if t := p.peek(); !isWord(t, "{") && !(t.kind == shOp && t.val == "(") && !isWord(t, "if") && !isWord(t, "for") && !isWord(t, "case") && !isWord(t, "while") && !isWord(t, "until") {
		return nil, p.errorf(t, "function %s: want its body in { }", name.val)
	}
	body, err := p.command()
	if err != nil {
		return nil, err
	}
	return &shCmd{kind: shFuncDef, line: name.line, name: name.val, fn: body}, nil
}

// redirected reads redirections after a compound command (`done >/dev/null`).
func (p *shParser) redirected(c *shCmd) (*shCmd, error) {
	for p.peek().kind == shRedir {
		r := p.next()
		w := p.next()
		if w.kind != shWord {
			return nil, p.errorf(w, "redirection %s needs a file", r.val)
		}
		c.redirs = append(c.redirs, r.val+w.val)
		if strings.HasPrefix(r.val, "<<") {
			c.docs = append(c.docs, w.body)
		}
	}
	return c, nil
}

func (p *shParser) expect(word string, opened shTok) error {
	t := p.next()
	if !isWord(t, word) {
		return p.errorf(t, "%s at line %d: want %s, found %s", opened.val, opened.line, word, shTokName(t))
	}
	return nil
}

func (p *shParser) simple() (*shCmd, error) {
	c := &shCmd{kind: shSimple, line: p.peek().line}
	for {
		t := p.peek()
		switch t.kind {
		case shWord:
			p.next()
			if len(c.words) == 0 && shIsAssignment(t.val) {
				c.assigns = append(c.assigns, t.val)
			} else {
				c.words = append(c.words, t.val)
			}
			continue
		case shRedir:
			p.next()
			w := p.next()
			if w.kind != shWord {
				return nil, p.errorf(w, "redirection %s needs a file", t.val)
			}
			c.redirs = append(c.redirs, t.val+w.val)
			if strings.HasPrefix(t.val, "<<") {
				c.docs = append(c.docs, w.body)
			}
			continue
		}
		break
	}
	if len(c.words) == 0 && len(c.assigns) == 0 && len(c.redirs) == 0 {
		return nil, p.errorf(p.peek(), "unexpected %s", shTokName(p.peek()))
	}
	return c, nil
}

// shIsAssignment reports that a word as written is NAME=… (the = unquoted).
func shIsAssignment(w string) bool {
	i := strings.IndexByte(w, '=')
	return i > 0 && isShName(w[:i])
}

func (p *shParser) ifCmd() (*shCmd, error) {
	open := p.next()
	c := &shCmd{kind: shIf, line: open.line}
	for {
		cond, err := p.list()
		if err != nil {
			return nil, err
		}
		if err := p.expect("then", open); err != nil {
			return nil, err
		}
		body, err := p.list()
		if err != nil {
			return nil, err
		}
		c.conds, c.bodies = append(c.conds, cond), append(c.bodies, body)
		t := p.next()
		switch {
		case isWord(t, "elif"):
			continue
		case isWord(t, "else"):
			body, err := p.list()
			if err != nil {
				return nil, err
			}
			c.bodies, c.elseOK = append(c.bodies, body), true
			if err := p.expect("fi", open); err != nil {
				return nil, err
			}
		case isWord(t, "fi"):
		default:
			return nil, p.errorf(t, "if at line %d: want elif, else or fi, found %s", open.line, shTokName(t))
		}
		return p.redirected(c)
	}
}

func (p *shParser) forCmd() (*shCmd, error) {
	open := p.next()
	name := p.next()
	if name.kind != shWord || !isShName(name.val) {
		return nil, p.errorf(name, "for needs a variable name, found %s", shTokName(name))
	}
	c := &shCmd{kind: shFor, line: open.line, name: name.val}
	p.skipNewlines()
	if isWord(p.peek(), "in") {
		p.next()
		c.hasIn = true
		for p.peek().kind == shWord {
			c.words = append(c.words, p.next().val)
		}
	}
	if t := p.peek(); t.kind == shOp && t.val == ";" {
		p.next()
	}
	p.skipNewlines()
	body, err := p.doBody(open)
	if err != nil {
		return nil, err
	}
	c.bodies = [][]*shAndOr{body}
	return p.redirected(c)
}

func (p *shParser) doBody(open shTok) ([]*shAndOr, error) {
	if err := p.expect("do", open); err != nil {
		return nil, err
	}
	body, err := p.list()
	if err != nil {
		return nil, err
	}
	if err := p.expect("done", open); err != nil {
		return nil, err
	}
	return body, nil
}

func (p *shParser) whileCmd() (*shCmd, error) {
	open := p.next()
	c := &shCmd{kind: shWhile, line: open.line}
	if open.val == "until" {
		c.kind = shUntil
	}
	cond, err := p.list()
	if err != nil {
		return nil, err
	}
	body, err := p.doBody(open)
	if err != nil {
		return nil, err
	}
	c.conds, c.bodies = [][]*shAndOr{cond}, [][]*shAndOr{body}
	return p.redirected(c)
}

func (p *shParser) caseCmd() (*shCmd, error) {
	open := p.next()
	w := p.next()
	if w.kind != shWord {
		return nil, p.errorf(w, "case needs a word, found %s", shTokName(w))
	}
	c := &shCmd{kind: shCase, line: open.line, words: []string{w.val}}
	p.skipNewlines()
	if err := p.expect("in", open); err != nil {
		return nil, err
	}
	for {
		p.skipNewlines()
		t := p.peek()
		if isWord(t, "esac") {
			p.next()
			return p.redirected(c)
		}
		if t.kind == shOp && t.val == "(" {
			p.next()
		}
		item := shCaseItem{line: p.peek().line}
		for {
			pat := p.next()
			if pat.kind != shWord {
				return nil, p.errorf(pat, "case at line %d: want a pattern, found %s", open.line, shTokName(pat))
			}
			item.pats = append(item.pats, pat.val)
			sep := p.next()
			if sep.kind == shOp && sep.val == ")" {
				break
			}
			if sep.kind != shOp || sep.val != "|" {
				return nil, p.errorf(sep, "case at line %d: want | or ) after a pattern, found %s", open.line, shTokName(sep))
			}
		}
		body, err := p.list()
		if err != nil {
			return nil, err
		}
		item.body = body
		c.items = append(c.items, item)
		t = p.peek()
		switch {
		case t.kind == shOp && t.val == ";;":
			p.next()
		case isWord(t, "esac"):
		default:
			return nil, p.errorf(t, "case at line %d: want ;; or esac, found %s", open.line, shTokName(t))
		}
	}
}

func isShName(s string) bool {
	if s == "" || !isShNameStart(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isShNameStart(s[i]) && !(s[i] >= '0' && s[i] <= '9') {
			return false
		}
	}
	return true
}

func isShNameStart(c byte) bool { return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// shMatch reports whether s matches the sh pattern pat (`*`, `?`, `[…]` with ranges and `!`
// or `^`, `\` quoting the next byte). Unlike path.Match, `*` matches `/` as case patterns do.
func shMatch(pat, s string) bool {
	// Iterative with one backtrack point for the last `*`: linear enough for these patterns.
	px, sx, starP, starS := 0, 0, -1, -1
	for sx < len(s) {
		if px < len(pat) {
			switch c := pat[px]; c {
			case '*':
				starP, starS = px, sx
				px++
				continue
			case '?':
				px++
				sx++
				continue
			case '[':
				if ok, n, valid := shClass(pat[px:], s[sx]); valid {
					if ok {
						px += n
						sx++
						continue
					}
				} else if s[sx] == '[' {
					px++
					sx++
					continue
				}
			case '\\':
				if px+1 < len(pat) && pat[px+1] == s[sx] {
					px += 2
					sx++
					continue
				}
			default:
				if c == s[sx] {
					px++
					sx++
					continue
				}
			}
		}
		if starP < 0 {
			return false
		}
		starS++
		px, sx = starP+1, starS
	}
	for px < len(pat) && pat[px] == '*' {
		px++
	}
	return px == len(pat)
}

// shClass matches c against the bracket expression at the start of pat and returns its
// length; valid is false when the bracket is not closed (then `[` is literal).
func shClass(pat string, c byte) (ok bool, n int, valid bool) {
	i := 1
	neg := false
	if i < len(pat) && (pat[i] == '!' || pat[i] == '^') {
		neg = true
		i++
	}
	first := true
	for i < len(pat) && (pat[i] != ']' || first) {
		first = false
		lo := pat[i]
		if lo == '\\' && i+1 < len(pat) {
			i++
			lo = pat[i]
		}
		hi := lo
		if i+2 < len(pat) && pat[i+1] == '-' && pat[i+2] != ']' {
			hi = pat[i+2]
			i += 2
		}
		if lo <= c && c <= hi {
			ok = true
		}
		i++
	}
	if i >= len(pat) {
		return false, 0, false
	}
	return ok != neg, i + 1, true
}
