package sigma

import (
	"strings"
	"testing"
)

// event is a test event: field name to values.
type event map[string][]string

func (e event) Values(name string) ([]string, bool) {
	v, ok := e[name]
	return v, ok
}

// ev builds an event from "Field=value" pairs; a field named twice gets two values.
func ev(pairs ...string) event {
	e := event{}
	for _, p := range pairs {
		k, v, _ := strings.Cut(p, "=")
		e[k] = append(e[k], v)
	}
	return e
}

// ruleText wraps a detection body (YAML at column 0) in a minimal rule; the condition is "all of
// them" unless the body has one.
func ruleText(detection string) string {
	if !strings.Contains(detection, "condition:") {
		detection = strings.TrimRight(detection, "\n") + "\ncondition: all of them"
	}
	var b strings.Builder
	b.WriteString("title: test\nlogsource: {category: process_creation, product: macos}\ndetection:\n")
	for _, line := range strings.Split(strings.TrimRight(detection, "\n"), "\n") {
		b.WriteString("    " + line + "\n")
	}
	return b.String()
}

func mustRule(t testing.TB, detection string, opts ...Option) *Rule {
	t.Helper()
	rules, err := Parse([]byte(ruleText(detection)), "test.yml", opts...)
	if err != nil {
		t.Fatalf("Parse: %v\n%s", err, ruleText(detection))
	}
	if len(rules) != 1 {
		t.Fatalf("Parse gave %d rules, want 1", len(rules))
	}
	return rules[0]
}

type matchCase struct {
	name string
	det  string // the detection section
	ev   event
	want bool
}

// checkMatches runs Match on each case and checks Needles is sound for it.
func checkMatches(t *testing.T, cases []matchCase, opts ...Option) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := mustRule(t, tc.det, opts...)
			if got := r.Match(tc.ev); got != tc.want {
				t.Errorf("Match(%v) = %v, want %v\n%s", tc.ev, got, tc.want, tc.det)
			}
			checkNeedles(t, r, tc.ev)
		})
	}
}

// checkNeedles fails when the rule matches the event but none of its needles occurs in the
// lowercased values of the fields the rule reads.
func checkNeedles(t testing.TB, r *Rule, f Fields) {
	t.Helper()
	needles := r.Needles()
	if needles == nil || !r.Match(f) {
		return
	}
	text := eventText(r, f)
	for _, n := range needles {
		if strings.Contains(text, n) {
			return
		}
	}
	t.Errorf("rule matches but no needle of %q occurs in %q", needles, text)
}

// eventText is the lowercased values of the fields the rule reads, joined by NUL bytes.
func eventText(r *Rule, f Fields) string {
	var b strings.Builder
	for _, name := range r.Fields() {
		vals, _ := f.Values(name)
		for _, v := range vals {
			b.WriteString(lowerASCII(v))
			b.WriteByte(0)
		}
	}
	return b.String()
}

var valueCases = []matchCase{
	{"exact ignores case", `sel: {Image: /usr/bin/Defaults}`, ev("Image=/USR/bin/defaults"), true},
	{"exact is whole value", `sel: {Image: /usr/bin/defaults}`, ev("Image=/usr/bin/defaults2"), false},
	{"exact missing field", `sel: {Image: /usr/bin/defaults}`, ev("CommandLine=/usr/bin/defaults"), false},
	{"number as written", `sel: {ProcessId: 4688}`, ev("ProcessId=4688"), true},
	{"number is not parsed", `sel: {ProcessId: 4688}`, ev("ProcessId=04688"), false},
	{"hex number as written", `sel: {Flags: 0x17}`, ev("Flags=0X17"), true},
	{"boolean as written", `sel: {Platform: true}`, ev("Platform=True"), true},
	{"list is or", `sel: {Image: [/bin/a, /bin/b]}`, ev("Image=/bin/b"), true},
	{"list is or, none", `sel: {Image: [/bin/a, /bin/b]}`, ev("Image=/bin/c"), false},
	{"map is and", `sel: {Image: /bin/a, User: root}`, ev("Image=/bin/a", "User=admin"), false},
	{"map is and, both", `sel: {Image: /bin/a, User: root}`, ev("Image=/bin/a", "User=ROOT"), true},
	{"several field values: one suffices", `sel: {Argv: 'off'}`, ev("Argv=--setglobalstate", "Argv=off"), true},
	{"several field values: none", `sel: {Argv: 'off'}`, ev("Argv=--setglobalstate", "Argv=on"), false},
	{"empty string matches empty", `sel: {TTY: ''}`, ev("TTY="), true},
	{"empty string needs the field", `sel: {TTY: ''}`, ev(), false},
	{"empty string is not any", `sel: {TTY: ''}`, ev("TTY=/dev/ttys001"), false},
	{"null: absent", `sel: {TTY: null}`, ev("User=root"), true},
	{"null: empty", `sel: {TTY: null}`, ev("TTY="), true},
	{"null: set", `sel: {TTY: null}`, ev("TTY=/dev/ttys001"), false},
	{"null: tilde", `sel: {TTY: ~}`, ev(), true},
	{"null in a list", `sel: {TTY: [null, /dev/console]}`, ev("TTY=/dev/console"), true},
	{"quoted null is a string", `sel: {TTY: 'null'}`, ev(), false},
	{"ascii folding only", `sel: {Path|contains: 'É'}`, ev("Path=/tmp/é"), false},
	{"non-ascii exact", `sel: {Path|contains: 'É'}`, ev("Path=/tmp/É"), true},
	{"yaml alias", "sel:\n    Image: &img /bin/a\nsel2:\n    ParentImage: *img\ncondition: sel and sel2", ev("Image=/bin/a", "ParentImage=/bin/a"), true},
}

