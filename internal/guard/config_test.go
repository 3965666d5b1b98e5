package guard

import (
	"errors"
	"io"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v4"

	"github.com/firewarden/firewarden/internal/authwatch"
)

var prefixEq = cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })

// parseSection parses in as the body of a guard section, as package config hands it over.
func parseSection(name, in string) (*Config, Lines, error) {
	var doc yaml.Node
	l, err := yaml.NewLoader(strings.NewReader(in))
	if err == nil {
		err = l.Load(&doc)
	}
	if errors.Is(err, io.EOF) {
		return ParseSection(name, nil) // no document: no guard section
	}
	if err != nil {
		return nil, nil, err
	}
	n := &doc
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	} else if n.Kind == yaml.DocumentNode || n.Kind == 0 {
		n = nil
	}
	return ParseSection(name, n)
}

// WriteYAML's output parses back to the configuration written, for the defaults and for a
// configuration that sets every kind of value.
func TestWriteYAMLRoundTrip(t *testing.T) {
	full := Default()
	full.Sources = []SourceConfig{{Type: SourceJournal, Units: []string{"ssh.service", "yes"}}, {Type: SourceFile, Path: "/var/log/a b.log"}, {Type: SourceUnifiedLog}}
	full.Failures, full.Window, full.BanTime, full.MaxBanTime = 2.5, 90*time.Second, time.Hour, 30*24*time.Hour
	full.BanRate, full.BanRatePer, full.MaxBans, full.MaxTracked, full.InvalidUserFactor = 5, 10*time.Second, 7, 100, 1
	full.Weights[authwatch.KindPreauth] = 0.25
	full.Backend = "dry-run"
	full.Allowlist = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("2001:db8::1/128")}
	for name, c := range map[string]*Config{"defaults": Default(), "every value set": full} {
		t.Run(name, func(t *testing.T) {
			var b strings.Builder
			if err := c.WriteYAML(&b, "", func(string) string { return "default" }); err != nil {
				t.Fatal(err)
			}
			got, _, err := parseSection("printed", b.String())
			if err != nil {
				t.Fatalf("ParseSection(WriteYAML()) = %v\n%s", err, b.String())
			}
			if diff := cmp.Diff(c, got, prefixEq); diff != "" {
				t.Errorf("ParseSection(WriteYAML()) (-want +got):\n%s\n%s", diff, b.String())
			}
		})
	}
}

func TestParseSectionLines(t *testing.T) {
	in := "threshold:\n  window: 10m\nweights:\n  preauth: 0\nsources:\n  - type: file\n    path: /x\nban: {rate: 5/1m}\n"
	_, lines, err := parseSection("g.yaml", in)
	if err != nil {
		t.Fatal(err)
	}
	want := Lines{"threshold": 1, "threshold.window": 2, "weights": 3, "weights.preauth": 4, "sources": 5, "ban": 8, "ban.rate": 8}
	if diff := cmp.Diff(want, lines); diff != "" {
		t.Errorf("ParseSection(%q) lines (-want +got):\n%s", in, diff)
	}
}

func TestDefaultWeightsCoverEveryKind(t *testing.T) {
	w := DefaultWeights()
	ks := Kinds()
	if len(ks) < 13 {
		t.Fatalf("Kinds() = %v, want at least the 13 kinds authwatch documents", ks)
	}
	for _, k := range ks {
		if _, ok := w[k]; !ok {
			t.Errorf("DefaultWeights() has no weight for %s", k)
		}
	}
	if len(w) != len(ks) {
		t.Errorf("DefaultWeights() has %d entries, want %d", len(w), len(ks))
	}
}

