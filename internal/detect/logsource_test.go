package detect

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/firewarden/firewarden/internal/detect/event"
)

var t0 = time.Date(2025, 8, 7, 13, 21, 0, 0, time.UTC)

// logsourceEvents are one event of each class, all holding "pfctl" in CommandLine (the unified
// log puts its message there) so that a rule on it can only be told apart by its logsource.
func logsourceEvents() map[string]*event.Event {
	proc := event.Process{PID: 700, Path: "/sbin/pfctl", Argv: []string{"pfctl", "-d"}, ArgvExact: true, CommandLine: "pfctl -d", UID: 0, EUID: 0, AUID: 501}
	return map[string]*event.Event{
		"exec eslogger": {Time: t0, Source: "eslogger", Kind: event.Exec, Process: proc},
		"exec santa":    {Time: t0, Source: "santa", Kind: event.Exec, Process: proc},
		"exec ecs":      {Time: t0, Source: "ecs", Kind: event.Exec, Process: proc},
		"file":          {Time: t0, Source: "eslogger", Kind: event.FileModify, Process: proc, FilePath: "/etc/pf.conf"},
		"rename":        {Time: t0, Source: "eslogger", Kind: event.FileModify, Process: proc, FilePath: "/etc/pf.conf", FileFrom: "/tmp/pf.conf"},
		"profile":       {Time: t0, Source: "eslogger", Kind: event.ProfileRemove, Process: proc},
		"log":           {Time: t0, Source: "unifiedlog", Kind: event.Log, Process: event.Process{PID: 700, Path: "/sbin/pfctl", CommandLine: "pfctl -d", UID: 0, EUID: event.Unknown, AUID: event.Unknown}},
		"fork":          {Time: t0, Source: "eslogger", Kind: event.Fork, Process: proc},
	}
}

// A rule is evaluated only on the events its logsource selects: Windows rules never see macOS
// telemetry, process_creation rules never see file events.
func TestLogsourceSelects(t *testing.T) {
	events := logsourceEvents()
	for _, tc := range []struct {
		name, logsource string
		want            []string // the events it matches
		never           string   // for none: what the warning says
	}{
		{"none", "", []string{"exec ecs", "exec eslogger", "exec santa", "file", "log", "profile", "rename"}, ""},
		{"macos", "product: macos", []string{"exec ecs", "exec eslogger", "exec santa", "file", "log", "profile", "rename"}, ""},
		{"linux", "product: linux", []string{"exec ecs"}, ""},
		{"windows", "product: windows", nil, "product windows is not one firewarden produces (it has macos, linux)"},
		{"windows process_creation", "product: windows\n  category: process_creation", nil, "product windows"},
		{"process_creation", "category: process_creation", []string{"exec ecs", "exec eslogger", "exec santa"}, ""},
		{"macos process_creation", "product: macos\n  category: process_creation", []string{"exec ecs", "exec eslogger", "exec santa"}, ""},
		{"linux process_creation", "product: linux\n  category: process_creation", []string{"exec ecs"}, ""},
		{"file_event", "product: macos\n  category: file_event", []string{"file", "rename"}, ""},
		{"file_rename", "category: file_rename", []string{"rename"}, ""},
		{"profile_remove", "product: macos\n  category: profile_remove", []string{"profile"}, ""},
		{"linux profile_remove", "product: linux\n  category: profile_remove", nil, "category profile_remove produces no event of product linux"},
		{"unifiedlog", "product: macos\n  service: unifiedlog", []string{"log"}, ""},
		{"network_connection", "category: network_connection", nil, "category network_connection is not one firewarden produces"},
		{"auditd", "product: linux\n  service: auditd", nil, "service auditd is not one firewarden produces (it has unifiedlog)"},
		{"upper case", "product: MacOS\n  category: Process_Creation", []string{"exec ecs", "exec eslogger", "exec santa"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			rule := "title: t\nlogsource:\n  " + tc.logsource + "\ndetection:\n  sel:\n    CommandLine|contains: pfctl\n  condition: sel\n"
			if tc.logsource == "" {
				rule = strings.Replace(rule, "logsource:\n  \n", "", 1)
			}
			file := filepath.Join(dir, "r.yml")
			if err := os.WriteFile(file, []byte(rule), 0o644); err != nil {
				t.Fatal(err)
			}
			rs, err := LoadRules(false, file)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for name, ev := range events {
				if len(Explain(rs, ev)) > 0 {
					got = append(got, name)
				}
				e := New(rs, Options{Window: -1})
				if n := len(e.Process(ev)); (n > 0) != (len(Explain(rs, ev)) > 0) {
					t.Errorf("%s: Process raised %d alerts, Explain disagrees", name, n)
				}
			}
			if diff := cmp.Diff(tc.want, got, cmpopts.SortSlices(func(a, b string) bool { return a < b }), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("logsource {%s} matched events (-want +got):\n%s", tc.logsource, diff)
			}
			var warned []string
			for _, w := range rs.Warnings {
				warned = append(warned, w.String())
			}
			switch {
			case tc.never == "" && len(warned) > 0:
				t.Errorf("Warnings = %q, want none", warned)
			case tc.never != "" && (len(warned) != 1 || rs.Warnings[0].Kind != NeverApplies || !strings.Contains(warned[0], tc.never) || !strings.HasPrefix(warned[0], file+":1: ")):
				t.Errorf("Warnings = %q, want one NeverApplies at %s:1 saying %q", warned, file, tc.never)
			}
			if got, want := rs.Rules[0].Applies(), tc.never == ""; got != want {
				t.Errorf("Applies() = %v, want %v", got, want)
			}
		})
	}
}

// The built-in pack is all applicable and reads only fields firewarden fills: it loads without
// a warning.
func TestBuiltinRulesWarnNothing(t *testing.T) {
	rs, err := LoadRules(true)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range rs.Warnings {
		t.Errorf("built-in rule: %s", w)
	}
}

// profile-remove-firewall watches the profile_remove event, profile-remove-firewall-cli the
// profiles command; neither fires on the other's event.
func TestProfileRules(t *testing.T) {
	rs, err := LoadRules(true)
	if err != nil {
		t.Fatal(err)
	}
	proc := event.Process{PID: 900, Path: "/usr/bin/profiles", SigningID: "com.apple.profiles", UID: 0, EUID: 0, AUID: 501}
	cli := proc
	cli.Argv = []string{"profiles", "remove", "-identifier", "com.example.firewall"}
	cli.ArgvExact, cli.CommandLine = true, "profiles remove -identifier com.example.firewall"
	for _, tc := range []struct {
		name string
		ev   *event.Event
		want []string
	}{
		{"profile_remove event", &event.Event{Time: t0, Source: "eslogger", Kind: event.ProfileRemove, Process: proc,
			Raw: []byte(`{"event":{"profile_remove":{"profile":{"identifier":"com.example.firewall"}}}}`)}, []string{"profile-remove-firewall"}},
		{"profiles remove", &event.Event{Time: t0, Source: "eslogger", Kind: event.Exec, Process: cli}, []string{"profile-remove-firewall-cli"}},
		{"profiles remove of another profile", &event.Event{Time: t0, Source: "eslogger", Kind: event.Exec, Process: event.Process{
			Path: "/usr/bin/profiles", Argv: []string{"profiles", "remove", "-identifier", "com.example.wifi"}, ArgvExact: true, UID: 0, EUID: 0}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, m := range Explain(rs, tc.ev) {
				got = append(got, m.Rule.Name)
			}
			if diff := cmp.Diff(tc.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Explain(%s) rules (-want +got):\n%s", tc.name, diff)
			}
		})
	}
}
