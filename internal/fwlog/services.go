package fwlog

import (
	"bufio"
	"bytes"
	"strconv"
)

// Services names ports: "tcp/445" → "microsoft-ds". Go's standard library only maps names to
// ports, so firewarden reads /etc/services itself.
type Services map[portKey]string

// ParseServices reads the services(5) format: "name port/proto [aliases…] [# comment]". The
// first name given for a port wins, as getservbyport(3) returns it.
func ParseServices(data []byte) Services {
	s := Services{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Bytes()
		if i := bytes.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		name, rest := nextToken(line)
		pp, _ := nextToken(rest)
		portB, protoB, ok := bytes.Cut(pp, []byte("/"))
		if len(name) == 0 || !ok {
			continue
		}
		port, err := strconv.Atoi(string(portB))
		if err != nil || port < 0 || port > 65535 {
			continue
		}
		var proto Proto
		switch string(protoB) {
		case "tcp":
			proto = ProtoTCP
		case "udp":
			proto = ProtoUDP
		default:
			continue
		}
		k := portKey{proto, uint16(port)}
		if _, seen := s[k]; !seen {
			s[k] = string(name)
		}
	}
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
