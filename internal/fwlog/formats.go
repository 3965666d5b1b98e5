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
	case FormatNetfilter:
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
