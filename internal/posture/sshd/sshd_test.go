package sshd

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/firewarden/firewarden/internal/host"
	"github.com/firewarden/firewarden/internal/posture"
	"github.com/firewarden/firewarden/internal/posture/baseline"
)

// debian12 is the real sshd -T output of testdata (OpenSSH 9.2p1, Debian's stock configuration).
func debian12(t testing.TB) string {
	t.Helper()
	data, err := os.ReadFile("testdata/openssh-9.2p1-debian12.txt")
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// with returns out with the lines of the given keywords replaced (or added).
func with(out string, set map[string]string) string {
	var b strings.Builder
	done := map[string]bool{}
	for line := range strings.Lines(out) {
		k, _, _ := strings.Cut(strings.TrimSuffix(line, "\n"), " ")
		if v, ok := set[k]; ok {
			if !done[k] && v != "" {
				b.WriteString(k + " " + v + "\n")
			}
			done[k] = true
			continue
		}
		b.WriteString(line)
	}
	for k, v := range set {
		if !done[k] && v != "" {
			b.WriteString(k + " " + v + "\n")
		}
	}
	return b.String()
}

// fakeRunner answers program runs with handle and records their argv.
type fakeRunner struct {
	handle func(argv []string) (stdout, stderr string, code int)
	calls  [][]string
}

func (f *fakeRunner) Run(_ context.Context, c host.Cmd) (host.Result, error) {
	argv := c.Argv()
	f.calls = append(f.calls, argv)
	out, errOut, code := f.handle(argv)
	res := host.Result{Argv: argv, Stdout: []byte(out), Stderr: []byte(errOut), ExitCode: code}
	if code != 0 {
		return res, &host.ExitError{Argv: argv, Code: code, Stderr: errOut}
	}
	return res, nil
}

// layout writes files (system path to content) under a new root; "/usr/sbin/sshd" is present
// unless files maps it to "-".
func layout(t *testing.T, files map[string]string) host.Root {
	t.Helper()
	dir := t.TempDir()
	all := map[string]string{"/usr/sbin/sshd": "", mainConfig: includeLine + "\nKbdInteractiveAuthentication no\nUsePAM yes\n"}
	for k, v := range files {
		all[k] = v
	}
	for p, content := range all {
		if content == "-" {
			continue
		}
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r, err := host.NewRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

var linuxOS = host.OS{Kind: host.Linux, Name: "Debian GNU/Linux 12 (bookworm)", Version: "12", Major: 12}

func ptr[T any](v T) *T { return &v }

func base(pw *bool, root string) *baseline.Baseline {
	return &baseline.Baseline{Linux: baseline.Linux{SSH: baseline.LinuxSSH{PasswordAuth: pw, RootLogin: root}}}
}

func TestEvaluate(t *testing.T) {
	type want struct {
		Status  posture.Status
		Actual  string
		Details []string // substrings of Detail
	}
	tests := []struct {
		name  string
		os    host.OS
		files map[string]string
		sshdT string            // stdout of sshd -T ("debian12": the real one of testdata)
		set   map[string]string // keywords of sshd -T output to replace ("" removes)
		code  int
		err   string
		b     *baseline.Baseline
		want  map[string]want
	}{
		{
			name: "not linux", os: host.OS{Kind: host.MacOS, Name: "macOS", Version: "15.1", Major: 15, Minor: 1},
			b: base(ptr(false), "no"),
			want: map[string]want{
				PasswordAuth: {posture.NotApplicable, "-", []string{"applies to Linux only; this host runs macOS 15.1"}},
				RootLogin:    {posture.NotApplicable, "-", []string{"applies to Linux only"}},
			},
		},
		{
			name: "no ssh server", files: map[string]string{"/usr/sbin/sshd": "-"}, b: base(ptr(false), "no"),
			want: map[string]want{
				PasswordAuth: {posture.NotApplicable, "not installed", []string{"no SSH server is installed (/usr/sbin/sshd is absent)"}},
				RootLogin:    {posture.NotApplicable, "not installed", []string{"no SSH server is installed"}},
			},
		},
		{
			name: "sshd -T fails", code: 255, err: "Missing privilege separation directory: /run/sshd\n", b: base(ptr(false), "no"),
			want: map[string]want{
				PasswordAuth: {posture.Error, "unknown", []string{"/usr/sbin/sshd -T exited with status 255: Missing privilege separation directory: /run/sshd", "sshd is not running", "start the SSH service, or create the directory (mkdir -m 0755 /run/sshd)"}},
				RootLogin:    {posture.Error, "unknown", []string{"Missing privilege separation directory"}},
			},
		},
		{
			// OpenSSH 9.2 as an ordinary user, who cannot read /etc/ssh/ssh_host_*_key.
			name: "sshd -T without root", code: 1, err: "sshd: no hostkeys available -- exiting.\n", b: base(ptr(false), "no"),
			want: map[string]want{
				PasswordAuth: {posture.Error, "unknown", []string{"no hostkeys available", "run firewarden as root (sudo firewarden check)"}},
				RootLogin:    {posture.Error, "unknown", []string{"ssh-keygen -A"}},
			},
		},
		{
			name: "sshd -T refuses its configuration", code: 255, err: "/etc/ssh/sshd_config line 3: unsupported option \"Bogus\".\n", b: base(ptr(false), "no"),
			want: map[string]want{
				PasswordAuth: {posture.Error, "unknown", []string{"unsupported option", "run `sshd -T` yourself to see what it lacks"}},
				RootLogin:    {posture.Error, "unknown", nil},
			},
		},
		{
			name: "sshd -T prints something else", sshdT: "Usage: sshd [-46DdeGiqTtV]\n", b: base(ptr(false), "no"),
			want: map[string]want{
				PasswordAuth: {posture.Error, "unknown", []string{`sshd -T line 1 is not a "keyword value" setting`}},
				RootLogin:    {posture.Error, "unknown", nil},
			},
		},
		{
			name: "debian stock", sshdT: "debian12", b: base(ptr(false), "no"),
			want: map[string]want{
				PasswordAuth: {posture.Fail, "on", []string{"passwords can be tried: PasswordAuthentication yes"}},
				RootLogin:    {posture.Fail, "prohibit-password", []string{"PermitRootLogin prohibit-password is looser than the baseline's no"}},
			},
		},
		{
			name: "debian stock, baseline allows prohibit-password and passwords", sshdT: "debian12", b: base(ptr(true), "prohibit-password"),
			want: map[string]want{
				PasswordAuth: {posture.Pass, "on", []string{"passwords can be tried"}},
				RootLogin:    {posture.Pass, "prohibit-password", nil},
			},
		},
		{
			name: "keyboard-interactive through PAM", b: base(ptr(false), "no"),
			sshdT: "debian12", set: map[string]string{"passwordauthentication": "no", "kbdinteractiveauthentication": "yes", "permitrootlogin": "no"},
			want: map[string]want{
				PasswordAuth: {posture.Fail, "on", []string{"KbdInteractiveAuthentication yes with UsePAM yes"}},
				RootLogin:    {posture.Pass, "no", nil},
			},
		},
		{
			name: "keyboard-interactive without PAM asks no password", b: base(ptr(false), "no"),
			sshdT: "debian12", set: map[string]string{"passwordauthentication": "no", "kbdinteractiveauthentication": "yes", "usepam": "no", "permitrootlogin": "no"},
			want: map[string]want{
				PasswordAuth: {posture.Pass, "off", nil},
				RootLogin:    {posture.Pass, "no", nil},
			},
		},
		{
			// SYNTHETIC: the shape of sshd before 8.7, which prints challengeresponseauthentication.
			name: "old sshd challenge-response through PAM", b: base(ptr(false), "prohibit-password"),
			sshdT: "debian12", set: map[string]string{"passwordauthentication": "no", "kbdinteractiveauthentication": "", "challengeresponseauthentication": "yes", "permitrootlogin": "forced-commands-only"},
			want: map[string]want{
				PasswordAuth: {posture.Fail, "on", []string{"ChallengeResponseAuthentication yes with UsePAM yes"}},
				RootLogin:    {posture.Pass, "forced-commands-only", nil},
			},
		},
		{
			name: "AuthenticationMethods without a password method", b: base(ptr(false), "no"),
			sshdT: "debian12", set: map[string]string{"authenticationmethods": "publickey publickey,hostbased", "permitrootlogin": "no"},
			want: map[string]want{
				PasswordAuth: {posture.Pass, "off", []string{"AuthenticationMethods publickey publickey,hostbased offers no password method, so PasswordAuthentication yes (sshd's default: no line sets it) is never used"}},
				RootLogin:    {posture.Pass, "no", nil},
			},
		},
		{
			name: "AuthenticationMethods with a password after a key", b: base(ptr(false), "no"),
			sshdT: "debian12", set: map[string]string{"authenticationmethods": "publickey,password", "permitrootlogin": "no"},
			want: map[string]want{
				PasswordAuth: {posture.Fail, "on", []string{"passwords can be tried: PasswordAuthentication yes", "AuthenticationMethods publickey,password"}},
				RootLogin:    {posture.Pass, "no", nil},
			},
		},
		{
			name: "keyboard-interactive with a device named still counts", b: base(ptr(false), "no"),
			sshdT: "debian12", set: map[string]string{"authenticationmethods": "keyboard-interactive:bsdauth", "kbdinteractiveauthentication": "yes", "permitrootlogin": "no"},
			want: map[string]want{
				PasswordAuth: {posture.Fail, "on", []string{"KbdInteractiveAuthentication yes with UsePAM yes"}},
				RootLogin:    {posture.Pass, "no", nil},
			},
		},
		{
			name: "empty passwords named", b: base(ptr(true), "no"),
			sshdT: "debian12", set: map[string]string{"permitemptypasswords": "yes", "permitrootlogin": "no"},
			want: map[string]want{
				PasswordAuth: {posture.Pass, "on", []string{"PermitEmptyPasswords yes: an account with an empty password logs in without one (CIS 5.1.19 wants no; "}},
				RootLogin:    {posture.Pass, "no", nil},
			},
		},
		{
			name: "root login yes", b: base(nil, "forced-commands-only"),
			sshdT: "debian12", set: map[string]string{"permitrootlogin": "yes"},
			want: map[string]want{
				RootLogin: {posture.Fail, "yes", []string{"PermitRootLogin yes is looser than the baseline's forced-commands-only"}},
			},
		},
		{
			name: "unknown root login value", b: base(nil, "no"),
			sshdT: "debian12", set: map[string]string{"permitrootlogin": "sometimes"},
			want: map[string]want{
				RootLogin: {posture.Error, "sometimes", []string{`permitrootlogin "sometimes", which is not a value firewarden knows`}},
			},
		},
		{
			name: "set by cloud-init, and Match blocks named", b: base(ptr(false), "no"),
			files: map[string]string{
				mainConfig: includeLine + "\nKbdInteractiveAuthentication no\nUsePAM yes\nMatch User deploy\n  PasswordAuthentication yes\nMatch Address 10.0.0.0/8\n\tPermitRootLogin yes\nMatch Group ops\n  AuthenticationMethods any\n",
				"/etc/ssh/sshd_config.d/50-cloud-init.conf": "PasswordAuthentication yes\n",
			},
			sshdT: "debian12", set: map[string]string{"permitrootlogin": "no"},
			want: map[string]want{
				PasswordAuth: {posture.Fail, "on", []string{
					"PasswordAuthentication yes (set at /etc/ssh/sshd_config.d/50-cloud-init.conf:1)",
					"Match blocks set: /etc/ssh/sshd_config:5 (Match User deploy) PasswordAuthentication yes, /etc/ssh/sshd_config:9 (Match Group ops) AuthenticationMethods any",
				}},
				RootLogin: {posture.Pass, "no", []string{"Match blocks set: /etc/ssh/sshd_config:7 (Match Address 10.0.0.0/8) PermitRootLogin yes"}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			osinfo := tt.os
			if osinfo.Kind == "" {
				osinfo = linuxOS
			}
			out := tt.sshdT
			if out == "debian12" {
				out = with(debian12(t), tt.set)
			}
			run := &fakeRunner{handle: func(argv []string) (string, string, int) { return out, tt.err, tt.code }}
			p := New(layout(t, tt.files), osinfo, run)
			got := map[string]want{}
			for _, r := range p.Evaluate(context.Background(), posture.Request{Baseline: tt.b, Now: time.Now()}) {
				w := want{Status: r.Status, Actual: r.Actual}
				for _, d := range tt.want[r.ID].Details {
					if strings.Contains(r.Detail, d) {
						w.Details = append(w.Details, d)
					} else {
						w.Details = append(w.Details, "MISSING IN "+r.Detail)
					}
				}
				got[r.ID] = w
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Evaluate() mismatch (-want +got):\n%s", diff)
			}
			if n := len(run.calls); n > 1 {
				t.Errorf("Evaluate ran %d programs (%q), want at most one sshd -T for both checks", n, run.calls)
			}
		})
	}
}
