package baseline

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v4"
)

// Linux holds the wants of the Linux checks (the baseline's `linux:` section).
type Linux struct {
	Firewall LinuxFirewall
	SSH      LinuxSSH
}

// LinuxFirewall holds the host firewall wants, judged over the kernel's whole nftables ruleset.
type LinuxFirewall struct {
	Enabled *bool // linux.firewall.enabled: unmatched inbound traffic is filtered
	Stealth *bool // linux.firewall.stealth: unmatched inbound traffic is dropped, not rejected
	// ICMPEcho says whether ICMP echo requests may be answered (part of linux.firewall.stealth);
	// nil means the baseline does not say, which stealth reads as false.
	ICMPEcho *bool
	Logging  *bool // linux.firewall.logging: dropped packets are logged, rate-limited
	// Allowed is linux.firewall.allowed: the inbound services that may be open, and nothing more.
	// Nil when the baseline does not include the check; an empty, non-nil list allows nothing.
	Allowed []Service
}

// Service is one inbound service a baseline allows: a protocol, a port range and, optionally,
// the source prefixes it may be reached from.
type Service struct {
	Name    string         // a label for reports ("ssh"); optional
	Proto   string         // "tcp" or "udp"
	From    uint16         // first port
	To      uint16         // last port; == From for one port
	Sources []netip.Prefix // nil: from anywhere
	Line    int            // where the baseline says it, for messages
}

// String is "ssh 22/tcp from 10.0.0.0/8" and the like.
func (s Service) String() string {
	var b strings.Builder
	if s.Name != "" {
		b.WriteString(s.Name + " ")
	}
	b.WriteString(strconv.Itoa(int(s.From)))
	if s.To != s.From {
		b.WriteString("-" + strconv.Itoa(int(s.To)))
	}
	b.WriteString("/" + s.Proto)
	if len(s.Sources) > 0 {
		ps := make([]string, len(s.Sources))
		for i, p := range s.Sources {
			ps[i] = p.String()
		}
		b.WriteString(" from " + strings.Join(ps, ", "))
	}
	return b.String()
}

// LinuxSSH holds the SSH daemon wants, judged over `sshd -T` (the effective configuration).
type LinuxSSH struct {
	// PasswordAuth is linux.ssh.password_auth: false means no password may be tried (neither
	// PasswordAuthentication nor keyboard-interactive through PAM).
	PasswordAuth *bool
	// RootLogin is linux.ssh.root_login: the loosest PermitRootLogin allowed, one of "no",
	// "forced-commands-only", "prohibit-password" or "yes" ("" when not part of the baseline).
	RootLogin string
}

// RootLoginValues lists the PermitRootLogin values, strictest first.
func RootLoginValues() []string {
	return []string{"no", "forced-commands-only", "prohibit-password", "yes"}
}

func (l *Linux) decode(n *yaml.Node) error {
	return mapping(n, "linux", map[string]func(*yaml.Node) error{
		"firewall": func(n *yaml.Node) error { return l.Firewall.decode(n) },
		"ssh":      func(n *yaml.Node) error { return l.SSH.decode(n) },
	})
}

func (f *LinuxFirewall) decode(n *yaml.Node) error {
	return mapping(n, "linux.firewall", map[string]func(*yaml.Node) error{
		"enabled":   func(n *yaml.Node) error { return boolean(n, "linux.firewall.enabled", &f.Enabled) },
		"stealth":   func(n *yaml.Node) error { return boolean(n, "linux.firewall.stealth", &f.Stealth) },
		"icmp_echo": func(n *yaml.Node) error { return boolean(n, "linux.firewall.icmp_echo", &f.ICMPEcho) },
		"logging":   func(n *yaml.Node) error { return boolean(n, "linux.firewall.logging", &f.Logging) },
		"allowed":   func(n *yaml.Node) error { return f.decodeAllowed(n) },
	})
}

