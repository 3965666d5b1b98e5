package cli

import (
	"bytes"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/firewarden/firewarden/internal/config"
)

var update = flag.Bool("update", false, "rewrite golden files")

var prefixEq = cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })

// golden compares got with testdata/name; -update rewrites it.
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

// config print: every key, each with where it came from (default, FILE:LINE, --flag); what it
// prints reads back as the configuration in effect.
func TestConfigPrint(t *testing.T) {
	root := linuxRoot(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "firewarden.yaml")
	body := "# a comment\nstate_dir: /srv/fw\nbaseline: /etc/firewarden/baseline.yaml\nguard:\n  threshold:\n    failures: 4\n  weights: {preauth: 0}\n  allowlist: [192.0.2.10]\n  sources:\n    - type: journal\n      units: [ssh.service]\ndetect:\n  live:\n    syslog: udp://192.0.2.1:514\n    webhook: https://hooks.example/T0/secret\n    poll: 90s\n"
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	def := filepath.Join(root, "etc/firewarden/firewarden.yaml")
	for _, tt := range []struct {
		name, golden string
		args         []string
		defaults     string // the default file under the root
	}{
		{"no file", "config-print-default.golden", []string{"config", "print"}, ""},
		{"the default file", "config-print-default-file.golden", []string{"config", "print"}, "guard:\n  backend: none\n"},
		{"--config and --state-dir", "config-print-file.golden", []string{"--config", cfg, "config", "print", "--state-dir", "/tmp/elsewhere"}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			os.Remove(def)
			if tt.defaults != "" {
				os.MkdirAll(filepath.Dir(def), 0o755)
				os.WriteFile(def, []byte(tt.defaults), 0o644)
			}
			out, errs, code := runCLI(t, nil, append([]string{"--root", root}, tt.args...)...)
			if code != 0 || errs != "" {
				t.Fatalf("firewarden %q = exit %d, stderr %q", tt.args, code, errs)
			}
			golden(t, tt.golden, strings.NewReplacer(root, "ROOT", dir, "DIR").Replace(out))
			if _, err := config.Parse("printed", []byte(out)); err != nil {
				t.Errorf("the printed configuration does not parse: %v", err)
			}
		})
	}
}

