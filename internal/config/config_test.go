package config

import (
	"errors"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/firewarden/firewarden/internal/authwatch"
)

var (
	prefixEq = cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })
	noLines  = cmpopts.IgnoreFields(File{}, "Lines")
)

var parseTests = []struct {
	name string
	in   string
	want func(f *File) // changes from Default
}{
	{"empty", "", func(*File) {}},
	{"comments only", "# nothing\n", func(*File) {}},
	{"null document", "~\n", func(*File) {}},
	{"empty sections", "guard:\ndetect:\n", func(*File) {}},
	{"empty live", "detect:\n  live:\n", func(*File) {}},
	{"top level", "baseline: /etc/firewarden/b.yaml\nstate_dir: /srv/fw\n", func(f *File) { f.Baseline, f.StateDir = "/etc/firewarden/b.yaml", "/srv/fw" }},
	{"guard", "guard:\n  threshold: {failures: 3}\n  weights: {preauth: 0}\n  allowlist: [192.0.2.0/24]\n", func(f *File) {
		f.Guard.Failures, f.Guard.Weights[authwatch.KindPreauth] = 3, 0
		f.Guard.Allowlist = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}
	}},
	{"live", "detect:\n  live:\n    out: /var/log/fw-alerts.jsonl\n    syslog: local\n    webhook: http://192.0.2.1/hook\n    webhook_insecure_http: true\n    poll: 0s\n", func(f *File) {
		f.Live = Live{Out: "/var/log/fw-alerts.jsonl", Syslog: "local", Webhook: "http://192.0.2.1/hook", WebhookInsecureHTTP: true}
	}},
	{"live tcp syslog", "detect: {live: {syslog: \"tcp://[2001:db8::1]:6514\", poll: 5m}}\n", func(f *File) { f.Live.Syslog, f.Live.Poll = "tcp://[2001:db8::1]:6514", 5*time.Minute }},
	{"alias", "a: &t {failures: 4}\n", nil},
}

func TestParse(t *testing.T) {
	for _, tt := range parseTests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse("f.yaml", []byte(tt.in))
			if tt.want == nil {
				if err == nil {
					t.Fatalf("Parse(%q) = nil error, want one", tt.in)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q) = %v", tt.in, err)
			}
			want := Default()
			tt.want(want)
			if diff := cmp.Diff(want, got, prefixEq, noLines); diff != "" {
				t.Errorf("Parse(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestParseLines(t *testing.T) {
	in := "# c\nstate_dir: /srv/fw\nguard:\n  threshold:\n    failures: 3\ndetect:\n  live:\n    poll: 2m\n"
	f, err := Parse("f.yaml", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"state_dir": 2, "guard": 3, "guard.threshold": 4, "guard.threshold.failures": 5, "detect": 6, "detect.live": 7, "detect.live.poll": 8}
	if diff := cmp.Diff(want, f.Lines); diff != "" {
		t.Errorf("Parse(%q).Lines (-want +got):\n%s", in, diff)
	}
}

var parseErrorTests = []struct {
	name, in, want string
}{
	{"old guard.yaml", "# old\nthreshold:\n  failures: 3\n", `f.yaml:2: threshold is a guard setting: put it under ` + "`guard:`" + `, indented (every key of an old guard.yaml goes under guard:)`},
	{"live key on top", "webhook: https://x/\n", `f.yaml:1: webhook is a detect --live setting: put it under ` + "`detect:` then `live:`" + `, indented`},
	{"live under detect", "detect:\n  poll: 1m\n", `f.yaml:2: unknown key "poll" under detect; the keys are live`},
	{"unknown key", "state_dir: /x\nstatedir: /y\n", `f.yaml:2: unknown key "statedir"; the keys are baseline, detect, guard, state_dir`},
	{"duplicate", "state_dir: /x\nstate_dir: /y\n", `f.yaml:2: "state_dir" is given twice; keep one`},
	{"relative state dir", "state_dir: var/lib\n", `f.yaml:1: state_dir "var/lib": give an absolute path (firewarden reads it under --root)`},
	{"baseline list", "baseline: [a]\n", `f.yaml:1: baseline should be a single value, not a list`},
	{"guard list", "guard:\n  - a\n", `f.yaml:2: guard should be a mapping of keys, not a list`},
	{"guard error keeps its line", "guard:\n  ban:\n    rate: fast\n", `f.yaml:3: ban.rate "fast": give bans per duration, such as 60/1m or 5/10s`},
	{"guard state_dir", "guard:\n  state_dir: /x\n", `f.yaml:2: state_dir is firewarden's state directory, shared by every command: move it from guard: to the top level of the file`},
	{"top list", "- a\n", `f.yaml:1: the file should be a mapping of keys, not a list`},
	{"top scalar", "hello\n", `f.yaml:1: the file should be a mapping of keys, not "hello"`},
	{"poll", "detect: {live: {poll: soon}}\n", `f.yaml:1: detect.live.poll "soon": give a duration from 1s to 24h, such as 1m, or 0s to turn the state poll off`},
	{"poll too short", "detect: {live: {poll: 10ms}}\n", `f.yaml:1: detect.live.poll "10ms": give a duration from 1s to 24h, such as 1m, or 0s to turn the state poll off`},
	{"syslog", "detect:\n  live:\n    syslog: 192.0.2.1\n", `f.yaml:3: detect.live.syslog "192.0.2.1": give local, udp://host:port or tcp://host:port`},
	{"syslog port", "detect:\n  live:\n    syslog: udp://h:99999\n", `f.yaml:3: detect.live.syslog "udp://h:99999": give host:port (port 1-65535) after udp://`},
	{"http webhook", "detect:\n  live:\n    webhook: http://h/tok\n", `f.yaml:3: detect.live.webhook: a plain http:// URL sends alerts unencrypted; use https://, or set webhook_insecure_http: true to accept that`},
	{"webhook not a URL", "detect:\n  live:\n    webhook: hooks.example/x\n", `f.yaml:3: detect.live.webhook: give an https:// URL`},
	{"insecure not bool", "detect:\n  live:\n    webhook_insecure_http: yes\n", `f.yaml:3: detect.live.webhook_insecure_http should be true or false, not "yes"`},
	{"relative out", "detect:\n  live:\n    out: alerts.log\n", `f.yaml:3: detect.live.out "alerts.log": give an absolute path (firewarden reads it under --root)`},
	{"syntax", "guard:\n  threshold: {failures: 3}\n window: 2m\n", `f.yaml:3: not valid YAML: did not find expected key (while parsing a block mapping); check the indentation and quoting there (sections are mappings: ` + "`guard:`" + ` then keys indented under it)`},
	{"tab", "guard:\n\tthreshold: {}\n", `f.yaml:2: not valid YAML: found character that cannot start any token (while scanning for the next token); check the indentation and quoting there (sections are mappings: ` + "`guard:`" + ` then keys indented under it)`},
	{"two documents", "state_dir: /x\n---\nstate_dir: /y\n", `f.yaml:2: a second YAML document (after ---); keep the configuration in one`},
}

func TestParseErrors(t *testing.T) {
	for _, tt := range parseErrorTests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse("f.yaml", []byte(tt.in))
			if err == nil {
				t.Fatalf("Parse(%q) = %+v, want an error", tt.in, f)
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("Parse(%q) error %T %v, want *Error", tt.in, err, err)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("Parse(%q) = %q\nwant %q", tt.in, got, tt.want)
			}
		})
	}
}