func (f *LinuxFirewall) decodeAllowed(n *yaml.Node) error {
	const key = "linux.firewall.allowed"
	if n.Kind != yaml.SequenceNode {
		return typeErr(n, key, "a list of services (proto, port, optional from)")
	}
	f.Allowed = []Service{}
	for _, item := range n.Content {
		s := Service{Line: item.Line}
		var port string
		err := mapping(item, key+" entry", map[string]func(*yaml.Node) error{
			"name":  func(n *yaml.Node) error { return str(n, key+".name", &s.Name) },
			"proto": func(n *yaml.Node) error { return str(n, key+".proto", &s.Proto) },
			"port":  func(n *yaml.Node) error { return str(n, key+".port", &port) },
			"from":  func(n *yaml.Node) error { return prefixes(n, key+".from", &s.Sources) },
		})
		if err != nil {
			return err
		}
		switch s.Proto {
		case "tcp", "udp":
		case "":
			return &Error{Line: item.Line, Msg: key + ": proto is required (tcp or udp)"}
		default:
			return &Error{Line: item.Line, Msg: fmt.Sprintf("%s: proto %q is not tcp or udp", key, s.Proto)}
		}
		if port == "" {
			return &Error{Line: item.Line, Msg: key + ": port is required (a number such as 22, or a range such as 60000-61000)"}
		}
		if s.From, s.To, err = portRange(port); err != nil {
			return &Error{Line: item.Line, Msg: fmt.Sprintf("%s: port %q: %v", key, port, err)}
		}
		f.Allowed = append(f.Allowed, s)
	}
	return nil
}

// portRange reads "22" or "60000-61000".
func portRange(s string) (from, to uint16, err error) {
	lo, hi, isRange := strings.Cut(s, "-")
	parse := func(p string) (uint16, error) {
		n, err := strconv.ParseUint(strings.TrimSpace(p), 10, 16)
		if err != nil || n == 0 {
			return 0, fmt.Errorf("not a port number from 1 to 65535")
		}
		return uint16(n), nil
	}
	if from, err = parse(lo); err != nil {
		return 0, 0, err
	}
	to = from
	if isRange {
		if to, err = parse(hi); err != nil {
			return 0, 0, err
		}
		if to < from {
			return 0, 0, fmt.Errorf("the range ends before it starts")
		}
	}
	return from, to, nil
}

func prefixes(n *yaml.Node, key string, out *[]netip.Prefix) error {
	items := []*yaml.Node{n}
	if n.Kind == yaml.SequenceNode {
		items = n.Content
	}
	for _, item := range items {
		var s string
		if err := str(item, key, &s); err != nil {
			return err
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return &Error{Line: item.Line, Msg: fmt.Sprintf("%s: %q is not an address or prefix (such as 10.0.0.0/8 or 2001:db8::/32)", key, s)}
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if p != p.Masked() {
			return &Error{Line: item.Line, Msg: fmt.Sprintf("%s: %q has host bits set; write %s", key, s, p.Masked())}
		}
		*out = append(*out, p)
	}
	return nil
}

func (s *LinuxSSH) decode(n *yaml.Node) error {
	return mapping(n, "linux.ssh", map[string]func(*yaml.Node) error{
		"password_auth": func(n *yaml.Node) error { return boolean(n, "linux.ssh.password_auth", &s.PasswordAuth) },
		"root_login": func(n *yaml.Node) error {
			// off/false mean PermitRootLogin no; on/true mean yes is acceptable.
			var b *bool
			if boolean(n, "linux.ssh.root_login", &b) == nil {
				s.RootLogin = map[bool]string{false: "no", true: "yes"}[*b]
				return nil
			}
			var v string
			if err := str(n, "linux.ssh.root_login", &v); err != nil {
				return err
			}
			v = strings.ToLower(v)
			if v == "without-password" { // the old name sshd still accepts
				v = "prohibit-password"
			}
			for _, ok := range RootLoginValues() {
				if v == ok {
					s.RootLogin = v
					return nil
				}
			}
			return typeErr(n, "linux.ssh.root_login", "off, forced-commands-only, prohibit-password or on")
		},
	})
}
