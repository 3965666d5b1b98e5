package exposure

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/firewarden/firewarden/internal/host"
)

// Limits of the Linux reader, so that a hostile or enormous /proc cannot exhaust memory.
const (
	// MaxSocketLines is the most lines read from one /proc/net file.
	MaxSocketLines = 1 << 20
	// maxLineBytes is the longest /proc/net line read (the kernel's are about 150 bytes).
	maxLineBytes = 4096
	// MaxProcesses is the most /proc/PID directories examined.
	MaxProcesses = 1 << 17
	// MaxFDs is the most descriptors examined in one process.
	MaxFDs = 1 << 17
	// maxComm is the most bytes of /proc/PID/comm kept (the kernel's limit is 16 with the newline).
	maxComm = 64
)

// tcpListen is TCP_LISTEN and udpClose TCP_CLOSE, the state an unconnected UDP socket shows
// (include/net/tcp_states.h).
const (
	tcpListen = 0x0A
	udpClose  = 0x07
)

// procNetFiles are the socket tables read, with their protocol.
var procNetFiles = []struct{ path, proto string }{
	{"/proc/net/tcp", "tcp"},
	{"/proc/net/tcp6", "tcp"},
	{"/proc/net/udp", "udp"},
	{"/proc/net/udp6", "udp"},
}

// ReadLinux lists the listening sockets of the Linux host under root from its /proc: the socket
// tables of /proc/net, each socket mapped to a process through the socket:[INODE] links in
// /proc/*/fd. A missing table (IPv6 disabled) is skipped; a table that cannot be read otherwise
// is an error. /proc/net shows the network namespace of the reader, so under the real root it is
// firewarden's own.
func ReadLinux(root host.Root) (Report, error) {
	var rep Report
	for _, f := range procNetFiles {
		fh, err := os.Open(root.Path(f.path))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return Report{}, fmt.Errorf("read %s: %w", f.path, err)
		}
		ls, warns, err := ParseProcNet(fh, f.proto, f.path)
		fh.Close()
		if err != nil {
			return Report{}, err
		}
		rep.Listeners = append(rep.Listeners, ls...)
		rep.Warnings = append(rep.Warnings, warns...)
	}
	if len(rep.Listeners) > 0 {
		owners, warns := socketOwners(root, rep.Listeners)
		rep.Warnings = append(rep.Warnings, warns...)
		for i := range rep.Listeners {
			if p, ok := owners[rep.Listeners[i].Inode]; ok {
				rep.Listeners[i].PID, rep.Listeners[i].Process, rep.Listeners[i].Path = p.pid, p.comm, p.exe
			}
		}
	}
	sortListeners(rep.Listeners)
	return rep, nil
}

// ParseProcNet reads one /proc/net/{tcp,tcp6,udp,udp6} table and returns its listeners: TCP
// sockets in LISTEN, UDP sockets not connected to a peer. name is used in warnings (name:line).
// A line that is not a socket line is a warning, not an error; more than MaxSocketLines lines
// or a line longer than 4 KiB is an error.
func ParseProcNet(r io.Reader, proto, name string) ([]Listener, []string, error) {
	var out []Listener
	var warns []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 512), maxLineBytes)
	n := 0
	for sc.Scan() {
		n++
		if n > MaxSocketLines {
			return nil, nil, fmt.Errorf("%s: more than %d lines; is it a socket table?", name, MaxSocketLines)
		}
		line := sc.Bytes()
		if n == 1 && bytes.Contains(line, []byte("local_address")) {
			continue
		}
		f := strings.Fields(string(line))
		if len(f) == 0 {
			continue
		}
		l, keep, err := parseProcNetLine(f, proto)
		if err != nil {
			warns = append(warns, fmt.Sprintf("%s:%d: %v; line skipped", name, n, err))
			continue
		}
		if keep {
			out = append(out, l)
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, nil, fmt.Errorf("%s:%d: a line longer than %d bytes; is it a socket table?", name, n+1, maxLineBytes)
		}
		return nil, nil, fmt.Errorf("read %s: %w", name, err)
	}
	return out, warns, nil
}

// parseProcNetLine reads the fields "sl local rem st tx:rx tr:when retrnsmt uid timeout inode …".
func parseProcNetLine(f []string, proto string) (Listener, bool, error) {
	if len(f) < 10 || !strings.HasSuffix(f[0], ":") {
		return Listener{}, false, fmt.Errorf("not a socket line (%d fields)", len(f))
	}
	local, err := parseHexAddrPort(f[1])
	if err != nil {
		return Listener{}, false, fmt.Errorf("local address %q: %v", f[1], err)
	}
	remote, err := parseHexAddrPort(f[2])
	if err != nil {
		return Listener{}, false, fmt.Errorf("remote address %q: %v", f[2], err)
	}
	st, err := strconv.ParseUint(f[3], 16, 8)
	if err != nil {
		return Listener{}, false, fmt.Errorf("state %q is not a hex byte", f[3])
	}
	inode, err := strconv.ParseUint(f[9], 10, 64)
	if err != nil {
		return Listener{}, false, fmt.Errorf("inode %q is not a number", f[9])
	}
	switch proto {
	case "tcp":
		if st != tcpListen {
			return Listener{}, false, nil
		}
	default:
		// A UDP socket connected to a peer receives only from it: not a listener.
		if st != udpClose || remote.Port() != 0 || !remote.Addr().IsUnspecified() {
			return Listener{}, false, nil
		}
	}
	return Listener{Proto: proto, Addr: local, Scope: Classify(local.Addr()), Inode: inode}, true, nil
}

