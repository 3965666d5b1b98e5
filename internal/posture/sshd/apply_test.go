package sshd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/firewarden/firewarden/internal/host"
	"github.com/firewarden/firewarden/internal/posture"
)

// fakeSSHD answers sshd -t (code tcode, stderr terr), sshd -T (the Debian 12 output with the
// drop-in's settings taken when it exists and honoured is true) and systemctl.
func fakeSSHD(t *testing.T, r host.Root, honoured bool, tcode int, terr string) *fakeRunner {
	out := debian12(t)
	return &fakeRunner{handle: func(argv []string) (string, string, int) {
		switch {
		case argv[0] == sshdPath && argv[1] == "-t":
			return "", terr, tcode
		case argv[0] == sshdPath && argv[1] == "-T":
			data, err := os.ReadFile(r.Path(DropIn))
			if err != nil || !honoured {
				return out, "", 0
			}
			set := map[string]string{}
			for line := range strings.Lines(string(data)) {
				if k, args := splitLine(line); k != "" && len(args) > 0 {
					set[strings.ToLower(k)] = args[0]
				}
			}
			return with(out, set), "", 0
		}
		return "", "", 0
	}}
}

func systemdFiles() map[string]string {
	return map[string]string{"/usr/bin/systemctl": "", "/lib/systemd/system/ssh.service": ""}
}

func merge(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

func fixAll(t *testing.T, p *Provider) ([]posture.Change, error) {
	t.Helper()
	req := posture.Request{Baseline: base(ptr(false), "no"), Now: time.Now()}
	var failing []posture.Result
	for _, r := range p.Evaluate(context.Background(), req) {
		if r.Status == posture.Fail {
			failing = append(failing, r)
		}
	}
	return p.Plan(context.Background(), req, failing)
}

const wantDropIn = header + "PasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin no\n"

func TestFixThenRollback(t *testing.T) {
	r := layout(t, systemdFiles())
	if err := os.MkdirAll(r.Path(dropInDir), 0o755); err != nil { // as Debian ships it
		t.Fatal(err)
	}
	run := fakeSSHD(t, r, true, 0, "")
	p := New(r, linuxOS, run)
	changes, err := fixAll(t, p)
	if err != nil {
		t.Fatal(err)
	}
	want := []posture.Change{{
		Check: PasswordAuth, Key: DropIn, From: absent, To: strconv.Quote(wantDropIn),
		Commands: []host.Cmd{{Path: sshdPath, Args: []string{"-t"}}, {Path: sshdPath, Args: []string{"-T"}}, {Path: "/usr/bin/systemctl", Args: []string{"reload", "ssh.service"}}},
	}}
	if diff := cmp.Diff(want, changes); diff != "" {
		t.Fatalf("Plan() mismatch (-want +got):\n%s", diff)
	}
	run.calls = nil
	if _, err := p.Apply(context.Background(), changes[0]); err != nil {
		t.Fatalf("Apply(fix) = %v", err)
	}
	if got, _ := os.ReadFile(r.Path(DropIn)); string(got) != wantDropIn {
		t.Errorf("drop-in after fix = %q, want %q", got, wantDropIn)
	}
	wantCalls := [][]string{{sshdPath, "-t"}, {sshdPath, "-T"}, {"/usr/bin/systemctl", "reload", "ssh.service"}}
	if diff := cmp.Diff(wantCalls, run.calls); diff != "" {
		t.Errorf("Apply(fix) runs mismatch (-want +got):\n%s", diff)
	}
	for _, res := range p.Evaluate(context.Background(), posture.Request{Baseline: base(ptr(false), "no")}) {
		if res.Status != posture.Pass {
			t.Errorf("after the fix %s = %s (%s), want pass", res.ID, res.Status, res.Detail)
		}
	}

	back := posture.Change{Check: changes[0].Check, Key: changes[0].Key, From: changes[0].To, To: changes[0].From}
	if err := p.Validate(back); err != nil {
		t.Fatalf("Validate(rollback) = %v", err)
	}
	run.calls = nil
	if _, err := p.Apply(context.Background(), back); err != nil {
		t.Fatalf("Apply(rollback) = %v", err)
	}
	if _, err := os.Lstat(r.Path(DropIn)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after rollback the drop-in is still there (%v), want it removed as it was absent", err)
	}
	wantCalls = [][]string{{sshdPath, "-t"}, {"/usr/bin/systemctl", "reload", "ssh.service"}}
	if diff := cmp.Diff(wantCalls, run.calls); diff != "" {
		t.Errorf("Apply(rollback) runs mismatch (-want +got):\n%s", diff)
	}
}

func TestRollbackRestoresPreviousContentExactly(t *testing.T) {
	const mine = "# a person's own drop-in\nPermitRootLogin yes\r\n\n"
	r := layout(t, merge(systemdFiles(), map[string]string{DropIn: mine}))
	p := New(r, linuxOS, fakeSSHD(t, r, true, 0, ""))
	changes, err := fixAll(t, p)
	if err != nil {
		t.Fatal(err)
	}
	if changes[0].From != strconv.Quote(mine) {
		t.Fatalf("Plan().From = %s, want the quoted previous content", changes[0].From)
	}
	if _, err := p.Apply(context.Background(), changes[0]); err != nil {
		t.Fatal(err)
	}
	back := posture.Change{Check: changes[0].Check, Key: DropIn, From: changes[0].To, To: changes[0].From}
	if _, err := p.Apply(context.Background(), back); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(r.Path(DropIn)); string(got) != mine {
		t.Errorf("after rollback the drop-in = %q, want %q", got, mine)
	}
}

func TestApplyRefusedBySSHDTestPutsPreviousBack(t *testing.T) {
	const mine = "PermitRootLogin yes\n"
	r := layout(t, merge(systemdFiles(), map[string]string{DropIn: mine}))
	run := fakeSSHD(t, r, true, 255, "/etc/ssh/sshd_config.d/00-firewarden.conf line 2: Bad configuration option: Bogus\n")
	p := New(r, linuxOS, run)
	c := posture.Change{Check: RootLogin, Key: DropIn, From: strconv.Quote(mine), To: strconv.Quote(header + "Bogus yes\n")}
	_, err := p.Apply(context.Background(), c)
	if err == nil || !strings.Contains(err.Error(), "Bad configuration option: Bogus") || !strings.Contains(err.Error(), "the previous file is back") {
		t.Errorf("Apply(invalid) = %v, want sshd's words and that the previous file is back", err)
	}
	if got, _ := os.ReadFile(r.Path(DropIn)); string(got) != mine {
		t.Errorf("drop-in after a refused change = %q, want %q", got, mine)
	}
	for _, c := range run.calls {
		if c[0] == "/usr/bin/systemctl" {
			t.Errorf("a refused change reloaded the daemon: %q", run.calls)
		}
	}
	leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(r.Path(DropIn)), ".*tmp"))
	if len(leftovers) > 0 {
		t.Errorf("temporary files left behind: %q", leftovers)
	}
}

