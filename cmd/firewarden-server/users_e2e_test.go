package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// runBinIn runs the binary with stdin.
func runBinIn(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var o, e bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(stdin), &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), code
}

func TestUserAccounts(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	out, errs, code := runBin(t, "init", "--data-dir", dir, "--listen", "127.0.0.1:0", "--json")
	if code != 0 {
		t.Fatalf("init = %d: %s", code, errs)
	}
	var in initOut
	if err := json.Unmarshal([]byte(out), &in); err != nil {
		t.Fatalf("init output %q: %v", out, err)
	}
	const pw = "correct horse battery\n"
	steps := []struct {
		name     string
		stdin    string
		args     []string
		wantCode int
		wantErr  string // in the one line of stderr
	}{
		{"add admin", pw, []string{"user", "add", "alice", "--role", "admin"}, 0, "user alice added (admin)"},
		{"add auditor", "twelve chars\r\n", []string{"user", "add", "bob", "--role", "auditor"}, 0, "user bob added (auditor)"},
		{"duplicate", pw, []string{"user", "add", "alice", "--role", "auditor"}, 2, `an account named "alice" exists`},
		{"short password", "eleven char\n", []string{"user", "add", "carol", "--role", "admin"}, 2, "use at least 12"},
		{"long password", strings.Repeat("x", 1025) + "\n", []string{"user", "add", "carol", "--role", "admin"}, 2, "use at most 1024"},
		{"no password", "", []string{"user", "add", "carol", "--role", "admin"}, 2, "no password on stdin"},
		{"no role", pw, []string{"user", "add", "carol"}, 2, "want admin or auditor"},
		{"bad role", pw, []string{"user", "add", "carol", "--role", "root"}, 2, "want admin or auditor"},
		{"bad name", pw, []string{"user", "add", "ca rol", "--role", "admin"}, 2, "use 1 to 64 letters"},
		{"passwd", "a new password!\n", []string{"user", "passwd", "alice"}, 0, "password of alice changed"},
		{"passwd unknown", pw, []string{"user", "passwd", "carol"}, 2, `no account named "carol"`},
		{"disable", "", []string{"user", "disable", "bob"}, 0, "user bob disabled"},
		{"disable unknown", "", []string{"user", "disable", "carol"}, 2, `no account named "carol"`},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			args := append(st.args, "--data-dir", dir)
			_, errs, code := runBinIn(t, st.stdin, args...)
			if code != st.wantCode || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, st.wantErr) {
				t.Errorf("%s = %d %q, want %d and one line with %q", strings.Join(args, " "), code, errs, st.wantCode, st.wantErr)
			}
		})
	}

	out, errs, code = runBin(t, "user", "list", "--data-dir", dir, "--json")
	var list []struct {
		Name       string  `json:"name"`
		Role       string  `json:"role"`
		DisabledAt *string `json:"disabled_at"`
	}
	if err := json.Unmarshal([]byte(out), &list); code != 0 || err != nil {
		t.Fatalf("user list --json = %d %q %s: %v", code, out, errs, err)
	}
	type row struct {
		Name, Role string
		Disabled   bool
	}
	var got []row
	for _, u := range list {
		got = append(got, row{u.Name, u.Role, u.DisabledAt != nil})
	}
	if diff := cmp.Diff([]row{{"alice", "admin", false}, {"bob", "auditor", true}}, got); diff != "" {
		t.Errorf("user list --json (-want +got):\n%s", diff)
	}
	out, _, code = runBin(t, "user", "list", "--data-dir", dir)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 3 || !strings.HasPrefix(lines[1], "alice") || !strings.Contains(lines[1], "admin") ||
		!strings.HasSuffix(lines[1], "-") || !strings.Contains(lines[2], "auditor") || strings.HasSuffix(lines[2], "-") {
		t.Errorf("user list = %d\n%s\nwant a header, alice admin not disabled, bob auditor disabled", code, out)
	}
	if strings.Contains(out, "argon2") {
		t.Errorf("user list shows password hashes:\n%s", out)
	}

	// Every change is in the audit log, and none of the refused ones.
	s := serve(t, dir)
	c := pinned(in.Fingerprint)
	code, body := call(t, c, "GET", "https://"+s.addr+"/api/v1/audit", in.AdminToken, nil)
	var audit struct {
		Audit []struct{ Action, Target string }
	}
	if err := json.Unmarshal(body, &audit); code != 200 || err != nil {
		t.Fatalf("GET audit = %d %s", code, body)
	}
	var actions []string
	for _, a := range audit.Audit {
		if strings.HasPrefix(a.Action, "user.") {
			actions = append(actions, a.Action+" "+a.Target)
		}
	}
	if strings.Contains(string(body), "argon2") {
		t.Errorf("audit log shows a password hash: %s", body)
	}
	want := []string{"user.create alice", "user.create bob", "user.passwd alice", "user.disable bob"}
	if diff := cmp.Diff(want, actions); diff != "" {
		t.Errorf("audit user actions (-want +got):\n%s", diff)
	}
}
