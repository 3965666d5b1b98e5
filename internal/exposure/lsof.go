package exposure

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/firewarden/firewarden/internal/host"
)

// LsofPath is lsof on macOS.
const LsofPath = "/usr/sbin/lsof"

// LsofArgs are the arguments ReadMac runs lsof with: no name or port lookups (-nP), every TCP and
// UDP socket, in field output (-F) with the fields the parser reads: p (pid), c (command),
// f (descriptor), t (IPv4/IPv6), P (protocol), n (name: address:port) and T (TCP state, as
// ST=LISTEN). +c 0 asks for the whole command name: lsof cuts it at 9 characters otherwise, and
// expectations name processes.
//
// There is no -sTCP:LISTEN: a state inclusion list keeps only the network files whose state is
// in it (lsof(8), -s), and UDP sockets have no state, so `-iTCP -sTCP:LISTEN -iUDP` lists no UDP
// socket at all and exits 1 because the UDP selection found nothing (captured with lsof 4.95.0,
// testdata/lsof/NOTES.md). The parser keeps the TCP sockets in LISTEN instead.
var LsofArgs = []string{"+c", "0", "-nP", "-iTCP", "-iUDP", "-F", "pcftPnT"}

// maxLsofLines bounds the lines of lsof output read (the Runner already caps its bytes).
const maxLsofLines = 1 << 20

// ReadMac lists the listening sockets of a Mac by running lsof through r. lsof exits 1 when one of
// its selections found nothing ("Lsof returns a one (1) if any error was detected, including the
// failure to locate … Internet addresses or files … it was asked to list", lsof(8)): no UDP
// socket, say, or no socket at all. Its output is read then all the same, and what it said on
// stderr becomes a warning.
func ReadMac(ctx context.Context, r host.Runner) (Report, error) {
	res, err := r.Run(ctx, host.Cmd{Path: LsofPath, Args: LsofArgs})
	var ee *host.ExitError
	exit1 := errors.As(err, &ee) && ee.Code == 1
	if exit1 && len(bytes.TrimSpace(res.Stdout)) == 0 && len(bytes.TrimSpace(res.Stderr)) == 0 {
		return Report{Listeners: []Listener{}}, nil
	}
	if err != nil && !exit1 {
		return Report{}, fmt.Errorf("list listening sockets: %w", err)
	}
	rep, err := ParseLsof(res.Stdout)
	if err != nil {
		return Report{}, err
	}
	if exit1 {
		if msg := strings.TrimSpace(string(res.Stderr)); msg != "" {
			if first, _, cut := strings.Cut(msg, "\n"); cut {
				msg = first + " …"
			}
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("%s exited with status 1: %s; some listeners may be missing", LsofPath, msg))
		}
	}
	if res.Truncated {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("%s output was cut at the output cap; some listeners may be missing", LsofPath))
	}
	if err := addMacPaths(ctx, r, &rep); err != nil {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("executable paths not shown: %v", err))
	}
	return rep, nil
}

// PsPath is ps on macOS, which ReadMac runs for the executables' paths: lsof gives only names.
const PsPath = "/bin/ps"

// maxPsPIDs bounds the pids asked of one ps run (its argv).
const maxPsPIDs = 4096

// addMacPaths fills the listeners' Path from `ps -ww -o pid=,comm= -p PID …`: on macOS, ps's comm
// column is the executable's full path (ps -c would shorten it to the name).
func addMacPaths(ctx context.Context, r host.Runner, rep *Report) error {
	seen := map[int]bool{}
	args := []string{"-ww", "-o", "pid=,comm="}
	for _, l := range rep.Listeners {
		if l.PID > 0 && !seen[l.PID] && len(seen) < maxPsPIDs {
			seen[l.PID] = true
			args = append(args, "-p", strconv.Itoa(l.PID))
		}
	}
	if len(seen) == 0 {
		return nil
	}
	res, err := r.Run(ctx, host.Cmd{Path: PsPath, Args: args})
	var ee *host.ExitError
	// ps exits 1 when some pid has gone since lsof ran; the others are still printed.
	if err != nil && !(errors.As(err, &ee) && ee.Code == 1) {
		return err
	}
	paths := ParsePsPaths(res.Stdout)
	for i, l := range rep.Listeners {
		if p, ok := paths[l.PID]; ok {
			rep.Listeners[i].Path = p
		}
	}
	return nil
}

// ParsePsPaths reads lines "PID PATH" (ps -o pid=,comm=; the path may hold spaces) into a map;
// lines that are not a pid and an absolute path are skipped.
func ParsePsPaths(out []byte) map[int]string {
	m := map[int]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 512), maxLineBytes)
	for n := 0; sc.Scan() && n < maxLsofLines; n++ {
		pid, path, ok := strings.Cut(strings.TrimSpace(sc.Text()), " ")
		path = strings.TrimSpace(path)
		p, err := strconv.Atoi(pid)
		if !ok || err != nil || p <= 0 || !strings.HasPrefix(path, "/") {
			continue
		}
		m[p] = path
	}
	return m
}

