package exposure

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var expectTests = []struct {
	name, in string
	want     []Expectation
	err      string
}{
	{name: "empty", in: ""},
	{name: "comments only", in: "# nothing yet\n"},
	{
		name: "flow and block entries",
		in: "- {process: postgres, port: 5432, scope: loopback}\n" +
			"- process: node\n  port: 3030\n  scope: any\n" +
			"- {port: 53, proto: udp, scope: lan}\n",
		want: []Expectation{
			{Line: 1, Process: "postgres", Port: 5432, Scope: ReachLoopback},
			{Line: 2, Process: "node", Port: 3030, Scope: ReachAny},
			{Line: 5, Port: 53, Proto: "udp", Scope: ReachLAN},
		},
	},
	{name: "not a list", in: "postgres: 5432\n", err: `x.yaml:1: the file should be a list of listeners (- {process: NAME, port: N, scope: loopback|lan|any}), not a mapping`},
	{name: "unknown key", in: "- {process: a, scope: any}\n- {proces: a, scope: any}\n", err: `x.yaml:2: unknown key "proces" under a listener; the keys are container, port, process, proto, scope`},
	{name: "bad port", in: "- {port: 70000, scope: any}\n", err: `x.yaml:1: port should be a number from 1 to 65535, not "70000"`},
	{name: "port zero", in: "- {port: 0, scope: any}\n", err: `x.yaml:1: port should be a number from 1 to 65535, not "0"`},
	{name: "bad scope", in: "- {port: 22,\n   scope: public}\n", err: `x.yaml:2: scope should be loopback, lan or any, not "public"`},
	{name: "bad proto", in: "- {port: 22, proto: sctp, scope: any}\n", err: `x.yaml:1: proto should be tcp or udp, not "sctp"`},
	{name: "no scope", in: "- {port: 22}\n", err: `x.yaml:1: a listener needs a scope: the widest it may listen on, loopback, lan or any`},
	{name: "scope only", in: "- {scope: any}\n", err: `x.yaml:1: a listener needs a process or a container, a port, or both`},
	{
		name: "container",
		in:   "- {container: mattermost, port: 8065, scope: loopback}\n- {container: db, scope: loopback}\n",
		want: []Expectation{{Line: 1, Container: "mattermost", Port: 8065, Scope: ReachLoopback}, {Line: 2, Container: "db", Scope: ReachLoopback}},
	},
	{name: "process and container", in: "- {process: a, container: a, scope: any}\n", err: `x.yaml:1: a listener is a process or a container, not both; keep one`},
	{name: "container and process", in: "- {container: a,\n   process: a, scope: any}\n", err: `x.yaml:2: a listener is a process or a container, not both; keep one`},
	{name: "empty container", in: "- {container: \"\", scope: any}\n", err: `x.yaml:1: container should be a container's or compose service's name, not ""`},
	{name: "twice", in: "- {port: 22, port: 23, scope: any}\n", err: `x.yaml:1: "port" is given twice; keep one`},
	{name: "entry not a mapping", in: "- postgres\n", err: `x.yaml:1: a listener should be a mapping of keys, not "postgres"`},
	{name: "empty entry", in: "- {port: 1, scope: any}\n-\n", err: `x.yaml:2: an empty entry; give a listener: {process: NAME, port: N, scope: loopback|lan|any}`},
	{name: "syntax", in: "- {port: 1\n", err: "x.yaml:"},
	{name: "two documents", in: "- {port: 1, scope: any}\n---\n- {port: 2, scope: any}\n", err: "x.yaml:2: a second YAML document (after ---); keep the list in one"},
}

func TestParseExpect(t *testing.T) {
	for _, tt := range expectTests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseExpect([]byte(tt.in), "x.yaml")
			if tt.err != "" {
				if err == nil || (err.Error() != tt.err && !(tt.err == "x.yaml:" && len(err.Error()) > 7 && err.Error()[:7] == "x.yaml:")) {
					t.Fatalf("ParseExpect(%q) error = %v, want %s", tt.in, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseExpect(%q) error %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseExpect() (-want +got):\n%s", diff)
			}
		})
	}
}

func FuzzParseExpect(f *testing.F) {
	for _, tt := range expectTests {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		exps, err := ParseExpect([]byte(in), "fuzz")
		if err != nil {
			return
		}
		for _, e := range exps {
			if (e.Process == "" && e.Container == "" && e.Port == 0) || (e.Process != "" && e.Container != "") || e.Scope < ReachLoopback || e.Scope > ReachAny {
				t.Errorf("ParseExpect(%q) gave %+v", in, e)
			}
		}
	})
}

