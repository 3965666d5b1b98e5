package detect

import (
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/google/go-cmp/cmp"
	"testing"
	"time"

	"github.com/firewarden/firewarden/internal/detect/event"
	"github.com/firewarden/firewarden/internal/detect/sigma"
)

// matchOne parses one rule and reports whether it matches the first command of ev.
func matchOne(t *testing.T, rule string, ev *event.Event) bool {
	t.Helper()
	rules, err := sigma.Parse([]byte(rule), "test.yml")
	if err != nil {
		t.Fatalf("Parse(%q) = %v", rule, err)
	}
	cmds := Analyse(ev)
	v := view{ev: ev, cmd: &cmds[0]}
	return rules[0].Match(&v)
}

// |fieldref compares two fields of one event: each side must be its own value, not the last
// value the view handed out.
func TestFieldRef(t *testing.T) {
	ev := func(image, parent string) *event.Event {
		return &event.Event{Time: time.Date(2025, 8, 7, 13, 21, 0, 0, time.UTC), Source: "eslogger", Kind: event.Exec,
			Process: event.Process{PID: 500, Path: image, Argv: []string{image}, ArgvExact: true, CommandLine: image,
				User: "alice", UID: 501, EUID: 0, AUID: 501},
			ParentPath: parent}
	}
	for _, tc := range []struct {
		name, rule string
		ev         *event.Event
		want       bool
	}{
		{"different images", "Image|fieldref: ParentImage", ev("/bin/x", "/bin/zsh"), false},
		{"same image", "Image|fieldref: ParentImage", ev("/bin/zsh", "/bin/zsh"), true},
		{"case differs", "Image|fieldref: ParentImage", ev("/bin/ZSH", "/bin/zsh"), true},
		{"cased, case differs", "Image|fieldref|cased: ParentImage", ev("/bin/ZSH", "/bin/zsh"), false},
		{"ids differ", "UID|fieldref: EUID", ev("/bin/x", "/bin/zsh"), false},
		{"ids equal", "UID|fieldref: AUID", ev("/bin/x", "/bin/zsh"), true},
		{"image is not the user", "Image|fieldref: User", ev("/bin/x", "/bin/zsh"), false},
		{"absent reference", "Image|fieldref: ResponsibleImage", ev("/bin/x", "/bin/zsh"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rule := "title: t\ndetection:\n  sel:\n    " + tc.rule + "\n  condition: sel\n"
			if got := matchOne(t, rule, tc.ev); got != tc.want {
				t.Errorf("Match(%s) on Image=%s ParentImage=%s = %v, want %v", tc.rule, tc.ev.Path, tc.ev.ParentPath, got, tc.want)
			}
		})
	}
}

// FieldNames is the one list of the fields firewarden fills: the view serves each of them from a
// full event, and serves nothing else (a field it served but did not list would be reported to
// rule authors as never filled).
func TestFieldNamesAreTheView(t *testing.T) {
	src, err := os.ReadFile("fields.go")
	if err != nil {
		t.Fatal(err)
	}
	var served []string
	for _, m := range regexp.MustCompile(`(?m)^\tcase "(\w+)":`).FindAllStringSubmatch(string(src), -1) {
		served = append(served, m[1])
	}
	var listed []string
	for _, f := range FieldNames {
		listed = append(listed, f.Name)
	}
	slices.Sort(served)
	slices.Sort(listed)
	if diff := cmp.Diff(listed, served); diff != "" {
		t.Errorf("fields the view serves differ from FieldNames (-listed +served):\n%s", diff)
	}
	yes := true
	file := &event.Event{Kind: event.FileModify, Source: "eslogger", Host: "mac", FilePath: "/etc/pf.conf", FileFrom: "/tmp/pf.conf",
		Process: event.Process{Path: "/usr/bin/sudo", Argv: []string{"sudo", "vi"}, CommandLine: "sudo vi", SigningID: "com.apple.sudo", TeamID: "T",
			Platform: &yes, UID: 501, EUID: 0, AUID: 501, User: "alice"}}
	full := *file
	full.Kind = event.Exec
	full.Argv = []string{"sudo", "pfctl", "-a", "com.apple/x", "-t", "bad", "-f", "/tmp/r", "-T", "flush"}
	full.ParentPath, full.ParentCommandLine, full.CurrentDirectory = "/bin/zsh", "-zsh", "/Users/alice"
	full.ResponsiblePath, full.Ancestry, full.Raw = "/Applications/Terminal.app", []string{"/bin/zsh"}, []byte("{}")
	filled := map[string]bool{}
	for _, ev := range []*event.Event{file, &full} {
		cmds := Analyse(ev)
		for i := range cmds {
			v := view{ev: ev, cmd: &cmds[i]}
			for _, f := range FieldNames {
				if _, ok := v.Values(f.Name); ok {
					filled[f.Name] = true
				}
			}
		}
	}
	for _, e := range []*event.Event{
		{Kind: event.Exec, Source: "eslogger", Process: event.Process{Path: "/usr/bin/defaults", Argv: []string{"defaults", "write", "com.apple.alf", "globalstate", "-int", "0"}, UID: 0}},
		{Kind: event.Exec, Source: "eslogger", Process: event.Process{Path: "/usr/libexec/ApplicationFirewall/socketfilterfw", Argv: []string{"socketfilterfw", "--add", "/x"}, UID: 0}},
		{Kind: event.Exec, Source: "eslogger", Process: event.Process{Path: "/bin/kill", Argv: []string{"kill", "-9", "socketfilterfw"}, UID: 0}},
		{Kind: event.Exec, Source: "eslogger", Process: event.Process{Path: "/usr/bin/defaults", Argv: []string{"defaults", "delete", "/Library/Preferences/com.apple.alf"}, UID: 0}},
	} {
		cmds := Analyse(e)
		for i := range cmds {
			v := view{ev: e, cmd: &cmds[i]}
			for _, f := range FieldNames {
				if _, ok := v.Values(f.Name); ok {
					filled[f.Name] = true
				}
			}
		}
	}
	for _, f := range FieldNames {
		if !filled[f.Name] {
			t.Errorf("view.Values(%q) gave no value on any test event; FieldNames says firewarden fills it", f.Name)
		}
	}
}

