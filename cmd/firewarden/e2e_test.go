package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"howett.net/plist"

	"github.com/firewarden/firewarden/internal/host/hosttest"
	"github.com/firewarden/firewarden/internal/posture/baseline"
)

var update = flag.Bool("update", false, "rewrite golden files")

// binaries built once for the whole suite.
var fwBin, emuBin string

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "firewarden-e2e-")
	if err != nil {
		panic(err)
	}
	fwBin, emuBin = filepath.Join(dir, "firewarden"), filepath.Join(dir, "macemu")
	for bin, pkg := range map[string]string{fwBin: ".", emuBin: "../../internal/host/hosttest/macemu"} {
		if out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput(); err != nil {
			os.Stderr.Write(out)
			panic("build " + pkg + ": " + err.Error())
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// mac lays out a fake Mac and returns its root.
func mac(t *testing.T, st hosttest.MacState) string {
	t.Helper()
	root := t.TempDir()
	if err := hosttest.Layout(root, st, emuBin); err != nil {
		t.Fatal(err)
	}
	return root
}

type run struct {
	stdout, stderr string
	code           int
}

func firewarden(t *testing.T, root string, args ...string) run {
	t.Helper()
	return firewardenIn(t, nil, append([]string{"--root", root}, args...)...)
}

func state(t *testing.T, root string) hosttest.MacState {
	t.Helper()
	st, err := hosttest.LoadState(root)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", name, diff)
	}
}

func TestCheckFreshMac(t *testing.T) {
	for _, tt := range []struct {
		name string
		st   hosttest.MacState
	}{{"check-macos14.golden", hosttest.Mac14()}, {"check-macos15.golden", hosttest.Mac15()}, {"check-managed15.golden", hosttest.ManagedMac15()}} {
		t.Run(tt.name, func(t *testing.T) {
			root := mac(t, tt.st)
			r := firewarden(t, root, "check")
			wantCode := 1
			if r.code != wantCode || r.stderr != "" {
				t.Errorf("check exit %d stderr %q, want %d and nothing", r.code, r.stderr, wantCode)
			}
			golden(t, tt.name, r.stdout)
			if w := state(t, root).Writes(); len(w) != 0 {
				t.Errorf("check wrote %q", w)
			}
		})
	}
}

// The header names the baseline and where it came from; a baseline file without a name is
// named by its path alone, not by an empty name before it.
func TestCheckHeaderNamesTheBaseline(t *testing.T) {
	dir := t.TempDir()
	named := filepath.Join(dir, "named.yaml")
	unnamed := filepath.Join(dir, "unnamed.yaml")
	os.WriteFile(named, []byte("name: corp\nfirewall:\n  enabled: true\n"), 0o644)
	os.WriteFile(unnamed, []byte("firewall:\n  enabled: true\n"), 0o644)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"check"}, "host fakemac, macOS 15.1, baseline cis-level1 (default)\n"},
		{[]string{"check", "--baseline", named}, "host fakemac, macOS 15.1, baseline corp (" + named + ")\n"},
		{[]string{"check", "--baseline", unnamed}, "host fakemac, macOS 15.1, baseline " + unnamed + "\n"},
	} {
		r := firewarden(t, mac(t, hosttest.Mac15()), tt.args...)
		if first, _, _ := strings.Cut(r.stdout, "\n"); first+"\n" != tt.want {
			t.Errorf("firewarden %q: first line %q, want %q", tt.args, first, tt.want)
		}
	}
}

// The Automox-style worklet evaluation: exit 0 when the firewall is on (state 1 or 2), 1 when off.
func TestCheckOnlyEnabledIsTheWorklet(t *testing.T) {
	for _, tt := range []struct {
		state, code int
	}{{0, 1}, {1, 0}, {2, 0}} {
		st := hosttest.Mac15()
		st.GlobalState = tt.state
		if r := firewarden(t, mac(t, st), "check", "--only", "alf.enabled"); r.code != tt.code {
			t.Errorf("check --only alf.enabled at State = %d: exit %d, want %d\n%s", tt.state, r.code, tt.code, r.stdout)
		}
	}
}

