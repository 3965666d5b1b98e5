package exposure_test

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/firewarden/firewarden/internal/exposure"
	"github.com/firewarden/firewarden/internal/posture/baseline"
)

// The linux.firewall.allowed entry a Linux fix suggests for a listener allowed on the LAN only is
// one the baseline reads, once its placeholder is given a prefix. (An external test: the baseline
// imports exposure for its expectation lists.)
func TestFixLinuxAllowedEntry(t *testing.T) {
	ap := netip.MustParseAddrPort("[::]:5432")
	l := exposure.Listener{Proto: "tcp", Addr: ap, Scope: exposure.Classify(ap.Addr()), PID: 20, Process: "postgres"}
	js := exposure.JudgeOn(exposure.Linux, []exposure.Listener{l}, []exposure.Expectation{{Line: 1, Process: "postgres", Scope: exposure.ReachLAN}}, "e.yaml")
	_, rest, ok := strings.Cut(js[0].Fix, "`")
	entry, _, ok2 := strings.Cut(rest, "`")
	if !ok || !ok2 || !strings.Contains(entry, exposure.LinuxAllowedPlaceholder) {
		t.Fatalf("JudgeOn(linux).Fix = %q, want a `- {…, from: [%s]}` entry", js[0].Fix, exposure.LinuxAllowedPlaceholder)
	}
	entry = strings.ReplaceAll(entry, exposure.LinuxAllowedPlaceholder, "192.168.1.0/24")
	b, err := baseline.Parse([]byte("linux:\n  firewall:\n    allowed:\n      " + entry + "\n"))
	if err != nil {
		t.Fatalf("baseline.Parse(%q): %v", entry, err)
	}
	got := b.Linux.Firewall.Allowed
	if len(got) != 1 || got[0].Proto != "tcp" || got[0].From != 5432 || got[0].To != 5432 || len(got[0].Sources) != 1 || got[0].Sources[0].String() != "192.168.1.0/24" {
		t.Errorf("baseline.Parse(%q) allowed = %+v, want tcp 5432 from 192.168.1.0/24", entry, got)
	}
}