func TestConfigCheck(t *testing.T) {
	root := linuxRoot(t)
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.yaml", "state_dir: /srv/fw\nguard:\n  threshold: {failures: 4, window: 10m}\ndetect:\n  live: {poll: 0s}\n")
	tests := []struct {
		name     string
		args     []string
		code     int
		out, err string
	}{
		{"no file", []string{"config", "check"}, 0, "configuration OK (no file at /etc/firewarden/firewarden.yaml: the defaults)\n", ""},
		{"a file", []string{"--config", good, "config", "check"}, 0, "configuration OK (" + good + "): 4 values set, every other key its default\n", ""},
		{"an old guard.yaml", []string{"--config", write("guard.yaml", "# the guard\nsources:\n  - type: journal\n"), "config", "check"}, 2, "",
			"firewarden: DIR/guard.yaml:2: sources is a guard setting: put it under `guard:`, indented (every key of an old guard.yaml goes under guard:)\n"},
		{"a live key at the top", []string{"--config", write("live.yaml", "poll: 1m\n"), "config", "check"}, 2, "",
			"firewarden: DIR/live.yaml:1: poll is a detect --live setting: put it under `detect:` then `live:`, indented\n"},
		{"unknown key", []string{"--config", write("typo.yaml", "state_dir: /x\nbaselin: /y\n"), "config", "check"}, 2, "",
			"firewarden: DIR/typo.yaml:2: unknown key \"baselin\"; the keys are baseline, detect, guard, state_dir\n"},
		{"guard error", []string{"--config", write("bad.yaml", "guard:\n  ban:\n    time: 2h\n    max_time: 1h\n"), "config", "check"}, 2, "",
			"firewarden: DIR/bad.yaml:3: ban: time 2h is longer than max_time 1h; raise max_time or shorten time\n"},
		{"guard state_dir", []string{"--config", write("sd.yaml", "guard:\n  state_dir: /x\n"), "config", "check"}, 2, "",
			"firewarden: DIR/sd.yaml:2: state_dir is firewarden's state directory, shared by every command: move it from guard: to the top level of the file\n"},
		{"syntax", []string{"--config", write("syntax.yaml", "guard:\n  threshold: {failures: 3}\n window: 2m\n"), "config", "check"}, 2, "",
			"firewarden: DIR/syntax.yaml:3: not valid YAML: did not find expected key (while parsing a block mapping); check the indentation and quoting there (sections are mappings: `guard:` then keys indented under it)\n"},
		{"missing baseline", []string{"--config", write("bl.yaml", "state_dir: /srv\nbaseline: /etc/firewarden/nope.yaml\n"), "config", "check"}, 2, "",
			"firewarden: DIR/bl.yaml:2: baseline /etc/firewarden/nope.yaml cannot be used: read baseline: open " + root + "/etc/firewarden/nope.yaml: no such file or directory\n"},
		{"missing", []string{"--config", filepath.Join(dir, "nope.yaml"), "config", "check"}, 2, "",
			"firewarden: configuration file DIR/nope.yaml does not exist; create it (`firewarden config print` prints every key) or leave --config out\n"},
		{"no verb", []string{"config"}, 2, "", "firewarden: config needs a verb: print or check; run `firewarden help config`\n"},
		{"an argument", []string{"config", "check", "x.yaml"}, 2, "", "firewarden: config check takes no arguments (got \"x.yaml\"); the file is given with --config FILE\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errs, code := runCLI(t, nil, append([]string{"--root", root}, tt.args...)...)
			errs = strings.ReplaceAll(errs, dir, "DIR")
			if code != tt.code || out != tt.out || errs != tt.err {
				t.Errorf("firewarden %q = exit %d\nstdout %q\nstderr %q\nwant exit %d\nstdout %q\nstderr %q", tt.args, code, out, errs, tt.code, tt.out, tt.err)
			}
		})
	}
}

// Every command reads the configuration file: a broken one is one error line, exit 2, never the
// YAML library's Go types (issue 12: `--config guard.yaml check` named cli.config).
func TestConfigErrorsNameNoGoType(t *testing.T) {
	root := linuxRoot(t)
	cfg := filepath.Join(t.TempDir(), "guard.yaml")
	os.WriteFile(cfg, []byte("sources: []\nthreshold: {failures: 3}\n"), 0o644)
	for _, args := range [][]string{{"check"}, {"evidence", "--verify"}, {"logs", "summarize", "-"}, {"block", "list"}, {"config", "print"}} {
		out, errs, code := runCLI(t, nil, append([]string{"--root", root, "--config", cfg}, args...)...)
		want := "firewarden: " + cfg + ":1: sources is a guard setting: put it under `guard:`, indented (every key of an old guard.yaml goes under guard:)\n"
		if code != 2 || out != "" || errs != want {
			t.Errorf("firewarden --config guard.yaml %q = exit %d, stdout %q, stderr %q; want exit 2 and %q", args, code, out, errs, want)
		}
	}
}