func TestCheckJSON(t *testing.T) {
	r := firewarden(t, mac(t, hosttest.Mac15()), "--json", "check")
	var rec struct {
		Host, OS, OSVersion string
		Results             []struct {
			ID, Status, Expected, Actual string
			Evidence                     []struct{ SHA256 string }
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &rec); err != nil {
		t.Fatalf("--json check output is not JSON: %v\n%s", err, r.stdout)
	}
	mac := 0 // the macOS results; the Linux checks of the default baseline are there too, not applicable
	for _, r := range rec.Results {
		if !strings.HasPrefix(r.ID, "linux.") {
			mac++
		} else if r.Status != "not_applicable" {
			t.Errorf("on a Mac, %s = %s, want not_applicable", r.ID, r.Status)
		}
	}
	if rec.Host != "fakemac" || rec.OS != "macos" || mac != 8 {
		t.Errorf("json = host %q os %q %d macOS results; want fakemac, macos, 8", rec.Host, rec.OS, mac)
	}
	if rec.Results[0].ID != "alf.enabled" || rec.Results[0].Status != "fail" || len(rec.Results[0].Evidence) == 0 {
		t.Errorf("first result = %+v", rec.Results[0])
	}
}

// The default baseline needs four program runs on macOS 15: one socketfilterfw with every getter,
// one launchctl print-disabled for all services, systemsetup -getremotelogin and csrutil status.
func TestProgramRunCount(t *testing.T) {
	for _, tt := range []struct {
		st   hosttest.MacState
		want int
	}{{hosttest.Mac15(), 4}, {hosttest.Mac14(), 4}, {hosttest.Mac26(), 4}} {
		root := mac(t, tt.st)
		firewarden(t, root, "check")
		if calls := state(t, root).Calls; len(calls) != tt.want {
			t.Errorf("macOS %s: check ran %d programs, want %d: %q", tt.st.Version, len(calls), tt.want, calls)
		}
	}
}

func TestFixDryRunThenFixThenIdempotent(t *testing.T) {
	root := mac(t, hosttest.Mac15())
	r := firewarden(t, root, "fix", "--dry-run")
	if r.code != 1 || !strings.Contains(r.stdout, "/usr/libexec/ApplicationFirewall/socketfilterfw --setglobalstate on") {
		t.Errorf("fix --dry-run exit %d:\n%s", r.code, r.stdout)
	}
	if w := state(t, root).Writes(); len(w) != 0 {
		t.Fatalf("fix --dry-run wrote %q", w)
	}
	if _, err := os.Stat(filepath.Join(root, "Library/Application Support/firewarden/backups")); err == nil {
		t.Error("fix --dry-run created a backup directory")
	}

	r = firewarden(t, root, "fix")
	if r.code != 0 {
		t.Fatalf("fix exit %d stderr %q:\n%s", r.code, r.stderr, r.stdout)
	}
	if !regexp.MustCompile(`backup \d{8}T\d{6}Z saved`).MatchString(r.stdout) {
		t.Errorf("fix output names no backup:\n%s", r.stdout)
	}
	st := state(t, root)
	if st.GlobalState != 1 || !st.Stealth || st.Launchd["com.apple.smbd"] != "disabled" || st.Launchd["com.apple.AEServer"] != "disabled" {
		t.Errorf("after fix: global %d stealth %v launchd %v", st.GlobalState, st.Stealth, st.Launchd)
	}
	writes := len(st.Writes())

	r = firewarden(t, root, "fix")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "nothing to fix") {
		t.Errorf("second fix exit %d:\n%s", r.code, r.stdout)
	}
	if got := state(t, root).Writes(); len(got) != writes {
		t.Errorf("second fix wrote %q", got[writes:])
	}
	if r := firewarden(t, root, "check"); r.code != 0 {
		t.Errorf("check after fix exit %d:\n%s", r.code, r.stdout)
	}
}

