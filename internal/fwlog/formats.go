package fwlog

import "bytes"

// detect picks the parser for a non-ipfw line by the marks each format leaves. (Kernel Stealth
// Mode lines carry an "ipfw:" tag; ParseIPFW hands them to ParseALF.)
func detect(line []byte) Parser {
	switch {
	case bytes.Contains(line, []byte("Stealth Mode connection attempt")):
		return ParseALF
	case bytes.Contains(line, []byte("IN=")):
		return ParseNetfilter
	case len(line) > 0 && line[0] >= '0' && line[0] <= '9' && isPVE(line):
		return ParseNetfilter // Proxmox: "OUT=" alone, or the logger's own lines
	case bytes.Contains(line, []byte("filterlog")):
		return ParseFilterlog
	case bytes.Contains(line, []byte(": in:")):
		return ParseMikroTik
	case isWindows(line):
		return ParseWindows
	case bytes.Contains(line, []byte("rule ")):
		return ParsePF // any reason, not only (match)
	case bytes.Contains(line, []byte("socketfilterfw")), bytes.Contains(line, []byte("Firewall[")),
		bytes.Contains(line, []byte("com.apple.alf")), bytes.Contains(line, []byte("last message repeated")):
		return ParseALF
	}
	return nil
}

func parserFor(f Format) Parser {
	switch f {
	case FormatIPFW:
		return ParseIPFW
	case FormatPF:
		return ParsePF
	case FormatALF:
		return ParseALF
	case FormatNetfilter:
		return ParseNetfilter
	case FormatFilterlog:
		return ParseFilterlog
	case FormatWindows:
		return ParseWindows
	case FormatMikroTik:
		return ParseMikroTik
	}
	return nil
}

// denied reports whether an action blocked the packet.
func denied(f Format, a []byte) bool {
	switch f {
	case FormatIPFW:
		for _, p := range []string{"Deny", "Reset", "Reject", "Unreach", "Refuse", "Abort"} {
			if bytes.HasPrefix(a, []byte(p)) {
				return true
			}
		}
		return string(a) == "Stealth"
	case FormatPF:
		return string(a) == "block" || string(a) == "synproxy-drop"
	case FormatALF:
		return string(a) == "Deny" || string(a) == "Stealth"
	case FormatFilterlog:
		return string(a) == "block"
	case FormatWindows:
		return string(a) == "DROP"
	case FormatNetfilter, FormatMikroTik:
		switch string(bytes.ToUpper(a)) {
		case "DROP", "REJECT", "BLOCK", "DENY":
			return true
		}
	}
	return false
}

func isPVE(line []byte) bool {
	_, _, _, ok := pveHeader(line)
	return ok
}

// isWindows reports whether a line is pfirewall.log's: "2019-11-06 12:35:19 DROP …", one of its
// "#" headers, or either after a byte order mark.
func isWindows(line []byte) bool {
	if len(line) == 0 || (line[0] != '#' && line[0] != 0xef && (line[0] < '1' || line[0] > '2')) {
		return false
	}
	var e Event
	_, mine := ParseWindows(line, &e)
	return mine
}
