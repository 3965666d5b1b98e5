package sigma

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf16"

	"go.yaml.in/yaml/v4"
)

// modifiers is a parsed modifier chain ("Image|endswith|cased").
type modifiers struct {
	anchor  string   // contains, startswith or endswith; "" for a whole-value match
	kind    string   // re, cidr, exists, gt, gte, lt, lte or fieldref; "" for strings
	reFlags string   // the re sub-modifiers i, m, s
	encode  []string // utf16le, utf16be, utf16, wide, base64, base64offset, in order
	all     bool
	cased   bool
	windash bool
}

// modError is a bad modifier chain; unsupported marks Sigma modifiers this package lacks.
type modError struct {
	msg         string
	unsupported bool
}

func (e *modError) Error() string { return e.msg }

func parseModifiers(chain []string) (modifiers, error) {
	var m modifiers
	bad := func(format string, args ...any) (modifiers, error) {
		return modifiers{}, &modError{msg: fmt.Sprintf(format, args...)}
	}
	for _, mod := range chain {
		switch mod {
		case "contains", "startswith", "endswith":
			if m.anchor != "" {
				return bad("modifiers %s and %s cannot be combined", m.anchor, mod)
			}
			m.anchor = mod
		case "re", "cidr", "exists", "gt", "gte", "lt", "lte", "fieldref":
			if m.kind != "" {
				return bad("modifiers %s and %s cannot be combined", m.kind, mod)
			}
			m.kind = mod
		case "i", "m", "s":
			if m.kind != "re" {
				return bad("modifier %s applies only after re", mod)
			}
			if !strings.Contains(m.reFlags, mod) {
				m.reFlags += mod
			}
		case "all":
			m.all = true
		case "cased":
			m.cased = true
		case "windash":
			m.windash = true
		case "base64", "base64offset":
			if m.base64() != "" {
				return bad("modifiers %s and %s cannot be combined", m.base64(), mod)
			}
			m.encode = append(m.encode, mod)
		case "utf16le", "utf16be", "utf16", "wide":
			if m.base64() != "" {
				return bad("modifier %s must come before %s", mod, m.base64())
			}
			m.encode = append(m.encode, mod)
		case "expand":
			return modifiers{}, &modError{msg: "placeholders (expand) are not supported", unsupported: true}
		case "neq", "minute", "hour", "day", "week", "month", "year":
			return modifiers{}, &modError{msg: fmt.Sprintf("modifier %s is not supported", mod), unsupported: true}
		case "":
			return bad("empty modifier")
		default:
			return bad("unknown modifier %q", mod)
		}
	}
	if len(m.encode) > 0 && m.base64() == "" {
		return bad("modifier %s needs base64 or base64offset after it", m.encode[0])
	}
	// Which modifiers go with which: anchors, windash and encodings shape strings only.
	var shaping []string
	if m.anchor != "" {
		shaping = append(shaping, m.anchor)
	}
	if m.windash {
		shaping = append(shaping, "windash")
	}
	if len(m.encode) > 0 {
		shaping = append(shaping, m.encode[len(m.encode)-1])
	}
	switch {
	case m.kind != "" && len(shaping) > 0:
		return bad("modifiers %s and %s cannot be combined", m.kind, shaping[0])
	case m.windash && len(m.encode) > 0:
		return bad("modifiers windash and %s cannot be combined", m.base64())
	case m.kind == "exists" && (m.all || m.cased):
		return bad("modifier exists takes no other modifiers")
	case m.cased && m.kind != "" && m.kind != "re" && m.kind != "fieldref":
		return bad("modifiers %s and cased cannot be combined", m.kind)
	}
	return m, nil
}

// base64 returns the base64 modifier of the chain, or "".
func (m *modifiers) base64() string {
	for _, e := range m.encode {
		if strings.HasPrefix(e, "base64") {
			return e
		}
	}
	return ""
}

func (p *parser) errAt(line int, unsupported bool, format string, args ...any) error {
	return &Error{File: p.file, Line: line, Msg: fmt.Sprintf(format, args...), unsupported: unsupported}
}