func TestJudge(t *testing.T) {
	exps, err := ParseExpect([]byte(
		"- {process: postgres, port: 5432, scope: loopback}\n"+
			"- {process: node, port: 3030, scope: any}\n"+
			"- {process: redis-server, scope: loopback}\n"+
			"- {process: redis-server, port: 6379, scope: lan}\n"+
			"- {port: 53, proto: udp, scope: lan}\n"+
			"- {process: systemd-resolved, scope: loopback}\n"), "expect.yaml")
	if err != nil {
		t.Fatal(err)
	}
	l := func(proto, addr string, pid int, proc, path string) Listener {
		ap := netip.MustParseAddrPort(addr)
		return Listener{Proto: proto, Addr: ap, Scope: Classify(ap.Addr()), PID: pid, Process: proc, Path: path}
	}
	type row struct {
		Addr    string
		Verdict Verdict
		Allowed string
		Line    int
		Fix     string
	}
	for _, tt := range []struct {
		name string
		in   Listener
		want row
	}{
		{"database on loopback", l("tcp", "127.0.0.1:5432", 10, "postgres", ""), row{"127.0.0.1:5432", Expected, "loopback", 1, ""}},
		{"database on every interface", l("tcp", "0.0.0.0:5432", 10, "postgres", ""),
			row{"0.0.0.0:5432", TooWide, "loopback", 1, "bind postgres (pid 10) to 127.0.0.1:5432 instead of 0.0.0.0:5432 (expect.yaml:1 allows loopback only)"}},
		{"database on every v6 interface", l("tcp", "[::]:5432", 10, "postgres", ""),
			row{"[::]:5432", TooWide, "loopback", 1, "bind postgres (pid 10) to [::1]:5432 instead of [::]:5432 (expect.yaml:1 allows loopback only)"}},
		{"mapped loopback", l("tcp", "[::ffff:127.0.0.1]:5432", 10, "postgres", ""), row{"[::ffff:127.0.0.1]:5432", Expected, "loopback", 1, ""}},
		{"node anywhere", l("tcp", "[::]:3030", 11, "node", ""), row{"[::]:3030", Expected, "any", 2, ""}},
		{"widest of two matching", l("tcp", "0.0.0.0:6379", 12, "redis-server", ""),
			row{"0.0.0.0:6379", TooWide, "lan", 4, "bind redis-server (pid 12) to this host's LAN address instead of 0.0.0.0:6379, or block tcp port 6379 from outside the LAN in the firewall (expect.yaml:4 allows lan only)"}},
		{"second matching allows", l("tcp", "192.168.1.5:6379", 12, "redis-server", ""), row{"192.168.1.5:6379", Expected, "lan", 4, ""}},
		{"port only, proto differs", l("tcp", "0.0.0.0:53", 13, "dnsmasq", ""),
			row{"0.0.0.0:53", Unexpected, "", 0, "stop dnsmasq (pid 13) or bind it to 127.0.0.1:53; if it is meant to listen, add to expect.yaml: - {process: dnsmasq, port: 53, proto: tcp, scope: any}"}},
		{"port only", l("udp", "10.0.0.1:53", 13, "dnsmasq", ""), row{"10.0.0.1:53", Expected, "lan", 5, ""}},
		{"comm cut at 15", l("udp", "127.0.0.53:53", 14, "systemd-resolve", ""), row{"127.0.0.53:53", Expected, "lan", 5, ""}},
		{"comm cut at 15, other port", l("tcp", "127.0.0.53:5355", 14, "systemd-resolve", ""), row{"127.0.0.53:5355", Expected, "loopback", 6, ""}},
		{"unexpected on loopback", l("tcp", "[::1]:8443", 16, "firewarden-serv", ""),
			row{"[::1]:8443", Unexpected, "", 0, "stop firewarden-serv (pid 16); if it is meant to listen, add to expect.yaml: - {process: firewarden-serv, port: 8443, proto: tcp, scope: loopback}"}},
		{"name from the path", l("tcp", "127.0.0.1:5432", 15, "postmaster", "/usr/lib/postgresql/16/bin/postgres"), row{"127.0.0.1:5432", Expected, "loopback", 1, ""}},
		{"unknown process", l("tcp", "0.0.0.0:9999", 0, "", ""),
			row{"0.0.0.0:9999", Unexpected, "", 0, "stop the process (not found: run as root, or it belongs to another PID namespace such as a container) or bind it to 127.0.0.1:9999; if it is meant to listen, add to expect.yaml: - {process: NAME, port: 9999, proto: tcp, scope: any}"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			js := Judge([]Listener{tt.in}, exps, "expect.yaml")
			if len(js) != 1 {
				t.Fatalf("Judge() = %d judgements, want 1", len(js))
			}
			j := js[0]
			got := row{j.Addr.String(), j.Verdict, j.Allowed, j.ExpectLine, j.Fix}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Judge(%v) (-want +got):\n%s", tt.in.Addr, diff)
			}
		})
	}
}
