//go:build linux

package scan

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/firewarden/firewarden/internal/netnstest"
	"github.com/google/go-cmp/cmp"
)

const netnsHint = "run as root: go test ./internal/exposure/scan -run NetNS"

// nftPath is where Debian's nftables puts nft.
const nftPath = "/usr/sbin/nft"

// target is a server namespace with three listeners behind an nftables rule set that accepts
// their ports, rejects a range with a TCP reset and drops everything else: the target of the
// issue's speed goal.
type target struct {
	pair   *netnstest.Pair
	open   []uint16 // sorted
	closed []uint16 // the rejected range
}

// newTarget builds the target, or skips the test without root, namespaces or nft.
func newTarget(t testing.TB) *target {
	t.Helper()
	if _, err := os.Stat(nftPath); err != nil {
		t.Skipf("needs nft (%v): apt-get install nftables", err)
	}
	p := netnstest.NewPair(t, netnsHint)
	tg := &target{pair: p}
	for _, port := range []int{22, 443} {
		p.Listen(t, port)
	}
	tg.open = []uint16{22, 443, uint16(p.Port)}
	if p.Port < 443 {
		t.Fatalf("the pair's listener took port %d, below the fixed ones", p.Port)
	}
	for port := uint16(1000); port <= 1099; port++ {
		tg.closed = append(tg.closed, port)
	}
	rules := fmt.Sprintf(`table inet fwscan {
	chain input {
		type filter hook input priority 0; policy drop;
		iif "lo" accept
		# neighbour discovery, or IPv6 would not work at all
		meta l4proto ipv6-icmp accept
		tcp dport { 22, 443, %d } accept
		tcp dport 1000-1099 reject with tcp reset
	}
}
`, p.Port)
	file := filepath.Join(t.TempDir(), "target.nft")
	if err := os.WriteFile(file, []byte(rules), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("/usr/sbin/ip", "netns", "exec", p.Server, nftPath, "-f", file).CombinedOutput(); err != nil {
		t.Fatalf("nft -f in the server namespace: %v: %s", err, out)
	}
	return tg
}

// childEnv names the address TestScanNetNSChild scans, and childPingEnv, when set, asks it to
// ping first; only the parent test sets them.
const (
	childEnv     = "FIREWARDEN_SCAN_CHILD_TARGET"
	childPingEnv = "FIREWARDEN_SCAN_CHILD_PING"
)

// scanFromClient scans addr from the client namespace in a child process (this test binary
// under `ip netns exec`), so that every socket is made there without a namespace switch per
// connection, as `firewarden scan` run there would.
func (tg *target) scanFromClient(t testing.TB, addr netip.Addr) *Report {
	t.Helper()
	rep, down := scanFromNS(t, tg.pair.Client, addr, false)
	if down != nil {
		t.Fatalf("child scan: %v", down)
	}
	return rep
}

// scanFromNS scans every port of addr from namespace ns in a child process (see
// scanFromClient), pinging first when ping is set: the report, or the ping's *HostDownError.
func scanFromNS(t testing.TB, ns string, addr netip.Addr, ping bool) (*Report, *HostDownError) {
	t.Helper()
	cmd := exec.Command("/usr/sbin/ip", "netns", "exec", ns, os.Args[0], "-test.run=^TestScanNetNSChild$", "-test.v")
	cmd.Env = append(os.Environ(), childEnv+"="+addr.String())
	if ping {
		cmd.Env = append(cmd.Env, childPingEnv+"=1")
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child scan: %v: %s", err, out)
	}
	if _, js, ok := bytes.Cut(out, []byte("HOSTDOWN ")); ok {
		js, _, _ = bytes.Cut(js, []byte("\n"))
		var down HostDownError
		if err := json.Unmarshal(js, &down); err != nil {
			t.Fatalf("child scan's host-down report: %v", err)
		}
		return nil, &down
	}
	_, js, ok := bytes.Cut(out, []byte("REPORT "))
	if !ok {
		t.Fatalf("child scan printed no report: %s", out)
	}
	js, _, _ = bytes.Cut(js, []byte("\n"))
	var rep Report
	if err := json.Unmarshal(js, &rep); err != nil {
		t.Fatalf("child scan report: %v", err)
	}
	return &rep, nil
}

// TestScanNetNSChild is the child half of TestScanNetNS: it scans every port of the address
// in childEnv and prints the report as JSON.
func TestScanNetNSChild(t *testing.T) {
	target := os.Getenv(childEnv)
	if target == "" {
		t.Skip("the child half of TestScanNetNS, run by it")
	}
	all, _ := ParsePorts("-")
	o := Options{Retries: 1}
	if os.Getenv(childPingEnv) != "" {
		o.Ping = PingPorts(all, nil)
	}
	rep, err := Scan(t.Context(), netip.MustParseAddr(target), all, o)
	var down *HostDownError
	if errors.As(err, &down) {
		js, _ := json.Marshal(down)
		fmt.Printf("HOSTDOWN %s\n", js)
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	js, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("REPORT %s\n", js)
}

func TestScanNetNS(t *testing.T) {
	tg := newTarget(t)
	for _, addr := range []netip.Addr{tg.pair.Server4, tg.pair.Server6} {
		t.Run(addr.String(), func(t *testing.T) {
			rep := tg.scanFromClient(t, addr)
			if diff := cmp.Diff(tg.open, rep.Ports(Open)); diff != "" {
				t.Errorf("open ports (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tg.closed, rep.Ports(Closed)); diff != "" {
				t.Errorf("closed ports (-want +got):\n%s", diff)
			}
			if got, want := rep.Count(Filtered), 65535-len(tg.open)-len(tg.closed); got != want {
				t.Errorf("%d filtered ports, want %d", got, want)
			}
			for _, r := range rep.Results {
				if r.State == Filtered && (r.Reason != ReasonNoResponse || r.Tries != 2) {
					t.Errorf("port %d: filtered (%s) after %d tries, want no-response after 2", r.Port, r.Reason, r.Tries)
					break
				}
			}
			t.Logf("%v: %v, rtt %v, timeout %v, %d tries", addr, rep.End.Sub(rep.Start), rep.RTT, rep.Timeout, rep.Tries)
		})
	}
}

// BenchmarkScanNetNS is the speed target: a full 1-65535 scan, from the client
// namespace, of the target that drops all but three ports (and resets a range). It reports the
// seconds a scan takes; bench/scan-vs-nmap.sh puts nmap beside it.
func BenchmarkScanNetNS(b *testing.B) {
	tg := newTarget(b)
	for b.Loop() {
		start := time.Now()
		rep := tg.scanFromClient(b, tg.pair.Server4)
		if got := rep.Ports(Open); !slices.Equal(got, tg.open) {
			b.Fatalf("open ports %v, want %v", got, tg.open)
		}
		b.ReportMetric(time.Since(start).Seconds(), "s/scan")
	}
}

// dropAll is a server namespace whose nftables rule set drops every packet to it (bar its own
// loopback and IPv6 neighbour discovery): a host that answers nothing.
func dropAll(t testing.TB) *netnstest.Pair {
	t.Helper()
	if _, err := os.Stat(nftPath); err != nil {
		t.Skipf("needs nft (%v): apt-get install nftables", err)
	}
	p := netnstest.NewPair(t, netnsHint)
	rules := `table inet fwdrop {
	chain input {
		type filter hook input priority 0; policy drop;
		iif "lo" accept
		meta l4proto ipv6-icmp accept
	}
}
`
	file := filepath.Join(t.TempDir(), "drop.nft")
	if err := os.WriteFile(file, []byte(rules), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("/usr/sbin/ip", "netns", "exec", p.Server, nftPath, "-f", file).CombinedOutput(); err != nil {
		t.Fatalf("nft -f in the server namespace: %v: %s", err, out)
	}
	return p
}

// TestScanNetNSDropsAll: a full scan of a host that drops everything stops after the ping's
// one wait, naming the pinged ports, instead of waiting the cap on every slot.
func TestScanNetNSDropsAll(t *testing.T) {
	p := dropAll(t)
	for _, addr := range []netip.Addr{p.Server4, p.Server6} {
		t.Run(addr.String(), func(t *testing.T) {
			rep, down := scanFromNS(t, p.Client, addr, true)
			if down == nil {
				t.Fatalf("scan of a host that drops everything = %d open, %d filtered, want a HostDownError", rep.Count(Open), rep.Count(Filtered))
			}
			want := &HostDownError{Ports: []uint16{1, 2, 3, 22, 80, 443}, Waited: down.Waited, Reasons: map[string]int{ReasonNoResponse: 6}}
			if diff := cmp.Diff(want, down); diff != "" {
				t.Errorf("HostDownError (-want +got):\n%s", diff)
			}
			if down.Waited < DefaultTimeout {
				t.Errorf("ping waited %v, want the %v cap (nothing answered)", down.Waited, DefaultTimeout)
			}
		})
	}
}

// BenchmarkScanNetNSDropAll is a full 1-65535 scan of a host that drops everything, with the
// ping (it stops after one wait) and without (the scanner before the ping: every slot-full of
// tries waits the cap, twice with the retry).
func BenchmarkScanNetNSDropAll(b *testing.B) {
	p := dropAll(b)
	for _, ping := range []bool{true, false} {
		name := "ping"
		if !ping {
			name = "no-ping"
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				start := time.Now()
				rep, down := scanFromNS(b, p.Client, p.Server4, ping)
				if ping != (down != nil) {
					b.Fatalf("ping %v: host down %v, report %v", ping, down, rep != nil)
				}
				if rep != nil && rep.Count(Filtered) != 65535 {
					b.Fatalf("%d filtered ports, want 65535", rep.Count(Filtered))
				}
				b.ReportMetric(time.Since(start).Seconds(), "s/scan")
			}
		})
	}
}
