// Package scan is a TCP connect scanner: it needs no raw sockets and no root. It says of each
// port whether it is open (the connection completed), closed (the host answered with a reset)
// or filtered (no answer, or an ICMP unreachable), with per-port timeouts adapted to the
// round-trip time it measures, bounded concurrency and an optional rate limit.
package scan

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// services maps the IANA service names of common TCP services to their ports (IANA "Service
// Name and Transport Protocol Port Number Registry", TCP entries). Only names from that
// registry: an alias such as "postgres" or "rdp" is not a registered name.
var services = map[string]uint16{
	"ftp-data":      20,
	"ftp":           21,
	"ssh":           22,
	"telnet":        23,
	"smtp":          25,
	"domain":        53,
	"http":          80,
	"kerberos":      88,
	"pop3":          110,
	"sunrpc":        111,
	"netbios-ssn":   139,
	"imap":          143,
	"bgp":           179,
	"ldap":          389,
	"https":         443,
	"microsoft-ds":  445,
	"submissions":   465,
	"afpovertcp":    548,
	"submission":    587,
	"ldaps":         636,
	"rsync":         873,
	"imaps":         993,
	"pop3s":         995,
	"nfs":           2049,
	"mysql":         3306,
	"ms-wbt-server": 3389,
	"postgresql":    5432,
	"rfb":           5900,
	"redis":         6379,
	"http-alt":      8080,
	"memcache":      11211,
	"mongodb":       27017,
}

// ServiceName is the IANA name of a TCP port in the built-in table, or "".
func ServiceName(port uint16) string {
	best := ""
	for name, p := range services {
		// Several names could share a port one day: the shortest, then the first in order,
		// so the answer never depends on map order.
		if p == port && (best == "" || len(name) < len(best) || len(name) == len(best) && name < best) {
			best = name
		}
	}
	return best
}

// ServicePort is the port of an IANA service name in the built-in table.
func ServicePort(name string) (uint16, bool) {
	p, ok := services[name]
	return p, ok
}

// MaxSpec is the longest port specification ParsePorts reads: enough for every port listed
// one by one, and a bound on what an argument can make it do.
const MaxSpec = 1 << 20

// ParsePorts reads a port specification: items separated by commas, each a port ("22"), a
// range ("1-1024"), a range open at one end ("-1024" from 1, "60000-" to 65535), "-" for
// every port, or an IANA service name from the built-in table ("ssh"). Spaces around items
// are allowed. Port 0 is not a port one can connect to and is an error, as are empty items,
// reversed ranges and unknown names. The result is sorted, without duplicates.
func ParsePorts(spec string) ([]uint16, error) {
	if len(spec) > MaxSpec {
		return nil, fmt.Errorf("port specification of %d bytes: at most %d", len(spec), MaxSpec)
	}
	if strings.TrimSpace(spec) == "" {
		return nil, fmt.Errorf("empty port specification: give ports such as 22,80,8000-8100 or - for all")
	}
	var seen [65536 / 64]uint64
	n := 0
	add := func(lo, hi int) {
		for p := lo; p <= hi; p++ {
			if seen[p/64]&(1<<(p%64)) == 0 {
				seen[p/64] |= 1 << (p % 64)
				n++
			}
		}
	}
	for item := range strings.SplitSeq(spec, ",") {
		item = strings.TrimSpace(item)
		lo, hi, err := parseItem(item)
		if err != nil {
			return nil, err
		}
		add(lo, hi)
	}
	out := make([]uint16, 0, n)
	for p := 1; p <= 65535; p++ {
		if seen[p/64]&(1<<(p%64)) != 0 {
			out = append(out, uint16(p))
		}
	}
	return out, nil
}

// parseItem reads one comma-separated item of a port specification.
func parseItem(item string) (lo, hi int, err error) {
	if item == "" {
		return 0, 0, fmt.Errorf("empty item in port specification: remove the extra comma")
	}
	if item == "-" {
		return 1, 65535, nil
	}
	if p, ok := services[item]; ok {
		return int(p), int(p), nil
	}
	a, b, isRange := strings.Cut(item, "-")
	if !isRange {
		p, err := parsePort(item)
		return p, p, err
	}
	lo, hi = 1, 65535
	if a != "" {
		if lo, err = parsePort(a); err != nil {
			return 0, 0, err
		}
	}
	if b != "" {
		if hi, err = parsePort(b); err != nil {
			return 0, 0, err
		}
	}
	if lo > hi {
		return 0, 0, fmt.Errorf("port range %q runs backwards: write %d-%d", item, hi, lo)
	}
	return lo, hi, nil
}

// parsePort reads a decimal port 1-65535, or names what is wrong with s.
func parsePort(s string) (int, error) {
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		if strings.TrimLeft(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == "" && s != "" && s[0] >= 'a' {
			return 0, fmt.Errorf("unknown service name %q: give its port number (known names: %s)", s, knownNames())
		}
		return 0, fmt.Errorf("bad port %q: give a number from 1 to 65535 or a service name", s)
	}
	if len(s) > 5 {
		return 0, fmt.Errorf("port %s out of range: ports are 1 to 65535", s)
	}
	p, _ := strconv.Atoi(s)
	if p < 1 || p > 65535 {
		return 0, fmt.Errorf("port %s out of range: ports are 1 to 65535", s)
	}
	return p, nil
}

// knownNames lists the built-in service names, sorted.
func knownNames() string {
	names := make([]string, 0, len(services))
	for n := range services {
		names = append(names, n)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// FormatPorts writes ports (sorted, without duplicates) back as a specification, runs of
// consecutive ports as ranges: ParsePorts(FormatPorts(p)) == p.
func FormatPorts(ports []uint16) string {
	var b strings.Builder
	for i := 0; i < len(ports); {
		j := i
		for j+1 < len(ports) && ports[j+1] == ports[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(int(ports[i])))
		if j > i {
			b.WriteByte('-')
			b.WriteString(strconv.Itoa(int(ports[j])))
		}
		i = j + 1
	}
	return b.String()
}
