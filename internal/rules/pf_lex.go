package rules

import (
	"fmt"
	"strconv"
	"strings"
)

// The pf.conf lexer follows pfctl's: a backslash at the end of a line joins the next one (also
// inside comments, so a commented-out line ending in a backslash comments out the next line too);
// "#" starts a comment; "$name" outside quotes is replaced by the macro's text, which is then read
// as if it had been written there (so "$ext_if:network" reads as one word); text that came from a
// macro is not expanded again; words, quoted strings and the punctuation { } ( ) , ! = < > != <=
// >= <> >< are the tokens, and a line end is a token of its own.

type pfTokKind uint8

const (
	pfEOF pfTokKind = iota
	pfNL
	pfWord
	pfString
	pfPunct
)

// pfTok is one token. start and end locate it in the file as written: a token that came from a
// macro spans the "$name" it replaced.
type pfTok struct {
	kind       pfTokKind
	s          string
	line       int
	start, end int
}

// is reports whether t is the keyword or punctuation s. Quoted strings are never keywords.
func (t pfTok) is(s string) bool { return (t.kind == pfWord || t.kind == pfPunct) && t.s == s }

// value reports whether t can be a value (a word or a quoted string).
func (t pfTok) value() bool { return t.kind == pfWord || t.kind == pfString }

func (t pfTok) String() string {
	switch t.kind {
	case pfEOF:
		return "end of file"
	case pfNL:
		return "end of line"
	}
	return strconv.Quote(t.s)
}

type pfChar struct {
	c          byte
	start, end int
	line       int
	macro      bool
}

type pfSource struct {
	s          string
	i          int
	start, end int
	line       int
	macro      bool
}

const (
	pfMaxMacroLen   = 1 << 16
	pfMaxMacroDepth = 32
	pfMaxExpansions = 1 << 20
	// pfMaxMacroBytes caps the text all macro expansions of a rule set add up to: a 64 KB macro
	// used on every line would otherwise make a small file lex as gigabytes.
	pfMaxMacroBytes = 64 << 20
)

type pfLexer struct {
	data       []byte
	pos        int
	line       int
	stack      []pfSource
	macros     map[string]string
	expansions int
	macroBytes int   // text added by macro expansions
	err        error // the first error; the lexer then returns only end of file
	// quoted is set while a quoted string is read, where backslashes are the string's own.
	quoted bool
}

func (l *pfLexer) getc() (pfChar, bool) {
	for n := len(l.stack); n > 0; n = len(l.stack) {
		top := &l.stack[n-1]
		if top.i < len(top.s) {
			c := top.s[top.i]
			top.i++
			return pfChar{c, top.start, top.end, top.line, top.macro}, true
		}
		l.stack = l.stack[:n-1]
	}
	for l.pos < len(l.data) {
		c := l.data[l.pos]
		if c == '\\' {
			rest := l.data[l.pos+1:]
			if len(rest) > 0 && rest[0] == '\n' {
				l.pos += 2
				l.line++
				continue
			}
			if len(rest) > 1 && rest[0] == '\r' && rest[1] == '\n' {
				l.pos += 3
				l.line++
				continue
			}
			if len(rest) > 0 && !l.quoted {
				// pfctl drops a backslash before any other character outside quotes: "\ "
				// is a blank, so "a, \ # comment" ends in a comment and a line end.
				l.pos++
				c = rest[0]
			}
		}
		ch := pfChar{c, l.pos, l.pos + 1, l.line, false}
		l.pos++
		if c == '\n' {
			l.line++
		}
		return ch, true
	}
	return pfChar{start: l.pos, end: l.pos, line: l.line}, false
}

func (l *pfLexer) ungetc(ch pfChar) {
	l.stack = append(l.stack, pfSource{s: string([]byte{ch.c}), start: ch.start, end: ch.end, line: ch.line, macro: ch.macro})
}

func (l *pfLexer) peekc() (pfChar, bool) {
	ch, ok := l.getc()
	if ok {
		l.ungetc(ch)
	}
	return ch, ok
}

func (l *pfLexer) macroDepth() int {
	n := 0
	for _, s := range l.stack {
		if s.macro && len(s.s) > 1 {
			n++
		}
	}
	return n
}

func (l *pfLexer) fail(line int, format string, args ...any) pfTok {
	if l.err == nil {
		l.err = pfLineError(line, fmt.Sprintf(format, args...))
	}
	l.stack, l.pos = nil, len(l.data)
	return pfTok{kind: pfEOF, line: line, start: len(l.data), end: len(l.data)}
}

func pfIsSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v' }

func pfIsPunct(c byte) bool { return strings.IndexByte("{}(),!=<>", c) >= 0 }

