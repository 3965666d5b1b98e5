package detect

import (
	"io/fs"
	"strings"
	"testing"
)

// FuzzLoadRule reads one rule file as Load does (parse, logsource, field checks) and runs the
// result on an event of each class: no panic, every warning names the file, and a rule is
// reported as never matching exactly when it reads unfilled fields and CanMatch says so.
func FuzzLoadRule(f *testing.F) {
	entries, err := fs.ReadDir(builtinRules, "rules")
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		data, err := fs.ReadFile(builtinRules, "rules/"+e.Name())
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, ls := range []string{"product: windows", "product: linux\n  category: profile_remove", "product: macos\n  service: unifiedlog", "category: file_rename", "category: network_connection"} {
		f.Add([]byte("title: t\nlogsource:\n  " + ls + "\ndetection:\n  sel:\n    CommandLine|contains: pfctl\n  condition: sel\n"))
	}
	f.Add([]byte("title: t\nlogsource:\n  product: macos\ndetection:\n  a:\n    OriginalFileName: x\n  b:\n    Image|fieldref: ParentImage\n  condition: a or not b\n"))
	f.Add([]byte("title: broken\ndetection:\n  sel:\n    Image|endswith: /vi\n  condition: sel and missing\n"))
	events := logsourceEvents()
	f.Fuzz(func(t *testing.T, data []byte) {
		rs := &Ruleset{}
		if err := rs.add(data, "f.yml", false); err != nil {
			return
		}
		for _, r := range rs.Rules {
			rs.check(r)
		}
		never := map[string]bool{}
		for _, w := range rs.Warnings {
			if !strings.HasPrefix(w.String(), "f.yml:") || strings.Contains(w.Msg, "\n") {
				t.Errorf("warning %q: want one line starting f.yml:", w)
			}
			if w.Kind == NeverMatches {
				never[w.Rule] = true
			}
		}
		for _, r := range rs.Rules {
			unfilled := false
			for _, fld := range r.Fields() {
				unfilled = unfilled || !KnownField(fld)
			}
			if want := r.Applies() && unfilled && !r.CanMatch(KnownField); never[r.Name] != want {
				t.Errorf("rule %s: reported never matching = %v, want %v", r.Name, never[r.Name], want)
			}
		}
		for _, ev := range events {
			for _, m := range Explain(rs, ev) {
				if !m.Rule.Applies() || m.Rule.applies&classesOf(ev) == 0 {
					t.Errorf("rule %s matched a %s event its logsource does not select", m.Rule.Name, ev.Kind)
				}
				if never[m.Rule.Name] {
					t.Errorf("rule %s, reported as never matching, matched a %s event", m.Rule.Name, ev.Kind)
				}
			}
		}
	})
}
