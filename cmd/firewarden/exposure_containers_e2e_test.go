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

// containersLinux lays out a Debian root whose /proc has sshd on every interface and Docker's
// userland proxy holding the published port 8065 on 0.0.0.0 and ::, with ufw enabled, a docker
// stand-in printing the hand-written `docker ps --format json` of
// internal/exposure/testdata/containers, and a podman stand-in whose service is not running.
func containersLinux(t *testing.T) string {
	t.Helper()
	root := fakeLinux(t)
	write := func(sys, content string, mode os.FileMode) {
		p := filepath.Join(root, sys)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
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
		"   1: 00000000:1F81 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 401 1 0000000000000000 100 0 0 10 0\n", 0o644)
	write("/proc/net/tcp6", head+
		"   0: 00000000000000000000000000000000:1F81 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 402 1 0000000000000000 100 0 0 10 0\n", 0o644)
	proc := func(pid, comm, exe string, fds ...string) {
		write("/proc/"+pid+"/comm", comm+"\n", 0o644)
		link("/proc/"+pid+"/exe", exe)
		for i, target := range fds {
			link("/proc/"+pid+"/fd/"+string(rune('3'+i)), target)
		}
	}
	proc("612", "sshd", "/usr/sbin/sshd", "socket:[101]")
	proc("2201", "docker-proxy", "/usr/bin/docker-proxy", "socket:[401]")
	proc("2202", "docker-proxy", "/usr/bin/docker-proxy", "socket:[402]")
	write("/etc/ufw/ufw.conf", "# /etc/ufw/ufw.conf\nENABLED=yes\nLOGLEVEL=low\n", 0o644)

	fixture, err := filepath.Abs("../../internal/exposure/testdata/containers/docker-ps-28.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	write("/usr/bin/docker", "#!/bin/sh\n[ \"$*\" = 'ps --format json' ] || { echo \"docker: unexpected arguments $*\" >&2; exit 2; }\nexec cat '"+fixture+"'\n", 0o755)
	write("/usr/bin/podman", "#!/bin/sh\necho 'Error: unable to connect to Podman socket: dial unix /run/podman/podman.sock: connect: no such file or directory' >&2\nexit 125\n", 0o755)
	return root
}

func writeCompose(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "compose.yaml")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// The guide's case through the binary: Mattermost published on every interface where loopback
// was meant. Docker's proxy sockets in /proc are the container's (listed once, marked), the fix
// names the -p and the compose line to write, ufw's blind spot is said once, a compose entry
// with a variable is conditional, and a runtime that cannot answer is a warning, not a failure.
func TestExposureContainers(t *testing.T) {
	root := containersLinux(t)
	compose := writeCompose(t, "services:\n"+
		"  mattermost:\n"+
		"    ports:\n"+
		"      - \"8065:8065\"\n"+
		"  calls:\n"+
		"    ports:\n"+
		"      - \"${RTCD_BIND:-0.0.0.0}:8443:8443/udp\"\n"+
		"  admin:\n"+
		"    ports:\n"+
		"      - \"9000:80\"\n")
	expect := writeExpect(t, "- {process: sshd, port: 22, scope: any}\n"+
		"- {container: mattermost, port: 8065, scope: loopback}\n"+
		"- {container: db, port: 5432, scope: loopback}\n"+
		"- {container: jellyfin, scope: any}\n"+
		"- {container: relay, scope: lan}\n")
	r := firewarden(t, root, "exposure", "--expect", expect, "--compose", compose)
	if r.code != 1 {
		t.Errorf("firewarden exposure --compose = exit %d, want 1\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr)
	}
	table := fieldsOf(r.stdout)
	for _, line := range []string{
		"PROTO ADDRESS PORT SCOPE PID PROCESS PATH CONTAINER VERDICT",
		"tcp 0.0.0.0 8065 all 2201 docker-proxy /usr/bin/docker-proxy docker:chat-mattermost-1 too_wide",
		"tcp :: 8065 all 2202 docker-proxy /usr/bin/docker-proxy docker:chat-mattermost-1 too_wide",
		"tcp 127.0.0.1 5432 loopback - - - docker:chat-db-1 expected",
		"udp 192.168.1.10 9000 private - - - docker:relay expected",
		"tcp 0.0.0.0 9000 all - - - compose:admin (" + compose + ":10) unexpected",
		"13 listeners: 10 expected, 2 too wide, 1 unexpected, 1 conditional",
		"conditional " + compose + ":7: service calls, ports entry \"${RTCD_BIND:-0.0.0.0}:8443:8443/udp\": it uses variables, which firewarden does not expand: " +
			"what it publishes, and where, depends on their values; write the address and port literally to have it judged",
		"too wide tcp/0.0.0.0:8065: publish chat-mattermost-1's port as -p 127.0.0.1:8065:8065 (docker run) instead of 0.0.0.0:8065, " +
			"that is \"127.0.0.1:8065:8065\" instead of \"8065:8065\" at " + compose + ":4 (" + expect + ":2 allows loopback only)",
		"unexpected tcp/0.0.0.0:9000: stop service admin (" + compose + ":10), or in " + compose + ":10 (service admin) write \"127.0.0.1:9000:80\" instead of \"9000:80\"; " +
			"if it is meant to be published, add to " + expect + ": - {container: admin, port: 9000, proto: tcp, scope: any}",
	} {
		if !table[line] {
			t.Errorf("firewarden exposure --compose stdout lacks %q:\n%s", line, r.stdout)
		}
	}
	// The proxy's two sockets are the container's port, listed once each, and the compose
	// file's declaration of the same port is not a third row.
	if n := strings.Count(r.stdout, "  8065  "); n != 2 {
		t.Errorf("firewarden exposure --compose lists 8065 in %d rows, want 2:\n%s", n, r.stdout)
	}
	wantErr := "firewarden: warning: /usr/bin/podman ps --format json exited with status 125: " +
		"Error: unable to connect to Podman socket: dial unix /run/podman/podman.sock: connect: no such file or directory; its published ports are not listed\n" +
		"firewarden: warning: ufw manages this host's firewall (ENABLED=yes in /etc/ufw/ufw.conf), and Docker publishes (or a compose file declares) " +
		"relay tcp/192.168.1.10:8000, relay tcp/192.168.1.10:8001, relay tcp/192.168.1.10:8002, chat-mattermost-1 tcp/0.0.0.0:8065, chat-mattermost-1 tcp/[::]:8065 and 6 more beyond loopback: " +
		"Docker forwards a published port with its own nat rules before ufw's input rules see the packets, so ufw's rules (even `ufw deny PORT`) do not protect it; " +
		"bind them to 127.0.0.1 (\"127.0.0.1:PORT:PORT\" in compose, -p 127.0.0.1:PORT:PORT) or filter them in the DOCKER-USER chain\n"
	if diff := cmp.Diff(wantErr, r.stderr); diff != "" {
		t.Errorf("firewarden exposure --compose stderr (-want +got):\n%s", diff)
	}

	r = firewarden(t, root, "--json", "exposure", "--expect", expect, "--compose", compose)
	var out struct {
		Listeners []struct {
			Addr, Process, Verdict string
			Container              *struct {
				Runtime, ID, Name, Image, Where, Service string
				ComposeFile                              string `json:"compose_file"`
				TargetPort                               int    `json:"target_port"`
			}
		}
		Conditional []struct{ Where, Service, Entry, Why string }
		Summary     map[string]int
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || r.code != 1 {
		t.Fatalf("firewarden --json exposure --compose = exit %d, %v:\n%s", r.code, err, r.stdout)
	}
	var got []string
	for _, l := range out.Listeners {
		if c := l.Container; c != nil && l.Process == "docker-proxy" {
			got = append(got, strings.Join([]string{l.Addr, l.Verdict, c.Runtime, c.ID, c.Name, c.Image, c.Service, c.Where, c.ComposeFile}, " "))
		}
	}
	want := []string{
		"0.0.0.0:8065 too_wide docker 3f9c1e2a7b40 chat-mattermost-1 mattermost/mattermost-team-edition:10.2 mattermost docker ps " + compose + ":4",
		"[::]:8065 too_wide docker 3f9c1e2a7b40 chat-mattermost-1 mattermost/mattermost-team-edition:10.2 mattermost docker ps " + compose + ":4",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("firewarden --json exposure --compose proxy listeners (-want +got):\n%s", diff)
	}
	if len(out.Conditional) != 1 || out.Conditional[0].Where != compose+":7" || out.Summary["conditional"] != 1 {
		t.Errorf("firewarden --json exposure --compose conditional = %+v, summary %v; want the entry at %s:7", out.Conditional, out.Summary, compose)
	}
}

// Without --expect, containers are listed and exit is 0; without a docker or podman program
// under the root, nothing is said about them (TestExposureLinuxList); a compose file alone is
// enough to list its ports.
func TestExposureComposeOnly(t *testing.T) {
	root := exposureLinux(t)
	compose := writeCompose(t, "services:\n  mattermost:\n    ports: [\"8065:8065\", \"127.0.0.1::3000\"]\n")
	r := firewarden(t, root, "exposure", "--compose", compose)
	if r.code != 0 || r.stderr != "" {
		t.Errorf("firewarden exposure --compose = exit %d, stderr %q; want 0 and nothing", r.code, r.stderr)
	}
	table := fieldsOf(r.stdout)
	for _, line := range []string{
		"PROTO ADDRESS PORT SCOPE PID PROCESS PATH CONTAINER",
		"tcp 127.0.0.1 random loopback - - - compose:mattermost (" + compose + ":3)",
		"tcp 0.0.0.0 8065 all - - - compose:mattermost (" + compose + ":3)",
		"tcp 0.0.0.0 22 all 612 sshd /usr/sbin/sshd -",
		"9 listeners",
	} {
		if !table[line] {
			t.Errorf("firewarden exposure --compose stdout lacks %q:\n%s", line, r.stdout)
		}
	}
}

// fieldsOf is the set of out's lines with their runs of spaces made one (table columns
// widen with the temporary directories' names).
func fieldsOf(out string) map[string]bool {
	m := map[string]bool{}
	for _, l := range strings.Split(out, "\n") {
		m[strings.Join(strings.Fields(l), " ")] = true
	}
	return m
}

// A compose file firewarden cannot read is exit 2 with FILE:LINE and nothing on stdout.
func TestExposureBadCompose(t *testing.T) {
	root := exposureLinux(t)
	for _, tt := range []struct{ name, in, stderr string }{
		{"entry", "services:\n  web:\n    ports:\n      - \"80:80:80:80/tcp\"\n", `:4: service web: ports entry "80:80:80:80/tcp": host address "80:80" is not an IP address` + "\n"},
		{"long key", "services:\n  web:\n    ports:\n      - {target: 80, host: 127.0.0.1}\n", `:4: unknown key "host" under a ports entry of service web; the keys are app_protocol, host_ip, mode, name, protocol, published, target` + "\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			compose := writeCompose(t, tt.in)
			r := firewarden(t, root, "exposure", "--compose", compose)
			if want := "firewarden: " + compose + tt.stderr; r.code != 2 || r.stdout != "" || r.stderr != want {
				t.Errorf("firewarden exposure --compose (%s) = exit %d, stdout %q, stderr %q; want exit 2, stderr %q", tt.name, r.code, r.stdout, r.stderr, want)
			}
		})
	}
	r := firewarden(t, root, "exposure", "--compose", filepath.Join(t.TempDir(), "missing.yaml"))
	if r.code != 2 || r.stderr != "firewarden: read the compose file: no such file or directory\n" {
		t.Errorf("firewarden exposure --compose missing = exit %d, stderr %q, want exit 2 naming the missing file", r.code, r.stderr)
	}
}

// On a Mac, Docker Desktop's backend holds the published port's host sockets (lsof shows them as
// com.docker.backend's): the rows are the container's, docker is found at Docker Desktop's
// /usr/local/bin link, and the ufw note, which is about Linux, is not given.
func TestExposureContainersMac(t *testing.T) {
	root := mac(t, hosttest.Mac15())
	write := func(sys, content string) {
		p := filepath.Join(root, sys)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write("/usr/sbin/lsof", "#!/bin/sh\nprintf 'p1\\nclaunchd\\nf12\\ntIPv4\\nPTCP\\nn*:22\\nTST=LISTEN\\np2210\\nccom.docker.backend\\nf31\\ntIPv4\\nPTCP\\nn*:8065\\nTST=LISTEN\\nf32\\ntIPv6\\nPTCP\\nn*:8065\\nTST=LISTEN\\n'\n")
	write("/bin/ps", "#!/bin/sh\nprintf '    1 /sbin/launchd\\n 2210 /Applications/Docker.app/Contents/MacOS/com.docker.backend\\n'\n")
	write("/usr/local/bin/docker", "#!/bin/sh\n[ \"$*\" = 'ps --format json' ] || exit 2\necho '{\"ID\":\"3f9c1e2a7b40\",\"Image\":\"mattermost/mattermost-team-edition\",\"Names\":\"mattermost\",\"Ports\":\"0.0.0.0:8065->8065/tcp, [::]:8065->8065/tcp\"}'\n")
	expect := writeExpect(t, "- {process: launchd, port: 22, scope: any}\n- {container: mattermost, port: 8065, scope: loopback}\n")
	r := firewarden(t, root, "exposure", "--expect", expect)
	if r.code != 1 || r.stderr != "" {
		t.Errorf("firewarden exposure on a Mac with Docker = exit %d, stderr %q; want 1 and nothing", r.code, r.stderr)
	}
	table := fieldsOf(r.stdout)
	for _, line := range []string{
		"tcp 0.0.0.0 8065 all allowed 2210 com.docker.backend /Applications/Docker.app/Contents/MacOS/com.docker.backend docker:mattermost too_wide",
		"tcp :: 8065 all allowed 2210 com.docker.backend /Applications/Docker.app/Contents/MacOS/com.docker.backend docker:mattermost too_wide",
		"3 listeners: 1 expected, 2 too wide, 0 unexpected",
		"too wide tcp/0.0.0.0:8065: publish mattermost's port as -p 127.0.0.1:8065:8065 (docker run) instead of 0.0.0.0:8065 (" + expect + ":2 allows loopback only)",
	} {
		if !table[line] {
			t.Errorf("firewarden exposure on a Mac with Docker: stdout lacks %q:\n%s", line, r.stdout)
		}
	}
}
