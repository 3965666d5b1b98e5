package fwlog

// syslogStamp returns the BSD syslog timestamp at the start of line ("Mar 17 23:43:27",
// "Aug  2 18:59:38", "Feb 3 08:00:02" with one space as some hosts write it, and fwanalog's
// "2002 Sep 15 07:47:04" with a year in front) and the rest of the line after it and one space.
// ok is false when the line does not start with one.
func syslogStamp(line []byte) (stamp, rest []byte, ok bool) {
	i := 0
	if len(line) >= 5 && isDigits(line[:4]) && line[4] == ' ' {
		i = 5 // a year in front
	}
	if len(line) < i+3 || !isMonth(line[i:i+3]) {
		return nil, line, false
	}
	j := i + 3
	for j < len(line) && line[j] == ' ' {
		j++
	}
	d := j
	for j < len(line) && line[j] >= '0' && line[j] <= '9' {
		j++
	}
	if j == d || j-d > 2 || j >= len(line) || line[j] != ' ' {
		return nil, line, false
	}
	j++
	if len(line) < j+8 || !isClock(line[j:j+8]) {
		return nil, line, false
	}
	end := j + 8
	// Fractions of a second (OpenBSD tcpdump -ttt: "Mar 30 15:47:05.522341").
	if end < len(line) && line[end] == '.' {
		k := end + 1
		for k < len(line) && line[k] >= '0' && line[k] <= '9' {
			k++
		}
		if k > end+1 {
			end = k
		}
	}
	rest = line[end:]
	if len(rest) > 0 && rest[0] == ' ' {
		rest = rest[1:]
	}
	return line[:end], rest, true
}

// rfc3339Stamp returns an RFC 3339 timestamp at the start of line ("2026-03-20T14:49:24.202833+00:00",
// also with a space instead of the T as tcpdump -tttt prints it) and the rest after one space.
func rfc3339Stamp(line []byte) (stamp, rest []byte, ok bool) {
	if len(line) < 19 || !isDigits(line[0:4]) || line[4] != '-' || !isDigits(line[5:7]) || line[7] != '-' ||
		!isDigits(line[8:10]) || (line[10] != 'T' && line[10] != ' ') || !isClock(line[11:19]) {
		return nil, line, false
	}
	end := 19
	for end < len(line) && line[end] != ' ' {
		end++
	}
	rest = line[end:]
	if len(rest) > 0 {
		rest = rest[1:]
	}
	return line[:end], rest, true
}

// leadingStamp tries both timestamp forms, after a syslog priority ("<161>") and an RFC 5424
// version ("<134>1 ") when the line has them: logs forwarded over the network and saved by a
// collector keep the priority that the local syslog strips.
func leadingStamp(line []byte) (stamp, rest []byte, ok bool) {
	line = skipPRI(line)
	if s, r, ok := syslogStamp(line); ok {
		return s, r, true
	}
	return rfc3339Stamp(line)
}

// skipPRI drops a syslog priority "<N>" (N of one to three digits) and, after it, the RFC 5424
// version "1 " that comes before an RFC 3339 timestamp.
func skipPRI(line []byte) []byte {
	if len(line) < 3 || line[0] != '<' {
		return line
	}
	i := 1
	for i < len(line) && i <= 4 && line[i] >= '0' && line[i] <= '9' {
		i++
	}
	if i == 1 || i > 4 || i >= len(line) || line[i] != '>' {
		return line
	}
	rest := line[i+1:]
	if len(rest) > 2 && rest[0] == '1' && rest[1] == ' ' && rest[2] >= '0' && rest[2] <= '9' {
		rest = rest[2:]
	}
	return rest
}

func isDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}

func isClock(b []byte) bool {
	return len(b) == 8 && isDigits(b[0:2]) && b[2] == ':' && isDigits(b[3:5]) && b[5] == ':' && isDigits(b[6:8])
}

func isMonth(b []byte) bool {
	switch string(b) {
	case "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec":
		return true
	}
	return false
}