func TestParseConfig(t *testing.T) {
	def := Default
	with := func(f func(c *Config)) *Config { c := def(); f(c); return c }
	tests := []struct {
		name string
		in   string
		want *Config
	}{
		{"empty", "", def()},
		{"comments only", "# nothing\n", def()},
		{"null document", "~\n", def()},
		{"empty sections", "threshold:\nban:\nweights:\n", def()},
		{"threshold", "threshold:\n  failures: 5\n  window: 10m\n", with(func(c *Config) { c.Failures, c.Window = 5, 10*time.Minute })},
		{"fractional threshold", "threshold: {failures: 2.5}\n", with(func(c *Config) { c.Failures = 2.5 })},
		{"days", "ban:\n  time: 1h\n  max_time: 30d\n", with(func(c *Config) { c.BanTime, c.MaxBanTime = time.Hour, 30*24*time.Hour })},
		{"rate", "ban: {rate: 5/10s, max_bans: 1_000}\n", with(func(c *Config) { c.BanRate, c.BanRatePer, c.MaxBans = 5, 10*time.Second, 1000 })},
		{"rate unit only", "ban: {rate: 100/h}\n", with(func(c *Config) { c.BanRate, c.BanRatePer = 100, time.Hour })},
		{"weights merge", "weights:\n  preauth: 0\n  no-ident: 0.25\n", with(func(c *Config) {
			c.Weights[authwatch.KindPreauth], c.Weights[authwatch.KindNoIdent] = 0, 0.25
		})},
		{"allowlist", "allowlist:\n  - 192.0.2.0/24\n  - 2001:db8::1\n  - \"::ffff:198.51.100.7\"\n", with(func(c *Config) {
			c.Allowlist = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("2001:db8::1/128"), netip.MustParsePrefix("198.51.100.7/32")}
		})},
		{"sources", "sources:\n  - type: journal\n    units: [ssh.service, sshd.service]\n  - type: file\n    path: /var/log/auth.log\n  - {type: unifiedlog}\n", with(func(c *Config) {
			c.Sources = []SourceConfig{{Type: "journal", Units: []string{"ssh.service", "sshd.service"}}, {Type: "file", Path: "/var/log/auth.log"}, {Type: "unifiedlog"}}
		})},
		{"backend and caps", "backend: dry-run\nmax_tracked: 100\ninvalid_user_factor: 1\n", with(func(c *Config) {
			c.Backend, c.MaxTracked, c.InvalidUserFactor = "dry-run", 100, 1
		})},
		{"aggressive mode", "mode: aggressive\n", with(func(c *Config) { c.Mode, c.Weights = ModeAggressive, ModeWeights(ModeAggressive) })},
		{"weights override the mode, before it", "weights: {preauth: 0.5}\nmode: aggressive\n", with(func(c *Config) {
			c.Mode, c.Weights = ModeAggressive, ModeWeights(ModeAggressive)
			c.Weights[authwatch.KindPreauth] = 0.5
		})},
		{"weights override the mode, after it", "mode: aggressive\nweights: {timeout: 0}\n", with(func(c *Config) {
			c.Mode, c.Weights = ModeAggressive, ModeWeights(ModeAggressive)
			c.Weights[authwatch.KindTimeout] = 0
		})},
		{"max sessions", "max_sessions: 100\n", with(func(c *Config) { c.MaxSessions = 100 })},
		{"anchors", "x: &w 20m\nthreshold: {window: *w}\n", nil}, // unknown key x: anchors need a known key
		{"alias", "threshold: &t {window: 20m}\n", with(func(c *Config) { c.Window = 20 * time.Minute })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := parseSection("g.yaml", tt.in)
			if tt.want == nil {
				if err == nil {
					t.Fatalf("ParseSection(%q) = nil error, want one", tt.in)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseSection(%q) = %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, got, prefixEq); diff != "" {
				t.Errorf("ParseSection(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestParseConfigErrors(t *testing.T) {
	tests := []struct {
		name, in string
		want     string // the whole message
	}{
		{"unknown top key", "threshold:\n  failures: 3\nbanned: 1\n", `g.yaml:3: unknown key "banned" under guard; the keys are allowlist, backend, ban, invalid_user_factor, max_sessions, max_tracked, mode, sources, threshold, weights`},
		{"unknown nested key", "threshold:\n  failure: 3\n", `g.yaml:2: unknown key "failure" under threshold; the keys are failures, window`},
		{"unknown kind", "weights:\n  failed: 1\n  guessed: 2\n", `g.yaml:3: unknown key "guessed" under weights; the keys are bad-banner, failed, failed-key, invalid-user, max-attempts, no-ident, no-kex, not-allowed, pam, penalty, preauth, refused, root-refused, timeout`},
		{"zero threshold", "threshold:\n  failures: 0\n", `g.yaml:2: threshold.failures "0": give a number of failures above 0 and at most 10000, e.g. 10`},
		{"negative threshold", "threshold: {failures: -3}\n", `g.yaml:1: threshold.failures "-3": give a number of failures above 0 and at most 10000, e.g. 10`},
		{"tiny threshold", "threshold: {failures: 0.001}\n", `g.yaml:1: threshold.failures "0.001" is below the counting unit 0.01; give at least 0.01`},
		{"word threshold", "threshold: {failures: ten}\n", `g.yaml:1: threshold.failures "ten": give a number of failures above 0 and at most 10000, e.g. 10`},
		{"bad window", "threshold:\n  window: 30 minutes\n", `g.yaml:2: threshold.window "30 minutes": give a duration such as 30s, 15m, 2h or 7d`},
		{"zero window", "threshold:\n  window: 0s\n", `g.yaml:2: threshold.window 0s: give a duration from 1s to 7d`},
		{"negative ban", "ban:\n  time: -5m\n", `g.yaml:2: ban.time -5m: give a duration from 1s to 3650d`},
		{"ban over max", "ban:\n  time: 2h\n  max_time: 1h\n", `g.yaml:2: ban: time 2h is longer than max_time 1h; raise max_time or shorten time`},
		{"bad rate", "ban:\n  rate: fast\n", `g.yaml:2: ban.rate "fast": give bans per duration, such as 60/1m or 5/10s`},
		{"zero rate", "ban:\n  rate: 0/1m\n", `g.yaml:2: ban.rate "0/1m": give bans per duration, such as 60/1m or 5/10s`},
		{"rate period", "ban:\n  rate: 5/1ms\n", `g.yaml:2: ban.rate "5/1ms": give bans per duration of 1s to 24h, such as 60/1m or 5/10s`},
		{"max bans", "ban:\n  max_bans: 0\n", `g.yaml:2: ban.max_bans "0": give a whole number from 1 to 1000000`},
		{"weight range", "weights:\n  failed: 101\n", `g.yaml:2: weights.failed "101": give a number from 0 to 100`},
		{"weight negative", "weights:\n  preauth: -1\n", `g.yaml:2: weights.preauth "-1": give a number from 0 to 100`},
		{"weight list", "weights:\n  failed: [1]\n", `g.yaml:2: weights.failed should be a single value, not a list`},
		{"factor", "invalid_user_factor: 0\n", `g.yaml:1: invalid_user_factor "0": give a number from 0.01 to 10`},
		{"backend", "backend: iptables\n", `g.yaml:1: backend "iptables": use nft, pf, dry-run or none (or leave it out for the host's default)`},
		{"allowlist host name", "allowlist:\n  - example.com\n", `g.yaml:2: allowlist: "example.com": host names are not allowed (afctl said: No DNS names allowed); give an address or a CIDR prefix`},
		{"allowlist scalar", "allowlist: 192.0.2.1\n", `g.yaml:1: allowlist should be a list of addresses or CIDR prefixes, not "192.0.2.1"`},
		{"source without type", "sources:\n  - path: /var/log/auth.log\n", `g.yaml:2: a source needs a type: journal, file or unifiedlog`},
		{"source relative path", "sources:\n  - type: file\n    path: auth.log\n", `g.yaml:2: a file source needs an absolute path (path: /var/log/auth.log)`},
		{"source unknown type", "sources:\n  - type: syslog\n", `g.yaml:2: source type "syslog": use journal, file or unifiedlog`},
		{"source unknown key", "sources:\n  - type: file\n    file: /x\n", `g.yaml:3: unknown key "file" under a source; the keys are path, type, units`},
		{"journal path", "sources:\n  - type: journal\n    path: /x\n", `g.yaml:2: a journal source takes units, not a path`},
		{"sources map", "sources:\n  type: journal\n", `g.yaml:2: sources should be a list (e.g. ` + "`- type: journal`" + `), not a mapping`},
		{"top list", "- a\n- b\n", `g.yaml:1: guard should be a mapping of keys, not a list`},
		{"top scalar", "hello\n", `g.yaml:1: guard should be a mapping of keys, not "hello"`},
		{"duplicate", "max_tracked: 100\nmax_tracked: 200\n", `g.yaml:2: "max_tracked" is given twice; keep one`},
		{"unknown mode", "mode: ddos\n", `g.yaml:1: mode "ddos": use normal or aggressive`},
		{"sessions too small", "max_sessions: 1\n", `g.yaml:1: max_sessions "1": give a whole number from 16 to 1000000`},
		{"tracked too small", "max_tracked: 3\n", `g.yaml:1: max_tracked "3": give a whole number from 16 to 10000000`},
		{"state dir moved", "threshold: {failures: 3}\nstate_dir: /var/lib/x\n", `g.yaml:2: state_dir is firewarden's state directory, shared by every command: move it from guard: to the top level of the file`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _, err := parseSection("g.yaml", tt.in)
			if err == nil {
				t.Fatalf("ParseSection(%q) = %+v, want an error", tt.in, c)
			}
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("ParseSection(%q) error %T %v, want *ConfigError", tt.in, err, err)
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Errorf("ParseSection(%q) error spans lines: %q", tt.in, msg)
			}
			if !strings.HasPrefix(msg, "g.yaml:") {
				t.Errorf("ParseSection(%q) = %q, want it to start with the file name", tt.in, msg)
			}
			if tt.want != "" && msg != tt.want {
				t.Errorf("ParseSection(%q) = %q\nwant %q", tt.in, msg, tt.want)
			}
			if tt.want == "" {
				t.Logf("%s", msg)
			}
		})
	}
}

func TestSummary(t *testing.T) {
	c := Default()
	want := "ban after 10 failures (mode normal) in 30m for 15m (doubling up to 7d); at most 100000 bans, 60 per 1m; 0 extra allowlist entries; the OS default sources; the default backend"
	if got := c.Summary(); got != want {
		t.Errorf("Default().Summary() = %q\nwant %q", got, want)
	}
	c.Sources = []SourceConfig{{Type: SourceFile, Path: "/var/log/auth.log"}, {Type: SourceJournal, Units: []string{"ssh.service"}}}
	c.Backend = "nft"
	if got := c.Summary(); !strings.HasSuffix(got, "; file /var/log/auth.log, journal (ssh.service); nft") {
		t.Errorf("Summary() = %q, want the sources and backend at its end", got)
	}
	c.Mode = ModeAggressive
	if got := c.Summary(); !strings.HasPrefix(got, "ban after 10 failures (mode aggressive) in 30m") {
		t.Errorf("Summary() with mode aggressive = %q, want the mode named", got)
	}
}

func TestParseRate(t *testing.T) {
	tests := []struct {
		in  string
		n   int
		per time.Duration
		ok  bool
	}{
		{"60/1m", 60, time.Minute, true},
		{"60/m", 60, time.Minute, true},
		{" 5 / 10s ", 5, 10 * time.Second, true},
		{"1/1d", 1, 24 * time.Hour, true},
		{"1/2d", 0, 0, false},
		{"60", 0, 0, false},
		{"x/1m", 0, 0, false},
		{"-1/1m", 0, 0, false},
		{"1/", 0, 0, false},
		{"1/0s", 0, 0, false},
	}
	for _, tt := range tests {
		n, per, err := ParseRate(tt.in)
		if (err == nil) != tt.ok || n != tt.n || per != tt.per {
			t.Errorf("ParseRate(%q) = %d, %v, %v; want %d, %v, ok %v", tt.in, n, per, err, tt.n, tt.per, tt.ok)
		}
	}
}

// FuzzParseSection: no panic; an error is one *ConfigError line naming the file; a config that
// parses is within the documented limits. (Text that is not YAML is package config's to report.)
func FuzzParseSection(f *testing.F) {
	var def strings.Builder
	Default().WriteYAML(&def, "", func(string) string { return "default" })
	f.Add(def.String())
	for _, s := range []string{"", "threshold:\n  failures: 3\nbanned: 1\n", "ban:\n  time: 2h\n  max_time: 1h\n",
		"sources:\n  - type: journal\n    units: [ssh.service]\n  - type: file\n    path: /var/log/auth.log\n",
		"weights: {preauth: 0, failed: 2}\n", "allowlist: [192.0.2.0/24, \"2001:db8::/32\"]\n", "x: &a [*a]\n",
		"a: &a {b: *a}\nthreshold: *a\n", "threshold: {failures: 1e308}\n", "ban: {rate: 5/10s}\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		c, _, err := parseSection("f.yaml", in)
		var le *yaml.LoadErrors
		var l1 *yaml.LoadError
		if errors.As(err, &le) || errors.As(err, &l1) {
			return // not YAML: package config reports it
		}
		if err != nil {
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("ParseSection(%q) error %T, want *ConfigError", in, err)
			}
			if msg := err.Error(); strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "f.yaml") {
				t.Fatalf("ParseSection(%q) error %q: want one line starting with the file name", in, msg)
			}
			return
		}
		if c.Failures <= 0 || c.Window <= 0 || c.BanTime <= 0 || c.BanTime > c.MaxBanTime || c.MaxBans < 1 || c.BanRate < 1 || c.BanRatePer <= 0 || c.MaxTracked < 16 {
			t.Fatalf("ParseSection(%q) = %+v: out of the documented limits", in, c)
		}
		for _, k := range Kinds() {
			if w, ok := c.Weights[k]; !ok || w < 0 || w > maxWeight {
				t.Fatalf("ParseSection(%q): weight of %s = %v, %v", in, k, w, ok)
			}
		}
	})
}

