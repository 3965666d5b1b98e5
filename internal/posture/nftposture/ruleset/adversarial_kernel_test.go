//go:build linux

package ruleset

import (
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/firewarden/firewarden/internal/netnstest"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// client is how the probing client shapes its SYN.
type client int

const (
	plainSYN   client = iota
	ecnSYN            // net.ipv4.tcp_ecn=1: the SYN carries ECE and CWR
	dstoptsSYN        // IPv6 only: a destination options header before TCP
)

// TestKernelAdversarial loads rulesets written to make the analysis answer wrongly (issue 17's
// adversarial review) into the server namespace of a veth pair, compares the analysis with the
// verdicts derived by hand, and proves them with a real TCP connection from the client to the
// pair's listener, on a port no rule names: accept is "open", drop "timeout", reject
// "refused". Where the analysis says accept but the kernel blocks (a conservative answer, never
// a pass), why says so.
func TestKernelAdversarial(t *testing.T) {
	tests := []struct {
		file         string
		want         []string // tcp and udp verdicts of both families
		real4, real6 string   // the real connection to the listener; "" not probed
		client       client
		why          string // why the analysis and the real connection differ, when they do
	}{
		{"dormant.nft", []string{"ipv4 tcp accept", "ipv4 udp accept", "ipv6 tcp accept", "ipv6 udp accept"},
			"open", "open", plainSYN, ""},
		{"adv-later-priority.nft", []string{"ipv4 tcp drop", "ipv4 udp drop", "ipv6 tcp drop", "ipv6 udp drop"},
			"timeout", "timeout", plainSYN, ""},
		{"adv-equal-priority.nft", []string{"ipv4 tcp reject", "ipv4 udp reject", "ipv6 tcp reject", "ipv6 udp reject"},
			"refused", "refused", plainSYN, ""},
		{"adv-ct-new-tcp-only.nft", []string{"ipv4 tcp drop", "ipv4 udp accept", "ipv6 tcp drop", "ipv6 udp accept"},
			"timeout", "timeout", plainSYN, ""},
		{"adv-nfproto-ipv4.nft", []string{"ipv4 tcp drop", "ipv4 udp drop", "ipv6 tcp accept", "ipv6 udp accept"},
			"timeout", "open", plainSYN, ""},
		{"adv-ip-only.nft", []string{"ipv4 tcp drop", "ipv4 udp drop", "ipv6 tcp accept", "ipv6 udp accept"},
			"timeout", "open", plainSYN, ""},
		{"adv-goto-return.nft", []string{"ipv4 tcp accept", "ipv4 udp accept", "ipv6 tcp accept", "ipv6 udp accept"},
			"open", "open", plainSYN, ""},
		{"adv-jump-return.nft", []string{"ipv4 tcp drop", "ipv4 udp drop", "ipv6 tcp drop", "ipv6 udp drop"},
			"timeout", "timeout", plainSYN, ""},
		{"adv-limit-drop.nft", []string{"ipv4 tcp accept", "ipv4 udp accept", "ipv6 tcp accept", "ipv6 udp accept"},
			"", "", plainSYN, "the first packets are within the rate and dropped; past it they get in: the analysis says accept, with a note"},
		{"adv-tcp-flags-exact.nft", []string{"ipv4 tcp accept", "ipv4 udp drop", "ipv6 tcp accept", "ipv6 udp drop"},
			"open", "open", ecnSYN, ""},
		{"adv-tcp-flags-exact.nft", []string{"ipv4 tcp accept", "ipv4 udp drop", "ipv6 tcp accept", "ipv6 udp drop"},
			"timeout", "timeout", plainSYN, "a SYN without ECN is dropped, an ECN-setup SYN connects (the case above): the analysis says accept"},
		{"adv-tcp-flags-masked.nft", []string{"ipv4 tcp drop", "ipv4 udp drop", "ipv6 tcp drop", "ipv6 udp drop"},
			"timeout", "timeout", ecnSYN, ""},
		{"adv-ip6-nexthdr.nft", []string{"ipv4 tcp drop", "ipv4 udp drop", "ipv6 tcp accept", "ipv6 udp accept"},
			"", "open", dstoptsSYN, ""},
		{"adv-notrack.nft", []string{"ipv4 tcp accept", "ipv4 udp accept", "ipv6 tcp accept", "ipv6 udp accept"},
			"open", "open", plainSYN, ""},
		{"adv-netdev-ingress.nft", []string{"ipv4 tcp accept", "ipv4 udp accept", "ipv6 tcp accept", "ipv6 udp accept"},
			"timeout", "timeout", plainSYN, "the analysis answers for an interface no rule names, which the ingress chain on vs does not filter"},
	}
	for _, tt := range tests {
		name := tt.file
		if tt.client == ecnSYN {
			name += "/ecn"
		}
		t.Run(name, func(t *testing.T) {
			if _, err := os.Stat("/usr/sbin/nft"); err != nil {
				t.Skip("needs /usr/sbin/nft: apt-get install nftables")
			}
			p := netnstest.NewPair(t, hint)
			if tt.client == ecnSYN {
				netnsRun(t, p.Client, "/usr/sbin/sysctl", "-q", "-w", "net.ipv4.tcp_ecn=1")
			}
			netnsRun(t, p.Server, "/usr/sbin/nft", "-f", filepath.Join("testdata", "kernel", tt.file))
			rs, err := Read(p.ServerFd)
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			a := Analyse(rs)
			got := verdictLines(a, "ipv4 tcp", "ipv4 udp", "ipv6 tcp", "ipv6 udp")
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Analyse(%s) mismatch (-want +got):\n%s\n%s", tt.file, diff, Format(rs))
			}
			for _, c := range []struct {
				to   netip.Addr
				real string
				fam  int
			}{{p.Server4, tt.real4, 0}, {p.Server6, tt.real6, 1}} {
				if c.real == "" {
					continue
				}
				if got := probe(t, p, c.to, tt.client); got != c.real {
					t.Errorf("%s: a connection to %v port %d = %s, want %s", tt.file, c.to, p.Port, got, c.real)
				}
				// Never a pass the kernel does not keep: the analysis' drop or reject is what
				// the connection meets; an accept against a blocked connection is explained.
				v := a.Families[c.fam].Unmatched.Verdict
				if (real(v) != c.real) && (v != Accept || tt.why == "") {
					t.Errorf("%s: the analysis says %s for %v, the kernel %s, with no reason given", tt.file, v, c.to, c.real)
				}
			}
		})
	}
}

