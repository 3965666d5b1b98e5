package exposure

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/firewarden/firewarden/internal/host"
)

// Collect picks the reader by the host's OS and adds what an unprivileged reading misses.
func TestCollect(t *testing.T) {
	p := newFakeProc(t)
	p.file("/proc/net/tcp", procNetTests[0].in)
	p.process("700", "sshd", "/usr/sbin/sshd", map[string]string{"3": "socket:[1002]"})
	root, err := host.NewRoot(p.root)
	if err != nil {
		t.Fatal(err)
	}
	lsof, err := os.ReadFile("testdata/lsof/sonoma-services.txt")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name         string
		os           host.Kind
		unprivileged bool
		listeners    int
		warnings     []string
	}{
		{"linux", host.Linux, false, 3, nil},
		{"linux without root", host.Linux, true, 3, []string{NotRootLinux}},
		{"macos", host.MacOS, false, 14, nil},
		{"macos without root", host.MacOS, true, 14, []string{NotRootMac}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run := &fakeRunner{out: lsof}
			var fwRunner host.Runner
			opts := CollectOptions{Unprivileged: tt.unprivileged, Firewall: func(_ context.Context, r host.Runner, rep *Report) {
				fwRunner = r
				rep.Listeners[0].Firewall = &Reachability{Verdict: FirewallBlocked, Why: "test"}
			}}
			rep, err := Collect(context.Background(), root, host.OS{Kind: tt.os}, run, opts)
			if err != nil {
				t.Fatalf("Collect(%s) error %v", tt.os, err)
			}
			if len(rep.Listeners) != tt.listeners {
				t.Errorf("Collect(%s) = %d listeners, want %d", tt.os, len(rep.Listeners), tt.listeners)
			}
			if fwRunner != host.Runner(run) || rep.Listeners[0].Firewall == nil {
				t.Errorf("Collect(%s) ran the firewall reader with %v, want Collect's runner, and kept its verdicts", tt.os, fwRunner)
			}
			var warns []string
			for _, w := range rep.Warnings {
				if w == NotRootLinux || w == NotRootMac {
					warns = append(warns, w)
				}
			}
			if diff := cmp.Diff(tt.warnings, warns); diff != "" {
				t.Errorf("Collect(%s) privilege warnings (-want +got):\n%s", tt.os, diff)
			}
		})
	}
	if _, err := Collect(context.Background(), root, host.OS{Kind: host.Unknown}, &fakeRunner{}, CollectOptions{}); !errors.Is(err, ErrUnsupportedOS) {
		t.Errorf("Collect(unknown OS) error = %v, want ErrUnsupportedOS", err)
	}
}