// cond compiles one field condition of a search, or its keywords when k is nil.
func (p *parser) cond(search string, k *yaml.Node, line int, vals []*yaml.Node) (*cond, error) {
	key, where := "", search
	if k != nil {
		key, where = k.Value, search+": "+k.Value
	}
	field, chain, hasMods := strings.Cut(key, "|")
	var list []string
	if hasMods {
		list = strings.Split(chain, "|")
	}
	m, err := parseModifiers(list)
	if err != nil {
		me := err.(*modError)
		return nil, p.errAt(line, me.unsupported, "%s: %s", where, me.msg)
	}
	c := &cond{name: field, all: m.all}
	if field == "" {
		if len(p.opts.keywordFields) == 0 {
			return nil, p.errAt(line, false, "%s: keywords need keyword fields, and none are set", where)
		}
		switch m.kind {
		case "exists", "fieldref":
			return nil, p.errAt(line, false, "%s: modifier %s needs a field name", where, m.kind)
		case "":
			if m.anchor == "" {
				m.anchor = "contains" // keywords are searched for anywhere in the field
			}
		}
		c.names = p.opts.keywordFields
	}
	fields := max(1, len(c.names))
	if m.kind == "exists" {
		if len(vals) != 1 {
			return nil, p.errAt(line, false, "%s: exists takes one value, true or false", where)
		}
		v := vals[0]
		switch strings.ToLower(v.Value) {
		case "true":
			c.want = true
		case "false":
		default:
			return nil, p.errAt(v.Line, false, "%s: exists takes true or false, not %q", where, v.Value)
		}
		c.exists, c.cost = true, 1
		return c, nil
	}
	for _, v := range vals {
		alts, err := p.value(where, m, field == "", v)
		if err != nil {
			return nil, err
		}
		c.groups = append(c.groups, alts)
		c.any = append(c.any, alts...)
		for _, a := range alts {
			c.cost += a.cost() * fields
			c.special = c.special || a.kind == matchNull || a.kind == matchFieldRef
		}
	}
	return c, nil
}

// value compiles one rule value; an encoding modifier may turn it into several alternatives.
func (p *parser) value(where string, m modifiers, keyword bool, v *yaml.Node) ([]matcher, error) {
	fold := !m.cased
	if v.Tag == "!!null" {
		switch {
		case keyword:
			return nil, p.errAt(v.Line, false, "%s: null cannot be a keyword", where)
		case m.kind != "" || m.anchor != "" || m.windash || len(m.encode) > 0:
			return nil, p.errAt(v.Line, false, "%s: null takes no modifiers but all and cased", where)
		}
		return []matcher{{kind: matchNull}}, nil
	}
	s := v.Value
	switch m.kind {
	case "re":
		re, err := regexp.Compile(reFlags(m.reFlags) + s)
		if err != nil {
			return nil, p.errAt(v.Line, false, "%s: bad regular expression %q: %v", where, s, err)
		}
		return []matcher{{kind: matchRegexp, re: re}}, nil
	case "cidr":
		pfx, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil || a.Zone() != "" {
				return nil, p.errAt(v.Line, false, "%s: bad cidr %q: %v", where, s, err)
			}
			pfx = netip.PrefixFrom(a, a.BitLen())
		}
		if pfx.Masked() != pfx {
			return nil, p.errAt(v.Line, false, "%s: bad cidr %q: host bits are set (did you mean %s?)", where, s, pfx.Masked())
		}
		return []matcher{{kind: matchCIDR, prefix: pfx}}, nil
	case "gt", "gte", "lt", "lte":
		x, err := ruleNumber(s)
		if err != nil {
			return nil, p.errAt(v.Line, false, "%s: %s needs a number, not %q", where, m.kind, s)
		}
		return []matcher{{kind: matchNumber, cmp: m.kind, num: x}}, nil
	case "fieldref":
		if s == "" {
			return nil, p.errAt(v.Line, false, "%s: fieldref needs a field name", where)
		}
		return []matcher{{kind: matchFieldRef, ref: s, fold: fold}}, nil
	}
	if len(m.encode) > 0 {
		// The encoded text is literal (no wildcards) and compared case-sensitively.
		var out []matcher
		for _, e := range encodeValue(s, m.encode) {
			out = append(out, globMatcher(glob{segs: []segment{{{kind: atomLit, lit: newLiteral(e, false)}}}, start: true, end: true}, m.anchor, false))
		}
		if len(out) == 0 {
			return nil, p.errAt(v.Line, false, "%s: %q is too short for %s", where, s, m.base64())
		}
		return out, nil
	}
	return []matcher{globMatcher(parseGlob(s, fold, m.windash), m.anchor, fold)}, nil
}

