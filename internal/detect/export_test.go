package detect

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"go.yaml.in/yaml/v4"

	"github.com/firewarden/firewarden/internal/detect/event"
	"github.com/firewarden/firewarden/internal/detect/sigma"
)

func exportBuiltin(t *testing.T, format string) []ExportedRule {
	t.Helper()
	rs, err := LoadRules(true)
	if err != nil {
		t.Fatal(err)
	}
	out, _, err := Export(rs, format)
	if err != nil {
		t.Fatalf("Export(builtin, %s) = %v", format, err)
	}
	return out
}

// portableAwaiting are standard-field forms of rules another branch adds to the built-in pack
// (the detectsem branch splits the profiles command out of profile-remove-firewall), so that
// the export keeps working when the branches meet.
var portableAwaiting = map[string]bool{"profile-remove-firewall-cli": true}

// Every built-in rule has a standard-field form or is left out for its logsource category, and
// every form belongs to a built-in rule (or one awaited): a rule added without one would make
// `detect rules export` fail.
func TestExportCoversBuiltins(t *testing.T) {
	rs, err := LoadRules(true)
	if err != nil {
		t.Fatal(err)
	}
	portable, err := portableNames()
	if err != nil {
		t.Fatal(err)
	}
	builtin := map[string]bool{}
	for _, r := range rs.Rules {
		builtin[r.Name] = true
		_, known := taxonomyFields[r.Logsource.Category]
		if known && !slices.Contains(portable, r.Name) {
			t.Errorf("built-in rule %s has no portable/%s.yml", r.Name, r.Name)
		}
	}
	for _, p := range portable {
		if !builtin[p] && !portableAwaiting[p] {
			t.Errorf("portable/%s.yml belongs to no built-in rule", p)
		}
	}
}

