package cli

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/firewarden/firewarden/internal/exposure"
)

// expectCases is the table of TestReadScanExpect and the seeds of FuzzParseScanExpect: the
// rules each file gives seen from outside the target's LAN (reach any) and from inside it.
var expectCases = []struct {
	name, text string
	any, lan   []portRule
	notes      []string
	wantErr    string
}{
	{name: "ports", text: "- 22\n- 443\n",
		any: []portRule{{Port: 22, Open: true, Line: 1}, {Port: 443, Open: true, Line: 2}}},
	{name: "names and ranges", text: "- ssh\n- \"8000-8001\"\n- https\n",
		any: []portRule{{Port: 22, Open: true, Line: 1}, {Port: 443, Open: true, Line: 3}, {Port: 8000, Open: true, Line: 2}, {Port: 8001, Open: true, Line: 2}}},
	{name: "nothing open", text: "[]\n", any: []portRule{}},
	{name: "alias", text: "- &a 22\n- *a\n", any: []portRule{{Port: 22, Open: true, Line: 1}}},
	{name: "exposure's file",
		text: "- {process: postgres, port: 5432, scope: loopback}\n- {process: node, port: 3030, scope: any}\n" +
			"- {process: grafana, port: 3000, proto: tcp, scope: lan}\n- {process: cupsd, scope: loopback}\n" +
			"- {port: 53, proto: udp, scope: lan}\n- {process: avahi, scope: lan}\n",
		any: []portRule{{Port: 3000, Line: 3, Scope: "lan"}, {Port: 3030, Open: true, Line: 2, Scope: "any"}, {Port: 5432, Line: 1, Scope: "loopback"}},
		lan: []portRule{{Port: 3000, Open: true, Line: 3, Scope: "lan"}, {Port: 3030, Open: true, Line: 2, Scope: "any"}, {Port: 5432, Line: 1, Scope: "loopback"}},
		notes: []string{
			"e.yaml: entries name a process without a port (line 4, 6); scan checks ports, so it skips them",
			"e.yaml: entry is UDP (line 5); scan checks TCP only, so it skips it",
		}},
	{name: "mixed", text: "- ssh\n- {port: 5432, scope: loopback}\n- {port: 22, scope: loopback}\n- {port: 8080, scope: lan}\n- {port: 8080, scope: loopback}\n",
		// A plain item says open whatever an entry's scope; of two entries the wider decides.
		any: []portRule{{Port: 22, Open: true, Line: 1}, {Port: 5432, Line: 2, Scope: "loopback"}, {Port: 8080, Line: 4, Scope: "lan"}},
		lan: []portRule{{Port: 22, Open: true, Line: 1}, {Port: 5432, Line: 2, Scope: "loopback"}, {Port: 8080, Open: true, Line: 4, Scope: "lan"}}},
	{name: "not a list", text: "ports: [22]\n", wantErr: "e.yaml:1: a list of ports (- 22) or of listeners"},
	{name: "bad port", text: "- 22\n- 70000\n", wantErr: "e.yaml:2: port 70000 out of range"},
	{name: "unknown name", text: "- 22\n- postgres\n", wantErr: `e.yaml:2: unknown service name "postgres"`},
	{name: "two in one item", text: "- 22,80\n", wantErr: "e.yaml:1: one port or range an item"},
	{name: "null item", text: "- 22\n-\n", wantErr: "e.yaml:2: a port, a range, a service name or a listener"},
	{name: "list item", text: "- [22]\n", wantErr: "e.yaml:1: a port, a range, a service name or a listener"},
	{name: "listener without scope", text: "- 22\n- {port: 22}\n", wantErr: "e.yaml:2: a listener needs a scope"},
	{name: "listener bad port", text: "- {port: ssh, scope: any}\n", wantErr: "e.yaml:1: port should be a number"},
	{name: "listener unknown key", text: "- {port: 22, scope: any, host: x}\n", wantErr: "e.yaml:1:"},
	{name: "empty", text: "", wantErr: "e.yaml: empty"},
	{name: "two documents", text: "- 22\n---\n- 80\n", wantErr: "e.yaml:2: a second YAML document"},
	{name: "syntax", text: "- [22\n", wantErr: "e.yaml:"},
}