func TestMatchValues(t *testing.T) { checkMatches(t, valueCases) }

var wildcardCases = []matchCase{
	{"star inside", `sel: {Image: '/usr/*/pfctl'}`, ev("Image=/usr/local/sbin/pfctl"), true},
	{"star inside, anchored", `sel: {Image: '/usr/*/pfctl'}`, ev("Image=/opt/usr/x/pfctl"), false},
	{"leading star", `sel: {Image: '*/pfctl'}`, ev("Image=/sbin/PFCTL"), true},
	{"trailing star", `sel: {Image: '/sbin/*'}`, ev("Image=/sbin/pfctl"), true},
	{"both stars", `sel: {CommandLine: '*setglobalstate*'}`, ev("CommandLine=x --SetGlobalState off"), true},
	{"only a star", `sel: {CommandLine: '*'}`, ev("CommandLine="), true},
	{"only a star needs the field", `sel: {CommandLine: '*'}`, ev(), false},
	{"question mark is one character", `sel: {Image: '/bin/?s'}`, ev("Image=/bin/ls"), true},
	{"question mark is not zero", `sel: {Image: '/bin/?s'}`, ev("Image=/bin/s"), false},
	{"question mark is one rune", `sel: {Image: '/bin/?s'}`, ev("Image=/bin/és"), true},
	{"escaped star is literal", `sel: {CommandLine: 'a\*b'}`, ev("CommandLine=a*b"), true},
	{"escaped star is not a wildcard", `sel: {CommandLine: 'a\*b'}`, ev("CommandLine=axxb"), false},
	{"escaped question mark", `sel: {CommandLine: 'a\?'}`, ev("CommandLine=ab"), false},
	{"escaped question mark, literal", `sel: {CommandLine: 'a\?'}`, ev("CommandLine=a?"), true},
	{"plain backslash", `sel: {Image: 'C:\Windows\cmd.exe'}`, ev(`Image=c:\windows\CMD.exe`), true},
	{"double backslash is one", `sel: {Image: 'C:\\Windows'}`, ev(`Image=C:\Windows`), true},
	{"escaped backslash then star", `sel: {Image: 'C:\\*'}`, ev(`Image=C:\Windows`), true},
	{"three backslashes and star", `sel: {Image: 'C:\\\*'}`, ev(`Image=C:\*`), true},
	{"three backslashes and star, not wild", `sel: {Image: 'C:\\\*'}`, ev(`Image=C:\x`), false},
	{"four backslashes are two", `sel: {Image: 'a\\\\b'}`, ev(`Image=a\\b`), true},
	{"contains keeps inner wildcards", `sel: {CommandLine|contains: 'set*off'}`, ev("CommandLine=x setglobalstate off y"), true},
	{"startswith with question mark", `sel: {CommandLine|startswith: 'pfctl -?'}`, ev("CommandLine=pfctl -d now"), true},
	{"endswith with inner star", `sel: {Image|endswith: '/lib*/socketfilterfw'}`, ev("Image=/usr/libexec/ApplicationFirewall/socketfilterfw"), true},
	{"overlap is not double use", `sel: {CommandLine: 'ab*ba'}`, ev("CommandLine=aba"), false},
}

