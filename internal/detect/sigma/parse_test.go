package sigma

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestParseMetadata(t *testing.T) {
	const text = `title: Application Firewall Disabled Via Socketfilterfw
id: 8d2ca9b5-2b4e-4b2a-9c0e-3f6a1c7d9e01
status: test
description: Detects the application firewall being turned off.
references:
    - https://github.com/SigmaHQ/sigma/pull/6178
author: [Alice, Bob]
date: 2026-08-05
modified: 2026-08-06
logsource:
    category: process_creation
    product: macos
    definition: eslogger exec events
detection:
    selection:
        Image|endswith: '/socketfilterfw'
        CommandLine|contains|all: [setglobalstate, 'off']
    condition: selection
falsepositives: Legitimate administrative changes
level: medium
tags:
    - attack.defense-evasion
    - attack.t1562.004
fields: [CommandLine]
reason: firewall turned off
tuning: {suppress: 10m}
---
title: Second
detection:
    keywords: [pfctl]
    condition: keywords
`
	rules, err := Parse([]byte(text), "rules/alf.yml")
	if err != nil {
		t.Fatal(err)
	}
	want := []*Rule{{
		ID:             "8d2ca9b5-2b4e-4b2a-9c0e-3f6a1c7d9e01",
		Title:          "Application Firewall Disabled Via Socketfilterfw",
		Status:         "test",
		Description:    "Detects the application firewall being turned off.",
		Author:         "Alice, Bob",
		Date:           "2026-08-05",
		Modified:       "2026-08-06",
		Level:          "medium",
		Tags:           []string{"attack.defense-evasion", "attack.t1562.004"},
		References:     []string{"https://github.com/SigmaHQ/sigma/pull/6178"},
		FalsePositives: []string{"Legitimate administrative changes"},
		Logsource:      Logsource{Category: "process_creation", Product: "macos", Definition: "eslogger exec events"},
		Custom:         map[string]any{"reason": "firewall turned off", "tuning": map[string]any{"suppress": "10m"}},
		File:           "rules/alf.yml",
		Line:           1,
	}, {
		Title: "Second",
		File:  "rules/alf.yml",
		Line:  28,
	}}
	if diff := cmp.Diff(want, rules, cmpopts.IgnoreUnexported(Rule{})); diff != "" {
		t.Errorf("Parse mismatch (-want +got):\n%s", diff)
	}
	if got, want := rules[0].Fields(), []string{"CommandLine", "Image"}; !cmp.Equal(got, want) {
		t.Errorf("Fields() = %q, want %q", got, want)
	}
	if got, want := rules[1].Fields(), []string{"CommandLine"}; !cmp.Equal(got, want) {
		t.Errorf("Fields() of a keyword rule = %q, want %q", got, want)
	}
}

func TestParseFieldsFieldRef(t *testing.T) {
	r := mustRule(t, "sel: {ParentImage|fieldref: Image, User: root}")
	if got, want := r.Fields(), []string{"Image", "ParentImage", "User"}; !cmp.Equal(got, want) {
		t.Errorf("Fields() = %q, want %q", got, want)
	}
}

func TestParseDocuments(t *testing.T) {
	text := "---\n" + ruleText("sel: {Image: /a}") + "---\n---\n" + ruleText("sel: {Image: /b}") + "...\n"
	rules, err := Parse([]byte(text), "two.yml")
	if err != nil {
		t.Fatal(err)
	}
	var lines []int
	for _, r := range rules {
		lines = append(lines, r.Line)
	}
	if want := []int{2, 9}; !cmp.Equal(lines, want) {
		t.Errorf("rule lines = %v, want %v", lines, want)
	}
}