// TestModeWeights pins each mode's table: normal counts the authentication failures only (as
// fail2ban's normal mode); aggressive is the guard's defaults from before modes, but for a valid
// user's failed key, which counted as a failed password then.
func TestModeWeights(t *testing.T) {
	tests := []struct {
		mode string
		want map[string]float64
	}{
		{ModeNormal, map[string]float64{"failed": 1, "invalid-user": 1, "not-allowed": 1, "root-refused": 1, "max-attempts": 2, "pam": 1,
			"preauth": 0, "no-ident": 0, "bad-banner": 0, "no-kex": 0, "timeout": 0, "penalty": 2, "refused": 1, "failed-key": 0.2}},
		{ModeAggressive, map[string]float64{"failed": 1, "invalid-user": 1, "not-allowed": 1, "root-refused": 1, "max-attempts": 2, "pam": 1,
			"preauth": 0.2, "no-ident": 0, "bad-banner": 0.5, "no-kex": 0.5, "timeout": 0.1, "penalty": 2, "refused": 1, "failed-key": 0.2}},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			got := map[string]float64{}
			for k, w := range ModeWeights(tt.mode) {
				if _, named := tt.want[k.String()]; named || w != 1 {
					got[k.String()] = w // kinds added later count 1
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ModeWeights(%s) (-want +got):\n%s", tt.mode, diff)
			}
		})
	}
}
