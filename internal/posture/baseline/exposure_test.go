package baseline

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/firewarden/firewarden/internal/exposure"
)

func TestParseExposure(t *testing.T) {
	tests := []struct {
		name, in string
		want     *Exposure
		checks   []string
	}{
		{
			name: "absent",
			in:   "name: x\nsip: true\n",
			want: nil, checks: []string{"macos.sip"},
		},
		{
			name: "list",
			in: "name: x\n" +
				"exposure:\n" +
				"  expect:\n" +
				"    - {process: sshd, port: 22, scope: any}\n" +
				"    - process: postgres\n" +
				"      port: 5432\n" +
				"      scope: loopback\n" +
				"    - {port: 53, proto: udp, scope: lan}\n",
			want: &Exposure{Expect: []exposure.Expectation{
				{Line: 4, Process: "sshd", Port: 22, Scope: exposure.ReachAny},
				{Line: 5, Process: "postgres", Port: 5432, Scope: exposure.ReachLoopback},
				{Line: 8, Port: 53, Proto: "udp", Scope: exposure.ReachLAN},
			}},
			checks: []string{"exposure.unexpected", "exposure.too_wide"},
		},
		{
			name:   "nothing may listen",
			in:     "exposure:\n  expect: []\n",
			want:   &Exposure{Expect: []exposure.Expectation{}},
			checks: []string{"exposure.unexpected", "exposure.too_wide"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Parse([]byte(tt.in))
			if err != nil {
				t.Fatalf("Parse(%q) error %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, b.Exposure); diff != "" {
				t.Errorf("Parse(%q).Exposure (-want +got):\n%s", tt.in, diff)
			}
			if diff := cmp.Diff(tt.checks, b.Checks()); diff != "" {
				t.Errorf("Parse(%q).Checks() (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

// Errors in the exposure section name the baseline's own line, with the key path.
func TestParseExposureErrors(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"no expect", "name: x\nexposure:\n  expected: []\n", `line 3: unknown key "expected" in exposure; known keys: expect`},
		{"empty section", "exposure: {}\n", "line 1: exposure: expect is required: the listeners this host is meant to have, such as - {process: sshd, port: 22, scope: any}"},
		{"null list", "name: x\nexposure:\n  expect:\n", "line 3: exposure.expect is empty; list the intended listeners, or write expect: [] if nothing may listen"},
		{"not a list", "exposure:\n  expect: sshd\n", `line 2: exposure.expect must be a list of listeners (- {process: NAME, port: N, scope: loopback|lan|any}), not "sshd"`},
		{"bad scope", "name: x\nexposure:\n  expect:\n    - {process: sshd, port: 22, scope: any}\n    - {process: pg, scope: world}\n",
			`line 5: exposure.expect: scope should be loopback, lan or any, not "world"`},
		{"no scope", "exposure:\n  expect:\n    - {process: sshd}\n", "line 3: exposure.expect: a listener needs a scope: the widest it may listen on, loopback, lan or any"},
		{"bad port", "exposure:\n  expect:\n    -\n      process: sshd\n      port: 70000\n      scope: any\n",
			`line 5: exposure.expect: port should be a number from 1 to 65535, not "70000"`},
		{"unknown key", "exposure:\n  expect:\n    - {process: sshd, addr: 0.0.0.0, scope: any}\n", `line 3: exposure.expect: unknown key "addr" under a listener; the keys are container, port, process, proto, scope`},
		{"twice", "exposure:\n  expect: []\nexposure:\n  expect: []\n", `line 3: key "exposure" appears twice in the baseline`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.in))
			if err == nil {
				t.Fatalf("Parse(%q) = no error, want %s", tt.in, tt.want)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("Parse(%q) error = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}

func TestCheckIDsSorted(t *testing.T) {
	ids := CheckIDs()
	for i := 1; i < len(ids); i++ {
		if ids[i-1] >= ids[i] {
			t.Errorf("CheckIDs() = %q: %q before %q, want sorted and unique", ids, ids[i-1], ids[i])
		}
	}
	for _, id := range []string{"exposure.unexpected", "exposure.too_wide"} {
		if !IsCheckID(id) {
			t.Errorf("IsCheckID(%q) = false, want true", id)
		}
	}
}

// The default baseline leaves the exposure checks out (a default cannot know a host's services),
// and its commented example parses once uncommented.
func TestDefaultExposureExample(t *testing.T) {
	if b := Default(); b.Exposure != nil {
		t.Errorf("Default().Exposure = %+v, want nil", b.Exposure)
	}
	var example []string
	in := false
	for _, line := range strings.Split(string(DefaultYAML()), "\n") {
		switch {
		case line == "# exposure:":
			in = true
		case in && !strings.HasPrefix(line, "#   "):
			in = false
		}
		if in {
			example = append(example, strings.TrimPrefix(line, "# "))
		}
	}
	b, err := Parse([]byte(strings.Join(example, "\n")))
	if err != nil || b.Exposure == nil || len(b.Exposure.Expect) != 3 {
		t.Fatalf("Parse(the default's commented exposure example %q) = %+v, %v, want 3 expectations", example, b, err)
	}
}