// lsofKnown are the field letters lsof's -F output may carry (lsof(8), OUTPUT FOR OTHER
// PROGRAMS) that the parser does not need; they are skipped. Any other letter is reported.
const lsofKnown = "acdDgGiklLoRsSuzZK"

// lsofFile is one file set of lsof field output being read.
type lsofFile struct {
	line        int // where its f field was
	typ, proto  string
	name, state string
}

// ParseLsof reads lsof -F field output: process sets (p, c, …) each followed by file sets
// (f, t, P, n, T, …), one field a line, the letter first. It returns the TCP sockets in LISTEN
// and the UDP sockets bound to a port and not connected. Lines it cannot read are warnings that
// name the line; a file set before any process set, or more than 1,048,576 lines, is an error.
func ParseLsof(data []byte) (Report, error) {
	rep := Report{Listeners: []Listener{}}
	var pid int
	var comm string
	var cur *lsofFile
	flush := func() {
		if cur == nil {
			return
		}
		l, keep, err := cur.listener()
		if err != nil {
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("lsof output line %d: %v; socket skipped", cur.line, err))
		} else if keep {
			l.PID, l.Process = pid, comm
			rep.Listeners = append(rep.Listeners, l)
		}
		cur = nil
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 512), maxLineBytes)
	n := 0
	for sc.Scan() {
		n++
		if n > maxLsofLines {
			return Report{}, fmt.Errorf("lsof output: more than %d lines", maxLsofLines)
		}
		line := sc.Text()
		if line == "" {
			continue
		}
		letter, val := line[0], line[1:]
		switch {
		case letter == 'p':
			flush()
			p, err := strconv.Atoi(val)
			if err != nil || p <= 0 {
				return Report{}, fmt.Errorf("lsof output line %d: pid %q is not a number", n, val)
			}
			pid, comm = p, ""
		case letter == 'c' && cur == nil:
			comm = val
		case letter == 'f':
			flush()
			if pid == 0 {
				return Report{}, fmt.Errorf("lsof output line %d: a file before any process; is this lsof -F output?", n)
			}
			cur = &lsofFile{line: n}
		case cur != nil && letter == 't':
			cur.typ = val
		case cur != nil && letter == 'P':
			cur.proto = val
		case cur != nil && letter == 'n':
			cur.name = val
		case cur != nil && letter == 'T':
			if s, ok := strings.CutPrefix(val, "ST="); ok {
				cur.state = s
			}
		case strings.IndexByte(lsofKnown, letter) >= 0:
		default:
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("lsof output line %d: field %q not understood; line skipped", n, string(letter)))
		}
	}
	if err := sc.Err(); err != nil {
		return Report{}, fmt.Errorf("lsof output line %d: %v", n+1, err)
	}
	flush()
	sortListeners(rep.Listeners)
	return rep, nil
}

// listener turns a file set into a listener; keep is false for what is not one (a connected UDP
// socket, a TCP socket not in LISTEN, a UDP socket not bound to a port).
func (f *lsofFile) listener() (Listener, bool, error) {
	var proto string
	switch f.proto {
	case "TCP":
		proto = "tcp"
	case "UDP":
		proto = "udp"
	case "":
		return Listener{}, false, errors.New("no protocol (P) field")
	default:
		return Listener{}, false, fmt.Errorf("protocol %q is neither TCP nor UDP", f.proto)
	}
	if proto == "tcp" && f.state != "" && f.state != "LISTEN" {
		return Listener{}, false, nil
	}
	if strings.Contains(f.name, "->") {
		return Listener{}, false, nil // connected to a peer
	}
	i := strings.LastIndexByte(f.name, ':')
	if i < 0 {
		return Listener{}, false, fmt.Errorf("name %q is not ADDRESS:PORT", f.name)
	}
	host, port := f.name[:i], f.name[i+1:]
	if port == "*" {
		return Listener{}, false, nil // not bound to a port
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return Listener{}, false, fmt.Errorf("port %q in %q is not a number", port, f.name)
	}
	var addr netip.Addr
	switch {
	case host == "*" && f.typ == "IPv6":
		addr = netip.IPv6Unspecified()
	case host == "*" && f.typ == "IPv4":
		addr = netip.IPv4Unspecified()
	case host == "*":
		return Listener{}, false, fmt.Errorf("wildcard address with type %q, neither IPv4 nor IPv6", f.typ)
	default:
		host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
		addr, err = netip.ParseAddr(host)
		if err != nil {
			return Listener{}, false, fmt.Errorf("address %q is not an IP address", host)
		}
	}
	return Listener{Proto: proto, Addr: netip.AddrPortFrom(addr, uint16(p)), Scope: Classify(addr)}, true, nil
}
