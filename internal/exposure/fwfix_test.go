package exposure

import (
	"context"
	"net/netip"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/firewarden/firewarden/internal/host/hosttest"
	"github.com/firewarden/firewarden/internal/rules"
)

// The fixes of too-wide and unexpected listeners name, after the bind address, the firewall rule
// of the platform: the Application Firewall and pf on a Mac, linux.firewall.allowed on Linux.
func TestJudgeOnFixes(t *testing.T) {
	exps := []Expectation{
		{Line: 1, Process: "redis-server", Scope: ReachLoopback},
		{Line: 2, Process: "postgres", Scope: ReachLAN},
	}
	l := func(proto, addr string, pid int, proc, path string) Listener {
		ap := netip.MustParseAddrPort(addr)
		return Listener{Proto: proto, Addr: ap, Scope: Classify(ap.Addr()), PID: pid, Process: proc, Path: path}
	}
	redis := l("tcp", "0.0.0.0:6379", 12, "redis-server", "/opt/homebrew/bin/redis-server")
	redisNoPath := l("tcp", "0.0.0.0:6379", 12, "redis-server", "")
	redisBlocked := redis
	redisBlocked.Firewall = &Reachability{Verdict: FirewallBlocked, Why: "/opt/homebrew/bin/redis-server is blocked in the Application Firewall"}
	postgres := l("tcp", "[::]:5432", 20, "postgres", "/Applications/Postgres.app/Contents/Versions/16/bin/postgres")
	node := l("udp", "0.0.0.0:3030", 30, "node", "/Users/me/My Apps/node")
	loop := l("tcp", "127.0.0.1:8080", 40, "python3", "/usr/bin/python3")
	for _, tt := range []struct {
		name string
		p    Platform
		in   Listener
		want string
	}{
		{"mac, loopback only", MacOS, redis,
			"bind redis-server (pid 12) to 127.0.0.1:6379 instead of 0.0.0.0:6379 (expect.yaml:1 allows loopback only); or keep other hosts out with the Application Firewall on and `/usr/libexec/ApplicationFirewall/socketfilterfw --add /opt/homebrew/bin/redis-server --blockapp /opt/homebrew/bin/redis-server` (every port of the application), or with the pf rule `block in quick on ! lo0 proto tcp from any to any port 6379`"},
		{"mac, loopback only, no path", MacOS, redisNoPath,
			"bind redis-server (pid 12) to 127.0.0.1:6379 instead of 0.0.0.0:6379 (expect.yaml:1 allows loopback only); or keep other hosts out with the pf rule `block in quick on ! lo0 proto tcp from any to any port 6379`"},
		{"mac, already blocked", MacOS, redisBlocked,
			"bind redis-server (pid 12) to 127.0.0.1:6379 instead of 0.0.0.0:6379 (expect.yaml:1 allows loopback only); the firewall already keeps other hosts out (/opt/homebrew/bin/redis-server is blocked in the Application Firewall)"},
		{"mac, lan only", MacOS, postgres,
			"bind postgres (pid 20) to this host's LAN address instead of [::]:5432, or block it from outside the LAN with the pf rule `block in quick proto tcp from ! <lan> to any port 5432` (table <lan> holding the LAN's prefixes; the Application Firewall cannot tell the LAN from elsewhere) (expect.yaml:2 allows lan only)"},
		{"mac, unexpected, path with a space", MacOS, node,
			"stop node (pid 30) or bind it to 127.0.0.1:3030; or keep other hosts out with the Application Firewall on and `/usr/libexec/ApplicationFirewall/socketfilterfw --add '/Users/me/My Apps/node' --blockapp '/Users/me/My Apps/node'` (every port of the application), or with the pf rule `block in quick on ! lo0 proto udp from any to any port 3030`; if it is meant to listen, add to expect.yaml: - {process: node, port: 3030, proto: udp, scope: any}"},
		{"mac, unexpected on loopback", MacOS, loop,
			"stop python3 (pid 40); if it is meant to listen, add to expect.yaml: - {process: python3, port: 8080, proto: tcp, scope: loopback}"},
		{"linux, loopback only", Linux, redis,
			"bind redis-server (pid 12) to 127.0.0.1:6379 instead of 0.0.0.0:6379 (expect.yaml:1 allows loopback only); or keep other hosts out: leave tcp port 6379 out of the baseline's linux.firewall.allowed and run `firewarden fix`, whose table drops what the list does not allow"},
		{"linux, lan only", Linux, postgres,
			"bind postgres (pid 20) to this host's LAN address instead of [::]:5432, or open it to the LAN only with `- {proto: tcp, port: 5432, from: [LAN-PREFIX]}` in the baseline's linux.firewall.allowed and run `firewarden fix` (expect.yaml:2 allows lan only)"},
		{"linux, unexpected", Linux, node,
			"stop node (pid 30) or bind it to 127.0.0.1:3030; or keep other hosts out: leave udp port 3030 out of the baseline's linux.firewall.allowed and run `firewarden fix`, whose table drops what the list does not allow; if it is meant to listen, add to expect.yaml: - {process: node, port: 3030, proto: udp, scope: any}"},
		{"any platform, loopback only", AnyPlatform, redis,
			"bind redis-server (pid 12) to 127.0.0.1:6379 instead of 0.0.0.0:6379 (expect.yaml:1 allows loopback only)"},
		{"any platform, lan only", AnyPlatform, postgres,
			"bind postgres (pid 20) to this host's LAN address instead of [::]:5432, or block tcp port 5432 from outside the LAN in the firewall (expect.yaml:2 allows lan only)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			js := JudgeOn(tt.p, []Listener{tt.in}, exps, "expect.yaml")
			if diff := cmp.Diff(tt.want, js[0].Fix); diff != "" {
				t.Errorf("JudgeOn(%q, %v).Fix (-want +got):\n%s", tt.p, tt.in.Addr, diff)
			}
		})
	}
}

