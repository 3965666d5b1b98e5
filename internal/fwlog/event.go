// Package fwlog parses firewall logs (ipfw, pf as printed by tcpdump, the macOS Application
// Firewall, netfilter LOG, pfSense/OPNsense filterlog, Windows Firewall pfirewall.log, MikroTik
// RouterOS) into events and summarises them. Parsers work on one line at a time
// and fill an Event in place without allocating: byte-slice fields point into the line and are
// valid only until the next line is read, so the summariser copies what it keeps.
package fwlog

import "net/netip"

// Format is a log family.
type Format uint8

// Log families.
const (
	FormatUnknown Format = iota
	FormatIPFW
	FormatPF
	FormatALF
	FormatNetfilter
	FormatFilterlog // pfSense and OPNsense filterlog CSV
	FormatWindows   // Windows Firewall pfirewall.log
	FormatMikroTik  // MikroTik RouterOS firewall log

	numFormats // the number of formats, FormatUnknown included
)

// FormatNames lists the --format values, "auto" first.
func FormatNames() []string {
	names := []string{"auto"}
	for f := FormatUnknown + 1; f < numFormats; f++ {
		names = append(names, f.String())
	}
	return names
}

func (f Format) String() string {
	switch f {
	case FormatIPFW:
		return "ipfw"
	case FormatPF:
		return "pf"
	case FormatALF:
		return "alf"
	case FormatNetfilter:
		return "netfilter"
	case FormatFilterlog:
		return "filterlog"
	case FormatWindows:
		return "windows"
	case FormatMikroTik:
		return "mikrotik"
	}
	return "unknown"
}

// ParseFormat reads a --format value; "auto" is FormatUnknown (detect per line).
func ParseFormat(s string) (Format, bool) {
	switch s {
	case "auto", "":
		return FormatUnknown, true
	case "ipfw":
		return FormatIPFW, true
	case "pf":
		return FormatPF, true
	case "alf":
		return FormatALF, true
	case "netfilter":
		return FormatNetfilter, true
	case "filterlog":
		return FormatFilterlog, true
	case "windows":
		return FormatWindows, true
	case "mikrotik":
		return FormatMikroTik, true
	}
	return FormatUnknown, false
}

// Kind says what an event describes.
type Kind uint8

// Event kinds.
const (
	KindPacket  Kind = iota // one logged packet with addresses
	KindLimit               // ipfw "limit N reached on entry R"
	KindStealth             // a Stealth Mode connection attempt (count in Count; addresses when the kernel gave them)
	KindApp                 // an Application Firewall per-application decision (no addresses)
	KindRepeat              // syslog "last message repeated N times" (Count)
	KindOther               // a line of the format that carries nothing to count (e.g. ALF "Logging: creating …")
)

// Proto is the transport protocol of a packet.
type Proto uint8

// Protocols. ProtoOther carries its number in Event.ProtoNum when the log gave one.
const (
	ProtoNone Proto = iota
	ProtoTCP
	ProtoUDP
	ProtoICMP
	ProtoICMPv6
	ProtoOther
)

func (p Proto) String() string {
	switch p {
	case ProtoTCP:
		return "tcp"
	case ProtoUDP:
		return "udp"
	case ProtoICMP:
		return "icmp"
	case ProtoICMPv6:
		return "icmpv6"
	case ProtoOther:
		return "other"
	}
	return "none"
}

// Dir is the direction a packet was logged in.
type Dir uint8

// Directions. DirUnknown when the log does not say ("[no if info]", a pf line without -e).
const (
	DirUnknown Dir = iota
	DirIn
	DirOut
	DirFwd // netfilter: both IN= and OUT= set; pf "fwd"
)

func (d Dir) String() string {
	switch d {
	case DirIn:
		return "in"
	case DirOut:
		return "out"
	case DirFwd:
		return "fwd"
	}
	return ""
}

// Event is one parsed log line. Byte slices point into the line.
type Event struct {
	Format Format
	Kind   Kind

	Stamp []byte // the timestamp as written in the line; empty when it has none (or only a tcpdump -ttt delta)

	// Action is the verdict as the log spells it: ipfw "Deny", "Accept", "Unreach 13", "Divert 8668";
	// pf "pass", "block"; ALF "Allow", "Deny"; netfilter the verdict its prefix names ("DROP",
	// "BLOCK", "ACCEPT", "REJECT"), or "LOG" when the prefix names none.
	Action []byte
	Rule   []byte // ipfw rule number, pf "3" or "3.anchor.1", netfilter the LOG prefix (trimmed)

	Proto    Proto
	ProtoNum int // IP protocol number for ProtoOther, when known

	Src, Dst         netip.Addr
	SrcPort, DstPort uint16 // valid when HasPorts
	HasPorts         bool
	ICMPType         int16 // -1 when not ICMP or not given
	ICMPCode         int16
	Frag             bool // a non-first fragment (no ports)

	Dir   Dir
	Iface []byte // the interface the packet was logged on (netfilter: IN= for inbound, OUT= for outbound)

	App   []byte // ALF: the application ("Dropbox", "ntpd")
	Op    []byte // ALF: "LISTEN" or "CONNECT"
	Count int    // KindStealth / KindRepeat: how many; KindLimit: the limit
}

// Reset clears e for the next line, keeping nothing that points into the previous one.
func (e *Event) Reset() {
	*e = Event{ICMPType: -1, ICMPCode: -1}
}

// Parser parses one line (without its newline) into e, which the caller has Reset. It reports
// whether the line is of its format; a line of its format that it cannot read is malformed
// (ok=false, mine=true).
type Parser func(line []byte, e *Event) (ok, mine bool)