func pfIsNameChar(c byte) bool {
	return c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

func (l *pfLexer) lex() pfTok {
	if l.err != nil {
		return pfTok{kind: pfEOF, line: l.line, start: len(l.data), end: len(l.data)}
	}
	for {
		ch, ok := l.getc()
		if !ok {
			return pfTok{kind: pfEOF, line: ch.line, start: ch.start, end: ch.end}
		}
		c := ch.c
		switch {
		case pfIsSpace(c):
		case c == '#':
			for {
				ch2, ok := l.getc()
				if !ok {
					break
				}
				if ch2.c == '\n' {
					l.ungetc(ch2)
					break
				}
			}
		case c == '\n':
			return pfTok{kind: pfNL, s: "\n", line: ch.line, start: ch.start, end: ch.end}
		case c == '"' || c == '\'':
			// As in pfctl, a quoted string may span lines, whose line ends it drops
			// ("{ 22, 80,\n 443 }" reads "{ 22, 80, 443 }"); a backslash escapes only the
			// quote; "$" is not expanded inside quotes.
			var b []byte
			var end int
			l.quoted = true
			for {
				ch2, ok := l.getc()
				if !ok {
					l.quoted = false
					return l.fail(ch.line, "unterminated quoted string")
				}
				if ch2.c == '\n' && !ch2.macro {
					continue
				}
				if ch2.c == c {
					end = ch2.end
					break
				}
				if ch2.c == '\\' {
					if n, ok := l.peekc(); ok && n.c == c {
						ch2, _ = l.getc()
					}
				}
				b = append(b, ch2.c)
			}
			l.quoted = false
			return pfTok{kind: pfString, s: string(b), line: ch.line, start: ch.start, end: end}
		case c == '$' && !ch.macro:
			var name []byte
			end := ch.end
			for {
				ch2, ok := l.getc()
				if !ok || !pfIsNameChar(ch2.c) {
					if ok {
						l.ungetc(ch2)
					}
					break
				}
				name = append(name, ch2.c)
				end = ch2.end
			}
			if len(name) == 0 {
				return l.fail(ch.line, "$ without a macro name")
			}
			v, ok := l.macros[string(name)]
			if !ok {
				return l.fail(ch.line, "macro %q is not defined", name)
			}
			l.expansions++
			if l.expansions > pfMaxExpansions || l.macroDepth() >= pfMaxMacroDepth {
				return l.fail(ch.line, "too many macro expansions")
			}
			if l.macroBytes += len(v); l.macroBytes > pfMaxMacroBytes {
				return l.fail(ch.line, "macros expand to more than %d MiB of text: put long lists in a table", pfMaxMacroBytes>>20)
			}
			l.stack = append(l.stack, pfSource{s: v, start: ch.start, end: end, line: ch.line, macro: true})
		case pfIsPunct(c):
			s := string(c)
			end := ch.end
			if n, ok := l.peekc(); ok {
				pair := s + string(n.c)
				switch pair {
				case "!=", "<=", ">=", "<>", "><":
					l.getc()
					s, end = pair, n.end
				}
			}
			return pfTok{kind: pfPunct, s: s, line: ch.line, start: ch.start, end: end}
		default:
			b := []byte{c}
			end := ch.end
			for {
				ch2, ok := l.getc()
				if !ok {
					break
				}
				if pfIsSpace(ch2.c) || ch2.c == '\n' || ch2.c == '#' || ch2.c == '"' || ch2.c == '\'' || pfIsPunct(ch2.c) || ch2.c == '$' && !ch2.macro {
					l.ungetc(ch2)
					break
				}
				b = append(b, ch2.c)
				end = ch2.end
			}
			return pfTok{kind: pfWord, s: string(b), line: ch.line, start: ch.start, end: end}
		}
	}
}

// pfNormText is a rule as written, on one line: line continuations and comments dropped and runs
// of blanks made one space.
func pfNormText(src []byte) string {
	var b strings.Builder
	space := false
	var quote byte
	for i := 0; i < len(src); i++ {
		c := src[i]
		if quote == 0 && c == '#' {
			for i < len(src) && src[i] != '\n' {
				i++
			}
			space = true
			continue
		}
		if c == '\\' && i+1 < len(src) && (src[i+1] == '\n' || src[i+1] == '\r') {
			space = true
			continue
		}
		if c == '\\' && quote == 0 {
			continue // pfctl drops a backslash outside quotes (see getc)
		}
		if pfIsSpace(c) || c == '\n' {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		switch {
		case quote != 0 && c == quote:
			quote = 0
		case quote == 0 && (c == '"' || c == '\''):
			quote = c
		}
		b.WriteByte(c)
	}
	return b.String()
}
