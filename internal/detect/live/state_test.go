package live_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/firewarden/firewarden/internal/detect/live"
	"github.com/firewarden/firewarden/internal/host"
	"github.com/firewarden/firewarden/internal/host/hosttest"
)

func on() *bool  { return new(true) }
func off() *bool { return new(false) }

func TestReadStateFromEmulatedMac(t *testing.T) {
	pfOn := func() string { return "Status: Enabled for 0 days 11:50:53           Debug: Urgent\n" }
	tests := []struct {
		name  string
		edit  func(*hosttest.MacState)
		pf    func() string
		want  live.State
		nErrs int
	}{
		{"macOS 15 fresh, no pfctl", func(*hosttest.MacState) {}, nil, live.State{ALF: off(), BlockAll: off(), Stealth: off()}, 1},
		{"macOS 15 on, stealth, pf on", func(s *hosttest.MacState) { s.GlobalState, s.Stealth = 1, true }, pfOn,
			live.State{ALF: on(), BlockAll: off(), Stealth: on(), PF: on()}, 0},
		{"macOS 14 block all", func(s *hosttest.MacState) { *s = hosttest.Mac14(); s.GlobalState = 2 }, pfOn,
			live.State{ALF: on(), BlockAll: on(), Stealth: off(), PF: on()}, 0},
		{"managed: the profile's values", func(s *hosttest.MacState) { *s = hosttest.ManagedMac15() }, nil,
			live.State{ALF: on(), BlockAll: off(), Stealth: on()}, 1},
		{"pfctl output not understood", func(s *hosttest.MacState) { s.GlobalState = 1 }, func() string { return "pfctl: /dev/pf: Permission denied\n" },
			live.State{ALF: on(), BlockAll: off(), Stealth: off()}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := hosttest.Mac15()
			tt.edit(&st)
			got, errs := live.ReadState(context.Background(), macRunner{mac: newMac(t, st), pf: tt.pf})
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ReadState() (-want +got):\n%s", diff)
			}
			if len(errs) != tt.nErrs {
				t.Errorf("ReadState() errors = %v, want %d", errs, tt.nErrs)
			}
		})
	}
}

func TestReadStateSocketfilterfwMissing(t *testing.T) {
	root := mustRoot(t, t.TempDir())
	got, errs := live.ReadState(context.Background(), host.ExecRunner{Root: root, Timeout: time.Second})
	if got != (live.State{}) || len(errs) != 2 {
		t.Errorf("ReadState() = %+v, %v; want nothing known and two errors", got, errs)
	}
}

var pfInfoTests = []struct {
	name string
	in   string
	want *bool
}{
	{"BSD enabled (reference/alf.md §7.2)", "Status: Enabled for 0 days 11:50:53           Debug: Urgent\n\nState Table                          Total             Rate\n", on()},
	{"disabled (expected form)", "Status: Disabled                              Debug: Urgent\n", off()},
	{"lower case", "status: x\nStatus: disabled\n", off()},
	{"permission denied", "pfctl: /dev/pf: Permission denied\n", nil},
	{"empty", "", nil},
	{"status word missing", "Status:\n", nil},
}

func TestParsePfInfo(t *testing.T) {
	for _, tt := range pfInfoTests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := live.ParsePfInfo([]byte(tt.in))
			if !cmp.Equal(tt.want, got) || (err == nil) != (tt.want != nil) {
				t.Errorf("ParsePfInfo(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}

func FuzzParsePfInfo(f *testing.F) {
	for _, tt := range pfInfoTests {
		f.Add([]byte(tt.in))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		got, err := live.ParsePfInfo(in)
		if (got == nil) == (err == nil) {
			t.Errorf("ParsePfInfo(%q) = %v, %v: want exactly one of a value and an error", in, got, err)
		}
		if got != nil && !strings.Contains(strings.ToLower(string(in)), "status:") {
			t.Errorf("ParsePfInfo(%q) = %v without a Status line", in, *got)
		}
	})
}

func TestDrops(t *testing.T) {
	tests := []struct {
		name      string
		prev, cur live.State
		want      []string
	}{
		{"nothing changed", live.State{ALF: on(), Stealth: on()}, live.State{ALF: on(), Stealth: on()}, nil},
		{"firewall off hides block-all and stealth", live.State{ALF: on(), BlockAll: on(), Stealth: on()}, live.State{ALF: off(), BlockAll: off(), Stealth: off()}, []string{live.SettingALF}},
		{"block-all off", live.State{ALF: on(), BlockAll: on()}, live.State{ALF: on(), BlockAll: off()}, []string{live.SettingBlockAll}},
		{"stealth off", live.State{Stealth: on()}, live.State{Stealth: off()}, []string{live.SettingStealth}},
		{"pf disabled", live.State{PF: on()}, live.State{PF: off()}, []string{live.SettingPF}},
		{"turning on is no drop", live.State{ALF: off(), PF: off()}, live.State{ALF: on(), PF: on()}, nil},
		{"unknown now is no drop", live.State{ALF: on(), PF: on()}, live.State{}, nil},
		{"unknown before is no drop", live.State{}, live.State{ALF: off()}, nil},
		{"several at once", live.State{ALF: on(), BlockAll: on(), Stealth: on(), PF: on()}, live.State{ALF: on(), BlockAll: off(), Stealth: off(), PF: off()},
			[]string{live.SettingBlockAll, live.SettingStealth, live.SettingPF}},
	}
	at := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, w := range live.Drops(tt.prev, tt.cur, at) {
				got = append(got, w.Setting)
				if w.Before != "on" || w.After != "off" || !w.Time.Equal(at) || w.Area == "" {
					t.Errorf("Drops() gave %+v, want on → off at %v with an area", w, at)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Drops() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWeakeningReason(t *testing.T) {
	w := live.Weakening{Setting: live.SettingStealth, Area: live.ALF, Before: "on", After: "off"}
	want := "the Application Firewall's stealth mode went from on to off (alf.stealth) and no event explained it: the firewall was weakened by an unseen path (a GUI or MDM change, a tool eslogger does not show, or lost events)"
	if got := w.Reason(); got != want {
		t.Errorf("Reason() = %q, want %q", got, want)
	}
}

func TestAreaOf(t *testing.T) {
	tests := []struct {
		tool, domain, file string
		targets            []string
		want               live.Area
	}{
		{"socketfilterfw", "", "", nil, live.ALF},
		{"pfctl", "", "", nil, live.PF},
		{"profiles", "", "", nil, live.ALF},
		{"defaults", "com.apple.alf", "", nil, live.ALF},
		{"plistbuddy", "com.apple.security.firewall", "", nil, live.ALF},
		{"defaults", "com.apple.softwareupdate", "", nil, ""},
		{"launchctl", "", "", []string{"system/com.apple.alf.agent"}, live.ALF},
		{"launchctl", "", "", []string{"com.apple.pfctl"}, live.PF},
		{"killall", "", "", []string{"socketfilterfw"}, live.ALF},
		{"vim", "", "/etc/pf.conf", nil, live.PF},
		{"cp", "", "/private/etc/pf.anchors/com.apple", nil, live.PF},
		{"python3", "", "/Library/Preferences/com.apple.alf.plist", nil, live.ALF},
		{"sh", "", "/tmp/x", nil, ""},
	}
	for _, tt := range tests {
		if got := live.AreaOf(tt.tool, tt.domain, tt.file, tt.targets); got != tt.want {
			t.Errorf("AreaOf(%q, %q, %q, %q) = %q, want %q", tt.tool, tt.domain, tt.file, tt.targets, got, tt.want)
		}
	}
}