func TestMatchWildcards(t *testing.T) { checkMatches(t, wildcardCases) }

func b64(s string) string { return encodeValue(s, []string{"base64"})[0] }

var modifierCases = []matchCase{
	{"contains", `sel: {CommandLine|contains: GlobalState}`, ev("CommandLine=socketfilterfw --setglobalstate off"), true},
	{"contains, absent", `sel: {CommandLine|contains: blockall}`, ev("CommandLine=socketfilterfw --setglobalstate off"), false},
	{"startswith", `sel: {CommandLine|startswith: 'sudo '}`, ev("CommandLine=SUDO pfctl -d"), true},
	{"startswith, elsewhere", `sel: {CommandLine|startswith: 'pfctl'}`, ev("CommandLine=sudo pfctl -d"), false},
	{"endswith", `sel: {Image|endswith: /pfctl}`, ev("Image=/sbin/pfctl"), true},
	{"endswith, not at end", `sel: {Image|endswith: /pfctl}`, ev("Image=/sbin/pfctl2"), false},
	{"contains all", "sel:\n    CommandLine|contains|all: [setglobalstate, 'off']", ev("CommandLine=socketfilterfw --setglobalstate off"), true},
	{"contains all, one missing", "sel:\n    CommandLine|contains|all: [setglobalstate, 'off']", ev("CommandLine=socketfilterfw --setglobalstate on"), false},
	{"all across field values", "sel:\n    Argv|all: [--setglobalstate, 'off']", ev("Argv=socketfilterfw", "Argv=--setglobalstate", "Argv=off"), true},
	{"all across field values, one missing", "sel:\n    Argv|all: [--setglobalstate, 'off']", ev("Argv=--setglobalstate", "Argv=on"), false},
	{"cased exact", `sel: {Image|cased: /sbin/pfctl}`, ev("Image=/sbin/PFCTL"), false},
	{"cased exact, same", `sel: {Image|cased: /sbin/pfctl}`, ev("Image=/sbin/pfctl"), true},
	{"cased contains", `sel: {CommandLine|contains|cased: ' -F '}`, ev("CommandLine=pfctl -f /etc/pf.conf"), false},
	{"cased contains, same", `sel: {CommandLine|contains|cased: ' -F '}`, ev("CommandLine=pfctl -F all"), true},
	{"cased wildcard", `sel: {CommandLine|cased: 'pfctl*-F*'}`, ev("CommandLine=pfctl -a x -f -"), false},
	{"re is case-sensitive", `sel: {CommandLine|re: 'set.*off'}`, ev("CommandLine=--SETglobalstate OFF"), false},
	{"re unanchored", `sel: {CommandLine|re: 'set.*off'}`, ev("CommandLine=x --setglobalstate off y"), true},
	{"re i", `sel: {CommandLine|re|i: 'set.*off'}`, ev("CommandLine=--SETglobalstate OFF"), true},
	{"re m", `sel: {Message|re|m: '^off$'}`, ev("Message=state\noff\nend"), true},
	{"re without m", `sel: {Message|re: '^off$'}`, ev("Message=state\noff\nend"), false},
	{"re s", `sel: {Message|re|s: 'state.off'}`, ev("Message=state\noff"), true},
	{"re without s", `sel: {Message|re: 'state.off'}`, ev("Message=state\noff"), false},
	{"re all", "sel:\n    CommandLine|re|all: ['^pfctl', '-d$']", ev("CommandLine=pfctl -a x -d"), true},
	{"re cased is still sensitive", `sel: {CommandLine|re|cased: 'OFF'}`, ev("CommandLine=off"), false},
	{"cidr v4", `sel: {DestinationIp|cidr: 10.0.0.0/8}`, ev("DestinationIp=10.1.2.3"), true},
	{"cidr v4 outside", `sel: {DestinationIp|cidr: 10.0.0.0/8}`, ev("DestinationIp=11.1.2.3"), false},
	{"cidr v4 mapped", `sel: {DestinationIp|cidr: 10.0.0.0/8}`, ev("DestinationIp=::ffff:10.1.2.3"), true},
	{"cidr v6", `sel: {DestinationIp|cidr: '2001:db8::/32'}`, ev("DestinationIp=2001:DB8::1"), true},
	{"cidr v6 outside", `sel: {DestinationIp|cidr: '2001:db8::/32'}`, ev("DestinationIp=2001:db9::1"), false},
	{"cidr bare address", `sel: {DestinationIp|cidr: 192.0.2.7}`, ev("DestinationIp=192.0.2.7"), true},
	{"cidr not an address", `sel: {DestinationIp|cidr: 10.0.0.0/8}`, ev("DestinationIp=localhost"), false},
	{"cidr list", `sel: {DestinationIp|cidr: [10.0.0.0/8, 192.168.0.0/16]}`, ev("DestinationIp=192.168.1.1"), true},
	{"exists true", `sel: {TeamID|exists: true}`, ev("TeamID="), true},
	{"exists true, absent", `sel: {TeamID|exists: true}`, ev(), false},
	{"exists false", `sel: {TeamID|exists: false}`, ev(), true},
	{"exists false, present", `sel: {TeamID|exists: false}`, ev("TeamID=P3FGV63VK7"), false},
	{"gt", `sel: {UID|gt: 500}`, ev("UID=501"), true},
	{"gt equal", `sel: {UID|gt: 500}`, ev("UID=500"), false},
	{"gte equal", `sel: {UID|gte: 500}`, ev("UID=500"), true},
	{"lt", `sel: {UID|lt: 1}`, ev("UID=0"), true},
	{"lt negative", `sel: {UID|lt: 0}`, ev("UID=-1"), true},
	{"lte float", `sel: {Score|lte: 0.5}`, ev("Score=0.25"), true},
	{"lte float above", `sel: {Score|lte: 0.5}`, ev("Score=0.75"), false},
	{"gt hex value", `sel: {Flags|gt: 16}`, ev("Flags=0x20"), true},
	{"gt hex rule", `sel: {Flags|gt: 0x10}`, ev("Flags=17"), true},
	{"gt not a number", `sel: {UID|gt: 0}`, ev("UID=root"), false},
	{"gt any field value", `sel: {UID|gt: 0}`, ev("UID=0", "UID=501"), true},
	{"windash hyphen", `sel: {CommandLine|windash|contains: ' -d '}`, ev("CommandLine=pfctl -d now"), true},
	{"windash slash", `sel: {CommandLine|windash|contains: ' -d '}`, ev("CommandLine=pfctl /d now"), true},
	{"windash en dash", `sel: {CommandLine|windash|contains: ' -d '}`, ev("CommandLine=pfctl \u2013d now"), true},
	{"windash em dash", `sel: {CommandLine|windash|contains: ' -d '}`, ev("CommandLine=pfctl \u2014D now"), true},
	{"windash horizontal bar", `sel: {CommandLine|windash|contains: ' -d '}`, ev("CommandLine=pfctl \u2015d now"), true},
	{"windash other", `sel: {CommandLine|windash|contains: ' -d '}`, ev("CommandLine=pfctl _d now"), false},
	{"windash from slash", `sel: {CommandLine|windash: 'cmd /c *'}`, ev("CommandLine=cmd -c dir"), true},
	{"without windash", `sel: {CommandLine|contains: ' -d '}`, ev("CommandLine=pfctl /d now"), false},
	{"base64", `sel: {CommandLine|base64|contains: 'pfctl -d'}`, ev("CommandLine=sh -c " + b64("pfctl -d")), true},
	{"base64 is cased", `sel: {CommandLine|base64|contains: 'pfctl -d'}`, ev("CommandLine=sh -c " + strings.ToLower(b64("pfctl -d"))), false},
	{"base64offset 0", `sel: {CommandLine|base64offset|contains: 'pfctl'}`, ev("CommandLine=echo " + b64("pfctl -d")), true},
	{"base64offset 1", `sel: {CommandLine|base64offset|contains: 'pfctl'}`, ev("CommandLine=echo " + b64("xpfctl -d")), true},
	{"base64offset 2", `sel: {CommandLine|base64offset|contains: 'pfctl'}`, ev("CommandLine=echo " + b64("xypfctl -d")), true},
	{"base64offset other", `sel: {CommandLine|base64offset|contains: 'pfctl'}`, ev("CommandLine=echo " + b64("launchctl")), false},
	{"wide base64offset", `sel: {CommandLine|wide|base64offset|contains: 'pfctl'}`, ev("CommandLine=-enc " + b64("\x00p\x00f\x00c\x00t\x00l\x00")), true},
	{"utf16le base64", `sel: {CommandLine|utf16le|base64|contains: 'ab'}`, ev("CommandLine=x " + b64("a\x00b\x00")), true},
	{"utf16be base64", `sel: {CommandLine|utf16be|base64|contains: 'ab'}`, ev("CommandLine=x " + b64("\x00a\x00b")), true},
	{"utf16 base64 has a BOM", `sel: {CommandLine|utf16|base64|contains: 'ab'}`, ev("CommandLine=x " + b64("\xff\xfea\x00b\x00")), true},
	{"fieldref", `sel: {ParentImage|fieldref: Image}`, ev("Image=/bin/sh", "ParentImage=/BIN/sh"), true},
	{"fieldref differs", `sel: {ParentImage|fieldref: Image}`, ev("Image=/bin/sh", "ParentImage=/bin/zsh"), false},
	{"fieldref cased", `sel: {ParentImage|fieldref|cased: Image}`, ev("Image=/bin/sh", "ParentImage=/BIN/sh"), false},
	{"fieldref absent", `sel: {ParentImage|fieldref: Image}`, ev("ParentImage=/bin/sh"), false},
}

