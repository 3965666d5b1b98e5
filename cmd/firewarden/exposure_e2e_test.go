package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/firewarden/firewarden/internal/host/hosttest"
)

// exposureLinux lays out a Debian root with a fake /proc: sshd on every interface, postgres on
// loopback and on every interface, redis on a LAN address, dnsmasq's DNS on UDP, and a socket no
// process holds.
func exposureLinux(t *testing.T) string {
	t.Helper()
	root := fakeLinux(t)
	write := func(sys, content string) {
		p := filepath.Join(root, sys)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	link := func(sys, target string) {
		p := filepath.Join(root, sys)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
	}
	const head = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
	write("/proc/net/tcp", head+
		"   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 101 1 0000000000000000 100 0 0 10 0\n"+
		"   1: 0100007F:1538 00000000:0000 0A 00000000:00000000 00:00000000 00000000   116        0 102 1 0000000000000000 100 0 0 10 0\n"+
		"   2: 00000000:1538 00000000:0000 0A 00000000:00000000 00:00000000 00000000   116        0 103 1 0000000000000000 100 0 0 10 0\n"+
		"   3: 0A01A8C0:18EB 00000000:0000 0A 00000000:00000000 00:00000000 00000000   999        0 104 1 0000000000000000 100 0 0 10 0\n"+
		"   4: 0F02000A:0016 0202000A:D431 01 00000000:00000000 02:000A7B2C 00000000     0        0 105 4 0000000000000000 20 4 29 10 -1\n"+
		"   5: 00000000:270F 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 106 1 0000000000000000 100 0 0 10 0\n")
	write("/proc/net/tcp6", head+
		"   0: 00000000000000000000000000000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 201 1 0000000000000000 100 0 0 10 0\n")
	write("/proc/net/udp", head+
		"  10: 0A01A8C0:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000   113        0 301 2 0000000000000000 0\n")
	proc := func(pid, comm, exe string, fds ...string) {
		write("/proc/"+pid+"/comm", comm+"\n")
		link("/proc/"+pid+"/exe", exe)
		for i, target := range fds {
			link("/proc/"+pid+"/fd/"+string(rune('3'+i)), target)
		}
	}
	proc("612", "sshd", "/usr/sbin/sshd", "socket:[101]", "socket:[201]")
	proc("840", "postgres", "/usr/lib/postgresql/16/bin/postgres", "socket:[102]", "socket:[103]")
	proc("901", "redis-server", "/usr/bin/redis-server", "socket:[104]")
	proc("950", "dnsmasq", "/usr/sbin/dnsmasq", "socket:[301]")
	return root
}

func writeExpect(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "expect.yaml")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// exposure lists the listeners of a fake /proc with their processes and scopes, and exits 0
// without --expect.
func TestExposureLinuxList(t *testing.T) {
	root := exposureLinux(t)
	r := firewarden(t, root, "exposure")
	want := "PROTO  ADDRESS       PORT  SCOPE     PID  PROCESS       PATH\n" +
		"tcp    0.0.0.0       22    all       612  sshd          /usr/sbin/sshd\n" +
		"tcp    ::            22    all       612  sshd          /usr/sbin/sshd\n" +
		"tcp    0.0.0.0       5432  all       840  postgres      /usr/lib/postgresql/16/bin/postgres\n" +
		"tcp    127.0.0.1     5432  loopback  840  postgres      /usr/lib/postgresql/16/bin/postgres\n" +
		"tcp    192.168.1.10  6379  private   901  redis-server  /usr/bin/redis-server\n" +
		"tcp    0.0.0.0       9999  all       -    -             -\n" +
		"udp    192.168.1.10  53    private   950  dnsmasq       /usr/sbin/dnsmasq\n" +
		"\n7 listeners\n"
	if r.code != 0 || r.stderr != "" {
		t.Errorf("firewarden exposure = exit %d, stderr %q, want exit 0 and nothing", r.code, r.stderr)
	}
	if diff := cmp.Diff(want, r.stdout); diff != "" {
		t.Errorf("firewarden exposure stdout (-want +got):\n%s", diff)
	}
}

// With --expect, what listens more widely than allowed or is not listed fails with the bind
// address to change; --json carries the same verdicts.
func TestExposureLinuxExpect(t *testing.T) {
	root := exposureLinux(t)
	expect := writeExpect(t, "- {process: sshd, port: 22, scope: any}\n"+
		"- {process: postgres, port: 5432, scope: loopback}\n"+
		"- {process: redis-server, scope: lan}\n"+
		"- {port: 53, proto: udp, scope: lan}\n")
	r := firewarden(t, root, "exposure", "--expect", expect)
	if r.code != 1 {
		t.Errorf("firewarden exposure --expect = exit %d, want 1\nstderr %s", r.code, r.stderr)
	}
	for _, line := range []string{
		"7 listeners: 5 expected, 1 too wide, 1 unexpected\n",
		"too wide tcp/0.0.0.0:5432: bind postgres (pid 840) to 127.0.0.1:5432 instead of 0.0.0.0:5432 (" + expect + ":2 allows loopback only); or keep other hosts out: leave tcp port 5432 out of the baseline's linux.firewall.allowed and run `firewarden fix`, whose table drops what the list does not allow\n",
		"unexpected tcp/0.0.0.0:9999: stop the process (not found: run as root, or it belongs to another PID namespace such as a container) or bind it to 127.0.0.1:9999; or keep other hosts out: leave tcp port 9999 out of the baseline's linux.firewall.allowed and run `firewarden fix`, whose table drops what the list does not allow; if it is meant to listen, add to " + expect + ": - {process: NAME, port: 9999, proto: tcp, scope: any}\n",
	} {
		if !strings.Contains(r.stdout, line) {
			t.Errorf("firewarden exposure --expect stdout lacks %q:\n%s", line, r.stdout)
		}
	}

	r = firewarden(t, root, "--json", "exposure", "--expect", expect)
	var out struct {
		Listeners []struct {
			Proto, Addr, Scope, Verdict, Allowed, Process string
			PID                                           int
			ExpectLine                                    int `json:"expect_line"`
		}
		Summary map[string]int
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || r.code != 1 {
		t.Fatalf("firewarden --json exposure --expect = exit %d, %v:\n%s", r.code, err, r.stdout)
	}
	var got []string
	for _, l := range out.Listeners {
		got = append(got, strings.Join([]string{l.Proto, l.Addr, l.Scope, l.Process, l.Verdict, l.Allowed}, " "))
	}
	want := []string{
		"tcp 0.0.0.0:22 all sshd expected any",
		"tcp [::]:22 all sshd expected any",
		"tcp 0.0.0.0:5432 all postgres too_wide loopback",
		"tcp 127.0.0.1:5432 loopback postgres expected loopback",
		"tcp 192.168.1.10:6379 private redis-server expected lan",
		"tcp 0.0.0.0:9999 all  unexpected ",
		"udp 192.168.1.10:53 private dnsmasq expected lan",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("firewarden --json exposure --expect listeners (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]int{"listeners": 7, "expected": 5, "too_wide": 1, "unexpected": 1}, out.Summary); diff != "" {
		t.Errorf("firewarden --json exposure --expect summary (-want +got):\n%s", diff)
	}
}

// An expectation file that allows everything there is makes exposure exit 0.
func TestExposureLinuxAllExpected(t *testing.T) {
	root := exposureLinux(t)
	expect := writeExpect(t, "- {process: sshd, scope: any}\n- {process: postgres, scope: any}\n- {port: 9999, scope: any}\n"+
		"- {process: redis-server, scope: lan}\n- {process: dnsmasq, scope: lan}\n")
	if r := firewarden(t, root, "exposure", "--expect", expect); r.code != 0 {
		t.Errorf("firewarden exposure --expect (all allowed) = exit %d, want 0\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// A bad expectation file is exit 2 with file:line and nothing on stdout.
func TestExposureBadExpect(t *testing.T) {
	root := exposureLinux(t)
	for _, tt := range []struct{ name, in, stderr string }{
		{"scope", "- {process: sshd, scope: any}\n- {port: 5432, scope: everywhere}\n", ":2: scope should be loopback, lan or any, not \"everywhere\"\n"},
		{"key", "- {process: sshd, bind: 0.0.0.0, scope: any}\n", ":1: unknown key \"bind\" under a listener; the keys are container, port, process, proto, scope\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			expect := writeExpect(t, tt.in)
			r := firewarden(t, root, "exposure", "--expect", expect)
			if want := "firewarden: " + expect + tt.stderr; r.code != 2 || r.stdout != "" || r.stderr != want {
				t.Errorf("firewarden exposure --expect (%s) = exit %d, stdout %q, stderr %q; want exit 2, stderr %q", tt.name, r.code, r.stdout, r.stderr, want)
			}
		})
	}
	r := firewarden(t, root, "exposure", "--expect", filepath.Join(t.TempDir(), "missing.yaml"))
	if r.code != 2 || !strings.Contains(r.stderr, "read the expectation file: no such file or directory") {
		t.Errorf("firewarden exposure --expect missing = exit %d, stderr %q, want exit 2 naming the missing file", r.code, r.stderr)
	}
}

// On a Mac, exposure runs lsof (here a stand-in printing the hand-written field output of
// internal/exposure/testdata/lsof) and reads its listeners, and ps for their executables' paths
// (a stand-in that knows one pid and exits 1, as ps does when some pid has gone).
func TestExposureMac(t *testing.T) {
	root := mac(t, hosttest.Mac15())
	fixture, err := filepath.Abs("../../internal/exposure/testdata/lsof/sonoma-services.txt")
	if err != nil {
		t.Fatal(err)
	}
	lsof := filepath.Join(root, "usr/sbin/lsof")
	os.MkdirAll(filepath.Dir(lsof), 0o755)
	if err := os.WriteFile(lsof, []byte("#!/bin/sh\n[ \"$*\" = '+c 0 -nP -iTCP -iUDP -F pcftPnT' ] || { echo \"lsof: unexpected arguments $*\" >&2; exit 2; }\nexec cat '"+fixture+"'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	ps := filepath.Join(root, "bin/ps")
	os.MkdirAll(filepath.Dir(ps), 0o755)
	if err := os.WriteFile(ps, []byte("#!/bin/sh\nprintf ' 1204 /Applications/Postgres.app/Contents/Versions/16/bin/postgres\\n'\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	expect := writeExpect(t, "- {process: postgres, port: 5432, scope: loopback}\n- {process: node, port: 3030, scope: any}\n- {process: redis-server, scope: loopback}\n")
	r := firewarden(t, root, "exposure", "--expect", expect)
	if r.code != 1 {
		t.Errorf("firewarden exposure on a Mac = exit %d, want 1\nstderr %s", r.code, r.stderr)
	}
	if r.stderr != "" {
		t.Errorf("firewarden exposure on a Mac: stderr %q, want nothing", r.stderr)
	}
	for _, line := range []string{
		"  loopback    loopback_only  1204  postgres            /Applications/Postgres.app/Contents/Versions/16/bin/postgres  expected\n",
		"14 listeners: 3 expected, 1 too wide, 10 unexpected\n",
		"too wide tcp/0.0.0.0:6379: bind redis-server (pid 1388) to 127.0.0.1:6379 instead of 0.0.0.0:6379 (" + expect + ":3 allows loopback only); or keep other hosts out with the pf rule `block in quick on ! lo0 proto tcp from any to any port 6379`\n",
	} {
		if !strings.Contains(r.stdout, line) {
			t.Errorf("firewarden exposure on a Mac: stdout lacks %q:\n%s", line, r.stdout)
		}
	}
}