func TestApplyNotInForce(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{
			name: "a value read before the Include",
			files: map[string]string{
				mainConfig: "PasswordAuthentication yes\n" + includeLine + "\n",
			},
			want: "/etc/ssh/sshd_config:1 sets PasswordAuthentication yes before /etc/ssh/sshd_config.d/00-firewarden.conf is read; delete that line, or move the `Include /etc/ssh/sshd_config.d/*.conf` line above it in /etc/ssh/sshd_config",
		},
		{
			name:  "no Include",
			files: map[string]string{mainConfig: "UsePAM yes\n"},
			want:  "sshd does not read /etc/ssh/sshd_config.d/00-firewarden.conf, so sshd -T still shows passwordauthentication yes: /etc/ssh/sshd_config has no Include of it; add the line `Include /etc/ssh/sshd_config.d/*.conf` at the top of /etc/ssh/sshd_config",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := layout(t, merge(systemdFiles(), tt.files))
			p := New(r, linuxOS, fakeSSHD(t, r, false, 0, ""))
			changes, err := fixAll(t, p)
			if err != nil {
				t.Fatal(err)
			}
			_, err = p.Apply(context.Background(), changes[0])
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Apply() = %v\nwant it to say %q", err, tt.want)
			}
			if _, err := os.Lstat(r.Path(DropIn)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the useless drop-in was left (%v); want the absent file restored", err)
			}
			// RHEL 8's sshd_config has no Include and no sshd_config.d: the directory the fix
			// made goes too.
			if _, err := os.Lstat(filepath.Dir(r.Path(DropIn))); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("sshd_config.d, made by the fix, was left (%v); want it gone", err)
			}
		})
	}
}