// parseHexAddrPort reads the kernel's "ADDR:PORT": ADDR is 8 or 32 hex digits, the address as
// 32-bit words each printed in the host's byte order (little-endian on every architecture
// firewarden builds for: amd64, arm64), PORT is 4 hex digits in network order.
func parseHexAddrPort(s string) (netip.AddrPort, error) {
	a, p, ok := strings.Cut(s, ":")
	if !ok || len(p) != 4 {
		return netip.AddrPort{}, errors.New("want ADDR:PORT in hex")
	}
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return netip.AddrPort{}, errors.New("port is not 4 hex digits")
	}
	if len(a) != 8 && len(a) != 32 {
		return netip.AddrPort{}, errors.New("address is not 8 or 32 hex digits")
	}
	raw, err := hex.DecodeString(a)
	if err != nil {
		return netip.AddrPort{}, errors.New("address is not hex")
	}
	for i := 0; i < len(raw); i += 4 {
		binary.BigEndian.PutUint32(raw[i:], binary.LittleEndian.Uint32(raw[i:]))
	}
	addr, _ := netip.AddrFromSlice(raw)
	return netip.AddrPortFrom(addr, uint16(port)), nil
}

// proc is what is known of a process holding a socket.
type proc struct {
	pid       int
	comm, exe string
}

// socketOwners maps the inodes of ls to the lowest-numbered process holding each, reading
// /proc/PID/fd links. Processes that vanish or cannot be read are skipped (a listener without
// a process is reported as such); limits reached are warnings.
func socketOwners(root host.Root, ls []Listener) (map[uint64]proc, []string) {
	want := make(map[uint64]bool, len(ls))
	for _, l := range ls {
		if l.Inode != 0 {
			want[l.Inode] = true
		}
	}
	var warns []string
	owners := map[uint64]proc{}
	d, err := os.Open(root.Path("/proc"))
	if err != nil {
		return owners, []string{fmt.Sprintf("list /proc: %v; listeners are shown without processes", err)}
	}
	defer d.Close()
	names, err := d.Readdirnames(MaxProcesses + 1)
	if err != nil && !errors.Is(err, io.EOF) {
		return owners, []string{fmt.Sprintf("list /proc: %v; listeners are shown without processes", err)}
	}
	if len(names) > MaxProcesses {
		names = names[:MaxProcesses]
		warns = append(warns, fmt.Sprintf("more than %d processes: only %d examined, some listeners may lack their process", MaxProcesses, MaxProcesses))
	}
	var pids []int
	for _, n := range names {
		if pid, err := strconv.Atoi(n); err == nil && pid > 0 {
			pids = append(pids, pid)
		}
	}
	sort.Ints(pids)
	for _, pid := range pids {
		if len(owners) == len(want) {
			break
		}
		dir := root.Path(filepath.Join("/proc", strconv.Itoa(pid)))
		fds, err := os.Open(filepath.Join(dir, "fd"))
		if err != nil {
			continue // gone, or another user's without root
		}
		fdNames, _ := fds.Readdirnames(MaxFDs + 1)
		fds.Close()
		if len(fdNames) > MaxFDs {
			fdNames = fdNames[:MaxFDs]
			warns = append(warns, fmt.Sprintf("/proc/%d/fd: more than %d descriptors, only %d examined", pid, MaxFDs, MaxFDs))
		}
		var p *proc
		for _, fd := range fdNames {
			target, err := os.Readlink(filepath.Join(dir, "fd", fd))
			if err != nil {
				continue
			}
			inode, ok := socketInode(target)
			if !ok || !want[inode] {
				continue
			}
			if _, seen := owners[inode]; seen {
				continue
			}
			if p == nil {
				p = &proc{pid: pid, comm: readComm(filepath.Join(dir, "comm"))}
				if exe, err := os.Readlink(filepath.Join(dir, "exe")); err == nil {
					p.exe = exe
				}
			}
			owners[inode] = *p
		}
	}
	return owners, warns
}

// socketInode reads a descriptor link's target "socket:[INODE]".
func socketInode(target string) (uint64, bool) {
	s, ok := strings.CutPrefix(target, "socket:[")
	if !ok {
		return 0, false
	}
	s, ok = strings.CutSuffix(s, "]")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, 64)
	return n, err == nil
}

// readComm reads at most maxComm bytes of a comm file, without its newline.
func readComm(path string) string {
	fh, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer fh.Close()
	b, _ := io.ReadAll(io.LimitReader(fh, maxComm))
	return strings.TrimRight(string(b), "\n")
}