// parseErrorCases holds one bad rule of each kind, the line its error names and a part of the
// message.
var parseErrorCases = []struct {
	name        string
	text        string
	line        int
	msg         string // a part of the message after "file:line: "
	unsupported bool
}{
	{"empty file", "", 1, "no rule in file", false},
	{"only comments", "# nothing\n", 1, "no rule in file", false},
	{"yaml syntax", "title: x\ndetection: [a\n", 3, "yaml: ", false},
	{"not a mapping", "- title: x\n", 1, "a rule must be a mapping", false},
	{"no title", "detection:\n    sel: {A: 1}\n    condition: sel\n", 1, "rule has no title", false},
	{"title not a string", "title: [a]\n", 1, "title must be a string", false},
	{"no detection", "title: x\nlevel: low\n", 1, `rule "x" has no detection`, false},
	{"bad level", "title: x\nlevel: severe\n", 2, `level "severe" is not one of`, false},
	{"tags not strings", "title: x\ntags: [{a: b}]\n", 2, "tags must be a list of strings", false},
	{"duplicate top-level key", "title: x\ntitle: y\n", 2, `duplicate key "title"`, false},
	{"detection not a map", "title: x\ndetection: [sel]\n", 2, "detection must be a mapping", false},
	{"empty detection", "title: x\ndetection:\n    condition: sel\n", 3, "detection defines no search identifiers", false},
	{"no condition", "title: x\ndetection:\n    sel: {A: 1}\n", 2, "detection has no condition", false},
	{"empty condition list", ruleText("sel: {A: 1}\ncondition: []"), 5, "condition is an empty list", false},
	{"condition not a string", ruleText("sel: {A: 1}\ncondition: {a: b}"), 5, "condition must be a string", false},
	{"field at detection level", ruleText("Image|endswith: /x\ncondition: x"), 4, `detection key "Image|endswith" is not a search identifier`, false},
	{"bad identifier", ruleText("sel ection: {A: 1}\ncondition: x"), 4, `detection key "sel ection" is not a search identifier`, false},
	{"keyword identifier", ruleText("them: {A: 1}\ncondition: x"), 4, `"them" is a condition keyword`, false},
	{"duplicate field", ruleText("sel:\n    Image: /a\n    Image: /b"), 6, `duplicate key "Image"`, false},
	{"empty selection", ruleText("sel: {}"), 4, "sel: empty map", false},
	{"empty search list", ruleText("sel: []"), 4, `search identifier "sel" is empty`, false},
	{"null search", ruleText("sel:"), 4, `search identifier "sel" is empty`, false},
	{"empty value list", ruleText("sel: {Image: []}"), 4, "sel: Image: empty list of values", false},
	{"map as value", ruleText("sel:\n    Image: {a: b}"), 5, "sel: Image: a value must be", false},
	{"list in a value list", ruleText("sel:\n    Image: [[a]]"), 5, "sel: Image: a value must be", false},
	{"list in a search list", ruleText("sel:\n    - [a]"), 5, "sel: a list may hold maps and keywords", false},
	{"undefined identifier", ruleText("sel: {A: 1}\ncondition: sel and filter"), 5, `undefined search identifier "filter"`, false},
	{"unused identifier", ruleText("sel: {A: 1}\nfilter: {B: 1}\ncondition: sel"), 5, `search identifier "filter" is not used`, false},
	{"trailing token", ruleText("sel: {A: 1}\ncondition: sel sel"), 5, `unexpected "sel" at column 5`, false},
	{"dangling and", ruleText("sel: {A: 1}\ncondition: sel and"), 5, "expected a search identifier at the end", false},
	{"leading or", ruleText("sel: {A: 1}\ncondition: or sel"), 5, `expected a search identifier at column 1, found "or"`, false},
	{"missing paren", ruleText("sel: {A: 1}\ncondition: (sel"), 5, "missing ')'", false},
	{"extra paren", ruleText("sel: {A: 1}\ncondition: sel)"), 5, `unexpected ")" at column 4`, false},
	{"empty parens", ruleText("sel: {A: 1}\ncondition: () or sel"), 5, `found ")"`, false},
	{"empty condition", ruleText("sel: {A: 1}\ncondition: ' '"), 5, "empty condition", false},
	{"of without target", ruleText("sel: {A: 1}\ncondition: 1 of"), 5, `expected a pattern or them after "1 of"`, false},
	{"pattern matches nothing", ruleText("sel: {A: 1}\ncondition: 1 of filter*"), 5, `"filter*" matches no search identifier`, false},
	{"bad quantifier", ruleText("sel: {A: 1}\ncondition: some of sel*"), 5, `expected 1, any, all or a count before of at column 1, found "some"`, false},
	{"too many", ruleText("sel1: {A: 1}\nsel2: {A: 2}\ncondition: 3 of sel*"), 6, `"3 of sel*" asks for 3 of 2`, false},
	{"aggregation count", ruleText("sel: {A: 1}\ncondition: sel | count() > 5"), 5, "aggregations are not supported", true},
	{"aggregation near", ruleText("sel: {A: 1}\nsel2: {B: 1}\ncondition: sel near sel2"), 6, "aggregations are not supported", true},
	{"timeframe", ruleText("sel: {A: 1}\ntimeframe: 5m\ncondition: sel"), 5, "timeframe: aggregations are not supported", true},
	{"unknown modifier", ruleText("sel:\n    Image|endwith: /x"), 5, `sel: Image|endwith: unknown modifier "endwith"`, false},
	{"empty modifier", ruleText("sel:\n    Image|: /x"), 5, "sel: Image|: empty modifier", false},
	{"two anchors", ruleText("sel:\n    Image|contains|endswith: /x"), 5, "modifiers contains and endswith cannot be combined", false},
	{"two kinds", ruleText("sel:\n    Image|re|cidr: /x"), 5, "modifiers re and cidr cannot be combined", false},
	{"re and contains", ruleText("sel:\n    Image|re|contains: /x"), 5, "modifiers re and contains cannot be combined", false},
	{"i without re", ruleText("sel:\n    Image|contains|i: /x"), 5, "modifier i applies only after re", false},
	{"windash and base64", ruleText("sel:\n    Image|windash|base64: /x"), 5, "modifiers windash and base64 cannot be combined", false},
	{"two base64", ruleText("sel:\n    Image|base64|base64offset: /x"), 5, "modifiers base64 and base64offset cannot be combined", false},
	{"utf16 without base64", ruleText("sel:\n    Image|wide|contains: /x"), 5, "modifier wide needs base64 or base64offset after it", false},
	{"utf16 after base64", ruleText("sel:\n    Image|base64|utf16le: /x"), 5, "modifier utf16le must come before base64", false},
	{"cased cidr", ruleText("sel:\n    Ip|cidr|cased: 10.0.0.0/8"), 5, "modifiers cidr and cased cannot be combined", false},
	{"exists with all", ruleText("sel:\n    Ip|exists|all: true"), 5, "modifier exists takes no other modifiers", false},
	{"exists not a boolean", ruleText("sel:\n    Ip|exists: maybe"), 5, `exists takes true or false, not "maybe"`, false},
	{"exists list", ruleText("sel:\n    Ip|exists: [true, false]"), 5, "exists takes one value", false},
	{"exists keyword", ruleText("sel:\n    '|exists': true"), 5, "modifier exists needs a field name", false},
	{"bad regex", ruleText("sel:\n    CommandLine|re: 'a(?=b)'"), 5, `sel: CommandLine|re: bad regular expression "a(?=b)"`, false},
	{"bad regex in a list", ruleText("sel:\n    CommandLine|re:\n        - 'ok'\n        - 'a[b'"), 7, `bad regular expression "a[b"`, false},
	{"bad cidr", ruleText("sel:\n    Ip|cidr: 10.0.0.0/33"), 5, `bad cidr "10.0.0.0/33"`, false},
	{"cidr not an address", ruleText("sel:\n    Ip|cidr: localhost"), 5, `bad cidr "localhost"`, false},
	{"cidr host bits", ruleText("sel:\n    Ip|cidr: 10.1.2.3/8"), 5, "host bits are set (did you mean 10.0.0.0/8?)", false},
	{"gt not a number", ruleText("sel:\n    Uid|gt: many"), 5, `gt needs a number, not "many"`, false},
	{"null with modifier", ruleText("sel:\n    Tty|contains: null"), 5, "null takes no modifiers but all and cased", false},
	{"null keyword", ruleText("keywords: [a, null]"), 4, "null cannot be a keyword", false},
	{"fieldref empty", ruleText("sel:\n    A|fieldref: ''"), 5, "fieldref needs a field name", false},
	{"base64offset too short", ruleText("sel:\n    A|base64offset|contains: ''"), 5, `"" is too short for base64offset`, false},
	{"expand", ruleText("sel:\n    User|expand: '%Admins%'"), 5, "placeholders (expand) are not supported", true},
	{"neq", ruleText("sel:\n    User|neq: root"), 5, "modifier neq is not supported", true},
	{"collection", "action: global\ntitle: x\n", 1, "rule collections (action: global) are not supported", true},
	{"correlation", "title: x\ncorrelation: {type: event_count}\n", 2, "correlation rules are not supported", true},
	{"filter", "title: x\nfilter: {rules: [a]}\n", 2, "Sigma filters are not supported", true},
	{"error in second document", ruleText("sel: {A: 1}") + "---\n" + ruleText("sel:\n    A|bad: 1"), 11, `unknown modifier "bad"`, false},
	{"no keyword fields", ruleText("keywords: [a]"), 4, "keywords need keyword fields", false},
}