// Write's output, with every key, parses back to what was written.
func TestWriteRoundTrip(t *testing.T) {
	f := Default()
	f.Baseline, f.StateDir = "/etc/firewarden/b.yaml", "/Library/Application Support/firewarden"
	f.Guard.Failures, f.Guard.Backend = 4, "none"
	f.Live = Live{Out: "/var/log/a.jsonl", Syslog: "udp://192.0.2.1:514", Webhook: "http://192.0.2.1:8080", WebhookInsecureHTTP: true, Poll: 90 * time.Second}
	var b strings.Builder
	if err := Write(&b, f, func(string) string { return "default" }); err != nil {
		t.Fatal(err)
	}
	got, err := Parse("printed", []byte(b.String()))
	if err != nil {
		t.Fatalf("Parse(Write()) = %v\n%s", err, b.String())
	}
	if diff := cmp.Diff(f, got, prefixEq, noLines); diff != "" {
		t.Errorf("Parse(Write()) (-want +got):\n%s", diff)
	}
}

func TestWriteHidesWebhookToken(t *testing.T) {
	f := Default()
	f.Live.Webhook = "https://user:pw@hooks.example/services/T0/B0/secret?token=s"
	var b strings.Builder
	Write(&b, f, func(string) string { return "f.yaml:3" })
	if out := b.String(); strings.Contains(out, "secret") || strings.Contains(out, "pw") || !strings.Contains(out, "webhook: https://hooks.example/…  # f.yaml:3 (path and query not shown") {
		t.Errorf("Write shows the webhook as:\n%s", out)
	}
}

// examples/firewarden.yaml is what packages install as /etc/firewarden/firewarden.yaml: it
// parses, every value in it is the default, and it names every key there is.
func TestExampleIsTheDefaults(t *testing.T) {
	data, err := os.ReadFile("../../examples/firewarden.yaml")
	if err != nil {
		t.Fatal(err)
	}
	got, err := Parse("examples/firewarden.yaml", data)
	if err != nil {
		t.Fatalf("Parse(examples/firewarden.yaml) = %v", err)
	}
	if diff := cmp.Diff(Default(), got, prefixEq, noLines); diff != "" {
		t.Errorf("examples/firewarden.yaml is not the defaults (-want +got):\n%s", diff)
	}
	var keys []string
	Write(&strings.Builder{}, Default(), func(k string) string { keys = append(keys, k); return "default" })
	for _, k := range keys {
		if _, ok := got.Lines[k]; !ok {
			t.Errorf("examples/firewarden.yaml has no %s; add it with its default", k)
		}
	}
}

// FuzzParse: no panic; an error is one *Error line naming the file; what parses prints and
// parses back to itself.
func FuzzParse(f *testing.F) {
	for _, tt := range parseTests {
		f.Add(tt.in)
	}
	for _, tt := range parseErrorTests {
		f.Add(tt.in)
	}
	if data, err := os.ReadFile("../../examples/firewarden.yaml"); err == nil {
		f.Add(string(data))
	}
	f.Fuzz(func(t *testing.T, in string) {
		c, err := Parse("f.yaml", []byte(in))
		if err != nil {
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("Parse(%q) error %T, want *Error", in, err)
			}
			if msg := err.Error(); strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "f.yaml") {
				t.Fatalf("Parse(%q) error %q: want one line starting with the file name", in, msg)
			}
			return
		}
		if redact(c.Live.Webhook) != c.Live.Webhook {
			return // printed without its path: does not read back the same
		}
		var b strings.Builder
		if err := Write(&b, c, func(string) string { return "x" }); err != nil {
			t.Fatal(err)
		}
		again, err := Parse("printed", []byte(b.String()))
		if err != nil {
			t.Fatalf("Parse(Write(Parse(%q))) = %v\n%s", in, err, b.String())
		}
		if diff := cmp.Diff(c, again, prefixEq, noLines); diff != "" {
			t.Fatalf("Parse(Write(Parse(%q))) (-want +got):\n%s", in, diff)
		}
	})
}
