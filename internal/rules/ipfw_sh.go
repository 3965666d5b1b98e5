package rules

import (
	"fmt"
	"strings"
)

// ipfwShell expands the small part of sh that ipfw rule scripts use (the FreeBSD Handbook's
// `cmd="ipfw -q add"` then `$cmd 00500 check-state`, rc.firewall's `${fwcmd} add …`):
// assignments, `$name` and `${name}`, quotes, comments. It is not a shell: anything else
// (if, case, loops, functions, `.`, command substitution, pipes) is named as not modelled
// rather than guessed at, so that no rule is ever dropped without a word.
type ipfwShell struct {
	vars map[string]string
}

// errUnset reports a variable used before any assignment in the script; ipfw would have been
// handed an empty word, which is never what the script's author meant.
type errUnset struct{ ref string }

func (e errUnset) Error() string {
	return fmt.Sprintf("%s is not set: assign it in the script before this line (the simulator does not read the environment)", e.ref)
}

// shKeywords are the sh reserved words and builtins whose effect the expander does not model.
var shKeywords = map[string]bool{"if": true, "then": true, "else": true, "elif": true, "fi": true, "case": true,
	"esac": true, "for": true, "while": true, "until": true, "do": true, "done": true, "function": true,
	"select": true, "{": true, "}": true, "exit": true, "return": true, "shift": true, "set": true,
	"unset": true, "eval": true, "exec": true, "local": true, "read": true, "trap": true}

// line expands one line of a script. It returns the words of a command, nothing for an
// assignment or a comment, or the construct it does not model ("if", "pipe").
func (sh *ipfwShell) line(text string) (words []string, notModelled string, err error) {
	first, _, _ := strings.Cut(strings.TrimSpace(text), " ")
	first, _, _ = strings.Cut(first, "\t")
	switch {
	case first == "." || first == "source":
		return nil, ". (source a file)", nil
	case shKeywords[first]:
		return nil, first, nil
	case strings.Contains(text, "$(") || strings.Contains(text, "`"):
		return nil, "command substitution", nil
	case strings.Contains(first, "()") || strings.Contains(text, "() {"):
		return nil, "function definition", nil
	}
	words, quoted, nm, err := sh.split(text)
	if err != nil || nm != "" {
		return nil, nm, err
	}
	if len(words) == 0 {
		return nil, "", nil
	}
	export := words[0] == "export" || words[0] == "readonly"
	if export {
		words, quoted = words[1:], quoted[1:]
		if len(words) == 0 {
			return nil, "export of every variable", nil
		}
	}
	// An assignment is NAME=… as the first word with the = outside quotes.
	if name, val, ok := strings.Cut(words[0], "="); ok && isShName(name) && !quoted[0][len(name)] {
		if len(words) > 1 {
			if export {
				return nil, "more than one assignment on a line", nil
			}
			return nil, "assignment before a command", nil
		}
		sh.vars[name] = val
		return nil, "", nil
	}
	if export {
		for _, w := range words {
			if !isShName(w) {
				return nil, "export " + w, nil
			}
		}
		return nil, "", nil
	}
	return words, "", nil
}

// split breaks a line into words as sh would for these scripts: quotes group, `$x` and `${x}`
// expand (field-split when unquoted), `#` at the start of a word begins a comment. quoted
// marks, for each word, which of its bytes came from inside quotes.
func (sh *ipfwShell) split(text string) (words []string, quoted [][]bool, notModelled string, err error) {
	var cur []byte
	var curq []bool
	inWord := false
	end := func() {
		if inWord {
			words, quoted = append(words, string(cur)), append(quoted, curq)
		}
		cur, curq, inWord = nil, nil, false
	}
	add := func(c byte, q bool) {
		cur, curq, inWord = append(cur, c), append(curq, q), true
	}
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case c == ' ' || c == '\t':
			end()
		case c == '#' && !inWord:
			end()
			return words, quoted, "", nil
		case c == '\'':
			j := strings.IndexByte(text[i+1:], '\'')
			if j < 0 {
				return nil, nil, "quote left open (a string over several lines)", nil
			}
			inWord = true
			for _, b := range []byte(text[i+1 : i+1+j]) {
				add(b, true)
			}
			i += j + 1
		case c == '"':
			inWord = true
			i++
			for ; i < len(text) && text[i] != '"'; i++ {
				switch {
				case text[i] == '\\' && i+1 < len(text) && strings.IndexByte("\"$\\`", text[i+1]) >= 0:
					i++
					add(text[i], true)
				case text[i] == '$':
					val, n, nm, err := sh.expand(text[i:])
					if err != nil || nm != "" {
						return nil, nil, nm, err
					}
					for _, b := range []byte(val) {
						add(b, true)
					}
					i += n - 1
				default:
					add(text[i], true)
				}
			}
			if i >= len(text) {
				return nil, nil, "quote left open (a string over several lines)", nil
			}
		case c == '\\':
			if i+1 < len(text) {
				i++
				add(text[i], true)
			}
		case c == '$':
			val, n, nm, err := sh.expand(text[i:])
			if err != nil || nm != "" {
				return nil, nil, nm, err
			}
			// Unquoted: the value is split into words, except in the value of an assignment.
			assigning := (len(words) == 0 || len(words) == 1 && (words[0] == "export" || words[0] == "readonly")) && isAssignment(cur, curq)
			for _, b := range []byte(val) {
				if !assigning && (b == ' ' || b == '\t' || b == '\n') {
					end()
				} else {
					add(b, false)
				}
			}
			i += n - 1
		case c == '|' || c == '&' || c == ';' || c == '<' || c == '>' || c == '(' || c == ')':
			return nil, nil, shOperator(text[i:]), nil
		default:
			add(c, false)
		}
	}
	end()
	return words, quoted, "", nil
}

// shOperator names the operator at the start of s.
func shOperator(s string) string {
	switch {
	case strings.HasPrefix(s, "||"), strings.HasPrefix(s, "&&"):
		return s[:2]
	case s[0] == '|':
		return "pipe"
	case s[0] == '&':
		return "background command"
	case s[0] == ';':
		return "; (several commands on a line)"
	case s[0] == '<' || s[0] == '>':
		return "redirection"
	}
	return "subshell"
}

// expand reads the `$name` or `${name}` at the start of s and returns its value and length.
// A lone `$` stands for itself.
func (sh *ipfwShell) expand(s string) (val string, n int, notModelled string, err error) {
	if len(s) < 2 {
		return "$", 1, "", nil
	}
	name, n := "", 0
	switch {
	case s[1] == '{':
		end := strings.IndexByte(s, '}')
		if end < 0 {
			return "", 0, "${ left open", nil
		}
		name, n = s[2:end], end+1
		if !isShName(name) {
			return "", 0, "parameter expansion " + s[:n], nil
		}
	case isShNameStart(s[1]):
		n = 2
		for n < len(s) && (isShNameStart(s[n]) || s[n] >= '0' && s[n] <= '9') {
			n++
		}
		name = s[1:n]
	case strings.IndexByte("0123456789@*#?$!-", s[1]) >= 0:
		return "", 0, "special parameter " + s[:2], nil
	default:
		return "$", 1, "", nil
	}
	v, ok := sh.vars[name]
	if !ok {
		return "", 0, "", errUnset{s[:n]}
	}
	return v, n, "", nil
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

// isAssignment reports that the word so far is NAME= (the = outside quotes).
func isAssignment(word []byte, quoted []bool) bool {
	i := strings.IndexByte(string(word), '=')
	return i > 0 && !quoted[i] && isShName(string(word[:i]))
}