// The exported rules are golden files (testdata/export/sigma, testdata/export/firewarden),
// refreshed with -update and reviewed in the diff.
func TestExportGolden(t *testing.T) {
	for _, format := range ExportFormats {
		t.Run(format, func(t *testing.T) {
			dir := filepath.Join("testdata", "export", format)
			out := exportBuiltin(t, format)
			if *update {
				os.RemoveAll(dir)
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				for _, e := range out {
					if err := os.WriteFile(filepath.Join(dir, e.File), e.Data, 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
			var files []string
			for _, e := range out {
				files = append(files, e.File)
				want, err := os.ReadFile(filepath.Join(dir, e.File))
				if err != nil {
					t.Errorf("%v (go test -update writes it)", err)
					continue
				}
				if diff := cmp.Diff(string(want), string(e.Data)); diff != "" {
					t.Errorf("Export(builtin, %s) %s differs from the golden file (-want +got):\n%s", format, e.File, diff)
				}
			}
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				if !slices.Contains(files, e.Name()) {
					t.Errorf("%s: a golden file for no exported rule (go test -update removes it)", filepath.Join(dir, e.Name()))
				}
			}
		})
	}
}

// The exported rules are portable Sigma: each one parses, passes ValidateSigma, reads only
// taxonomy fields (none of firewarden's own), tags with current ATT&CK and no analytic tag, and
// keeps the analytic as an attribute. The firewarden format is the embedded files themselves.
func TestExportSigmaIsPortable(t *testing.T) {
	own := map[string]bool{}
	for _, f := range FieldNames {
		if !slices.Contains(taxonomyFields["process_creation"], f.Name) && !slices.Contains(taxonomyFields["file_event"], f.Name) {
			own[f.Name] = true
		}
	}
	for _, name := range []string{"Tool", "Action", "PlistSet", "EventType", "Raw"} {
		if !own[name] {
			t.Fatalf("%s should be one of firewarden's own fields", name)
		}
	}
	ids := map[string]string{}
	for _, e := range exportBuiltin(t, FormatSigma) {
		t.Run(e.Name, func(t *testing.T) {
			if err := ValidateSigma(e.Data, e.File); err != nil {
				t.Errorf("ValidateSigma(%s) = %v", e.File, err)
			}
			rules, err := sigma.Parse(e.Data, e.File)
			if err != nil {
				t.Fatal(err)
			}
			r := rules[0]
			for _, f := range r.Fields() {
				if own[f] {
					t.Errorf("%s reads firewarden's own field %s", e.File, f)
				}
			}
			if diff := cmp.Diff([]string{"attack.defense-impairment", "attack.t1686"}, r.Tags); diff != "" {
				t.Errorf("%s tags (-want +got):\n%s", e.File, diff)
			}
			if r.Custom[AnalyticKey] != "AN0408" {
				t.Errorf("%s analytic = %v, want AN0408", e.File, r.Custom[AnalyticKey])
			}
			if prev, ok := ids[r.ID]; ok {
				t.Errorf("%s and %s have the same id %s", prev, e.File, r.ID)
			}
			ids[r.ID] = e.File
			if !strings.HasPrefix(e.File, "proc_creation_macos_") && !strings.HasPrefix(e.File, "file_event_macos_") {
				t.Errorf("file name %s does not follow SigmaHQ's convention", e.File)
			}
		})
	}
	for _, e := range exportBuiltin(t, FormatFirewarden) {
		want, err := builtinRules.ReadFile("rules/" + e.File)
		if err != nil || string(want) != string(e.Data) {
			t.Errorf("Export(builtin, firewarden) %s is not the built-in file (%v)", e.File, err)
		}
	}
}

// ValidateSigma refuses what portable Sigma must not hold; each case breaks one thing in an
// otherwise valid rule.
func TestValidateSigma(t *testing.T) {
	const good = `title: t
id: 0b2c1f4e-8d3a-4c5b-9e6f-7a8b9c0d1e2f
related:
    - id: bf22da55-6e92-5171-b191-1afb79e607db
      type: derived
status: test
date: 2026-11-22
tags:
    - attack.defense-impairment
    - attack.t1686
logsource:
    category: process_creation
    product: macos
detection:
    selection:
        Image|endswith: '/pfctl'
        CommandLine|contains: ' -d'
    condition: selection
level: high
`
	if err := ValidateSigma([]byte(good), "good.yml"); err != nil {
		t.Fatalf("ValidateSigma(good) = %v, want nil", err)
	}
	for _, tt := range []struct{ name, old, new, want string }{
		{"derived field", "Image|endswith: '/pfctl'", "Tool: pfctl", "field Tool is not in Sigma's taxonomy"},
		{"file field in process_creation", "Image|endswith", "TargetFilename|endswith", "field TargetFilename is not in Sigma's taxonomy"},
		{"no id", "id: 0b2c1f4e-8d3a-4c5b-9e6f-7a8b9c0d1e2f\n", "", `id "" is not a UUID`},
		{"id not a UUID", "id: 0b2c1f4e-8d3a-4c5b-9e6f-7a8b9c0d1e2f", "id: pf-disable", `id "pf-disable" is not a UUID`},
		{"status", "status: test", "status: production", `status "production"`},
		{"no level", "level: high\n", "", "no level"},
		{"date", "date: 2026-11-22", "date: 22/11/2026", `date "22/11/2026"`},
		{"analytic tag", "- attack.t1686", "- attack.an0408", `tag "attack.an0408" is neither`},
		{"retired tactic", "- attack.defense-impairment", "- attack.defense-evasion", `tag "attack.defense-evasion" is neither`},
		{"tag syntax", "- attack.t1686", "- attack.T1686", "does not follow the tag syntax"},
		{"namespace", "- attack.t1686", "- firewarden.an0408", "in no namespace"},
		{"no product", "    product: macos\n", "", "logsource has no product"},
		{"unknown category", "category: process_creation", "category: registry_set", `category "registry_set"`},
		{"related type", "type: derived", "type: copied", "related entry"},
		{"unparsable", "condition: selection", "condition: selection and", "condition"},
		{"analytic", "level: high\n", "level: high\nanalytic: firewall\n", "analytic firewall is not an ATT&CK analytic ID"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			doc := strings.Replace(good, tt.old, tt.new, 1)
			if doc == good {
				t.Fatalf("%q is not in the rule", tt.old)
			}
			err := ValidateSigma([]byte(doc), "bad.yml")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ValidateSigma(%s) = %v, want an error containing %q", tt.name, err, tt.want)
			}
		})
	}
}

