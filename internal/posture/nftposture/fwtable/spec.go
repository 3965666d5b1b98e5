// Package fwtable writes, snapshots and restores the one nftables table the posture fix owns,
// table inet firewarden_posture, each as a single atomic netlink transaction: established and
// related traffic, loopback, the ICMPv6 that IPv6 needs, optionally ICMP echo, the sessions to
// keep (the operator's own SSH connection), the allowed services, a rate-limited and counted log
// rule, then drop.
//
// The types in this file are the contract with the posture provider (package nftposture).
package fwtable

import "net/netip"

// Table is the name of the table, in the inet family.
const Table = "firewarden_posture"

// Service is one inbound service to accept: a protocol, a port range and optional sources.
type Service struct {
	Proto   string         `json:"proto"` // "tcp" or "udp"
	From    uint16         `json:"from"`
	To      uint16         `json:"to"`                // == From for one port
	Sources []netip.Prefix `json:"sources,omitempty"` // nil: any source
}

// Keep is a connection the fix must never cut: the SSH session firewarden runs under
// (SSH_CONNECTION), or a management port.
type Keep struct {
	Source netip.Addr `json:"source"` // the client address; invalid: any
	Proto  string     `json:"proto"`
	Port   uint16     `json:"port"` // the local port
	Why    string     `json:"why"`  // "the SSH session this fix runs under"
}

// Spec is the whole table. Marshalled as JSON it is what backups record.
type Spec struct {
	Allowed  []Service `json:"allowed"`
	Keep     []Keep    `json:"keep,omitempty"`
	ICMPEcho bool      `json:"icmp_echo"` // answer ICMP and ICMPv6 echo requests
	// Log makes the rule before the drop log (rate-limited, with a counter), with LogPrefix.
	Log       bool   `json:"log"`
	LogPrefix string `json:"log_prefix,omitempty"` // default "firewarden drop: "
	// Reject answers unmatched packets (TCP reset, ICMP unreachable) instead of dropping them:
	// used only when a baseline asks for stealth off.
	Reject bool `json:"reject,omitempty"`
}

// Snapshot is the table as the kernel held it, for a backup: Absent, or the table's own
// contents in a form Restore recreates exactly (chains, their hooks, priorities and policies,
// sets, rules in order, with their expressions).
type Snapshot struct {
	Absent bool   `json:"absent"`
	Data   []byte `json:"data,omitempty"` // opaque to the provider; fwtable's own encoding
}
