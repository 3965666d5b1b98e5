package input

import (
	"errors"
	"fmt"
	"strings"
)

// ErrQuote is wrapped by SplitCommandLine's error for a quote that is never closed.
var ErrQuote = errors.New("unterminated quote")

// SplitCommandLine splits s into words as a POSIX shell would before expansion: runs of
// spaces, tabs and newlines separate words; single quotes keep everything up to the next single
// quote; double quotes keep everything up to the next unescaped double quote, inside which a
// backslash escapes only $, `, ", \ and newline (and is kept before any other byte); outside
// quotes a backslash takes the next byte literally, and backslash-newline joins lines. Adjacent
// quoted and unquoted parts make one word; ” and "" make an empty word.
//
// It does not expand anything and does not know operators: "a;b", "$HOME", "*" and "#x" stay
// in the words as written. That is what a detector reading `sh -c` strings and rebuilt command
// lines wants: the words the program would have been handed, give or take expansion. A trailing
// lone backslash is kept. An unclosed quote gives the words so far and an error wrapping
// ErrQuote.
func SplitCommandLine(s string) ([]string, error) {
	var (
		words  []string
		w      strings.Builder
		inWord bool
	)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case ' ', '\t', '\n':
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		case '\\':
			if i+1 == len(s) {
				w.WriteByte(c)
				inWord = true
				continue
			}
			i++
			if s[i] == '\n' {
				continue
			}
			w.WriteByte(s[i])
			inWord = true
		case '\'':
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				return appendWord(words, &w, inWord), fmt.Errorf("%w: single quote at byte %d", ErrQuote, i)
			}
			w.WriteString(s[i+1 : i+1+end])
			i += end + 1
			inWord = true
		case '"':
			open := i
			inWord = true
			for i++; ; i++ {
				if i == len(s) {
					return appendWord(words, &w, inWord), fmt.Errorf("%w: double quote at byte %d", ErrQuote, open)
				}
				c := s[i]
				if c == '"' {
					break
				}
				if c == '\\' && i+1 < len(s) {
					switch s[i+1] {
					case '$', '`', '"', '\\':
						i++
						c = s[i]
					case '\n':
						i++
						continue
					}
				}
				w.WriteByte(c)
			}
		default:
			w.WriteByte(c)
			inWord = true
		}
	}
	return appendWord(words, &w, inWord), nil
}

func appendWord(words []string, w *strings.Builder, inWord bool) []string {
	if inWord {
		words = append(words, w.String())
	}
	return words
}

// JoinCommandLine quotes argv for a POSIX shell, one space between words: a word made only of
// letters, digits and @%+=:,./_- is written as it is, any other in single quotes (a ' inside
// becomes '\”), the empty word as ”. SplitCommandLine(JoinCommandLine(argv)) gives argv back.
func JoinCommandLine(argv []string) string {
	var b strings.Builder
	for i, a := range argv {
		if i > 0 {
			b.WriteByte(' ')
		}
		if a != "" && strings.IndexFunc(a, unsafeShellRune) < 0 {
			b.WriteString(a)
			continue
		}
		b.WriteByte('\'')
		b.WriteString(strings.ReplaceAll(a, "'", `'\''`))
		b.WriteByte('\'')
	}
	return b.String()
}

func unsafeShellRune(r rune) bool {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		return false
	}
	return !strings.ContainsRune("@%+=:,./_-", r)
}

// splitOsquery undoes the cmdline column of osquery's es_process_events: every argv element is
// followed by one space, and an element holding a space or a double quote is first written the
// way C++ std::quoted writes it (in double quotes, with " and \ preceded by a backslash);
// others, empty ones included, are written bare (osquery/events/darwin/es_utils.cpp
// appendQuotedString, reference detect.md §1b). The trailing space is optional.
//
// ok is false when s cannot be osquery's (a quote never closed, or text right after a closing
// quote); args then holds the words read so far.
func splitOsquery(s string) (args []string, ok bool) {
	for i := 0; i < len(s); {
		if s[i] != '"' {
			end := strings.IndexByte(s[i:], ' ')
			if end < 0 {
				return append(args, s[i:]), true
			}
			args = append(args, s[i:i+end])
			i += end + 1
			continue
		}
		var w strings.Builder
		for i++; ; i++ {
			if i >= len(s) {
				return args, false
			}
			if s[i] == '"' {
				break
			}
			if s[i] == '\\' && i+1 < len(s) {
				i++
			}
			w.WriteByte(s[i])
		}
		args = append(args, w.String())
		i++
		if i < len(s) {
			if s[i] != ' ' {
				return args, false
			}
			i++
		}
	}
	return args, true
}