func TestFixDryRunJSONHasCommands(t *testing.T) {
	r := firewarden(t, mac(t, hosttest.Mac15()), "--json", "fix", "--dry-run", "--only", "alf.stealth")
	var fr struct {
		Planned []struct {
			Key      string
			Commands []struct {
				Path string
				Args []string
			}
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &fr); err != nil {
		t.Fatalf("--json fix --dry-run: %v\n%s", err, r.stdout)
	}
	want := []string{"--setstealthmode", "on"}
	if len(fr.Planned) != 1 || len(fr.Planned[0].Commands) != 1 || fr.Planned[0].Commands[0].Path != "/usr/libexec/ApplicationFirewall/socketfilterfw" || !cmp.Equal(fr.Planned[0].Commands[0].Args, want) {
		t.Errorf("planned = %+v, want one socketfilterfw --setstealthmode on", fr.Planned)
	}
}

func TestFixOnlyEnabled(t *testing.T) {
	root := mac(t, hosttest.Mac15())
	if r := firewarden(t, root, "fix", "--only", "alf.enabled"); r.code != 0 {
		t.Fatalf("fix --only alf.enabled exit %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
	want := [][]string{{"/usr/libexec/ApplicationFirewall/socketfilterfw", "--setglobalstate", "on"}}
	if diff := cmp.Diff(want, state(t, root).Writes()); diff != "" {
		t.Errorf("writes (-want +got):\n%s", diff)
	}
}

func TestRollback(t *testing.T) {
	root := mac(t, hosttest.Mac14())
	if r := firewarden(t, root, "rollback"); r.code != 2 || !strings.Contains(r.stderr, "no backups") {
		t.Errorf("rollback with no backups: exit %d stderr %q", r.code, r.stderr)
	}
	firewarden(t, root, "fix")
	r := firewarden(t, root, "rollback", "--list")
	if r.code != 0 || !strings.Contains(r.stdout, "alf.globalstate=0") {
		t.Errorf("rollback --list exit %d:\n%s", r.code, r.stdout)
	}
	r = firewarden(t, root, "rollback")
	if r.code != 0 {
		t.Fatalf("rollback exit %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
	st := state(t, root)
	if st.GlobalState != 0 || st.Stealth || st.Logging {
		t.Errorf("after rollback: global %d stealth %v logging %v; want the original off/off/off", st.GlobalState, st.Stealth, st.Logging)
	}
	// smbd and AEServer had no launchd override; rollback cannot remove the one fix set and must
	// not turn the services on instead.
	for _, label := range []string{"com.apple.smbd", "com.apple.AEServer"} {
		if got := st.Launchd[label]; got != "disabled" {
			t.Errorf("after rollback %s override = %q, want disabled kept", label, got)
		}
	}
	if !strings.Contains(r.stdout, "kept: File Sharing (SMB) had no launchd override") {
		t.Errorf("rollback does not say why File Sharing stays disabled:\n%s", r.stdout)
	}
	if r := firewarden(t, root, "rollback", "no-such-backup"); r.code != 2 {
		t.Errorf("rollback of an unknown backup: exit %d", r.code)
	}
}

func TestManagedMacFixRefuses(t *testing.T) {
	root := mac(t, hosttest.ManagedMac15())
	r := firewarden(t, root, "fix", "--only", "alf.enabled,alf.stealth")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "nothing to fix") {
		t.Errorf("fix of profile-managed settings: exit %d\n%s", r.code, r.stdout)
	}
	bl := filepath.Join(t.TempDir(), "b.yaml")
	os.WriteFile(bl, []byte("firewall:\n  enabled: true\n  block_all: true\n"), 0o644)
	r = firewarden(t, root, "fix", "--baseline", bl)
	if r.code != 1 || !strings.Contains(r.stdout, "alf.block_all: not changed") || !strings.Contains(r.stdout, "BlockAllIncoming") {
		t.Errorf("fix on a managed Mac: exit %d\n%s", r.code, r.stdout)
	}
	if w := state(t, root).Writes(); len(w) != 0 {
		t.Errorf("fix fought the profile: %q", w)
	}
}

func TestEvidence(t *testing.T) {
	root := mac(t, hosttest.Mac15())
	out := filepath.Join(t.TempDir(), "ev.json")
	r := firewarden(t, root, "evidence", "--out", out)
	if r.code != 1 || !strings.Contains(r.stderr, "chain entry 1") {
		t.Fatalf("evidence exit %d stderr %q", r.code, r.stderr)
	}
	var e struct {
		Seq    int
		Hash   string
		Record struct {
			RunID    string `json:"run_id"`
			Baseline struct{ SHA256 string }
			Results  []struct {
				ID       string
				Evidence []struct {
					Argv     []string
					ExitCode int `json:"exit_code"`
					Stdout   string
					SHA256   string
				}
			}
		}
	}
	data, _ := os.ReadFile(out)
	if err := json.Unmarshal(data, &e); err != nil {
		t.Fatal(err)
	}
	if e.Seq != 1 || len(e.Hash) != 64 || e.Record.Baseline.SHA256 != baseline.Default().Hash || len(e.Record.Results) < 8 {
		t.Errorf("evidence record: seq %d hash %q baseline %q results %d", e.Seq, e.Hash, e.Record.Baseline.SHA256, len(e.Record.Results))
	}
	ev := e.Record.Results[0].Evidence[0]
	if ev.Argv[0] != "/usr/libexec/ApplicationFirewall/socketfilterfw" || !strings.Contains(ev.Stdout, "(State = 0)") || len(ev.SHA256) != 64 {
		t.Errorf("first evidence = %+v", ev)
	}

	r = firewarden(t, root, "evidence", "--format", "csv")
	if !strings.HasPrefix(r.stdout, "rule,status,result,expected,exemption,") || strings.Count(r.stdout, "\n") != 1+len(e.Record.Results) {
		t.Errorf("csv evidence:\n%s", r.stdout)
	}
	r = firewarden(t, root, "evidence", "--verify")
	if r.code != 0 || !strings.Contains(r.stdout, "2 record(s), chain intact") {
		t.Errorf("verify: exit %d %s", r.code, r.stdout)
	}
	chain := filepath.Join(root, "Library/Application Support/firewarden/evidence.jsonl")
	data, _ = os.ReadFile(chain)
	os.WriteFile(chain, bytes.Replace(data, []byte(`"status":"fail"`), []byte(`"status":"pass"`), 1), 0o600)
	r = firewarden(t, root, "evidence", "--verify")
	if r.code != 1 || !strings.Contains(r.stdout, "broken at line 1") {
		t.Errorf("verify after tampering: exit %d %s", r.code, r.stdout)
	}
}

func TestBaselineCommands(t *testing.T) {
	root := mac(t, hosttest.Mac15())
	r := firewarden(t, root, "baseline", "default")
	if _, err := baseline.Parse([]byte(r.stdout)); err != nil || r.code != 0 {
		t.Fatalf("baseline default does not parse back: %v", err)
	}
	r = firewarden(t, root, "baseline", "profile")
	var prof map[string]any
	if _, err := plist.Unmarshal([]byte(r.stdout), &prof); err != nil || r.code != 0 {
		t.Fatalf("baseline profile is not a plist: %v\n%s", err, r.stdout)
	}
	payload := prof["PayloadContent"].([]any)[0].(map[string]any)
	if payload["PayloadType"] != "com.apple.security.firewall" || payload["EnableFirewall"] != true || payload["EnableStealthMode"] != true {
		t.Errorf("payload = %v", payload)
	}
	again := firewarden(t, root, "baseline", "profile")
	if again.stdout != r.stdout {
		t.Error("baseline profile is not deterministic; an MDM would see a new profile every time")
	}
}

func TestBadInput(t *testing.T) {
	root := mac(t, hosttest.Mac15())
	badBaseline := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(badBaseline, []byte("firewall:\n  stealh: true\n"), 0o644)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown command", []string{"frobnicate"}, `unknown command "frobnicate"`},
		{"unknown flag", []string{"check", "--bogus"}, "unknown flag --bogus for check"},
		{"unknown check", []string{"check", "--only", "alf.nope"}, `unknown check "alf.nope"`},
		{"check not in baseline", []string{"check", "--only", "alf.block_all"}, "the baseline does not include these checks"},
		{"bad baseline", []string{"fix", "--baseline", badBaseline}, `line 2: unknown key "stealh" in firewall`},
		{"missing baseline", []string{"check", "--baseline", "/no/such/file.yaml"}, "read baseline"},
		{"bad format", []string{"evidence", "--format", "xml"}, `--format "xml": use json or csv`},
		{"bad root", []string{"--root", "/no/such/dir", "check"}, "does not exist"},
		{"root with no OS", []string{"--root", t.TempDir(), "check"}, "no operating system found under"},
		{"stray argument", []string{"check", "extra"}, `check takes no arguments`},
		{"empty --only", []string{"check", "--only", ","}, `names no check`},
		{"--only partly outside the baseline", []string{"fix", "--only", "alf.enabled,alf.block_all"}, "--only alf.block_all: the baseline does not include"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r run
			if tt.name == "bad root" || tt.name == "root with no OS" {
				r = firewardenRaw(t, tt.args...)
			} else {
				r = firewarden(t, root, tt.args...)
			}
			if r.code != 2 || !strings.Contains(r.stderr, tt.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 {
				t.Errorf("exit %d stderr %q; want 2 and one line containing %q", r.code, r.stderr, tt.want)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(root, "Library/Application Support/firewarden")); err == nil {
		t.Error("bad input left files in the state directory")
	}
	if w := state(t, root).Writes(); len(w) != 0 {
		t.Errorf("bad input wrote %q", w)
	}
}

func firewardenRaw(t *testing.T, args ...string) run {
	t.Helper()
	return firewardenIn(t, nil, args...)
}
