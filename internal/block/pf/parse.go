package pf

import (
	"bytes"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// The parsers below read what pfctl prints. Formats, unless said otherwise, are those of
// sbin/pfctl/pfctl_table.c and pfctl.c (FreeBSD/OpenBSD; macOS pfctl is the same code base,
// adaptive reference §5): table messages go to stderr through xprintf, which appends ".";
// everything asked for with -s goes to stdout. macOS pfctl may print its "No ALTQ support in
// kernel" banner on stderr around any of it (shared fixtures pfctl-messages-macos.txt), so every
// parser looks for its line and ignores the others.

// parseEntries reads pfctl -T show. print_addrx prints each entry as a feedback character, a
// space, a negation character ('!' or ' ') and the address, with "/bits" when the prefix is
// shorter than the address: "   192.0.2.1", "   198.51.100.0/24", "   2001:db8::/64". The
// family comes from netip's parsing, never from the characters in the text. Negated entries
// ("!addr") are refused: firewarden never writes one, so one in its table is an error to report,
// not an entry to keep.
func parseEntries(out []byte) ([]netip.Prefix, error) {
	var ps []netip.Prefix
	for n, line := range bytes.Split(out, []byte("\n")) {
		s := strings.TrimSpace(string(line))
		if s == "" {
			continue
		}
		p, err := parseEntry(s)
		if err != nil {
			return nil, fmt.Errorf("pfctl -T show line %d: %w", n+1, err)
		}
		ps = append(ps, p)
	}
	return ps, nil
}

// parseEntry parses one table entry as pfctl prints it.
func parseEntry(s string) (netip.Prefix, error) {
	if strings.HasPrefix(s, "!") {
		return netip.Prefix{}, fmt.Errorf("negated entry %q", s)
	}
	var p netip.Prefix
	if strings.Contains(s, "/") {
		var err error
		if p, err = netip.ParsePrefix(s); err != nil {
			return netip.Prefix{}, fmt.Errorf("entry %q: %w", s, err)
		}
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("entry %q: %w", s, err)
		}
		if a.Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("entry %q: zoned address", s)
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	if p != p.Masked() {
		return netip.Prefix{}, fmt.Errorf("entry %q: host bits set", s)
	}
	return p, nil
}

// parseCount reads "N/M addresses VERB." (add: "added", delete: "deleted") and returns N, the
// number of entries pf changed, and M, the number it was given.
func parseCount(stderr []byte, verb string) (n, m int, ok bool) {
	suffix := " addresses " + verb + "."
	for line := range strings.SplitSeq(string(stderr), "\n") {
		head, found := strings.CutSuffix(strings.TrimSpace(line), suffix)
		if !found {
			continue
		}
		a, b, found := strings.Cut(head, "/")
		if !found {
			continue
		}
		n, err1 := strconv.Atoi(a)
		m, err2 := strconv.Atoi(b)
		if err1 != nil || err2 != nil || n < 0 || m < 0 || n > m {
			continue
		}
		return n, m, true
	}
	return 0, 0, false
}

// parseToken reads the enable reference pfctl -E prints, "Token : 13540967312582709951"
// (apple.stackexchange 268512; on stderr per dlenski/vpn-slice, which parses r'Token : (\d+)'),
// from either stream. The token is a 64-bit unsigned integer (XNU struct pfioc_token).
func parseToken(out []byte) (string, bool) {
	for line := range strings.SplitSeq(string(out), "\n") {
		v, found := strings.CutPrefix(strings.TrimSpace(line), "Token :")
		if !found {
			continue
		}
		v = strings.TrimSpace(v)
		if _, err := strconv.ParseUint(v, 10, 64); err == nil {
			return v, true
		}
	}
	return "", false
}

// parseLimit reads the table-entries line of pfctl -s memory, printed by pfctl_show_limits as
// "%-13s " then "hard limit %8u" or "unlimited": "table-entries hard limit   200000". It returns
// -1 for unlimited.
func parseLimit(out []byte) (int, bool) {
	for line := range strings.SplitSeq(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != "table-entries" {
			continue
		}
		if len(f) == 2 && f[1] == "unlimited" {
			return -1, true
		}
		if len(f) == 4 && f[1] == "hard" && f[2] == "limit" {
			if n, err := strconv.Atoi(f[3]); err == nil && n >= 0 {
				return n, true
			}
		}
	}
	return 0, false
}

// parseRunning reads the first line of pfctl -s info, "Status: Enabled for 0 days 11:50:53
// Debug: Urgent" (BSD layout, opnsense/core#1578; tools on macOS grep "Status: Enabled",
// ivpn/desktop-app firewall.sh) or "Status: Disabled …".
func parseRunning(out []byte) (running, ok bool) {
	for line := range strings.SplitSeq(string(out), "\n") {
		v, found := strings.CutPrefix(strings.TrimSpace(line), "Status:")
		if !found {
			continue
		}
		switch f := strings.Fields(v); {
		case len(f) > 0 && strings.EqualFold(f[0], "Enabled"):
			return true, true
		case len(f) > 0 && strings.EqualFold(f[0], "Disabled"):
			return false, true
		}
	}
	return false, false
}

// parseTables reads pfctl -a ANCHOR -s Tables: one table a line, the name optionally followed
// by "@anchor" (print_table in newer pfctl), with the flag column and a tab first under -v.
func parseTables(out []byte) []string {
	var names []string
	for line := range strings.SplitSeq(string(out), "\n") {
		s := strings.TrimSpace(line)
		if i := strings.LastIndexByte(s, '\t'); i >= 0 {
			s = strings.TrimSpace(s[i+1:])
		}
		s, _, _ = strings.Cut(s, "@")
		if s != "" {
			names = append(names, s)
		}
	}
	return names
}

// hasDropRule reports whether pfctl -a ANCHOR -s rules shows the drop rule firewarden loads.
// pfctl prints rules normalised ("block drop in quick from <t> to any"), so the test is on
// the words, not on the exact spacing.
func hasDropRule(out []byte, table string) bool {
	for line := range strings.SplitSeq(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && f[0] == "block" && slices.Contains(f, "in") && slices.Contains(f, "<"+table+">") {
			return true
		}
	}
	return false
}

// hasComAppleAnchor reports whether pfctl -s rules (the main ruleset) holds the filter anchor
// of the stock /etc/pf.conf, `anchor "com.apple/*"`, which pfctl prints back as
// `anchor "com.apple/*" all` (the usual listing on macOS; a trailing option list is allowed).
func hasComAppleAnchor(out []byte) bool {
	for line := range strings.SplitSeq(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "anchor" && f[1] == `"com.apple/*"` {
			return true
		}
	}
	return false
}

// trimBanner drops the lines macOS pfctl prints on stderr for every ruleset operation and which
// say nothing about the run's outcome.
func trimBanner(stderr string) string {
	var keep []string
	for line := range strings.SplitSeq(stderr, "\n") {
		switch strings.TrimSpace(line) {
		case "", "No ALTQ support in kernel", "ALTQ related functions disabled":
			continue
		}
		keep = append(keep, line)
	}
	return strings.TrimSpace(strings.Join(keep, "\n"))
}
