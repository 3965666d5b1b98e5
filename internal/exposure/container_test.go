package exposure

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/firewarden/firewarden/internal/host"
)

// row is a listener as one line, for compact tables: "proto addr scope runtime:name:target".
func row(l Listener) string {
	s := fmt.Sprintf("%s %s %s", l.Proto, l.Addr, l.Scope)
	if l.Process != "" {
		s += fmt.Sprintf(" %s(%d)", l.Process, l.PID)
	}
	if c := l.Container; c != nil {
		s += fmt.Sprintf(" %s:%s:%d", c.Runtime, c.Name, c.TargetPort)
	}
	return s
}

func crows(ls []Listener) []string {
	var out []string
	for _, l := range ls {
		out = append(out, row(l))
	}
	return out
}

var dockerPSTests = []struct {
	name, in string
	want     []string
	warns    []string
	err      string
}{
	{name: "empty", in: ""},
	{
		name: "all interfaces, both families, Docker 28",
		in:   `{"ID":"3f9c","Names":"mm","Image":"mattermost","Ports":"0.0.0.0:8065->8065/tcp, [::]:8065->8065/tcp"}` + "\n",
		want: []string{"tcp 0.0.0.0:8065 all docker:mm:8065", "tcp [::]:8065 all docker:mm:8065"},
	},
	{
		name: "unbracketed IPv6 before Docker 28",
		in:   `{"ID":"3f9c","Names":"mm","Ports":":::8065->8065/tcp, ::1:53->53/udp"}`,
		want: []string{"tcp [::]:8065 all docker:mm:8065", "udp [::1]:53 loopback docker:mm:53"},
	},
	{
		name: "loopback, LAN and a different host port",
		in:   `{"ID":"a","Names":"db","Ports":"127.0.0.1:5432->5432/tcp, 192.168.1.10:9000->90/udp"}`,
		want: []string{"tcp 127.0.0.1:5432 loopback docker:db:5432", "udp 192.168.1.10:9000 private docker:db:90"},
	},
	{
		name: "range",
		in:   `{"ID":"a","Names":"relay","Ports":"0.0.0.0:8000-8002->8000-8002/tcp"}`,
		want: []string{"tcp 0.0.0.0:8000 all docker:relay:8000", "tcp 0.0.0.0:8001 all docker:relay:8001", "tcp 0.0.0.0:8002 all docker:relay:8002"},
	},
	{
		name: "unpublished ports are skipped",
		in:   `{"ID":"a","Names":"web","Ports":"80/tcp, 8000-8001/udp"}`,
	},
	{
		name: "legacy link names follow the name",
		in:   `{"ID":"a","Names":"web,other/web","Ports":"127.0.0.1:80->80/tcp"}`,
		want: []string{"tcp 127.0.0.1:80 loopback docker:web:80"},
	},
	{
		name:  "line that is not JSON",
		in:    "Cannot connect\n" + `{"ID":"a","Names":"web","Ports":"127.0.0.1:80->80/tcp"}`,
		want:  []string{"tcp 127.0.0.1:80 loopback docker:web:80"},
		warns: []string{"output line 1 is not a container in JSON (invalid JSON at byte 1); line skipped"},
	},
	{
		name:  "Ports of the wrong type",
		in:    `{"ID":"a","Names":"web","Ports":[80]}`,
		warns: []string{"output line 1 is not a container in JSON (field Ports is a JSON array); line skipped"},
	},
	{
		name: "bad ports",
		in:   `{"ID":"a","Names":"web","Ports":"0.0.0.0:80->80, example:80->80/tcp, 0.0.0.0:8000-8001->80/tcp, 0.0.0.0:99999->1/tcp, 0.0.0.0:132->132/sctp, 80->80/tcp"}`,
		warns: []string{
			`output line 1: container web: port "0.0.0.0:80->80": no /protocol after the container port; port skipped`,
			`output line 1: container web: port "example:80->80/tcp": host address "example" is not an IP address; port skipped`,
			`output line 1: container web: port "0.0.0.0:8000-8001->80/tcp": host ports 8000-8001 and container ports 80 are not the same count; port skipped`,
			`output line 1: container web: port "0.0.0.0:99999->1/tcp": host port: "99999" is not a port or a range of ports; port skipped`,
			`output line 1: container web: port "0.0.0.0:132->132/sctp": protocol "sctp" is not modelled (only tcp and udp); port skipped`,
			`output line 1: container web: port "80->80/tcp": no HOST:PORT before ->; port skipped`,
		},
	},
}