func TestExportTags(t *testing.T) {
	for _, tt := range []struct{ in, want []string }{
		{[]string{"attack.defense-evasion", "attack.t1562.004", "attack.t1686", "attack.an0408"}, []string{"attack.defense-impairment", "attack.t1686"}},
		{[]string{"attack.defense-impairment", "attack.t1686"}, []string{"attack.defense-impairment", "attack.t1686"}},
		// defense-evasion of another technique is not ours to split: stealth or impairment?
		{[]string{"attack.defense-evasion", "attack.t1070.002"}, []string{"attack.defense-evasion", "attack.t1070.002"}},
		{[]string{"Attack.T1562.004", "tlp.clear"}, []string{"attack.t1686", "tlp.clear"}},
		{nil, nil},
	} {
		if got := exportTags(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("exportTags(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// A rule of one's own is exported when it reads only taxonomy fields, and refused, naming the
// fields, when it reads firewarden's own.
func TestExportOwnRules(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	std := write("std.yml", `title: csrutil disable
id: 3f0b8f2e-5a1c-4d2e-8f3a-6b7c8d9e0f1a
status: experimental
date: 2026-12-01
tags: [attack.defense-evasion, attack.t1562.004, attack.an0408]
reason: csrutil disable turns System Integrity Protection off
logsource: {category: process_creation, product: macos}
detection:
    sel:
        Image|endswith: /csrutil
        CommandLine|contains: disable
    condition: sel
level: high
`)
	own := write("own.yml", `title: pfctl by name
id: 4a1c9e3d-6b2f-4e8a-9c1d-2e3f4a5b6c7d
status: experimental
date: 2026-12-01
logsource: {category: process_creation, product: macos}
detection:
    sel:
        Tool: pfctl
        Action: disable
    condition: sel
level: high
`)
	rs, err := LoadRules(false, std)
	if err != nil {
		t.Fatal(err)
	}
	out, _, err := Export(rs, FormatSigma)
	if err != nil {
		t.Fatalf("Export(std.yml) = %v", err)
	}
	if len(out) != 1 || out[0].File != "proc_creation_macos_std.yml" {
		t.Fatalf("Export(std.yml) = %d files (%v), want proc_creation_macos_std.yml", len(out), out)
	}
	for _, want := range []string{"id: 3f0b8f2e-5a1c-4d2e-8f3a-6b7c8d9e0f1a\n", "    - attack.defense-impairment\n    - attack.t1686\n", "analytic: AN0408\n", "Image|endswith: /csrutil", "reason: csrutil disable"} {
		if !strings.Contains(string(out[0].Data), want) {
			t.Errorf("Export(std.yml) lacks %q:\n%s", want, out[0].Data)
		}
	}
	// The firewarden format writes files by their names: two rules files of one name collide.
	other := filepath.Join(t.TempDir(), "std.yml")
	data, _ := os.ReadFile(std)
	if err := os.WriteFile(other, []byte(strings.Replace(string(data), "id: 3f0b8f2e", "id: 3f0b8f2f", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	rs2, err := LoadRules(false, std)
	if err != nil {
		t.Fatal(err)
	}
	rs3, err := LoadRules(false, other)
	if err != nil {
		t.Fatal(err)
	}
	rs2.Rules = append(rs2.Rules, rs3.Rules...)
	if _, _, err := Export(rs2, FormatFirewarden); err == nil || !strings.Contains(err.Error(), "would both be written as std.yml") {
		t.Errorf("Export(two std.yml, firewarden) = %v, want the collision named", err)
	}
	rs, err = LoadRules(false, own)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = Export(rs, FormatSigma)
	if !errors.Is(err, ErrNotPortable) || !strings.Contains(err.Error(), "reads Action, Tool") {
		t.Errorf("Export(own.yml) = %v, want ErrNotPortable naming Action, Tool", err)
	}
}

// exportCaseEvents reads every telemetry file of testdata/cases.
func exportCaseEvents(t *testing.T) []*event.Event {
	t.Helper()
	files, err := filepath.Glob("testdata/cases/*/*")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, name := range files {
		if st, err := os.Stat(name); err != nil || st.IsDir() || slices.Contains([]string{"expected.txt", "want", "allow.yaml"}, filepath.Base(name)) {
			continue
		}
		names = append(names, name)
	}
	return decodeEvents(t, names)
}

// exportGaps are the events of testdata/cases a built-in rule matches and its exported form
// does not, each for a reason its note documents; so is a renamed copy of a tool (known to
// firewarden by its signing ID, to the export by its path). Anything else is a regression.
var exportGaps = map[string]string{
	// The Endpoint Security profile_remove event has no Sigma category.
	"profile-remove-firewall": "profile_remove",
}

// The exported rules against the built-in ones over every event of testdata/cases, each rule
// on the event's own program (a SIEM sees each exec as its own event; firewarden also looks
// inside sudo and sh -c, which the exported rules match when the wrapped program's own exec
// arrives): an exported rule must match every event its built-in rule matches, but for the gaps
// its note documents, and must match nothing its built-in rule does not. The log shows the
// counts (go test -run TestExportAgreement -v).
func TestExportAgreement(t *testing.T) {
	native, err := LoadRules(true)
	if err != nil {
		t.Fatal(err)
	}
	out, _, err := Export(native, FormatSigma)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, e := range out {
		if err := os.WriteFile(filepath.Join(dir, e.File), e.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	exported, err := LoadRules(false, dir)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*Rule{}
	for _, r := range exported.Rules {
		fw, _ := r.Custom["firewarden"].(map[string]any)
		name, _ := fw["rule"].(string)
		byName[name] = r
	}
	evs := exportCaseEvents(t)
	total := map[string][3]int{} // both, native only, exported only
	for _, ev := range evs {
		if ev.Kind == event.Fork || ev.Kind == event.Exit {
			continue
		}
		cmds := Analyse(ev)
		v := view{ev: ev, cmd: &cmds[0]}
		for _, nr := range native.Rules {
			er := byName[nr.Name] // nil: left out of the export, so it matches nothing
			n, x := nr.Match(&v), er != nil && er.Match(&v)
			c := total[nr.Name]
			where := fmt.Sprintf("%s:%d (%s %q)", ev.Input, ev.Line, ev.Kind, ev.CommandLine)
			switch {
			case n && x:
				c[0]++
			case n:
				c[1]++
				renamed := ev.Path != "" && toolOf(&ev.Process) != strings.ToLower(filepath.Base(ev.Path))
				if gap, ok := exportGaps[nr.Name]; !renamed && (!ok || gap != string(ev.Kind)) {
					t.Errorf("%s matches %s, its export does not", nr.Name, where)
				}
			case x:
				c[2]++
				t.Errorf("the export of %s matches %s, the rule does not", nr.Name, where)
			}
			total[nr.Name] = c
		}
	}
	var sum [3]int
	for _, r := range native.Rules {
		c := total[r.Name]
		t.Logf("%-30s both %3d  rule only %3d  export only %3d", r.Name, c[0], c[1], c[2])
		for i := range sum {
			sum[i] += c[i]
		}
	}
	t.Logf("%d events: both %d, rule only %d, export only %d", len(evs), sum[0], sum[1], sum[2])
}

// exportToolPaths are where macOS keeps the tools the rules are about.
var exportToolPaths = map[string]string{
	"pfctl": "/sbin/pfctl", "socketfilterfw": "/usr/libexec/ApplicationFirewall/socketfilterfw",
	"defaults": "/usr/bin/defaults", "PlistBuddy": "/usr/libexec/PlistBuddy", "plutil": "/usr/bin/plutil",
	"launchctl": "/bin/launchctl", "kill": "/bin/kill", "killall": "/usr/bin/killall", "pkill": "/usr/bin/pkill",
	"profiles": "/usr/bin/profiles", "ls": "/bin/ls",
}

// exportCommandLines are command lines written for this test in the shapes the rules' cases
// and reference/detect.md show, spellings the built-in rules normalise included. Each is run
// as its own exec event through every built-in rule and its export; differs names the rules
// whose export decides otherwise, on purpose (see each rule's note).
var exportCommandLines = []struct {
	cmd     string
	differs []string
}{
	{"pfctl -d", nil},
	{"pfctl -vd", nil},
	{"pfctl -dv", nil},
	{"pfctl -D d=1 -s rules", nil},
	{"pfctl -e", nil},
	{"pfctl -X 1234567", nil},
	{"pfctl -E", nil},
	{"pfctl -Fa", nil},
	{"pfctl -F all", nil},
	{"pfctl -F rules", nil},
	{"pfctl -vFr", nil},
	{"pfctl -F Tables", nil},
	{"pfctl -F states", nil},
	{"pfctl -F Sources", nil},
	{"pfctl -F info", nil},
	{"pfctl -k 192.0.2.1", nil},
	{"pfctl -K 192.0.2.1", nil},
	{"pfctl -a com.apple/250.ApplicationFirewall -F all", nil},
	{"pfctl -a com.apple -f /tmp/empty.conf", nil},
	{"pfctl -a com.apple/myvpn -f /tmp/vpn.conf", nil},
	{"pfctl -a mullvad -f /tmp/vpn.conf", nil},
	{"pfctl -a mullvad -F rules", nil},
	{"pfctl -a mullvad -n -f /tmp/vpn.conf", nil},
	{"pfctl -f /etc/pf.conf", nil},
	{"pfctl -ef /etc/pf.conf", nil},
	{"pfctl -f /private/etc/pf.conf -e", nil},
	{"pfctl -f /tmp/open.conf", nil},
	{"pfctl -nf /tmp/open.conf", nil},
	{"pfctl -f -", nil},
	{"pfctl -t bruteforce -T delete 192.0.2.1", nil},
	{"pfctl -t bruteforce -T flush", nil},
	{"pfctl -t bruteforce -T add 192.0.2.1", nil},
	{"pfctl -t bruteforce -T show", nil},
	{"pfctl -s rules", nil},
	{"socketfilterfw --setglobalstate off", nil},
	{"socketfilterfw --setglobalstate=0", nil},
	{"socketfilterfw --setglobalstate on", nil},
	{"socketfilterfw --getglobalstate", nil},
	{"socketfilterfw --setblockall off", nil},
	{"socketfilterfw --setstealthmode disable", nil},
	{"socketfilterfw --setloggingmode off", nil},
	{"socketfilterfw --setloggingmode on", nil},
	{"socketfilterfw --setallowsigned on", nil},
	{"socketfilterfw --setallowsignedapp on", nil},
	{"socketfilterfw --setallowsigned off", nil},
	{"socketfilterfw --add /Applications/Tool.app", nil},
	{"socketfilterfw --unblockapp /usr/local/bin/node", nil},
	{"socketfilterfw --remove /usr/local/bin/node", nil},
	{"socketfilterfw --listapps", nil},
	{"socketfilterfw -k", nil},
	{"killall socketfilterfw", nil},
	{"pkill -9 socketfilterfw", nil},
	{"killall -HUP socketfilterfw", nil},
	{"kill -s HUP socketfilterfw", nil},
	{"killall Finder", nil},
	{"launchctl unload /System/Library/LaunchDaemons/com.apple.alf.agent.plist", nil},
	{"launchctl bootout system/com.apple.pfctl", nil},
	{"launchctl disable system/com.apple.alf", nil},
	{"launchctl list com.apple.alf", nil},
	{"launchctl unload /Library/LaunchDaemons/com.example.agent.plist", nil},
	{"defaults write /Library/Preferences/com.apple.alf globalstate -int 0", nil},
	{"defaults write /Library/Preferences/com.apple.alf globalstate -bool NO", nil},
	{"defaults write /Library/Preferences/com.apple.alf stealthenabled -string 0", nil},
	{"defaults write /Library/Preferences/com.apple.alf allowsignedenabled -bool YES", nil},
	{"defaults write /Library/Preferences/com.apple.alf globalstate -int 1", nil},
	{"defaults write com.apple.alf globalstate -int 0", nil},
	{"defaults write /Users/alice/Library/Preferences/com.apple.alf loggingenabled 0", nil},
	{"defaults read /Library/Preferences/com.apple.alf globalstate", nil},
	{"defaults delete /Library/Preferences/com.apple.alf", nil},
	{"defaults delete /Library/Preferences/com.apple.alf globalstate", nil},
	{"defaults import /Library/Preferences/com.apple.alf /tmp/alf.plist", nil},
	{"PlistBuddy -c 'Set :globalstate 0' /Library/Preferences/com.apple.alf.plist", nil},
	{"PlistBuddy -c 'Delete :exceptions' /Library/Preferences/com.apple.alf.plist", nil},
	{"plutil -replace globalstate -integer 0 /Library/Preferences/com.apple.alf.plist", nil},
	{"plutil -remove stealthenabled /Library/Preferences/com.apple.alf.plist", nil},
	{"defaults write /Library/Preferences/com.apple.security.firewall EnableFirewall -bool false", nil},
	{"defaults write /Library/Preferences/com.apple.security.firewall EnableStealthMode -bool true", nil},
	{"profiles remove -identifier com.example.firewall", nil},
	{"profiles -R -p com.example.alf", nil},
	{"profiles remove -identifier com.example.wifi", nil},
	{"profiles list", nil},
	{"ls -d /tmp", nil},
}

func TestExportCommandLines(t *testing.T) {
	native, err := LoadRules(true)
	if err != nil {
		t.Fatal(err)
	}
	out, _, err := Export(native, FormatSigma)
	if err != nil {
		t.Fatal(err)
	}
	exported := map[string]*sigma.Rule{}
	for _, e := range out {
		rules, err := sigma.Parse(e.Data, e.File)
		if err != nil {
			t.Fatal(err)
		}
		exported[e.Name] = rules[0]
	}
	agree := 0
	for _, tt := range exportCommandLines {
		argv, err := splitShell(tt.cmd)
		if err != nil {
			t.Fatal(err)
		}
		p := exportToolPaths[argv[0]]
		if p == "" {
			t.Fatalf("no path for %s", argv[0])
		}
		argv[0] = p
		ev := &event.Event{Kind: event.Exec, Process: event.Process{Path: p, Argv: argv, ArgvExact: true, CommandLine: strings.Join(argv, " ")}}
		cmds := Analyse(ev)
		v := view{ev: ev, cmd: &cmds[0]}
		var differs []string
		for _, r := range native.Rules {
			er := exported[r.Name] // nil: left out of the export
			if r.Match(&v) != (er != nil && er.Match(&v)) {
				differs = append(differs, fmt.Sprintf("%s (rule %v)", r.Name, r.Match(&v)))
			}
		}
		want := []string{}
		for _, d := range tt.differs {
			want = append(want, d)
		}
		if len(differs) == 0 {
			agree++
		}
		if diff := cmp.Diff(want, differs, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%q: rules whose export decides otherwise (-want +got):\n%s", tt.cmd, diff)
		}
	}
	t.Logf("%d of %d command lines: every export decides as its rule", agree, len(exportCommandLines))
}

// ValidateSigma reads whatever it is given without panicking; seeded with the exported rules.
func FuzzValidateSigma(f *testing.F) {
	for _, format := range ExportFormats {
		files, _ := filepath.Glob(filepath.Join("testdata", "export", format, "*.yml"))
		for _, name := range files {
			if data, err := os.ReadFile(name); err == nil {
				f.Add(data)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ValidateSigma(data, "fuzz.yml")
	})
}

// The exported regular expressions use only what RE2, PCRE (Splunk) and Lucene (Elasticsearch)
// read alike: no flags (Lucene has none), no anchors (Lucene anchors every expression, the
// others none, so each starts and ends with .*), no \s \d \w \b classes or (?…) groups.
func TestExportRegexesArePortable(t *testing.T) {
	forbidden := regexp.MustCompile(`\\[sSdDwWbB]|\(\?|(^|[^[])\^|\$`) // [^…] is a class, allowed
	for _, e := range exportBuiltin(t, FormatSigma) {
		var doc struct {
			Detection map[string]any `yaml:"detection"`
		}
		if err := yaml.Unmarshal(e.Data, &doc); err != nil {
			t.Fatal(err)
		}
		var walk func(key string, v any)
		walk = func(key string, v any) {
			switch v := v.(type) {
			case map[string]any:
				for k, x := range v {
					walk(k, x)
				}
			case []any:
				for _, x := range v {
					walk(key, x)
				}
			case string:
				field, mods, _ := strings.Cut(key, "|")
				if !strings.Contains("|"+mods+"|", "|re|") {
					return
				}
				if mods != "re" {
					t.Errorf("%s: %s|%s: a regular expression with flags", e.File, field, mods)
				}
				if forbidden.MatchString(v) || !strings.HasPrefix(v, ".*") || !strings.HasSuffix(v, ".*") {
					t.Errorf("%s: %s: %q is not written for every backend (.* at both ends; no anchors, flags, \\s-style classes)", e.File, key, v)
				}
			}
		}
		walk("", doc.Detection)
	}
}

// A built-in rule whose category Sigma's taxonomy lacks is left out of the sigma format and
// named, not failed on and not silently dropped; the firewarden format keeps it.
func TestExportSkipsBuiltinWithoutCategory(t *testing.T) {
	rs, err := LoadRules(true)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs.Rules {
		if r.Name == "pf-disable" {
			r.Logsource.Category = "profile_remove"
		}
	}
	out, skipped, err := Export(rs, FormatSigma)
	if err != nil {
		t.Fatal(err)
	}
	want := NotExported{"pf-disable", "its logsource category profile_remove has no counterpart in Sigma's taxonomy"}
	if !slices.Contains(skipped, want) {
		t.Errorf("Export left out %v, want %v among them", skipped, want)
	}
	if len(out) != len(rs.Rules)-len(skipped) {
		t.Errorf("Export wrote %d rules and left out %d, want %d in all", len(out), len(skipped), len(rs.Rules))
	}
	out, skipped, err = Export(rs, FormatFirewarden)
	if err != nil || len(skipped) != 0 || len(out) != len(rs.Rules) {
		t.Errorf("Export(firewarden) = %d rules, %v skipped, %v; want all %d", len(out), skipped, err, len(rs.Rules))
	}
}
