package nftposture

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/firewarden/firewarden/internal/posture/baseline"
	"github.com/firewarden/firewarden/internal/posture/nftposture/fwtable"
)

// BuildSpec makes firewarden's table from the baseline's linux.firewall section, keeping the SSH
// session named by sshConnection (the SSH_CONNECTION variable: "client port server port"; ""
// when not run over SSH). warn is a line for the operator, or "": the session's port is not an
// allowed service (it is kept anyway, for this client only), or SSH_CONNECTION is not understood.
func BuildSpec(f baseline.LinuxFirewall, sshConnection string) (spec fwtable.Spec, warn string) {
	spec = fwtable.Spec{
		Allowed:  []fwtable.Service{},
		ICMPEcho: echoAllowed(f),
		Log:      f.Logging != nil && *f.Logging,
		Reject:   f.Stealth != nil && !*f.Stealth,
	}
	for _, s := range f.Allowed {
		spec.Allowed = append(spec.Allowed, fwtable.Service{Proto: s.Proto, From: s.From, To: s.To, Sources: s.Sources})
	}
	if strings.TrimSpace(sshConnection) == "" {
		return spec, ""
	}
	client, port, ok := parseSSHConnection(sshConnection)
	if !ok {
		return spec, fmt.Sprintf("SSH_CONNECTION %q is not \"CLIENT PORT SERVER PORT\": no SSH session is kept open specially; the allowed services decide", trim(sshConnection))
	}
	spec.Keep = append(spec.Keep, fwtable.Keep{Source: client, Proto: "tcp", Port: port, Why: "the SSH session this fix runs under"})
	for _, s := range f.Allowed {
		if s.Proto == "tcp" && s.From <= port && port <= s.To && within([]netip.Prefix{netip.PrefixFrom(client, client.BitLen())}, s.Sources) {
			return spec, ""
		}
	}
	return spec, fmt.Sprintf("this SSH session (from %s to port %d/tcp) is not among the baseline's allowed services: it is kept open for %s only, and new sessions to that port will be dropped", client, port, client)
}

// parseSSHConnection reads "203.0.113.9 50022 192.0.2.1 22": the client address and the local port.
func parseSSHConnection(s string) (netip.Addr, uint16, bool) {
	f := strings.Fields(s)
	if len(f) != 4 {
		return netip.Addr{}, 0, false
	}
	client, err := netip.ParseAddr(f[0])
	if err != nil || client.Zone() != "" {
		return netip.Addr{}, 0, false
	}
	port, err := strconv.ParseUint(f[3], 10, 16)
	if err != nil || port == 0 {
		return netip.Addr{}, 0, false
	}
	if _, err := strconv.ParseUint(f[1], 10, 16); err != nil {
		return netip.Addr{}, 0, false
	}
	if _, err := netip.ParseAddr(f[2]); err != nil {
		return netip.Addr{}, 0, false
	}
	return client.Unmap(), uint16(port), true
}

func trim(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// Describe says in a few words what a change value of KeyTable holds, for the fix and rollback
// tables: "table firewarden_posture: 22/tcp, keep 1 session, log, drop" or "no table" or "the
// saved table (812 bytes)".
func Describe(v string) string {
	spec, snap, err := decodeTarget(v)
	switch {
	case err != nil:
		return "(damaged)"
	case snap != nil && snap.Absent:
		return "no table " + fwtable.Table
	case snap != nil:
		return fmt.Sprintf("the saved table %s (%d bytes)", fwtable.Table, len(snap.Data))
	}
	var parts []string
	for _, s := range spec.Allowed {
		parts = append(parts, portString(s.Proto, s.From, s.To)+strings.TrimPrefix(fromString(s.Sources, ""), " from anywhere"))
	}
	if len(spec.Allowed) == 0 {
		parts = append(parts, "nothing allowed")
	}
	if n := len(spec.Keep); n > 0 {
		parts = append(parts, fmt.Sprintf("keep %d session(s)", n))
	}
	if spec.ICMPEcho {
		parts = append(parts, "ping")
	}
	if spec.Log {
		parts = append(parts, "log")
	}
	if spec.Reject {
		parts = append(parts, "reject")
	} else {
		parts = append(parts, "drop")
	}
	return "table " + fwtable.Table + ": " + strings.Join(parts, ", ")
}