func TestParseDockerPS(t *testing.T) {
	for _, tt := range dockerPSTests {
		t.Run(tt.name, func(t *testing.T) {
			ls, warns, err := ParseDockerPS([]byte(tt.in))
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("ParseDockerPS(%q) error = %v, want %s", tt.in, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseDockerPS(%q) error %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, crows(ls)); diff != "" {
				t.Errorf("ParseDockerPS(%q) listeners (-want +got):\n%s", tt.in, diff)
			}
			if diff := cmp.Diff(tt.warns, warns); diff != "" {
				t.Errorf("ParseDockerPS(%q) warnings (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestParseDockerPSLimit(t *testing.T) {
	in := strings.Repeat(`{"ID":"a","Names":"w","Ports":""}`+"\n", MaxContainers+1)
	if _, _, err := ParseDockerPS([]byte(in)); err == nil || err.Error() != fmt.Sprintf("more than %d containers", MaxContainers) {
		t.Errorf("ParseDockerPS(%d containers) error = %v, want the limit", MaxContainers+1, err)
	}
	in = `{"ID":"a","Names":"w","Ports":"0.0.0.0:1-65535->1-65535/tcp, 0.0.0.0:1-65535->1-65535/udp"}`
	if _, _, err := ParseDockerPS([]byte(in)); err == nil || err.Error() != fmt.Sprintf("more than %d published ports", MaxContainerPorts) {
		t.Errorf("ParseDockerPS(every port twice) error = %v, want the limit", err)
	}
}

// The fixtures: every field of a container read, the compose labels among them.
func TestParseDockerPSFixtures(t *testing.T) {
	data, err := os.ReadFile("testdata/containers/docker-ps-28.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	ls, warns, err := ParseDockerPS(data)
	if err != nil || warns != nil {
		t.Fatalf("ParseDockerPS(docker-ps-28.jsonl) = %v, %q", err, warns)
	}
	want := []string{
		"tcp 127.0.0.1:5432 loopback docker:chat-db-1:5432",
		"tcp 192.168.1.10:8000 private docker:relay:8000",
		"tcp 192.168.1.10:8001 private docker:relay:8001",
		"tcp 192.168.1.10:8002 private docker:relay:8002",
		"tcp 0.0.0.0:8065 all docker:chat-mattermost-1:8065",
		"tcp [::]:8065 all docker:chat-mattermost-1:8065",
		"tcp 0.0.0.0:8096 all docker:jellyfin:8096",
		"tcp [::]:8096 all docker:jellyfin:8096",
		"udp 0.0.0.0:7359 all docker:jellyfin:7359",
		"udp [::]:7359 all docker:jellyfin:7359",
		"udp 192.168.1.10:9000 private docker:relay:90",
	}
	if diff := cmp.Diff(want, crows(ls)); diff != "" {
		t.Errorf("ParseDockerPS(docker-ps-28.jsonl) (-want +got):\n%s", diff)
	}
	wantMM := Container{Runtime: "docker", ID: "3f9c1e2a7b40", Name: "chat-mattermost-1", Image: "mattermost/mattermost-team-edition:10.2",
		TargetPort: 8065, Where: "docker ps", Service: "mattermost", ComposeFile: "/srv/chat/compose.yaml"}
	if diff := cmp.Diff(&wantMM, ls[4].Container); diff != "" {
		t.Errorf("ParseDockerPS(docker-ps-28.jsonl) mattermost (-want +got):\n%s", diff)
	}

	data, err = os.ReadFile("testdata/containers/docker-ps-27.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	ls, warns, err = ParseDockerPS(data)
	if err != nil || warns != nil {
		t.Fatalf("ParseDockerPS(docker-ps-27.jsonl) = %v, %q", err, warns)
	}
	want = []string{
		"tcp 127.0.0.1:53 loopback docker:dns:53",
		"tcp 0.0.0.0:8065 all docker:chat-mattermost-1:8065",
		"tcp [::]:8065 all docker:chat-mattermost-1:8065",
		"udp 127.0.0.1:53 loopback docker:dns:53",
		"udp [::1]:53 loopback docker:dns:53",
	}
	if diff := cmp.Diff(want, crows(ls)); diff != "" {
		t.Errorf("ParseDockerPS(docker-ps-27.jsonl) (-want +got):\n%s", diff)
	}
}

var podmanPSTests = []struct {
	name, in string
	want     []string
	warns    []string
	err      string
}{
	{name: "nothing", in: ""},
	{name: "no containers", in: "[]\n"},
	{
		name: "empty host_ip is all interfaces",
		in:   `[{"Id":"3f9c1e2a7b40d6a3c11e","Names":["mm"],"Ports":[{"host_ip":"","container_port":8065,"host_port":8065,"range":1,"protocol":"tcp"}]}]`,
		want: []string{"tcp 0.0.0.0:8065 all podman:mm:8065"},
	},
	{
		name: "range, two protocols, range 0 and no protocol",
		in: `[{"Id":"a","Names":["sink"],"Ports":[{"host_ip":"192.168.1.10","container_port":514,"host_port":1514,"range":2,"protocol":"tcp,udp"}]},` +
			`{"Id":"b","Names":["cache"],"Ports":[{"host_ip":"::1","container_port":6379,"host_port":6380,"range":0,"protocol":""}]}]`,
		want: []string{
			"tcp 192.168.1.10:1514 private podman:sink:514",
			"tcp 192.168.1.10:1515 private podman:sink:515",
			"tcp [::1]:6380 loopback podman:cache:6379",
			"udp 192.168.1.10:1514 private podman:sink:514",
			"udp 192.168.1.10:1515 private podman:sink:515",
		},
	},
	{
		name: "null ports",
		in:   `[{"Id":"a","Names":["x"],"Ports":null}]`,
	},
	{
		name: "bad mappings are warnings",
		in:   `[{"Id":"a","Names":["x"],"Ports":[{"host_ip":"nowhere","container_port":1,"host_port":1,"range":1,"protocol":"tcp"},{"host_ip":"","container_port":65535,"host_port":1,"range":2,"protocol":"tcp"},{"host_ip":"","container_port":9,"host_port":9,"range":1,"protocol":"sctp"}]}]`,
		warns: []string{
			`container x: port mapping {host_ip: "nowhere", host_port: 1, container_port: 1, range: 1, protocol: "tcp"}: host_ip "nowhere" is not an IP address; mapping skipped`,
			`container x: port mapping {host_ip: "", host_port: 1, container_port: 65535, range: 2, protocol: "tcp"}: the range goes past port 65535; mapping skipped`,
			`container x: port mapping {host_ip: "", host_port: 9, container_port: 9, range: 1, protocol: "sctp"}: protocol "sctp" is not modelled (only tcp and udp); mapping skipped`,
		},
	},
	{name: "not a list", in: `{"Id":"a"}`, err: "output is not a JSON list of containers"},
	{name: "docker's shape", in: `{"ID":"a","Names":"x","Ports":"0.0.0.0:1->1/tcp"}` + "\n", err: "output is not a JSON list of containers"},
	{name: "bad container", in: `[{"Id":"a","Names":"x"}]`, err: "container 1: field Names is a JSON string"},
	{name: "cut short", in: `[{"Id":"a","Names":["x"]}`, err: "output is not a JSON list of containers (no closing ])"},
}

func TestParsePodmanPS(t *testing.T) {
	for _, tt := range podmanPSTests {
		t.Run(tt.name, func(t *testing.T) {
			ls, warns, err := ParsePodmanPS([]byte(tt.in))
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("ParsePodmanPS(%q) error = %v, want %s", tt.in, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParsePodmanPS(%q) error %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, crows(ls)); diff != "" {
				t.Errorf("ParsePodmanPS(%q) listeners (-want +got):\n%s", tt.in, diff)
			}
			if diff := cmp.Diff(tt.warns, warns); diff != "" {
				t.Errorf("ParsePodmanPS(%q) warnings (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestParsePodmanPSFixture(t *testing.T) {
	data, err := os.ReadFile("testdata/containers/podman-ps.json")
	if err != nil {
		t.Fatal(err)
	}
	ls, warns, err := ParsePodmanPS(data)
	if err != nil || warns != nil {
		t.Fatalf("ParsePodmanPS(podman-ps.json) = %v, %q", err, warns)
	}
	want := []string{
		"tcp 192.168.1.10:1514 private podman:logsink:514",
		"tcp 192.168.1.10:1515 private podman:logsink:515",
		"tcp 127.0.0.1:6379 loopback podman:cache:6379",
		"tcp [::1]:6380 loopback podman:cache:6379",
		"tcp 0.0.0.0:8065 all podman:chat_mattermost_1:8065",
		"udp 192.168.1.10:1514 private podman:logsink:514",
		"udp 192.168.1.10:1515 private podman:logsink:515",
	}
	if diff := cmp.Diff(want, crows(ls)); diff != "" {
		t.Errorf("ParsePodmanPS(podman-ps.json) (-want +got):\n%s", diff)
	}
	wantMM := Container{Runtime: "podman", ID: "3f9c1e2a7b40", Name: "chat_mattermost_1", Image: "docker.io/mattermost/mattermost-team-edition:10.2",
		TargetPort: 8065, Where: "podman ps", Service: "mattermost"}
	if diff := cmp.Diff(&wantMM, ls[4].Container); diff != "" {
		t.Errorf("ParsePodmanPS(podman-ps.json) mattermost (-want +got):\n%s", diff)
	}
}

func FuzzParseDockerPS(f *testing.F) {
	for _, tt := range dockerPSTests {
		f.Add([]byte(tt.in))
	}
	for _, name := range []string{"docker-ps-28.jsonl", "docker-ps-27.jsonl"} {
		if b, err := os.ReadFile(filepath.Join("testdata/containers", name)); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		ls, _, err := ParseDockerPS(in)
		if err != nil {
			return
		}
		checkContainerListeners(t, "ParseDockerPS", in, ls)
	})
}

func FuzzParsePodmanPS(f *testing.F) {
	for _, tt := range podmanPSTests {
		f.Add([]byte(tt.in))
	}
	if b, err := os.ReadFile("testdata/containers/podman-ps.json"); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		ls, _, err := ParsePodmanPS(in)
		if err != nil {
			return
		}
		checkContainerListeners(t, "ParsePodmanPS", in, ls)
	})
}

func checkContainerListeners(t *testing.T, fn string, in []byte, ls []Listener) {
	t.Helper()
	if len(ls) > MaxContainerPorts {
		t.Errorf("%s(%q) gave %d listeners, more than the cap", fn, in, len(ls))
	}
	for _, l := range ls {
		if !l.Addr.IsValid() || (l.Proto != "tcp" && l.Proto != "udp") || l.Container == nil || l.Scope != Classify(l.Addr.Addr()) {
			t.Fatalf("%s(%q) gave %+v", fn, in, l)
		}
	}
}

// scriptRunner answers each program path with its own output and error, and records the runs.
type scriptRunner struct {
	answers map[string]struct {
		out   string
		err   error
		trunc bool
	}
	runs []string
}

func (r *scriptRunner) Run(_ context.Context, c host.Cmd) (host.Result, error) {
	r.runs = append(r.runs, c.String())
	a, ok := r.answers[c.Path]
	if !ok {
		return host.Result{}, fmt.Errorf("%s: %w", c.Path, host.ErrNotInstalled)
	}
	return host.Result{Stdout: []byte(a.out), Truncated: a.trunc}, a.err
}

// ReadContainers runs each runtime installed under the root, skips silently those that are not,
// and turns a failing runtime into a warning.
func TestReadContainers(t *testing.T) {
	type answer = struct {
		out   string
		err   error
		trunc bool
	}
	for _, tt := range []struct {
		name      string
		installed []string
		answers   map[string]answer
		want      []string
		warns     []string
		runs      []string
	}{
		{name: "no runtime installed"},
		{
			name:      "docker and podman",
			installed: []string{"/usr/bin/docker", "/usr/local/bin/docker", "/opt/podman/bin/podman"},
			answers: map[string]answer{
				"/usr/bin/docker":        {out: `{"ID":"a","Names":"mm","Ports":"0.0.0.0:8065->8065/tcp"}` + "\n"},
				"/opt/podman/bin/podman": {out: `[{"Id":"b","Names":["db"],"Ports":[{"host_ip":"127.0.0.1","container_port":5432,"host_port":5432,"range":1,"protocol":"tcp"}]}]`},
			},
			want: []string{"tcp 127.0.0.1:5432 loopback podman:db:5432", "tcp 0.0.0.0:8065 all docker:mm:8065"},
			runs: []string{"/usr/bin/docker ps --format json", "/opt/podman/bin/podman ps --format json"},
		},
		{
			name:      "daemon not running",
			installed: []string{"/usr/local/bin/docker"},
			answers: map[string]answer{"/usr/local/bin/docker": {err: &host.ExitError{Argv: []string{"/usr/local/bin/docker", "ps", "--format", "json"}, Code: 1,
				Stderr: "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n"}}},
			warns: []string{"/usr/local/bin/docker ps --format json exited with status 1: " +
				"Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?; its published ports are not listed"},
			runs: []string{"/usr/local/bin/docker ps --format json"},
		},
		{
			name:      "unreadable output",
			installed: []string{"/usr/bin/podman"},
			answers:   map[string]answer{"/usr/bin/podman": {out: "Error: something\n"}},
			warns:     []string{"/usr/bin/podman ps --format json: output is not a JSON list of containers; its published ports are not listed"},
			runs:      []string{"/usr/bin/podman ps --format json"},
		},
		{
			name:      "several lines on stderr, none",
			installed: []string{"/usr/bin/docker", "/usr/bin/podman"},
			answers: map[string]answer{
				"/usr/bin/docker": {err: &host.ExitError{Code: 1, Stderr: "permission denied while trying to connect\n\n  to the docker API\n"}},
				"/usr/bin/podman": {err: &host.ExitError{Code: 125}},
			},
			warns: []string{
				"/usr/bin/docker ps --format json exited with status 1: permission denied while trying to connect; to the docker API; its published ports are not listed",
				"/usr/bin/podman ps --format json exited with status 125: (nothing on stderr); its published ports are not listed",
			},
			runs: []string{"/usr/bin/docker ps --format json", "/usr/bin/podman ps --format json"},
		},
		{
			name:      "many bad lines, cut output",
			installed: []string{"/usr/bin/docker"},
			answers:   map[string]answer{"/usr/bin/docker": {out: strings.Repeat("garbage\n", 25)}},
			warns: append(func() []string {
				var w []string
				for i := 1; i <= 20; i++ {
					w = append(w, fmt.Sprintf("/usr/bin/docker ps --format json: output line %d is not a container in JSON (invalid JSON at byte 1); line skipped", i))
				}
				return w
			}(), "/usr/bin/docker ps --format json: 5 more lines or ports skipped"),
			runs: []string{"/usr/bin/docker ps --format json"},
		},
		{
			name:      "output cut at the cap",
			installed: []string{"/usr/bin/podman"},
			answers:   map[string]answer{"/usr/bin/podman": {out: `[{"Id":"a","Names":["x"]}`, trunc: true}},
			warns: []string{
				"/usr/bin/podman ps --format json: output was cut at the output cap; some published ports may be missing",
				"/usr/bin/podman ps --format json: output is not a JSON list of containers (no closing ]); its published ports are not listed",
			},
			runs: []string{"/usr/bin/podman ps --format json"},
		},
		{
			name:      "a dangling link is not installed",
			installed: []string{"/usr/bin/docker"},
			runs:      []string{"/usr/bin/docker ps --format json"},
		},
		{
			name:      "timed out",
			installed: []string{"/usr/bin/docker"},
			answers:   map[string]answer{"/usr/bin/docker": {err: errors.New("/usr/bin/docker ps --format json timed out after 30s")}},
			warns:     []string{"/usr/bin/docker ps --format json timed out after 30s; its published ports are not listed"},
			runs:      []string{"/usr/bin/docker ps --format json"},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, p := range tt.installed {
				full := filepath.Join(dir, p)
				os.MkdirAll(filepath.Dir(full), 0o755)
				if err := os.WriteFile(full, nil, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			root, err := host.NewRoot(dir)
			if err != nil {
				t.Fatal(err)
			}
			r := &scriptRunner{answers: tt.answers}
			rep := ReadContainers(context.Background(), r, root)
			if diff := cmp.Diff(tt.want, crows(rep.Listeners)); diff != "" {
				t.Errorf("ReadContainers() listeners (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.warns, rep.Warnings); diff != "" {
				t.Errorf("ReadContainers() warnings (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.runs, r.runs); diff != "" {
				t.Errorf("ReadContainers() runs (-want +got):\n%s", diff)
			}
		})
	}
}

// The proxy that holds a published port's host socket is the container's listener, listed once.
func TestMergeContainers(t *testing.T) {
	ap := netip.MustParseAddrPort
	mm := func(a string) Listener {
		addr := ap(a)
		return Listener{Proto: "tcp", Addr: addr, Scope: Classify(addr.Addr()), Container: &Container{Runtime: "docker", ID: "a", Name: "mm", TargetPort: 8065}}
	}
	proc := func(a, name string, pid int) Listener {
		addr := ap(a)
		return Listener{Proto: "tcp", Addr: addr, Scope: Classify(addr.Addr()), PID: pid, Process: name}
	}
	for _, tt := range []struct {
		name       string
		host, cont []Listener
		want       []string
	}{
		{
			name: "docker-proxy on both families",
			host: []Listener{proc("0.0.0.0:8065", "docker-proxy", 10), proc("[::]:8065", "docker-proxy", 11), proc("0.0.0.0:22", "sshd", 1)},
			cont: []Listener{mm("0.0.0.0:8065"), mm("[::]:8065")},
			want: []string{"tcp 0.0.0.0:22 all sshd(1)", "tcp 0.0.0.0:8065 all docker-proxy(10) docker:mm:8065", "tcp [::]:8065 all docker-proxy(11) docker:mm:8065"},
		},
		{
			name: "Docker listed only 0.0.0.0; the proxy also holds ::",
			host: []Listener{proc("0.0.0.0:8065", "docker-proxy", 10), proc("[::]:8065", "docker-proxy", 11)},
			cont: []Listener{mm("0.0.0.0:8065")},
			want: []string{"tcp 0.0.0.0:8065 all docker-proxy(10) docker:mm:8065", "tcp [::]:8065 all docker-proxy(11) docker:mm:8065"},
		},
		{
			name: "no proxy (userland proxy off): the runtime's entry stays",
			host: []Listener{proc("0.0.0.0:22", "sshd", 1)},
			cont: []Listener{mm("0.0.0.0:8065")},
			want: []string{"tcp 0.0.0.0:22 all sshd(1)", "tcp 0.0.0.0:8065 all docker:mm:8065"},
		},
		{
			name: "another process on the port is not the container's",
			host: []Listener{proc("0.0.0.0:8065", "nginx", 7)},
			cont: []Listener{mm("0.0.0.0:8065")},
			want: []string{"tcp 0.0.0.0:8065 all docker:mm:8065", "tcp 0.0.0.0:8065 all nginx(7)"},
		},
		{
			name: "a proxy on another address",
			host: []Listener{proc("127.0.0.1:8065", "rootlessport", 7)},
			cont: []Listener{mm("0.0.0.0:8065")},
			want: []string{"tcp 0.0.0.0:8065 all docker:mm:8065", "tcp 127.0.0.1:8065 loopback rootlessport(7)"},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := MergeContainers(tt.host, tt.cont)
			if diff := cmp.Diff(tt.want, crows(got)); diff != "" {
				t.Errorf("MergeContainers() (-want +got):\n%s", diff)
			}
		})
	}
}

// A compose file's declaration of a port that a running container of the service publishes is
// the same listener: listed once, with the entry's FILE:LINE for the fix.
func TestMergeCompose(t *testing.T) {
	running, _, err := ParseDockerPS([]byte(`{"ID":"3f9c","Names":"chat-mattermost-1","Labels":"com.docker.compose.service=mattermost","Ports":"0.0.0.0:8065->8065/tcp, [::]:8065->8065/tcp"}`))
	if err != nil {
		t.Fatal(err)
	}
	crep, err := ParseCompose([]byte("services:\n  mattermost:\n    ports:\n      - \"8065:8065\"\n      - \"3000\"\n  db:\n    ports: [\"127.0.0.1:5432:5432\"]\n"), "compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	got := MergeCompose(running, crep.Listeners)
	want := []string{
		"tcp 0.0.0.0:0 all compose:mattermost:3000 compose.yaml:5",
		"tcp 127.0.0.1:5432 loopback compose:db:5432 compose.yaml:7",
		"tcp 0.0.0.0:8065 all docker:chat-mattermost-1:8065 docker ps",
		"tcp [::]:8065 all docker:chat-mattermost-1:8065 docker ps",
	}
	if diff := cmp.Diff(want, crowsWhere(got)); diff != "" {
		t.Errorf("MergeCompose() (-want +got):\n%s", diff)
	}
	for _, l := range got[2:] {
		if l.Container.ComposeFile != "compose.yaml:4" || l.Container.Ports != "8065:8065" {
			t.Errorf("MergeCompose() %s: compose file %q, entry %q; want compose.yaml:4 and 8065:8065", l.Addr, l.Container.ComposeFile, l.Container.Ports)
		}
	}
	exps, _ := ParseExpect([]byte("- {container: mattermost, scope: loopback}\n"), "expect.yaml")
	j := Judge(got[2:3], exps, "expect.yaml")[0]
	if want := `publish chat-mattermost-1's port as -p 127.0.0.1:8065:8065 (docker run) instead of 0.0.0.0:8065, that is "127.0.0.1:8065:8065" instead of "8065:8065" at compose.yaml:4 (expect.yaml:1 allows loopback only)`; j.Fix != want {
		t.Errorf("Judge(merged) fix = %q, want %q", j.Fix, want)
	}
}

func crowsWhere(ls []Listener) []string {
	var out []string
	for _, l := range ls {
		out = append(out, row(l)+" "+l.Container.Where)
	}
	return out
}