// detect --live takes the defaults of its outputs and poll from detect.live; its flags override
// them.
func TestLiveDefaultsFromConfig(t *testing.T) {
	root := linuxRoot(t)
	cfg := filepath.Join(t.TempDir(), "firewarden.yaml")
	os.WriteFile(cfg, []byte("detect:\n  live:\n    out: /var/log/alerts.jsonl\n    syslog: local\n    webhook: http://192.0.2.1/hook\n    webhook_insecure_http: true\n    poll: 5m\n"), 0o644)
	for _, tt := range []struct {
		name  string
		flags []string
		want  liveConfig
	}{
		{"the file", nil, liveConfig{outFile: root + "/var/log/alerts.jsonl", syslog: "local", webhook: "http://192.0.2.1/hook", webhookHTTP: true, poll: 5 * time.Minute}},
		{"flags override", []string{"--poll", "10s", "--syslog", "udp://192.0.2.2:514", "--out", "a.log"},
			liveConfig{outFile: "a.log", syslog: "udp://192.0.2.2:514", webhook: "http://192.0.2.1/hook", webhookHTTP: true, poll: 10 * time.Second}},
		{"a flag set to its zero", []string{"--poll", "0s", "--webhook-insecure-http=false", "--webhook", "https://h/x"},
			liveConfig{outFile: root + "/var/log/alerts.jsonl", syslog: "local", webhook: "https://h/x", poll: 0}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := &app{Streams: Streams{Out: &bytes.Buffer{}, Err: &bytes.Buffer{}}, getenv: func(string) string { return "" }}
			a.g.root, a.g.config = root, cfg
			fs := a.flagSet("detect")
			var lc liveConfig
			fs.StringVar(&lc.outFile, "out", "", "")
			fs.StringVar(&lc.syslog, "syslog", "", "")
			fs.StringVar(&lc.webhook, "webhook", "", "")
			fs.BoolVar(&lc.webhookHTTP, "webhook-insecure-http", false, "")
			fs.DurationVar(&lc.poll, "poll", time.Minute, "")
			if _, err := a.parse(fs, tt.flags); err != nil {
				t.Fatal(err)
			}
			got := a.liveDefaults(fs, lc)
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(liveConfig{})); diff != "" {
				t.Errorf("liveDefaults(%q) (-want +got):\n%s", tt.flags, diff)
			}
		})
	}
}

// Run as root, firewarden refuses a configuration file another user could change.
func TestConfigFileOthersCanChange(t *testing.T) {
	root := linuxRoot(t)
	cfg := filepath.Join(t.TempDir(), "firewarden.yaml")
	os.WriteFile(cfg, []byte("state_dir: /srv/fw\n"), 0o644)
	run := func(euid int) (string, int) {
		var out, errb bytes.Buffer
		a := &app{Streams: Streams{Out: &out, Err: &errb}, getenv: func(string) string { return "" }, euid: func() int { return euid }}
		a.g.root, a.g.config = root, cfg
		err := a.loadConfig()
		if err != nil {
			return err.Error(), 2
		}
		return "", 0
	}
	os.Chmod(cfg, 0o664)
	if msg, code := run(0); code != 2 || msg != "configuration file "+cfg+" is writable by group or others (mode 0664), and firewarden runs as root: run chmod go-w "+cfg {
		t.Errorf("a group-writable file as root = %q", msg)
	}
	if msg, code := run(1000); code != 0 {
		t.Errorf("a group-writable file as uid 1000 = %q, want it read", msg)
	}
	os.Chmod(cfg, 0o644)
	if os.Geteuid() == 0 {
		os.Chown(cfg, 4321, -1)
		if msg, code := run(0); code != 2 || msg != "configuration file "+cfg+" belongs to uid 4321, and firewarden runs as root: run chown root "+cfg {
			t.Errorf("a file of uid 4321 as root = %q", msg)
		}
	}
}

// Commands that take nothing from the configuration file do not read the default one (a user may
// not be able to), but a --config file is read by every command.
func TestCommandsThatTakeNothingFromTheFile(t *testing.T) {
	root := linuxRoot(t)
	def := filepath.Join(root, "etc/firewarden/firewarden.yaml")
	os.MkdirAll(filepath.Dir(def), 0o755)
	os.WriteFile(def, []byte("guard: [broken]\n"), 0o644)
	broken := "firewarden: /etc/firewarden/firewarden.yaml:1: guard should be a mapping of keys, not a list\n"
	for _, tt := range []struct {
		args     []string
		readsDef bool
	}{
		{[]string{"logs", "summarize", "-"}, false},
		{[]string{"rules", "lint", "-"}, false},
		{[]string{"detect", "rules", "list"}, false},
		{[]string{"version"}, false},
		{[]string{"check"}, true},
		{[]string{"block", "list"}, true},
		{[]string{"config", "check"}, true},
		{[]string{"guard", "--check-config"}, true},
	} {
		_, errs, _ := runCLI(t, nil, append([]string{"--root", root}, tt.args...)...)
		if read := errs == broken; read != tt.readsDef {
			t.Errorf("firewarden %q read the broken default file: %v, want %v (stderr %q)", tt.args, read, tt.readsDef, errs)
		}
	}
}