func TestNoSystemctlIsANoteNotAFailure(t *testing.T) {
	r := layout(t, nil)
	p := New(r, linuxOS, fakeSSHD(t, r, true, 0, ""))
	changes, err := fixAll(t, p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Apply(context.Background(), changes[0]); err != nil {
		t.Fatalf("Apply() without systemctl = %v, want success", err)
	}
	res := p.Evaluate(context.Background(), posture.Request{Baseline: base(ptr(false), "no")})
	const want = "the running sshd was not reloaded (no systemctl on this host): restart it"
	for _, r := range res {
		// Actual shows it too: fix prints only the table of results afterwards.
		if r.Status != posture.Pass || !strings.HasSuffix(r.Actual, " (restart sshd)") || !strings.Contains(r.Detail, want) {
			t.Errorf("after the fix: %s %s %q %q; want pass, Actual ending in (restart sshd) and Detail saying %q", r.ID, r.Status, r.Actual, r.Detail, want)
		}
	}
}

// A fix that made sshd_config.d (RHEL 8 ships none) records it, and its rollback removes the
// directory with the drop-in; a directory with other files in it stays.
func TestRollbackRemovesTheDirectoryTheFixMade(t *testing.T) {
	for _, other := range []bool{false, true} {
		t.Run(fmt.Sprintf("other file %v", other), func(t *testing.T) {
			r := layout(t, systemdFiles())
			p := New(r, linuxOS, fakeSSHD(t, r, true, 0, ""))
			changes, err := fixAll(t, p)
			if err != nil {
				t.Fatal(err)
			}
			if changes[0].From != absentDir {
				t.Fatalf("Plan().From = %q, want %q", changes[0].From, absentDir)
			}
			if _, err := p.Apply(context.Background(), changes[0]); err != nil {
				t.Fatal(err)
			}
			if other {
				os.WriteFile(r.Path("/etc/ssh/sshd_config.d/10-admin.conf"), []byte("UsePAM yes\n"), 0o644)
			}
			back := posture.Change{Check: changes[0].Check, Key: DropIn, From: changes[0].To, To: changes[0].From}
			if err := p.Validate(back); err != nil {
				t.Fatal(err)
			}
			if _, err := p.Apply(context.Background(), back); err != nil {
				t.Fatal(err)
			}
			_, err = os.Lstat(r.Path("/etc/ssh/sshd_config.d"))
			if gone := errors.Is(err, os.ErrNotExist); gone == other {
				t.Errorf("after rollback sshd_config.d gone = %v, want %v", gone, !other)
			}
		})
	}
}

// Applying what is already there (the engine reverting a change Apply already put back, or a
// fix whose content is in place but not in force) writes nothing and reloads nothing.
func TestApplyUnchangedDoesNotReload(t *testing.T) {
	for _, tt := range []struct {
		name  string
		files map[string]string
		to    string
	}{
		{"absent stays absent", nil, absent},
		{"same content", map[string]string{DropIn: wantDropIn}, strconv.Quote(wantDropIn)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := layout(t, merge(systemdFiles(), tt.files))
			run := fakeSSHD(t, r, true, 0, "")
			p := New(r, linuxOS, run)
			if _, err := p.Apply(context.Background(), posture.Change{Check: PasswordAuth, Key: DropIn, From: absent, To: tt.to}); err != nil {
				t.Fatal(err)
			}
			for _, c := range run.calls {
				if c[0] == "/usr/bin/systemctl" {
					t.Errorf("Apply(%s) reloaded the daemon: %q", tt.to, run.calls)
				}
			}
		})
	}
}