func TestMatchModifiers(t *testing.T) { checkMatches(t, modifierCases) }

var keywordCases = []matchCase{
	{"keyword list", "keywords:\n    - setglobalstate\n    - setblockall", ev("CommandLine=socketfilterfw --SetBlockAll on"), true},
	{"keyword list, none", "keywords:\n    - setglobalstate\n    - setblockall", ev("CommandLine=socketfilterfw --getappblocked"), false},
	{"keywords only in keyword fields", "keywords:\n    - setglobalstate", ev("Image=setglobalstate"), false},
	{"keyword scalar", "keywords: setglobalstate", ev("CommandLine=x --setglobalstate off"), true},
	{"keyword number", "keywords: [4688]", ev("CommandLine=event 4688 seen"), true},
	{"keyword wildcard", "keywords: ['set*state']", ev("CommandLine=x --setglobalstate off"), true},
	{"keywords all", "keywords:\n    '|all': [setglobalstate, 'off']", ev("CommandLine=x --setglobalstate off"), true},
	{"keywords all, one missing", "keywords:\n    '|all': [setglobalstate, 'off']", ev("CommandLine=x --setglobalstate on"), false},
	{"keyword startswith", "keywords:\n    '|startswith': sudo", ev("CommandLine=x sudo"), false},
	{"keyword re", "keywords:\n    '|re': 'state o(n|ff)$'", ev("CommandLine=x --setglobalstate off"), true},
	{"list of maps is or", "sel:\n    - Image|endswith: /pfctl\n    - CommandLine|contains: alf", ev("Image=/bin/defaults", "CommandLine=defaults read com.apple.alf"), true},
	{"list of maps, none", "sel:\n    - Image|endswith: /pfctl\n    - CommandLine|contains: alf", ev("Image=/bin/defaults", "CommandLine=defaults read x"), false},
	{"list of maps, each an and", "sel:\n    - {Image|endswith: /pfctl, CommandLine|contains: ' -d'}\n    - {Image|endswith: /socketfilterfw}", ev("Image=/sbin/pfctl", "CommandLine=pfctl -s rules"), false},
	{"list of maps and keywords", "sel:\n    - Image|endswith: /pfctl\n    - setglobalstate", ev("Image=/bin/x", "CommandLine=--setglobalstate"), true},
}

func TestMatchKeywords(t *testing.T) {
	checkMatches(t, keywordCases)
	t.Run("keyword fields option", func(t *testing.T) {
		r := mustRule(t, "keywords: [socketfilterfw]", KeywordFields("Image", "ParentImage"))
		for _, tc := range []struct {
			ev   event
			want bool
		}{
			{ev("ParentImage=/usr/libexec/ApplicationFirewall/socketfilterfw"), true},
			{ev("Image=/usr/libexec/ApplicationFirewall/socketfilterfw"), true},
			{ev("CommandLine=/usr/libexec/ApplicationFirewall/socketfilterfw"), false},
		} {
			if got := r.Match(tc.ev); got != tc.want {
				t.Errorf("Match(%v) = %v, want %v", tc.ev, got, tc.want)
			}
		}
		r = mustRule(t, "keywords:\n    '|all': [launchd, socketfilterfw]", KeywordFields("Image", "ParentImage"))
		e := ev("ParentImage=/sbin/launchd", "Image=/usr/libexec/ApplicationFirewall/socketfilterfw")
		if !r.Match(e) {
			t.Errorf("Match(%v) = false, want true: |all may meet each keyword in another field", e)
		}
	})
}
