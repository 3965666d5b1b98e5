package pf

import (
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/firewarden/firewarden/internal/block"
)

// altq is the banner macOS pfctl prints on stderr (shared fixtures pfctl-messages-macos.txt,
// macOS 10.11.3 and 10.13.3).
const altq = "No ALTQ support in kernel\nALTQ related functions disabled\n"

var entriesTests = []struct {
	name    string
	in      string
	want    []string
	wantErr bool
}{
	{name: "empty", in: ""},
	{name: "print_addrx lines", in: "   192.0.2.1\n   198.51.100.0/24\n   2001:db8::/64\n   2001:db8:1::5\n",
		want: []string{"192.0.2.1/32", "198.51.100.0/24", "2001:db8::/64", "2001:db8:1::5/128"}},
	{name: "IPv6 told apart by parsing, not by a colon", in: "   ::ffff:192.0.2.1\n   ::\n   0.0.0.0/0\n",
		want: []string{"::ffff:192.0.2.1/128", "::/128", "0.0.0.0/0"}},
	{name: "no trailing newline, CRLF", in: "   192.0.2.1\r\n   192.0.2.2", want: []string{"192.0.2.1/32", "192.0.2.2/32"}},
	{name: "negated entry", in: "   !192.0.2.1\n", wantErr: true},
	{name: "negation column", in: "  !192.0.2.1\n", wantErr: true},
	{name: "host bits set", in: "   10.0.0.1/8\n", wantErr: true},
	{name: "zone", in: "   fe80::1%en0\n", wantErr: true},
	{name: "host name", in: "   example.com\n", wantErr: true},
	{name: "verbose statistics line", in: "   192.0.2.1\n\tCleared:     Thu Jan  1 00:00:00 1970\n", wantErr: true},
}

