package exposure

import (
	"bufio"
	"bytes"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/firewarden/firewarden/internal/host"
)

// Where ufw and firewalld say they are on (their own files under the root, as
// internal/posture/nftposture reads them: reading the kernel's ruleset would need netlink and
// would read the real host's under a test's --root).
const (
	ufwConf        = "/etc/ufw/ufw.conf"
	systemdEnabled = "/etc/systemd/system/*.wants/"
)

// hostFirewallManager names the tool that manages the host firewall, ufw or firewalld, with what
// showed it, or "" for neither.
func hostFirewallManager(root host.Root) (name, why string) {
	if data, err := root.ReadFile(ufwConf); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
			if ok && strings.TrimSpace(k) == "ENABLED" && strings.EqualFold(strings.Trim(strings.TrimSpace(v), `"'`), "yes") {
				return "ufw", "ENABLED=yes in " + ufwConf
			}
		}
	}
	if m, _ := filepath.Glob(root.Path(systemdEnabled + "firewalld.service")); len(m) > 0 {
		return "firewalld", "firewalld.service is enabled: " + root.Rel(m[0])
	}
	return "", ""
}

// maxBypassNamed bounds the ports a bypass note names.
const maxBypassNamed = 5

// DockerBypassNote is the note to give once when Docker publishes ports wider than loopback on a
// Linux host whose firewall ufw or firewalld manages, or "" when that is not the case. Docker
// forwards a published port with a DNAT rule in its nat table's PREROUTING path, so the packets
// go through the FORWARD chain (DOCKER-USER, then Docker's own chains) and never through the
// INPUT chain where ufw's rules are; with firewalld, Docker puts its interfaces in a "docker"
// zone with target ACCEPT and a policy forwarding from any zone to it (Docker's "Packet
// filtering and firewalls": "Docker and ufw", "Integration with firewalld"). Compose files count
// as Docker's. Podman is left out: rootless Podman's ports are ordinary host sockets that the
// input rules do see.
func DockerBypassNote(root host.Root, ls []Listener) string {
	var named []string
	n, declared := 0, false
	for _, l := range ls {
		c := l.Container
		if c == nil || (c.Runtime != "docker" && c.Runtime != "compose") || l.Scope.Reach() <= ReachLoopback {
			continue
		}
		n++
		declared = declared || c.Runtime == "compose"
		if len(named) < maxBypassNamed {
			named = append(named, fmt.Sprintf("%s %s/%s", c.Name, l.Proto, l.Addr))
		}
	}
	if n == 0 {
		return ""
	}
	name, why := hostFirewallManager(root)
	if name == "" {
		return ""
	}
	list := strings.Join(named, ", ")
	if n > len(named) {
		list += fmt.Sprintf(" and %d more", n-len(named))
	}
	how := "Docker forwards a published port with its own nat rules before ufw's input rules see the packets, so ufw's rules (even `ufw deny PORT`) do not protect it"
	if name == "firewalld" {
		how = "Docker forwards a published port with its own nat rules and puts its interfaces in firewalld's \"docker\" zone, whose target is ACCEPT, so firewalld's zone rules do not protect it"
	}
	who := "Docker publishes"
	if declared {
		who = "Docker publishes (or a compose file declares)"
	}
	return fmt.Sprintf("%s manages this host's firewall (%s), and %s %s beyond loopback: %s; "+
		"bind them to 127.0.0.1 (\"127.0.0.1:PORT:PORT\" in compose, -p 127.0.0.1:PORT:PORT) or filter them in the DOCKER-USER chain",
		name, why, who, list, how)
}
