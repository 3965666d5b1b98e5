package fwlog

import (
	"bufio"
	"bytes"
	"strconv"
	"strings"
)

// Services names ports: "tcp/445" → "microsoft-ds". Go's standard library only maps names to
// ports, so firewarden reads /etc/services itself.
type Services map[portKey]string

// EachService calls f for every entry of a services(5) file: "name port/proto [aliases…]
// [# comment]". Lines that are not entries are skipped.
func EachService(data []byte, f func(name string, aliases []string, port uint16, proto string)) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		port, proto, ok := strings.Cut(fields[1], "/")
		n, err := strconv.Atoi(port)
		if !ok || err != nil || n < 0 || n > 65535 {
			continue
		}
		f(fields[0], fields[2:], uint16(n), proto)
	}
}

// ParseServices reads the services(5) format. The first name given for a port wins, as
// getservbyport(3) returns it.
func ParseServices(data []byte) Services {
	s := Services{}
	EachService(data, func(name string, _ []string, port uint16, protoName string) {
		var proto Proto
		switch protoName {
		case "tcp":
			proto = ProtoTCP
		case "udp":
			proto = ProtoUDP
		default:
			return
		}
		k := portKey{proto, port}
		if _, seen := s[k]; !seen {
			s[k] = name
		}
	})
	return s
}

// BuiltinServices is the fallback when /etc/services is missing: the ports firewall logs show
// most, with their IANA service names (as in Debian netbase 6.4's /etc/services).
func BuiltinServices() Services {
	s := Services{}
	for _, e := range []struct {
		port  uint16
		name  string
		proto string // "tcp", "udp" or "" for both
	}{
		{20, "ftp-data", "tcp"}, {21, "ftp", "tcp"}, {22, "ssh", ""}, {23, "telnet", "tcp"}, {25, "smtp", "tcp"},
		{53, "domain", ""}, {67, "bootps", "udp"}, {68, "bootpc", "udp"}, {69, "tftp", "udp"}, {80, "http", ""},
		{88, "kerberos", ""}, {110, "pop3", "tcp"}, {111, "sunrpc", ""}, {119, "nntp", "tcp"}, {123, "ntp", "udp"},
		{135, "epmap", ""}, {137, "netbios-ns", ""}, {138, "netbios-dgm", ""}, {139, "netbios-ssn", ""},
		{143, "imap2", "tcp"}, {161, "snmp", ""}, {162, "snmp-trap", ""}, {389, "ldap", ""}, {427, "svrloc", ""},
		{443, "https", ""}, {445, "microsoft-ds", ""}, {465, "submissions", "tcp"}, {500, "isakmp", "udp"},
		{514, "syslog", "udp"}, {515, "printer", "tcp"}, {548, "afpovertcp", ""}, {554, "rtsp", ""},
		{587, "submission", "tcp"}, {631, "ipp", ""}, {636, "ldaps", ""}, {873, "rsync", "tcp"}, {993, "imaps", "tcp"},
		{995, "pop3s", "tcp"}, {1080, "socks", ""}, {1194, "openvpn", ""}, {1433, "ms-sql-s", "tcp"},
		{1434, "ms-sql-m", "udp"}, {1701, "l2tp", "udp"}, {1723, "pptp", "tcp"}, {1900, "ssdp", "udp"},
		{3128, "ndl-aas", "tcp"}, {3306, "mysql", "tcp"}, {3389, "ms-wbt-server", "tcp"}, {4500, "ipsec-nat-t", "udp"},
		{5060, "sip", ""}, {5353, "mdns", "udp"}, {5432, "postgresql", "tcp"}, {5900, "rfb", "tcp"},
		{6379, "redis", "tcp"}, {8080, "http-alt", "tcp"},
	} {
		if e.proto != "udp" {
			s[portKey{ProtoTCP, e.port}] = e.name
		}
		if e.proto != "tcp" {
			s[portKey{ProtoUDP, e.port}] = e.name
		}
	}
	return s
}

// Name returns the service name of a port, or "".
func (s Services) Name(p Proto, port uint16) string { return s[portKey{p, port}] }