func TestParseErrors(t *testing.T) {
	for _, tc := range parseErrorCases {
		t.Run(tc.name, func(t *testing.T) {
			var opts []Option
			if tc.name == "no keyword fields" {
				opts = append(opts, KeywordFields())
			}
			rules, err := Parse([]byte(tc.text), "bad.yml", opts...)
			if err == nil {
				t.Fatalf("Parse = %d rules, want an error\n%s", len(rules), tc.text)
			}
			prefix := fmt.Sprintf("bad.yml:%d: ", tc.line)
			if got := err.Error(); !strings.HasPrefix(got, prefix) || !strings.Contains(got, tc.msg) {
				t.Errorf("Parse error = %q, want %q…%q\n%s", got, prefix, tc.msg, tc.text)
			}
			var e *Error
			if !errors.As(err, &e) || e.File != "bad.yml" || e.Line != tc.line {
				t.Errorf("Parse error = %#v, want an *Error at bad.yml:%d", err, tc.line)
			}
			if got := errors.Is(err, errors.ErrUnsupported); got != tc.unsupported {
				t.Errorf("errors.Is(%q, ErrUnsupported) = %v, want %v", err, got, tc.unsupported)
			}
			if rules != nil {
				t.Errorf("Parse returned %d rules with its error", len(rules))
			}
		})
	}
}
