package sigma

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

// refRegexp is the reference for wildcard matching: a regular expression written from the raw
// Sigma value, independently of parseGlob. Folding is ASCII only, as in the package, so letters
// become classes ([aA]) rather than (?i), which folds Unicode too.
func refRegexp(pattern, anchor string, fold, windash bool) *regexp.Regexp {
	var b strings.Builder
	b.WriteString(`(?s)`)
	if anchor == "" || anchor == "startswith" {
		b.WriteString(`\A`)
	}
	for i := 0; i < len(pattern); {
		r, w := utf8.DecodeRuneInString(pattern[i:])
		switch {
		case r == '\\' && i+1 < len(pattern) && strings.ContainsRune(`*?\`, rune(pattern[i+1])):
			b.WriteString(regexp.QuoteMeta(pattern[i+1 : i+2]))
			w = 2
		case r == '*':
			b.WriteString(`.*`)
		case r == '?':
			b.WriteString(`.`)
		case windash && strings.ContainsRune("-/\u2013\u2014\u2015", r):
			b.WriteString("(?:-|/|\u2013|\u2014|\u2015)")
		case fold && 'a' <= r|0x20 && r|0x20 <= 'z':
			fmt.Fprintf(&b, "[%c%c]", r|0x20, r&^0x20)
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
		i += w
	}
	if anchor == "" || anchor == "endswith" {
		b.WriteString(`\z`)
	}
	return regexp.MustCompile(b.String())
}

var anchors = []string{"", "contains", "startswith", "endswith"}

// FuzzGlob checks compiled string matching (all fast paths and the general one) against
// refRegexp. mode picks the anchor (bits 0-1), cased (bit 2) and windash (bit 3).
func FuzzGlob(f *testing.F) {
	for _, s := range []struct {
		pattern, value string
		mode           uint8
	}{
		{"/usr/*/pfctl", "/usr/local/sbin/pfctl", 0},
		{"*setglobalstate*", "x --SetGlobalState off", 0},
		{"ab*ba", "aba", 0},
		{"a*b*c", "xaxbxcx", 1},
		{"/bin/?s", "/bin/és", 0},
		{`a\*b`, "a*b", 0},
		{`C:\\*`, `C:\Windows`, 0},
		{`C:\\\*`, `C:\*`, 0},
		{`a\\\\b`, `a\\b`, 0},
		{`\`, `\`, 0},
		{"", "", 0},
		{"*", "", 0},
		{"**?**", "é", 0},
		{" -d ", "pfctl /d now", 1 | 8},
		{" -d ", "pfctl \u2013D now", 1 | 8},
		{"cmd /c *", "cmd -c dir", 8},
		{"-e?-", "x/e\u2014/", 1 | 8},
		{"PFCTL", "pfctl", 4},
		{"pf", "XPFY", 1},
		{"tl", "pfctl", 3},
		{"pf", "pfctl", 2},
		{"É", "é", 1},
		{"?", "\xff", 0},
		{"a?c", "a\xe2\x80c", 1},
		{"-", "\xe2\x80", 1 | 8},
		{"socketfilterfw", "/usr/libexec/ApplicationFirewall/socketfilterfw --setglobalstate off", 1},
	} {
		f.Add(s.pattern, s.value, s.mode)
	}
	f.Fuzz(func(t *testing.T, pattern, value string, mode uint8) {
		if !utf8.ValidString(pattern) || len(pattern) > 64 {
			return
		}
		anchor, fold, windash := anchors[mode&3], mode&4 == 0, mode&8 != 0
		m := globMatcher(parseGlob(pattern, fold, windash), anchor, fold)
		got := m.matchValue(value)
		want := refRegexp(pattern, anchor, fold, windash).MatchString(value)
		if got != want {
			t.Fatalf("pattern %q (anchor %q, fold %v, windash %v) on %q: matcher %d says %v, reference %v",
				pattern, anchor, fold, windash, value, m.kind, got, want)
		}
		if got {
			if n := m.needles(); n.ok && !strings.Contains(lowerASCII(value), n.s[0]) {
				t.Fatalf("pattern %q matches %q but its needle %q does not occur", pattern, value, n.s[0])
			}
		}
	})
}

// fuzzSeeds returns rule texts and event values for FuzzParse: the test tables, the testdata
// rules, and the bad rules of the error table.
func fuzzSeeds(tb testing.TB) (rules, values []string) {
	for _, table := range [][]matchCase{valueCases, wildcardCases, modifierCases, keywordCases} {
		for _, tc := range table {
			rules = append(rules, ruleText(tc.det))
			var vals []string
			for _, vs := range tc.ev {
				vals = append(vals, vs...)
			}
			values = append(values, strings.Join(vals, "\n"))
		}
	}
	for _, path := range []string{"testdata/detectmd/rules.yml", "testdata/bench/rules.yml"} {
		data, err := os.ReadFile(path)
		if err != nil {
			tb.Fatal(err)
		}
		for _, doc := range strings.Split(string(data), "\n---\n") {
			rules = append(rules, doc)
			values = append(values, "/usr/libexec/ApplicationFirewall/socketfilterfw --setglobalstate off\n/sbin/pfctl\n")
		}
	}
	for _, tc := range parseErrorCases {
		rules = append(rules, tc.text)
		values = append(values, "")
	}
	return rules, values
}

// FuzzParse checks that Parse never panics, that its errors are *Error values naming the file,
// and that a parsed rule neither panics in Match nor breaks its Needles promise on an event that
// gives every field it reads the lines of values.
func FuzzParse(f *testing.F) {
	rules, values := fuzzSeeds(f)
	for i := range rules {
		f.Add(rules[i], values[i])
	}
	f.Fuzz(func(t *testing.T, text, values string) {
		rules, err := Parse([]byte(text), "fuzz.yml")
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || !strings.HasPrefix(err.Error(), "fuzz.yml:") {
				t.Fatalf("Parse error %q (%T) is not an *Error naming the file", err, err)
			}
			return
		}
		vals := strings.Split(values, "\n")
		for _, r := range rules {
			full, empty := event{}, event{}
			for i, name := range r.Fields() {
				full[name] = vals
				empty[name] = vals[i%len(vals):][:1]
			}
			for _, e := range []event{full, empty, {}} {
				r.Match(e)
				checkNeedles(t, r, e)
			}
		}
	})
}

// genRule is a random rule over fields A, B and C with a small alphabet, kept as a structure so
// that refMatch can evaluate it without the package.
type genRule struct {
	searches []genSearch
	cond     *genCond
}

type genSearch struct {
	name     string
	keywords []string // a keyword list, when set
	kwRes    []*regexp.Regexp
	alts     [][]genField
}

type genField struct {
	field, anchor       string
	all, cased, windash bool
	exists, existsWant  bool
	values              []string
	null                []bool           // values[i] is null
	res                 []*regexp.Regexp // refRegexp of values[i]
}

type genCond struct {
	op      string // "id", "and", "or", "not", "1 of", "all of"
	id      string // "id": the search; "x of": the pattern
	kids    []*genCond
	matched []string // "x of": the searches the pattern names
}

var genAlphabet = []string{"a", "B", "c", "-", "/", "\u2013", " ", "*", "?", `\`, "é", "x"}

type gen struct{ r *rand.Rand }

func (g gen) str(max int) string {
	var b strings.Builder
	for range g.r.IntN(max + 1) {
		b.WriteString(genAlphabet[g.r.IntN(len(genAlphabet))])
	}
	return b.String()
}

func (g gen) field() genField {
	f := genField{field: []string{"A", "B", "C"}[g.r.IntN(3)]}
	if g.r.IntN(10) == 0 {
		f.exists, f.existsWant = true, g.r.IntN(2) == 0
		return f
	}
	f.anchor = anchors[g.r.IntN(4)]
	f.all = g.r.IntN(4) == 0
	f.cased = g.r.IntN(4) == 0
	f.windash = g.r.IntN(4) == 0
	for range 1 + g.r.IntN(3) {
		v := g.str(4)
		f.values = append(f.values, v)
		f.null = append(f.null, f.anchor == "" && !f.windash && g.r.IntN(8) == 0)
		f.res = append(f.res, refRegexp(v, f.anchor, !f.cased, f.windash))
	}
	return f
}

func newGenRule(seed uint64) *genRule {
	g := gen{rand.New(rand.NewPCG(seed, seed>>32|1))}
	r := &genRule{}
	names := []string{"a0", "a1", "b0", "_b1"}[:1+g.r.IntN(4)]
	for _, name := range names {
		s := genSearch{name: name}
		if g.r.IntN(5) == 0 {
			for range 1 + g.r.IntN(3) {
				k := g.str(3)
				s.keywords = append(s.keywords, k)
				s.kwRes = append(s.kwRes, refRegexp(k, "contains", true, false))
			}
		} else {
			for range 1 + g.r.IntN(2) {
				var alt []genField
				seen := map[string]bool{}
				for range 1 + g.r.IntN(3) {
					f := g.field()
					if k := f.key(); !seen[k] {
						seen[k] = true
						alt = append(alt, f)
					}
				}
				s.alts = append(s.alts, alt)
			}
		}
		r.searches = append(r.searches, s)
	}
	r.cond = r.genCond(g, 3)
	// Every search must be used: or in the ones the condition left out, in a way that keeps
	// the condition's meaning as refMatch sees it (refMatch evaluates this same tree).
	used := map[string]bool{}
	r.cond.walk(func(c *genCond) {
		if c.op == "id" {
			used[c.id] = true
		}
		for _, m := range c.matched {
			used[m] = true
		}
	})
	for _, s := range r.searches {
		if !used[s.name] {
			r.cond = &genCond{op: "or", kids: []*genCond{r.cond, {op: "id", id: s.name}}}
		}
	}
	return r
}

func (c *genCond) walk(fn func(*genCond)) {
	fn(c)
	for _, k := range c.kids {
		k.walk(fn)
	}
}

func (r *genRule) genCond(g gen, depth int) *genCond {
	if depth == 0 || g.r.IntN(3) == 0 {
		if g.r.IntN(4) == 0 {
			pattern := []string{"a*", "*", "them", "*0", "_*"}[g.r.IntN(5)]
			var matched []string
			for _, s := range r.searches {
				ok := refRegexp(pattern, "", false, false).MatchString(s.name)
				if pattern == "them" {
					ok = !strings.HasPrefix(s.name, "_")
				}
				if ok {
					matched = append(matched, s.name)
				}
			}
			if len(matched) > 0 {
				return &genCond{op: []string{"1 of", "all of"}[g.r.IntN(2)], id: pattern, matched: matched}
			}
		}
		return &genCond{op: "id", id: r.searches[g.r.IntN(len(r.searches))].name}
	}
	switch g.r.IntN(3) {
	case 0:
		return &genCond{op: "not", kids: []*genCond{r.genCond(g, depth-1)}}
	case 1:
		return &genCond{op: "and", kids: []*genCond{r.genCond(g, depth-1), r.genCond(g, depth-1)}}
	}
	return &genCond{op: "or", kids: []*genCond{r.genCond(g, depth-1), r.genCond(g, depth-1)}}
}

func (f *genField) key() string {
	k := f.field
	if f.exists {
		return k + "|exists"
	}
	if f.anchor != "" {
		k += "|" + f.anchor
	}
	if f.windash {
		k += "|windash"
	}
	if f.cased {
		k += "|cased"
	}
	if f.all {
		k += "|all"
	}
	return k
}

func yamlQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// text renders the rule as YAML, with only the parentheses precedence needs.
func (r *genRule) text() string {
	var b strings.Builder
	b.WriteString("title: generated\ndetection:\n")
	for _, s := range r.searches {
		fmt.Fprintf(&b, "    %s:\n", s.name)
		for _, k := range s.keywords {
			fmt.Fprintf(&b, "        - %s\n", yamlQuote(k))
		}
		for _, alt := range s.alts {
			b.WriteString("        -\n")
			for _, f := range alt {
				if f.exists {
					fmt.Fprintf(&b, "            %s: %v\n", f.key(), f.existsWant)
					continue
				}
				fmt.Fprintf(&b, "            %s:\n", yamlQuote(f.key()))
				for i, v := range f.values {
					if f.null[i] {
						v = "null"
					} else {
						v = yamlQuote(v)
					}
					fmt.Fprintf(&b, "                - %s\n", v)
				}
			}
		}
	}
	fmt.Fprintf(&b, "    condition: %s\n", yamlQuote(r.cond.text(0)))
	return b.String()
}

func (c *genCond) prec() int {
	switch c.op {
	case "or":
		return 1
	case "and":
		return 2
	case "not":
		return 3
	}
	return 4
}

func (c *genCond) text(min int) string {
	var s string
	switch c.op {
	case "id":
		return c.id
	case "1 of", "all of":
		return c.op + " " + c.id
	case "not":
		s = "not " + c.kids[0].text(3)
	default:
		s = c.kids[0].text(c.prec()) + " " + c.op + " " + c.kids[1].text(c.prec())
	}
	if c.prec() < min {
		return "(" + s + ")"
	}
	return s
}

// refMatch evaluates the generated rule directly, with refRegexp for values.
func (r *genRule) refMatch(e event) bool {
	byName := map[string]genSearch{}
	for _, s := range r.searches {
		byName[s.name] = s
	}
	var eval func(c *genCond) bool
	eval = func(c *genCond) bool {
		switch c.op {
		case "id":
			return byName[c.id].refMatch(e)
		case "not":
			return !eval(c.kids[0])
		case "and":
			return eval(c.kids[0]) && eval(c.kids[1])
		case "or":
			return eval(c.kids[0]) || eval(c.kids[1])
		}
		n := 0
		for _, m := range c.matched {
			if byName[m].refMatch(e) {
				n++
			}
		}
		if c.op == "1 of" {
			return n > 0
		}
		return n == len(c.matched)
	}
	return eval(r.cond)
}

func (s genSearch) refMatch(e event) bool {
	for _, re := range s.kwRes {
		for _, field := range []string{"A", "B"} {
			for _, v := range e[field] {
				if re.MatchString(v) {
					return true
				}
			}
		}
	}
alts:
	for _, alt := range s.alts {
		for _, f := range alt {
			if !f.refMatch(e) {
				continue alts
			}
		}
		return true
	}
	return false
}

func (f genField) refMatch(e event) bool {
	vals, present := e[f.field]
	if f.exists {
		return present == f.existsWant
	}
	hits := 0
	for i := range f.values {
		hit := false
		if f.null[i] {
			hit = true
			for _, v := range vals {
				hit = hit && v == ""
			}
		} else {
			for _, v := range vals {
				hit = hit || f.res[i].MatchString(v)
			}
		}
		if hit {
			hits++
		}
	}
	if f.all {
		return hits == len(f.values)
	}
	return hits > 0
}

func (g gen) event() event {
	e := event{}
	for _, field := range []string{"A", "B", "C"} {
		if g.r.IntN(5) == 0 {
			continue
		}
		for range 1 + g.r.IntN(2) {
			e[field] = append(e[field], g.str(6))
		}
	}
	return e
}

// FuzzMatch generates a rule from the seed, checks Match against refMatch on events made from
// the same alphabet, and checks Needles on those it matches and CanMatch on all (checkReach).
func FuzzMatch(f *testing.F) {
	for seed := range uint64(64) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, seed uint64) {
		gr := newGenRule(seed)
		text := gr.text()
		rules, err := Parse([]byte(text), "gen.yml", KeywordFields("A", "B"))
		if err != nil {
			t.Fatalf("Parse: %v\n%s", err, text)
		}
		r := rules[0]
		g := gen{rand.New(rand.NewPCG(seed^0x5eed, seed))}
		for range 200 {
			e := g.event()
			if got, want := r.Match(e), gr.refMatch(e); got != want {
				t.Fatalf("Match(%q) = %v, reference %v\n%s", e, got, want, text)
			}
			checkNeedles(t, r, e)
			checkReach(t, r, e)
		}
	})
}

// TestMatchGenerated runs FuzzMatch's property over many seeds in every test run.
func TestMatchGenerated(t *testing.T) {
	n := uint64(3000)
	if testing.Short() {
		n = 200
	}
	for seed := range n {
		gr := newGenRule(seed)
		rules, err := Parse([]byte(gr.text()), "gen.yml", KeywordFields("A", "B"))
		if err != nil {
			t.Fatalf("seed %d: Parse: %v\n%s", seed, err, gr.text())
		}
		g := gen{rand.New(rand.NewPCG(seed^0x5eed, seed))}
		for range 50 {
			e := g.event()
			if got, want := rules[0].Match(e), gr.refMatch(e); got != want {
				t.Fatalf("seed %d: Match(%q) = %v, reference %v\n%s", seed, e, got, want, gr.text())
			}
			checkNeedles(t, rules[0], e)
		}
	}
}