func TestReadScanExpect(t *testing.T) {
	for _, c := range expectCases {
		t.Run(c.name, func(t *testing.T) {
			name := filepath.Join(t.TempDir(), "e.yaml")
			if err := os.WriteFile(name, []byte(c.text), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := readScanExpect(name)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("readScanExpect(%q) = %v, want an error with %q", c.text, err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("readScanExpect(%q): %v", c.text, err)
			}
			lan := c.lan
			if lan == nil {
				lan = c.any
			}
			for _, r := range []struct {
				reach exposure.Reach
				want  []portRule
			}{{exposure.ReachAny, c.any}, {exposure.ReachLAN, lan}} {
				if diff := cmp.Diff(r.want, got.rules(r.reach)); diff != "" {
					t.Errorf("readScanExpect(%q).rules(%v) (-want +got):\n%s", c.text, r.reach, diff)
				}
			}
			notes := make([]string, len(got.notes))
			for i, n := range got.notes {
				notes[i] = strings.ReplaceAll(n, name, "e.yaml")
			}
			if diff := cmp.Diff(c.notes, notes, cmpEmptyNil); diff != "" {
				t.Errorf("readScanExpect(%q) notes (-want +got):\n%s", c.text, diff)
			}
		})
	}
}

var cmpEmptyNil = cmp.FilterValues(func(a, b []string) bool { return len(a) == 0 && len(b) == 0 }, cmp.Ignore())

// TestScanExpectLoopbackTarget: scanning the target's own loopback, every entry's port should
// be open, loopback ones too.
func TestScanExpectLoopbackTarget(t *testing.T) {
	e, err := parseScanExpect("e.yaml", []byte("- {port: 5432, scope: loopback}\n- {port: 3000, scope: lan}\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []portRule{{Port: 3000, Open: true, Line: 2, Scope: "lan"}, {Port: 5432, Open: true, Line: 1, Scope: "loopback"}}
	if diff := cmp.Diff(want, e.rules(exposure.ReachLoopback)); diff != "" {
		t.Errorf("rules(loopback) (-want +got):\n%s", diff)
	}
}

func TestScanReach(t *testing.T) {
	for _, c := range []struct {
		src, dst string
		want     exposure.Reach
	}{
		{"127.0.0.1", "127.0.0.1", exposure.ReachLoopback},
		{"::1", "::1", exposure.ReachLoopback},
		{"192.168.1.5", "192.168.1.10", exposure.ReachLAN},
		{"10.0.0.2", "192.168.1.10", exposure.ReachLAN}, // both private: the brief's rule
		{"fe80::1%eth0", "fe80::2%eth0", exposure.ReachLAN},
		{"fd00::2", "fd00::1", exposure.ReachLAN},
		{"100.64.0.2", "100.100.1.1", exposure.ReachLAN},
		{"::ffff:10.0.0.2", "10.0.0.1", exposure.ReachLAN},
		{"203.0.113.9", "192.168.1.10", exposure.ReachAny},
		{"192.168.1.5", "198.51.100.7", exposure.ReachAny},
		{"192.0.2.2", "192.0.2.1", exposure.ReachAny}, // documentation ranges are not private
		{"", "10.0.0.1", exposure.ReachAny},           // source unknown
	} {
		var src netip.Addr
		if c.src != "" {
			src = netip.MustParseAddr(c.src)
		}
		if got := scanReach(src, netip.MustParseAddr(c.dst)); got != c.want {
			t.Errorf("scanReach(%s, %s) = %v, want %v", c.src, c.dst, got, c.want)
		}
	}
}

func TestCompareExpect(t *testing.T) {
	rules := []portRule{
		{Port: 22, Open: true, Line: 1}, {Port: 80, Open: true, Line: 2}, {Port: 443, Open: true, Line: 3},
		{Port: 3000, Line: 4, Scope: "lan"}, {Port: 6379, Line: 5, Scope: "loopback"},
	}
	got := compareExpect(rules, []uint16{22, 443, 3000, 5432})
	want := &expectDiff{Missing: []uint16{80}, Unexpected: []uint16{3000, 5432},
		NotAllowed: []portRule{{Port: 3000, Line: 4, Scope: "lan"}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("compareExpect (-want +got):\n%s", diff)
	}
}

func FuzzParseScanExpect(f *testing.F) {
	for _, c := range expectCases {
		f.Add(c.text)
	}
	f.Fuzz(func(t *testing.T, text string) {
		e, err := parseScanExpect("e.yaml", []byte(text))
		if err != nil {
			return
		}
		for _, reach := range []exposure.Reach{exposure.ReachLoopback, exposure.ReachLAN, exposure.ReachAny} {
			rules := e.rules(reach)
			for i, r := range rules {
				if r.Port == 0 || i > 0 && rules[i-1].Port >= r.Port || r.Line <= 0 {
					t.Fatalf("parseScanExpect(%q).rules(%v) = %v, not sorted, unique, nonzero, with lines", text, reach, rules)
				}
			}
			// Seen from closer, no port the file wants open may stop being wanted.
			if reach > exposure.ReachLoopback {
				closer := e.rules(reach - 1)
				for i, r := range rules {
					if r.Open && !closer[i].Open {
						t.Fatalf("parseScanExpect(%q): port %d open from %v but not from %v", text, r.Port, reach, reach-1)
					}
				}
			}
		}
	})
}
