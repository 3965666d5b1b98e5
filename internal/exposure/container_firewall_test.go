package exposure

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/firewarden/firewarden/internal/host"
)

func TestDockerBypassNote(t *testing.T) {
	wide := func(runtime, name, addr string) Listener {
		ap := netip.MustParseAddrPort(addr)
		return Listener{Proto: "tcp", Addr: ap, Scope: Classify(ap.Addr()), Container: &Container{Runtime: runtime, Name: name}}
	}
	ufwOn := map[string]string{"etc/ufw/ufw.conf": "# /etc/ufw/ufw.conf\nENABLED=yes\nLOGLEVEL=low\n"}
	for _, tt := range []struct {
		name  string
		files map[string]string
		ls    []Listener
		want  string
	}{
		{"ufw, docker on every interface", ufwOn, []Listener{wide("docker", "mm", "0.0.0.0:8065"), wide("docker", "db", "127.0.0.1:5432")},
			"ufw manages this host's firewall (ENABLED=yes in /etc/ufw/ufw.conf), and Docker publishes mm tcp/0.0.0.0:8065 beyond loopback: " +
				"Docker forwards a published port with its own nat rules before ufw's input rules see the packets, so ufw's rules (even `ufw deny PORT`) do not protect it; " +
				"bind them to 127.0.0.1 (\"127.0.0.1:PORT:PORT\" in compose, -p 127.0.0.1:PORT:PORT) or filter them in the DOCKER-USER chain"},
		{"firewalld, a compose file's port", map[string]string{"etc/systemd/system/multi-user.target.wants/firewalld.service": ""}, []Listener{wide("compose", "mm", "192.168.1.10:8065")},
			"firewalld manages this host's firewall (firewalld.service is enabled: /etc/systemd/system/multi-user.target.wants/firewalld.service), and Docker publishes (or a compose file declares) mm tcp/192.168.1.10:8065 beyond loopback: " +
				"Docker forwards a published port with its own nat rules and puts its interfaces in firewalld's \"docker\" zone, whose target is ACCEPT, so firewalld's zone rules do not protect it; " +
				"bind them to 127.0.0.1 (\"127.0.0.1:PORT:PORT\" in compose, -p 127.0.0.1:PORT:PORT) or filter them in the DOCKER-USER chain"},
		{"many ports are counted", ufwOn, []Listener{wide("docker", "a", "0.0.0.0:1"), wide("docker", "a", "0.0.0.0:2"), wide("docker", "a", "0.0.0.0:3"),
			wide("docker", "a", "0.0.0.0:4"), wide("docker", "a", "0.0.0.0:5"), wide("docker", "a", "0.0.0.0:6"), wide("docker", "a", "0.0.0.0:7")},
			"ufw manages this host's firewall (ENABLED=yes in /etc/ufw/ufw.conf), and Docker publishes a tcp/0.0.0.0:1, a tcp/0.0.0.0:2, a tcp/0.0.0.0:3, a tcp/0.0.0.0:4, a tcp/0.0.0.0:5 and 2 more beyond loopback: " +
				"Docker forwards a published port with its own nat rules before ufw's input rules see the packets, so ufw's rules (even `ufw deny PORT`) do not protect it; " +
				"bind them to 127.0.0.1 (\"127.0.0.1:PORT:PORT\" in compose, -p 127.0.0.1:PORT:PORT) or filter them in the DOCKER-USER chain"},
		{"ufw off", map[string]string{"etc/ufw/ufw.conf": "ENABLED=no\n"}, []Listener{wide("docker", "mm", "0.0.0.0:8065")}, ""},
		{"no firewall manager", nil, []Listener{wide("docker", "mm", "0.0.0.0:8065")}, ""},
		{"loopback only", ufwOn, []Listener{wide("docker", "db", "127.0.0.1:5432"), wide("docker", "db", "[::1]:5432")}, ""},
		{"podman is not docker", ufwOn, []Listener{wide("podman", "mm", "0.0.0.0:8065")}, ""},
		{"host listeners are not published ports", ufwOn, []Listener{{Proto: "tcp", Addr: netip.MustParseAddrPort("0.0.0.0:22"), Scope: ScopeAll, Process: "sshd"}}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for p, content := range tt.files {
				full := filepath.Join(dir, p)
				os.MkdirAll(filepath.Dir(full), 0o755)
				if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			root, err := host.NewRoot(dir)
			if err != nil {
				t.Fatal(err)
			}
			if got := DockerBypassNote(root, tt.ls); got != tt.want {
				t.Errorf("DockerBypassNote() = %q, want %q", got, tt.want)
			}
		})
	}
}