func reFlags(flags string) string {
	if flags == "" {
		return ""
	}
	return "(?" + flags + ")"
}

// ruleNumber reads a number in a rule: decimal, float or 0x hexadecimal.
func ruleNumber(s string) (float64, error) {
	if i, err := strconv.ParseInt(s, 0, 64); err == nil {
		return float64(i), nil
	}
	return strconv.ParseFloat(s, 64)
}

// globMatcher picks the cheapest matcher for a wildcard pattern under an anchoring modifier.
func globMatcher(g glob, anchor string, fold bool) matcher {
	switch anchor {
	case "contains":
		g.start, g.end = false, false
	case "startswith":
		g.end = false
	case "endswith":
		g.start = false
	}
	m := matcher{fold: fold}
	switch {
	case len(g.segs) == 0 && g.start && g.end:
		m.kind = matchExact
	case len(g.segs) == 0:
		m.kind = matchAny
	case len(g.segs) == 1 && g.segs[0].plain():
		m.lit = g.segs[0][0].lit
		switch {
		case g.start && g.end:
			m.kind = matchExact
		case g.start:
			m.kind = matchPrefix
		case g.end:
			m.kind = matchSuffix
		default:
			m.kind = matchContains
		}
	default:
		m.kind, m.glob = matchGlob, g
	}
	return m
}

// cost is a rough relative price of matching one value, for ordering the entries of a map.
func (m *matcher) cost() int {
	switch m.kind {
	case matchAny:
		return 0
	case matchExact, matchNull:
		return 1
	case matchPrefix, matchSuffix:
		return 2
	case matchCIDR, matchNumber:
		return 3
	case matchContains, matchFieldRef:
		return 4
	case matchGlob:
		return 6
	}
	return 20 // matchRegexp
}

// encodeValue applies the encoding modifiers to s and returns the texts to look for: one for
// base64, up to three for base64offset (one per alignment of s in the encoded stream).
func encodeValue(s string, chain []string) []string {
	b := []byte(s)
	for _, e := range chain {
		switch e {
		case "utf16le", "wide":
			b = utf16Bytes(b, binary.LittleEndian, false)
		case "utf16be":
			b = utf16Bytes(b, binary.BigEndian, false)
		case "utf16":
			b = utf16Bytes(b, binary.LittleEndian, true)
		case "base64":
			return []string{base64.StdEncoding.EncodeToString(b)}
		case "base64offset":
			return base64Offsets(b)
		}
	}
	return []string{string(b)}
}

func utf16Bytes(b []byte, order binary.AppendByteOrder, bom bool) []byte {
	units := utf16.Encode([]rune(string(b)))
	var out []byte
	if bom {
		out = order.AppendUint16(out, 0xfeff)
	}
	for _, u := range units {
		out = order.AppendUint16(out, u)
	}
	return out
}

// base64Offsets returns the parts of the base64 encoding of b that do not depend on what comes
// before or after it, for b starting 0, 1 or 2 bytes into a 3-byte group. With i bytes before b,
// the first 0, 2 or 3 characters mix in those bytes; at the end, a group holding 1 or 2 bytes of b
// ends in a character that mixes in what follows, then padding.
func base64Offsets(b []byte) []string {
	var out []string
	for i, skip := range []int{0, 2, 3} {
		enc := base64.StdEncoding.EncodeToString(append(make([]byte, i), b...))
		trim := [3]int{0, 3, 2}[(i+len(b))%3]
		if v := enc[min(skip, len(enc)):max(skip, len(enc)-trim)]; v != "" {
			out = append(out, v)
		}
	}
	return out
}