// real is the outcome of a connection a verdict stands for.
func real(v Verdict) string {
	switch v {
	case Drop:
		return "timeout"
	case Reject:
		return "refused"
	}
	return "open"
}

// netnsRun runs a program in the named namespace and fails the test when it fails.
func netnsRun(t *testing.T, ns string, argv ...string) {
	t.Helper()
	args := append([]string{"netns", "exec", ns}, argv...)
	if out, err := exec.Command(netnstest.IPPath(t), args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %v: %v: %s", args, err, out)
	}
}

// probe connects from the client to the pair's listener at to and says how it ended: "open",
// "refused" or "timeout".
func probe(t *testing.T, p *netnstest.Pair, to netip.Addr, c client) string {
	t.Helper()
	d := net.Dialer{Timeout: time.Second}
	if c == dstoptsSYN && to.Is6() {
		// Destination options header: next header (filled by the kernel), length 0 (8
		// bytes), one PadN option of 4 bytes.
		opts := string([]byte{0, 0, 1, 4, 0, 0, 0, 0})
		d.Control = func(_, _ string, rc syscall.RawConn) error {
			var serr error
			if err := rc.Control(func(fd uintptr) {
				serr = unix.SetsockoptString(int(fd), unix.IPPROTO_IPV6, unix.IPV6_DSTOPTS, opts)
			}); err != nil {
				return err
			}
			return serr
		}
	}
	return p.Outcome(t, d, netip.AddrPortFrom(to, uint16(p.Port)))
}