func TestRefuseNonRegularDropIn(t *testing.T) {
	for _, kind := range []string{"symlink", "directory"} {
		t.Run(kind, func(t *testing.T) {
			r := layout(t, merge(systemdFiles(), map[string]string{"/etc/ssh/elsewhere": "keep\n"}))
			os.MkdirAll(filepath.Dir(r.Path(DropIn)), 0o755)
			if kind == "symlink" {
				if err := os.Symlink("../elsewhere", r.Path(DropIn)); err != nil {
					t.Fatal(err)
				}
			} else if err := os.Mkdir(r.Path(DropIn), 0o755); err != nil {
				t.Fatal(err)
			}
			p := New(r, linuxOS, fakeSSHD(t, r, true, 0, ""))
			if _, err := fixAll(t, p); err == nil || !strings.Contains(err.Error(), "not a regular file") {
				t.Errorf("Plan() with a %s drop-in = %v, want a refusal", kind, err)
			}
			c := posture.Change{Check: PasswordAuth, Key: DropIn, From: absent, To: strconv.Quote(wantDropIn)}
			if _, err := p.Apply(context.Background(), c); err == nil || !strings.Contains(err.Error(), "not a regular file") {
				t.Errorf("Apply() over a %s = %v, want a refusal", kind, err)
			}
			if got, _ := os.ReadFile(r.Path("/etc/ssh/elsewhere")); string(got) != "keep\n" {
				t.Errorf("the link's target = %q, want it untouched", got)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	p := New(layout(t, nil), linuxOS, &fakeRunner{})
	tests := []struct {
		name string
		c    posture.Change
		want string // "" for valid
	}{
		{"fix", posture.Change{Check: PasswordAuth, Key: DropIn, To: strconv.Quote(wantDropIn)}, ""},
		{"rollback to absent", posture.Change{Check: RootLogin, Key: DropIn, To: absent}, ""},
		{"rollback to absent without the directory", posture.Change{Check: RootLogin, Key: DropIn, To: absentDir}, ""},
		{"other check", posture.Change{Check: "alf.enabled", Key: DropIn, To: absent}, "is not an SSH daemon check"},
		{"other file", posture.Change{Check: PasswordAuth, Key: "/etc/ssh/sshd_config", To: absent}, "firewarden changes only"},
		{"unquoted content", posture.Change{Check: PasswordAuth, Key: DropIn, To: "PermitRootLogin yes"}, "neither"},
		{"binary content", posture.Change{Check: PasswordAuth, Key: DropIn, To: strconv.Quote("a\x00b")}, "not an sshd configuration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := p.Validate(tt.c)
			if (tt.want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate(%+v) = %v, want %q", tt.c, err, tt.want)
			}
		})
	}
}

func TestDropInContent(t *testing.T) {
	eff, err := ParseEffective([]byte(debian12(t)))
	if err != nil {
		t.Fatal(err)
	}
	old, _ := ParseEffective([]byte(with(debian12(t), map[string]string{"kbdinteractiveauthentication": "", "challengeresponseauthentication": "no", "permitrootlogin": "no"})))
	all := func(string) bool { return true }
	only := func(id string) func(string) bool { return func(x string) bool { return x == id } }
	const earlier = header + "PasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin no\n"
	tests := []struct {
		name  string
		b     *bool
		root  string
		eff   Effective
		wants func(string) bool
		prev  string
		want  string
	}{
		{"both strict", ptr(false), "no", eff, all, "", "PasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin no\n"},
		{"passwords allowed", ptr(true), "prohibit-password", eff, all, "", "PermitRootLogin prohibit-password\n"},
		{"root yes allowed", nil, "yes", eff, all, "", ""},
		// never loosen: sshd already has no, the baseline allows prohibit-password
		{"keeps stricter root login", ptr(false), "prohibit-password", old, all, "", "PasswordAuthentication no\nChallengeResponseAuthentication no\nPermitRootLogin no\n"},
		// --only: the other check's setting is not written ...
		{"only password_auth", ptr(false), "no", eff, only(PasswordAuth), "", "PasswordAuthentication no\nKbdInteractiveAuthentication no\n"},
		{"only root_login", ptr(false), "no", eff, only(RootLogin), "", "PermitRootLogin no\n"},
		// ... but what an earlier fix wrote for it stays
		{"only root_login keeps the earlier password lines", ptr(false), "forced-commands-only", eff, only(RootLogin), earlier, "PasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin forced-commands-only\n"},
		// a baseline that now allows passwords does not silently drop the earlier fix's lines
		{"passwords allowed keeps earlier lines", ptr(true), "no", eff, all, earlier, "PasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin no\n"},
		{"carries over only the checks' keys", nil, "no", eff, all, "# mine\nPasswordAuthentication  no # x\nX11Forwarding no\n", "PasswordAuthentication  no # x\nPermitRootLogin no\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := dropInContent(base(tt.b, tt.root).Linux.SSH, tt.eff, tt.wants, tt.prev)
			if diff := cmp.Diff(header+tt.want, got); diff != "" {
				t.Errorf("dropInContent() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
