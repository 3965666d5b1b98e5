package exposure

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestJudgeContainers(t *testing.T) {
	exps, err := ParseExpect([]byte(
		"- {container: mattermost, port: 8065, scope: loopback}\n"+ // 1
			"- {process: jellyfin, scope: any}\n"+ // 2
			"- {process: docker-proxy, scope: any}\n"+ // 3
			"- {port: 5432, scope: loopback}\n"+ // 4
			"- {container: relay, scope: lan}\n"+ // 5
			"- {container: sshd, scope: any}\n"), "expect.yaml") // 6
	if err != nil {
		t.Fatal(err)
	}
	ctr := func(proto, addr string, c Container) Listener {
		ap := netip.MustParseAddrPort(addr)
		return Listener{Proto: proto, Addr: ap, Scope: Classify(ap.Addr()), Container: &c}
	}
	mm := Container{Runtime: "docker", ID: "3f9c1e2a7b40", Name: "chat-mattermost-1", Service: "mattermost", ComposeFile: "/srv/chat/compose.yaml", TargetPort: 8065, Where: "docker ps"}
	mmCompose := Container{Runtime: "compose", Name: "mattermost", Service: "mattermost", TargetPort: 8065, Where: "compose.yaml:14", Ports: "8065:8065"}
	mmLong := Container{Runtime: "compose", Name: "mattermost", Service: "mattermost", TargetPort: 8065, Where: "compose.yaml:15"}
	jf := Container{Runtime: "podman", ID: "77be04f1c9aa", Name: "jellyfin", TargetPort: 8096, Where: "podman ps"}
	web := Container{Runtime: "docker", ID: "0123456789ab", Name: "web", TargetPort: 80, Where: "docker ps"}
	relay := Container{Runtime: "docker", ID: "c0ffee123456", Name: "relay", TargetPort: 90, Where: "docker ps"}
	type row struct {
		Verdict Verdict
		Line    int
		Fix     string
	}
	for _, tt := range []struct {
		name string
		in   Listener
		want row
	}{
		{"container by its compose service", ctr("tcp", "127.0.0.1:8065", mm), row{Expected, 1, ""}},
		{"container too wide: -p and the compose file", ctr("tcp", "0.0.0.0:8065", mm), row{TooWide, 1,
			`publish chat-mattermost-1's port as -p 127.0.0.1:8065:8065 (docker run) instead of 0.0.0.0:8065, that is "127.0.0.1:8065:8065" (or host_ip: 127.0.0.1 in a long-syntax entry) under ports: of service mattermost in /srv/chat/compose.yaml (expect.yaml:1 allows loopback only)`}},
		{"IPv6 entry of the same port: one -p fixes both", ctr("tcp", "[::]:8065", mm), row{TooWide, 1,
			`publish chat-mattermost-1's port as -p 127.0.0.1:8065:8065 (docker run) instead of [::]:8065, that is "127.0.0.1:8065:8065" (or host_ip: 127.0.0.1 in a long-syntax entry) under ports: of service mattermost in /srv/chat/compose.yaml (expect.yaml:1 allows loopback only)`}},
		{"compose entry too wide: the line to write", ctr("tcp", "0.0.0.0:8065", mmCompose), row{TooWide, 1,
			`in compose.yaml:14 (service mattermost) write "127.0.0.1:8065:8065" instead of "8065:8065" (expect.yaml:1 allows loopback only)`}},
		{"compose long syntax too wide", ctr("tcp", "0.0.0.0:8065", mmLong), row{TooWide, 1,
			`in compose.yaml:15 (service mattermost) set host_ip: 127.0.0.1 on the ports entry of target 8065 (expect.yaml:1 allows loopback only)`}},
		{"a process entry names a container of that name", ctr("tcp", "0.0.0.0:8096", jf), row{Expected, 2, ""}},
		{"the proxy's name does not wave containers through", ctr("tcp", "0.0.0.0:80", web), row{Unexpected, 0,
			`stop docker container web (0123456789ab), or publish web's port as -p 127.0.0.1:80:80 (docker run); if it is meant to be published, add to expect.yaml: - {container: web, port: 80, proto: tcp, scope: any}`}},
		{"a port entry names a container", ctr("tcp", "127.0.0.1:5432", Container{Runtime: "docker", Name: "db", TargetPort: 5432}), row{Expected, 4, ""}},
		{"lan allowed", ctr("udp", "0.0.0.0:9000", relay), row{TooWide, 5,
			`publish relay's port as -p LAN_ADDRESS:9000:90/udp (docker run) instead of 0.0.0.0:9000 (expect.yaml:5 allows lan only; LAN_ADDRESS is this host's address on the LAN)`}},
		{"random host port", ctr("tcp", "0.0.0.0:0", Container{Runtime: "compose", Name: "web", Service: "web", TargetPort: 3000, Where: "compose.yaml:9", Ports: "3000"}), row{Unexpected, 0,
			`stop service web (compose.yaml:9), or in compose.yaml:9 (service web) write "127.0.0.1::3000" instead of "3000"; if it is meant to be published, add to expect.yaml: - {container: web, proto: tcp, scope: any}`}},
		{"unexpected on loopback", ctr("tcp", "127.0.0.1:6379", Container{Runtime: "podman", ID: "9e8d7c6b5a49", Name: "cache", TargetPort: 6379}), row{Unexpected, 0,
			`stop podman container cache (9e8d7c6b5a49); if it is meant to be published, add to expect.yaml: - {container: cache, port: 6379, proto: tcp, scope: loopback}`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			js := Judge([]Listener{tt.in}, exps, "expect.yaml")
			j := js[0]
			got := row{j.Verdict, j.ExpectLine, j.Fix}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Judge(%v %s) (-want +got):\n%s", tt.in.Addr, tt.in.Container.Name, diff)
			}
		})
	}
	// A container entry never names a host process, even one of the same name.
	host := Listener{Proto: "tcp", Addr: netip.MustParseAddrPort("0.0.0.0:22"), Scope: ScopeAll, PID: 1, Process: "sshd"}
	if j := Judge([]Listener{host}, exps, "expect.yaml")[0]; j.Verdict != Unexpected {
		t.Errorf("Judge(sshd on 0.0.0.0:22) = %s, want unexpected: {container: sshd} names no process", j.Verdict)
	}
}

func TestWithHostIP(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"8065:8065", "127.0.0.1:8065:8065"},
		{"0.0.0.0:8065:8065", "127.0.0.1:8065:8065"},
		{"8000-8002:8000-8002", "127.0.0.1:8000-8002:8000-8002"},
		{"[::]:53:53/udp", "127.0.0.1:53:53/udp"},
		{"::1:6000:6000", "127.0.0.1:6000:6000"},
		{"3000", "127.0.0.1::3000"},
		{"0.0.0.0::3000", "127.0.0.1::3000"},
	} {
		if got := withHostIP(tt.in, "127.0.0.1"); got != tt.want {
			t.Errorf("withHostIP(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
