// Package ruleset reads the kernel's nftables ruleset (every table, whichever tool made it: nft,
// ufw and iptables-nft, firewalld, Docker, firewarden) into a model of its own, and works out what
// that ruleset does with packets arriving for this host: whether unmatched inbound traffic is
// dropped, rejected or let in, whether drops are logged, whether ping is answered, and which
// services a new inbound connection can reach, from where. Whatever it does not model is named,
// with its place, and makes the verdicts that depend on it conditional.
//
// The types in this file are the contract with the posture provider (package nftposture).
package ruleset

import (
	"fmt"
	"net/netip"
)

// Verdict is what the ruleset finally does with a packet.
type Verdict string

// Final verdicts.
const (
	Accept Verdict = "accept"
	Drop   Verdict = "drop"
	Reject Verdict = "reject" // answered: TCP reset or ICMP unreachable
)

// Where names a rule, or a chain's policy (Handle 0), in a table.
type Where struct {
	Family string `json:"family"` // table family: "inet", "ip", "ip6", "netdev", "bridge"
	Table  string `json:"table"`
	Chain  string `json:"chain"`
	Handle uint64 `json:"handle,omitempty"` // 0: the chain's policy (or its end)
	Owner  string `json:"owner,omitempty"`  // the tool the table belongs to (see Owners)
}

// String is "inet filter input handle 7" or "inet filter input policy".
func (w Where) String() string {
	if w.Handle == 0 {
		return fmt.Sprintf("%s %s %s policy", w.Family, w.Table, w.Chain)
	}
	return fmt.Sprintf("%s %s %s handle %d", w.Family, w.Table, w.Chain, w.Handle)
}

// Owners of tables, as recognised from table and chain names.
const (
	OwnerFirewarden  = "firewarden"   // table inet firewarden_posture (posture) or inet firewarden (block)
	OwnerUFW         = "ufw"          // iptables-nft tables holding ufw-* chains
	OwnerFirewalld   = "firewalld"    // table inet firewalld (and ip/ip6 firewalld on old versions)
	OwnerIPTablesNFT = "iptables-nft" // ip/ip6 filter tables made by iptables-nft, not ufw's
	OwnerDocker      = "docker"       // DOCKER* chains
	OwnerNFT         = "nft"          // anything else: written with nft or another netlink client
)

// Outcome is what happens to one kind of inbound packet.
type Outcome struct {
	Verdict    Verdict `json:"verdict"`
	By         Where   `json:"by"`          // the rule, or the chain policy, that decided
	Logged     bool    `json:"logged"`      // a log statement ran on the packet's way to the verdict
	LogLimited bool    `json:"log_limited"` // that log statement is rate-limited (a limit before it in the same rule)
	LogAt      *Where  `json:"log_at,omitempty"`
}

// Open is a set of inbound services a new connection reaches: a protocol, a port range, the
// sources it is reachable from and the interface it must arrive on.
type Open struct {
	Proto   string         `json:"proto"`             // "tcp" or "udp"
	From    uint16         `json:"from"`              // first port
	To      uint16         `json:"to"`                // last port (== From for one port)
	Sources []netip.Prefix `json:"sources,omitempty"` // nil: from anywhere
	// Except, with Sources nil: from anywhere but these (a ban set, a dropped range), when that
	// is the shorter way to say it.
	Except []netip.Prefix `json:"except,omitempty"`
	IIF    string         `json:"iif,omitempty"` // "": on any interface (other than loopback)
	By     Where          `json:"by"`            // the accepting rule (or policy)
}

// Family is the analysis of one address family ("ipv4" or "ipv6").
type Family struct {
	Family string `json:"family"`
	// Unmatched is a new TCP connection to a port no rule names, from an address no rule names,
	// on an interface no rule names (not loopback); UnmatchedUDP the same for a UDP datagram.
	Unmatched    Outcome `json:"unmatched"`
	UnmatchedUDP Outcome `json:"unmatched_udp"`
	// Echo is an ICMP (ICMPv6) echo request from such an address.
	Echo Outcome `json:"echo"`
	// Open lists, exactly, where new inbound TCP and UDP traffic is accepted, merged into
	// ranges; loopback and established/related traffic are not listed.
	Open []Open `json:"open"`
}

// Table is one table of the ruleset as the report shows it.
type Table struct {
	Family     string   `json:"family"`
	Name       string   `json:"name"`
	Owner      string   `json:"owner"`
	BaseChains []string `json:"base_chains,omitempty"` // "input (hook input, type filter, priority 0, policy drop)"
}

// Note is something in the ruleset the analysis does not model (an expression, a chain type,
// a jump it cannot follow); any verdict that passed through it is conditional.
type Note struct {
	Where Where  `json:"where"`
	What  string `json:"what"`
}

// Analysis is what the kernel's ruleset does with inbound packets.
type Analysis struct {
	Tables   []Table  `json:"tables"`
	Families []Family `json:"families"` // ipv4 then ipv6
	Notes    []Note   `json:"notes,omitempty"`
	// Filtering is false when no table has a base chain on the input (or prerouting) hook: the
	// host accepts everything. The Families are still filled (all Accept, By zero).
	Filtering bool `json:"filtering"`
}
