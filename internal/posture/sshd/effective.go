package sshd

import (
	"bytes"
	"fmt"
	"strings"
)

// Effective is sshd's effective configuration as `sshd -T` prints it: one "keyword value" line
// per setting, keywords in lower case, a keyword repeated for list settings (listenaddress,
// hostkey, …). Without -C the values are the global ones: Match blocks are not applied.
type Effective struct {
	values map[string][]string
}

// Caps on what ParseEffective accepts. OpenSSH 9.x prints about 90 lines of a few dozen bytes;
// anything far larger is not sshd -T output.
const (
	maxEffectiveLines = 10000
	maxLineBytes      = 64 << 10
)

// ParseEffective reads the output of `sshd -T`. A line that is not a lower-case keyword followed
// by its value is an error naming the line, rather than a setting silently skipped: the keys the
// checks rest on must come from output we understand.
func ParseEffective(data []byte) (Effective, error) {
	e := Effective{values: map[string][]string{}}
	n := 0
	for len(data) > 0 {
		var line []byte
		line, data, _ = bytes.Cut(data, []byte{'\n'})
		n++
		if n > maxEffectiveLines {
			return Effective{}, fmt.Errorf("sshd -T printed more than %d lines; this is not its configuration dump", maxEffectiveLines)
		}
		if len(line) > maxLineBytes {
			return Effective{}, fmt.Errorf("sshd -T line %d is longer than %d bytes", n, maxLineBytes)
		}
		s := strings.TrimRight(string(line), "\r")
		if strings.TrimSpace(s) == "" {
			continue
		}
		key, val, _ := strings.Cut(s, " ")
		if !isKeyword(key) {
			return Effective{}, fmt.Errorf("sshd -T line %d is not a \"keyword value\" setting: %q", n, clip(s))
		}
		e.values[key] = append(e.values[key], val)
	}
	if len(e.values) == 0 {
		return Effective{}, fmt.Errorf("sshd -T printed no settings")
	}
	return e, nil
}

// isKeyword reports whether s looks like a keyword of sshd -T: lower-case letters and digits.
func isKeyword(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// Get returns the first value of keyword key (lower case) and whether sshd printed it.
func (e Effective) Get(key string) (string, bool) {
	v, ok := e.values[key]
	if !ok || len(v) == 0 {
		return "", false
	}
	return v[0], true
}

// Has reports whether sshd printed keyword key: which of two names of a setting this sshd knows.
func (e Effective) Has(key string) bool {
	_, ok := e.values[key]
	return ok
}

// Len is the number of distinct keywords.
func (e Effective) Len() int { return len(e.values) }

// clip shortens s for an error message.
func clip(s string) string {
	const max = 80
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}