// Evaluating the rules over the view allocates nothing once the view exists, |fieldref
// included: each field has its own slot rather than a buffer allocated per call.
func TestViewMatchAllocs(t *testing.T) {
	rs, err := LoadRules(true)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := sigma.Parse([]byte("title: t\ndetection:\n  sel:\n    Image|fieldref: ParentImage\n    UID|fieldref: AUID\n  condition: sel\n"), "ref.yml")
	if err != nil {
		t.Fatal(err)
	}
	ev := &event.Event{Kind: event.Exec, Source: "eslogger", ParentPath: "/bin/zsh",
		Process: event.Process{Path: "/sbin/pfctl", Argv: []string{"pfctl", "-d"}, ArgvExact: true, CommandLine: "pfctl -d", UID: 501, EUID: 0, AUID: 501}}
	cmds := Analyse(ev)
	v := &view{ev: ev, cmd: &cmds[0]}
	n := testing.AllocsPerRun(100, func() {
		for _, r := range rs.Rules {
			r.Match(v)
		}
		ref[0].Match(v)
	})
	if n != 0 {
		t.Errorf("matching %d rules on a view allocates %.1f times per event, want 0", len(rs.Rules)+1, n)
	}
}

// Every pair of fields: "A|fieldref: B" holds exactly when a value of A equals (up to ASCII case)
// a value of B, each read on its own and copied; a buffer shared by two fields would make it hold
// for every pair both fill.
func TestFieldRefEveryPair(t *testing.T) {
	yes := true
	ev := &event.Event{Kind: event.Exec, Source: "eslogger", Host: "mac", ParentPath: "/bin/zsh", ParentCommandLine: "-zsh",
		ResponsiblePath: "/bin/zsh", Ancestry: []string{"/bin/zsh", "/sbin/launchd"}, Raw: []byte("{}"),
		Process: event.Process{Path: "/sbin/pfctl", Argv: []string{"pfctl", "-a", "com.apple/x", "-t", "bad", "-T", "flush"}, ArgvExact: true,
			CommandLine: "pfctl -a com.apple/x -t bad -T flush", CurrentDirectory: "/Users/alice", SigningID: "com.apple.pfctl", Platform: &yes, UID: 501, EUID: 0, AUID: 501, User: "alice"}}
	cmds := Analyse(ev)
	for _, a := range FieldNames {
		for _, b := range FieldNames {
			v := view{ev: ev, cmd: &cmds[0]}
			av, _ := v.Values(a.Name)
			av = slices.Clone(av)
			bv, _ := v.Values(b.Name)
			bv = slices.Clone(bv)
			want := false
			for _, x := range av {
				for _, y := range bv {
					want = want || strings.EqualFold(x, y)
				}
			}
			rules, err := sigma.Parse([]byte("title: t\ndetection:\n  sel:\n    "+a.Name+"|fieldref: "+b.Name+"\n  condition: sel\n"), "t.yml")
			if err != nil {
				t.Fatal(err)
			}
			v = view{ev: ev, cmd: &cmds[0]}
			if got := rules[0].Match(&v); got != want {
				t.Errorf("%s|fieldref: %s = %v, want %v (%q vs %q)", a.Name, b.Name, got, want, av, bv)
			}
		}
	}
}