// The pf rules the fixes suggest parse with firewarden's pf parser and do what they say: the
// keep-out rule blocks other hosts and not loopback, the LAN rule blocks what is outside <lan>.
func TestFixPFRules(t *testing.T) {
	for _, proto := range []string{"tcp", "udp"} {
		l := Listener{Proto: proto, Addr: netip.MustParseAddrPort("0.0.0.0:6379")}
		conf := "table <lan> { 192.168.1.0/24 }\npass in all\n" + pfKeepOut(l) + "\n" + pfLANOnly(l) + "\n"
		for _, tt := range []struct {
			rules  string
			packet string
			want   rules.Action
		}{
			{pfKeepOut(l), proto + " 203.0.113.5:40000 -> 192.168.1.10:6379 in via en0", rules.Deny},
			{pfKeepOut(l), proto + " 127.0.0.1:40000 -> 127.0.0.1:6379 in via lo0", rules.Allow},
			{pfKeepOut(l), proto + " 203.0.113.5:40000 -> 192.168.1.10:6380 in via en0", rules.Allow},
			{pfLANOnly(l), proto + " 203.0.113.5:40000 -> 192.168.1.10:6379 in via en0", rules.Deny},
			{pfLANOnly(l), proto + " 192.168.1.7:40000 -> 192.168.1.10:6379 in via en0", rules.Allow},
		} {
			rs, err := rules.ParsePF([]byte("table <lan> { 192.168.1.0/24 }\npass in all\n"+tt.rules+"\n"), "fix.conf", nil)
			if err != nil {
				t.Fatalf("ParsePF(%q): %v", tt.rules, err)
			}
			p, err := rules.ParsePacket(tt.packet)
			if err != nil {
				t.Fatal(err)
			}
			if got := rs.Eval(&p).Action; got != tt.want {
				t.Errorf("pf %q on %q = %v, want %v", tt.rules, tt.packet, got, tt.want)
			}
		}
		if _, err := rules.ParsePF([]byte(conf), "fix.conf", nil); err != nil {
			t.Errorf("ParsePF(both fix rules) = %v", err)
		}
	}
}

// The socketfilterfw run the fix suggests blocks the application on the emulated Mac, whether or
// not it was in the list before.
func TestFixALFBlockApp(t *testing.T) {
	for _, listed := range []bool{false, true} {
		st := hosttest.Mac15()
		st.GlobalState = 1
		if listed {
			st.Apps = append(st.Apps, hosttest.App{Path: "/opt/homebrew/bin/redis-server"})
		}
		m, err := hosttest.NewMac(t.TempDir(), st)
		if err != nil {
			t.Fatal(err)
		}
		l := Listener{Proto: "tcp", Addr: netip.MustParseAddrPort("0.0.0.0:6379"), Path: "/opt/homebrew/bin/redis-server"}
		if _, err := m.Run(context.Background(), alfBlockApp(l)); err != nil {
			t.Fatalf("%s: %v", alfBlockApp(l), err)
		}
		apps := m.State().Apps
		if i := slices.IndexFunc(apps, func(a hosttest.App) bool { return a.Path == l.Path }); i < 0 || !apps[i].Blocked {
			t.Errorf("after %s (listed before: %t), apps = %+v, want %s blocked", alfBlockApp(l), listed, apps, l.Path)
		}
	}
}