func TestParseEntries(t *testing.T) {
	for _, tt := range entriesTests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseEntries([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseEntries(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			}
			var gotS []string
			for _, p := range got {
				gotS = append(gotS, p.String())
			}
			if diff := cmp.Diff(tt.want, gotS); diff != "" {
				t.Errorf("parseEntries(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

// FuzzParseEntries: no panic, every entry is a masked prefix, and printing the entries the way
// pfctl does parses back to the same entries.
func FuzzParseEntries(f *testing.F) {
	for _, tt := range entriesTests {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		ps, err := parseEntries([]byte(in))
		if err != nil {
			return
		}
		var b strings.Builder
		for _, p := range ps {
			if !p.IsValid() || p != p.Masked() {
				t.Fatalf("parseEntries(%q) gave %v, not a valid masked prefix", in, p)
			}
			b.WriteString("   " + block.FormatPrefix(p) + "\n")
		}
		again, err := parseEntries([]byte(b.String()))
		if err != nil {
			t.Fatalf("parseEntries(%q) = %v on printed entries", b.String(), err)
		}
		if diff := cmp.Diff(ps, again, cmp.Comparer(func(x, y netip.Prefix) bool { return x == y })); diff != "" {
			t.Fatalf("round trip of %q (-first +second):\n%s", in, diff)
		}
	})
}

var countTests = []struct {
	in, verb string
	n, m     int
	ok       bool
}{
	{"3/3 addresses added.\n", "added", 3, 3, true},
	{altq + "1 table created.\n2/3 addresses added.\n", "added", 2, 3, true},
	{"1/1 addresses deleted.\n", "deleted", 1, 1, true}, // afctl -X output, adaptive reference §1.1
	{"0/0 addresses added.\n", "added", 0, 0, true},
	{"1/1 addresses deleted.\n", "added", 0, 0, false},
	{"5/3 addresses added.\n", "added", 0, 0, false},
	{"3 addresses added.\n", "added", 0, 0, false}, // -T replace wording
	{"-1/3 addresses added.\n", "added", 0, 0, false},
	{"3/3 addresses added (dummy).\n", "added", 0, 0, false},
	{"", "added", 0, 0, false},
}

func TestParseCount(t *testing.T) {
	for _, tt := range countTests {
		n, m, ok := parseCount([]byte(tt.in), tt.verb)
		if n != tt.n || m != tt.m || ok != tt.ok {
			t.Errorf("parseCount(%q, %q) = %d, %d, %v; want %d, %d, %v", tt.in, tt.verb, n, m, ok, tt.n, tt.m, tt.ok)
		}
	}
}

func FuzzParseCount(f *testing.F) {
	for _, tt := range countTests {
		f.Add(tt.in, tt.verb)
	}
	f.Fuzz(func(t *testing.T, in, verb string) {
		n, m, ok := parseCount([]byte(in), verb)
		if ok && (n < 0 || n > m) {
			t.Fatalf("parseCount(%q, %q) = %d, %d, true", in, verb, n, m)
		}
		if !ok && (n != 0 || m != 0) {
			t.Fatalf("parseCount(%q, %q) = %d, %d, false", in, verb, n, m)
		}
	})
}

var tokenTests = []struct {
	in, want string
	ok       bool
}{
	{altq + "pf enabled\nToken : 13540967312582709951\n", "13540967312582709951", true}, // apple.stackexchange 268512
	{"Token : 18446744073709551615", "18446744073709551615", true},
	{"Token : 18446744073709551616\n", "", false}, // beyond 64 bits
	{"Token : \n", "", false},
	{"Token : -1\n", "", false},
	{"pf enabled\n", "", false},
}

func TestParseToken(t *testing.T) {
	for _, tt := range tokenTests {
		got, ok := parseToken([]byte(tt.in))
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseToken(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func FuzzParseToken(f *testing.F) {
	for _, tt := range tokenTests {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		tok, ok := parseToken([]byte(in))
		if !ok {
			return
		}
		if _, err := strconv.ParseUint(tok, 10, 64); err != nil {
			t.Fatalf("parseToken(%q) = %q, not a 64-bit token", in, tok)
		}
	})
}

// memory is pfctl -s memory as pfctl_show_limits prints it ("%-13s hard limit %8u").
const memory = "states        hard limit    10000\nsrc-nodes     hard limit    10000\nfrags         hard limit     5000\ntables        hard limit     1000\ntable-entries hard limit   200000\n"

var limitTests = []struct {
	in   string
	want int
	ok   bool
}{
	{memory, 200000, true},
	{altq + "table-entries hard limit   100000\n", 100000, true},
	{"table-entries unlimited\n", -1, true},
	{"tables        hard limit     1000\n", 0, false},
	{"table-entries hard limit   lots\n", 0, false},
	{"table-entries hard limit   -5\n", 0, false},
	{"", 0, false},
}

func TestParseLimit(t *testing.T) {
	for _, tt := range limitTests {
		got, ok := parseLimit([]byte(tt.in))
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseLimit(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func FuzzParseLimit(f *testing.F) {
	for _, tt := range limitTests {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		n, ok := parseLimit([]byte(in))
		if ok && n < -1 || !ok && n != 0 {
			t.Fatalf("parseLimit(%q) = %d, %v", in, n, ok)
		}
	})
}

var runningTests = []struct {
	in          string
	running, ok bool
}{
	{"Status: Enabled for 0 days 11:50:53           Debug: Urgent\n\nState Table\n", true, true}, // opnsense/core#1578
	{"Status: Disabled for 0 days 00:00:00           Debug: Urgent\n", false, true},
	{altq + "Status: Enabled\n", true, true},
	{"Status:\n", false, false},
	{"Status: Unknown\n", false, false},
	{"", false, false},
}

func TestParseRunning(t *testing.T) {
	for _, tt := range runningTests {
		running, ok := parseRunning([]byte(tt.in))
		if running != tt.running || ok != tt.ok {
			t.Errorf("parseRunning(%q) = %v, %v; want %v, %v", tt.in, running, ok, tt.running, tt.ok)
		}
	}
}

func FuzzParseRunning(f *testing.F) {
	for _, tt := range runningTests {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		if running, ok := parseRunning([]byte(in)); running && !ok {
			t.Fatalf("parseRunning(%q) = running without a status line", in)
		}
	})
}

var tablesTests = []struct {
	in   string
	want []string
}{
	{"firewarden\n", []string{"firewarden"}},
	{"firewarden@com.apple/400.firewarden\nother@com.apple/400.firewarden\n", []string{"firewarden", "other"}},
	{"-pa-r--\tfirewarden\n", []string{"firewarden"}},
	{"", nil},
}

func TestParseTables(t *testing.T) {
	for _, tt := range tablesTests {
		got := parseTables([]byte(tt.in))
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("parseTables(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}

func FuzzParseTables(f *testing.F) {
	for _, tt := range tablesTests {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		for _, name := range parseTables([]byte(in)) {
			if name == "" || strings.ContainsAny(name, "@\t\n") {
				t.Fatalf("parseTables(%q) gave %q", in, name)
			}
		}
	})
}

var ruleTests = []struct {
	in   string
	want bool
}{
	{"block drop in quick from <firewarden> to any\n", true},
	{"block drop in quick from <firewarden> to any label \"x\"\n", true},
	{"pass in from <firewarden> to any\n", false},
	{"block drop out quick to <firewarden>\n", false},
	{"block drop in quick from <firewarden2> to any\n", false},
	{"", false},
}

func TestHasDropRule(t *testing.T) {
	for _, tt := range ruleTests {
		if got := hasDropRule([]byte(tt.in), "firewarden"); got != tt.want {
			t.Errorf("hasDropRule(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func FuzzHasDropRule(f *testing.F) {
	for _, tt := range ruleTests {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		if hasDropRule([]byte(in), "firewarden") && !strings.Contains(in, "<firewarden>") {
			t.Fatalf("hasDropRule(%q) = true without the table", in)
		}
	})
}

func TestTrimBanner(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{altq + "pfctl: Table does not exist.\n", "pfctl: Table does not exist."},
		{"pfctl: DIOCSTOPREF: Invalid argument\n", "pfctl: DIOCSTOPREF: Invalid argument"},
		{altq, ""},
	} {
		if got := trimBanner(tt.in); got != tt.want {
			t.Errorf("trimBanner(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

var mainRulesTests = []struct {
	in   string
	want bool
}{
	{"scrub-anchor \"com.apple/*\" all fragment reassemble\nanchor \"com.apple/*\" all\n", true},
	{altq + "anchor \"com.apple/*\" all\n", true},
	{"anchor \"com.apple/*\"\n", true},
	{"scrub-anchor \"com.apple/*\" all fragment reassemble\n", false}, // not the filter anchor
	{"anchor \"com.apple\" all\n", false},
	{"anchor \"f2b/*\" all\n", false},
	{"", false},
}

func TestHasComAppleAnchor(t *testing.T) {
	for _, tt := range mainRulesTests {
		if got := hasComAppleAnchor([]byte(tt.in)); got != tt.want {
			t.Errorf("hasComAppleAnchor(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func FuzzHasComAppleAnchor(f *testing.F) {
	for _, tt := range mainRulesTests {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		if hasComAppleAnchor([]byte(in)) && !strings.Contains(in, `"com.apple/*"`) {
			t.Fatalf("hasComAppleAnchor(%q) = true without the anchor", in)
		}
	})
}
