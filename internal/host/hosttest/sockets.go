package hosttest

import (
	"cmp"
	"fmt"
	"net/netip"
	"path"
	"slices"
	"strconv"
	"strings"
)

// Paths of the programs firewarden's exposure command runs on a Mac.
const (
	lsofPath     = "/usr/sbin/lsof"
	psPath       = "/bin/ps"
	codesignPath = "/usr/bin/codesign"
)

// Process is a running process of the emulated Mac that holds TCP or UDP sockets: what lsof, ps
// and codesign say about it.
type Process struct {
	PID int `json:"pid"`
	// Path is the executable (ps's comm column); lsof's command name is its last element.
	Path string `json:"path"`
	// Signature is how the executable is signed, as codesign verifies it: "apple" (anchor
	// apple), "developer" (anchor apple generic, such as a Developer ID), "unsigned" (unsigned or
	// ad-hoc, which codesign fails to verify against either anchor). Empty means "apple" for
	// the system's own directories (/System, /usr but not /usr/local, /bin, /sbin) and
	// "unsigned" elsewhere.
	Signature string `json:"signature,omitempty"`
	// Sockets are its open Internet sockets, in lsof's order (by descriptor).
	Sockets []Socket `json:"sockets,omitempty"`
}

// Socket is one open Internet socket of a process, as lsof -F lists it.
type Socket struct {
	FD    int    `json:"fd"`
	Proto string `json:"proto"` // "TCP" or "UDP"
	IPv6  bool   `json:"ipv6,omitempty"`
	// Local is lsof's name of the local end: "*:22", "127.0.0.1:5432", "[::1]:5432".
	Local string `json:"local"`
	// Peer is the remote end of a connected socket ("192.168.1.1:53"), empty otherwise.
	Peer string `json:"peer,omitempty"`
	// State is a TCP socket's state ("LISTEN", "ESTABLISHED"); UDP sockets have none.
	State string `json:"state,omitempty"`
}

// Signatures codesign tells apart (see Process.Signature).
const (
	SignatureApple     = "apple"
	SignatureDeveloper = "developer"
	SignatureUnsigned  = "unsigned"
)

// Executables of the preset processes, as ps prints them.
const (
	launchdExe       = "/sbin/launchd"
	mDNSResponderExe = "/usr/sbin/mDNSResponder"
	rapportdExe      = "/usr/libexec/rapportd"
	controlCenterExe = "/System/Library/CoreServices/ControlCenter.app/Contents/MacOS/ControlCenter"
	postgresExe      = "/opt/homebrew/opt/postgresql@16/bin/postgres"
	redisExe         = "/opt/homebrew/opt/redis/bin/redis-server"
	nodeExe          = "/usr/local/bin/node"
)

// defaultProcesses are the socket holders of the presets: a Mac used for development, with the
// system's own listeners (Bonjour, rapportd for Continuity, ControlCenter for the AirPlay
// Receiver on 5000 and 7000), Homebrew's postgres on loopback, Homebrew's redis on every
// address, and a node (the nodejs.org installer's, signed with a Developer ID) serving 3030. The
// pids, descriptors and high ports are invented; the executables are where macOS, Homebrew
// (Apple silicon, ad-hoc signed builds) and the nodejs.org package put them. sshd is not among
// them: with Remote Login on, launchd itself holds port 22 (see Mac.processes).
func defaultProcesses() []Process {
	return []Process{
		{PID: 412, Path: mDNSResponderExe, Sockets: []Socket{
			{FD: 7, Proto: "UDP", Local: "*:5353"},
			{FD: 8, Proto: "UDP", IPv6: true, Local: "*:5353"},
			{FD: 40, Proto: "UDP", Local: "192.168.1.20:51514", Peer: "192.168.1.1:53"},
		}},
		{PID: 598, Path: rapportdExe, Sockets: []Socket{
			{FD: 4, Proto: "TCP", IPv6: true, Local: "*:49152", State: "LISTEN"},
		}},
		{PID: 611, Path: controlCenterExe, Sockets: []Socket{
			{FD: 9, Proto: "TCP", Local: "*:7000", State: "LISTEN"},
			{FD: 10, Proto: "TCP", IPv6: true, Local: "*:7000", State: "LISTEN"},
			{FD: 11, Proto: "TCP", Local: "*:5000", State: "LISTEN"},
			{FD: 12, Proto: "TCP", IPv6: true, Local: "*:5000", State: "LISTEN"},
		}},
		{PID: 1204, Path: postgresExe, Signature: SignatureUnsigned, Sockets: []Socket{
			{FD: 6, Proto: "TCP", IPv6: true, Local: "[::1]:5432", State: "LISTEN"},
			{FD: 7, Proto: "TCP", Local: "127.0.0.1:5432", State: "LISTEN"},
			{FD: 9, Proto: "TCP", Local: "127.0.0.1:5432", Peer: "127.0.0.1:50123", State: "ESTABLISHED"},
		}},
		{PID: 1388, Path: redisExe, Signature: SignatureUnsigned, Sockets: []Socket{
			{FD: 6, Proto: "TCP", Local: "*:6379", State: "LISTEN"},
			{FD: 7, Proto: "TCP", IPv6: true, Local: "*:6379", State: "LISTEN"},
		}},
		{PID: 2051, Path: nodeExe, Signature: SignatureDeveloper, Sockets: []Socket{
			{FD: 22, Proto: "TCP", IPv6: true, Local: "*:3030", State: "LISTEN"},
		}},
	}
}

// processes returns the socket holders in pid order: the state's, and launchd (pid 1) holding
// port 22 for sshd when Remote Login is on (launchd starts sshd per connection, so lsof shows
// launchd, not sshd, on the port).
func (m *Mac) processes() []Process {
	ps := slices.Clone(m.st.Processes)
	if m.st.Launchd[labelSSH] == overrideEnabled {
		ps = append(ps, Process{PID: 1, Path: launchdExe, Sockets: []Socket{
			{FD: 12, Proto: "TCP", IPv6: true, Local: "*:22", State: "LISTEN"},
			{FD: 13, Proto: "TCP", Local: "*:22", State: "LISTEN"},
		}})
	}
	slices.SortStableFunc(ps, func(a, b Process) int { return cmp.Compare(a.PID, b.PID) })
	return ps
}

// lsofArgs are the only arguments the emulated lsof answers: firewarden's (exposure.LsofArgs).
var lsofArgs = []string{"+c", "0", "-nP", "-iTCP", "-iUDP", "-F", "pcftPnT"}

// lsof answers `lsof +c 0 -nP -iTCP -iUDP -F pcftPnT` in lsof's field output (lsof(8), OUTPUT
// FOR OTHER PROGRAMS): per process a p (pid) and c (command) line, then per socket f
// (descriptor), t (IPv4/IPv6), P (TCP/UDP), n (local[->peer]) and the T lines lsof prints by
// default (TCP state, queue lengths; UDP sockets have no state), as in the capture
// internal/exposure/testdata/lsof/debian12-lsof4.95-netns.txt. With no socket at all it prints
// nothing and exits 1, as lsof does when a selection finds nothing. Other arguments get a short
// usage error and exit 1 (SYNTHETIC wording).
func (m *Mac) lsof(args []string) outcome {
	if !slices.Equal(args, lsofArgs) {
		return fail(1, "lsof: the emulator answers only "+strings.Join(lsofArgs, " ")+"\n usage: [-?abhKlnNoOPRtUvVX] [+|-c c] [+|-d s] [+D D] [+|-f[gG]] [+|-e s]\n [-F [f]] [-g [s]] [-i [i]] [+|-L [l]] [+m [m]] [+|-M] [-o [o]] [-p s]\n [+|-r [t]] [-s [p:s]] [-S [t]] [-T [t]] [-u s] [+|-w] [-x [fl]] [--] [names]\n")
	}
	var b strings.Builder
	for _, p := range m.processes() {
		if len(p.Sockets) == 0 {
			continue
		}
		fmt.Fprintf(&b, "p%d\nc%s\n", p.PID, path.Base(p.Path))
		socks := slices.Clone(p.Sockets)
		slices.SortStableFunc(socks, func(a, b Socket) int { return cmp.Compare(a.FD, b.FD) })
		for _, s := range socks {
			typ := "IPv4"
			if s.IPv6 {
				typ = "IPv6"
			}
			name := s.Local
			if s.Peer != "" {
				name += "->" + s.Peer
			}
			fmt.Fprintf(&b, "f%d\nt%s\nP%s\nn%s\n", s.FD, typ, s.Proto, name)
			if s.State != "" {
				fmt.Fprintf(&b, "TST=%s\n", s.State)
			}
			b.WriteString("TQR=0\nTQS=0\n")
		}
	}
	if b.Len() == 0 {
		return outcome{code: 1}
	}
	return ok(b.String())
}

// ps answers `ps -ww -o pid=,comm= -p PID …`, the query firewarden makes for the executables'
// paths: one line per pid that runs, in pid order, the pid right-aligned in five columns, then
// the full path (macOS's comm). A pid that does not run is left out and makes ps exit 1. Other
// arguments get ps's usage and exit 1. (SYNTHETIC: the column width and the usage text are
// written from ps(1), not captured from a Mac.)
func (m *Mac) ps(args []string) outcome {
	usage := fail(1, "usage: ps [-AaCcEefhjlMmrSTvwXx] [-O fmt | -o fmt] [-G gid[,gid...]]\n          [-g grp[,grp...]] [-u [uid,uid...]]\n          [-p pid[,pid...]] [-t tty[,tty...]] [-U user[,user...]]\n       ps [-L]\n")
	if len(args) < 5 || !slices.Equal(args[:3], []string{"-ww", "-o", "pid=,comm="}) || (len(args)-3)%2 != 0 {
		return usage
	}
	want := map[int]bool{}
	for i := 3; i < len(args); i += 2 {
		pid, err := strconv.Atoi(args[i+1])
		if args[i] != "-p" || err != nil || pid <= 0 {
			return usage
		}
		want[pid] = true
	}
	var b strings.Builder
	found := 0
	for _, p := range m.processes() {
		if want[p.PID] {
			fmt.Fprintf(&b, "%5d %s\n", p.PID, p.Path)
			found++
		}
	}
	if found < len(want) {
		return outcome{stdout: b.String(), code: 1}
	}
	return ok(b.String())
}

// codesign answers `codesign --verify -R=REQUIREMENT PATH` for the requirements "anchor apple"
// and "anchor apple generic", from the signature of the process running PATH (or, for a path no
// process runs, from where it is: see Process.Signature). Exit status per codesign(1): 0 the
// signature verifies and meets the requirement, 3 it verifies but does not meet it, 1 it does
// not verify (unsigned), 2 invalid arguments. The messages are codesign's (SYNTHETIC: not
// captured).
func (m *Mac) codesign(args []string) outcome {
	if len(args) != 3 || args[0] != "--verify" || !strings.HasPrefix(args[1], "-R=") || !strings.HasPrefix(args[2], "/") {
		return fail(2, "Usage: codesign -s identity [-fv*] [-o flags] [-r reqs] [-i ident] path ... # sign\n       codesign -v [-v*] [-R=<req string>|-R <req file path>] path|[+]pid ... # verify\n")
	}
	req, p := strings.TrimPrefix(args[1], "-R="), args[2]
	if req != "anchor apple" && req != "anchor apple generic" {
		return fail(2, fmt.Sprintf("codesign: the emulator knows the requirements \"anchor apple\" and \"anchor apple generic\", not %q\n", req))
	}
	switch m.signature(p) {
	case SignatureApple:
		return ok("")
	case SignatureDeveloper:
		if req == "anchor apple generic" {
			return ok("")
		}
		return fail(3, p+": test-requirement: code failed to satisfy specified code requirement(s)\n")
	}
	return fail(1, p+": code object is not signed at all\n")
}

// signature is how the executable at p is signed (see Process.Signature).
func (m *Mac) signature(p string) string {
	for _, pr := range m.st.Processes {
		if pr.Path == p && pr.Signature != "" {
			return pr.Signature
		}
	}
	for _, dir := range []string{"/System/", "/usr/", "/bin/", "/sbin/"} {
		if strings.HasPrefix(p, dir) && !strings.HasPrefix(p, "/usr/local/") {
			return SignatureApple
		}
	}
	return SignatureUnsigned
}

// validateProcesses rejects processes and sockets lsof could not print.
func validateProcesses(ps []Process) error {
	seen := map[int]bool{}
	for _, p := range ps {
		if p.PID <= 1 || seen[p.PID] {
			return fmt.Errorf("process %d: want a unique pid above 1 (pid 1 is launchd, which holds port 22 when Remote Login is on)", p.PID)
		}
		seen[p.PID] = true
		if !strings.HasPrefix(p.Path, "/") {
			return fmt.Errorf("process %d: path %q is not absolute", p.PID, p.Path)
		}
		switch p.Signature {
		case "", SignatureApple, SignatureDeveloper, SignatureUnsigned:
		default:
			return fmt.Errorf("process %d: signature %q: want apple, developer or unsigned", p.PID, p.Signature)
		}
		for _, s := range p.Sockets {
			if s.Proto != "TCP" && s.Proto != "UDP" {
				return fmt.Errorf("process %d fd %d: protocol %q: want TCP or UDP", p.PID, s.FD, s.Proto)
			}
			if s.FD < 0 || !validName(s.Local, true) || (s.Peer != "" && !validName(s.Peer, false)) {
				return fmt.Errorf("process %d fd %d: want a descriptor, a local name ADDRESS:PORT (ADDRESS may be *, an IPv6 one in brackets) and no peer or a peer ADDRESS:PORT", p.PID, s.FD)
			}
			if strings.ContainsAny(s.State, "\n\r") {
				return fmt.Errorf("process %d fd %d: state %q holds a line break", p.PID, s.FD, s.State)
			}
		}
	}
	return nil
}

// validName reports whether name is lsof's ADDRESS:PORT: the address * (when wild) or an IP
// address, an IPv6 one in brackets; the port a number (or * for a socket bound to no port).
func validName(name string, wild bool) bool {
	i := strings.LastIndexByte(name, ':')
	if i < 0 {
		return false
	}
	host, port := name[:i], name[i+1:]
	if _, err := strconv.ParseUint(port, 10, 16); err != nil && port != "*" {
		return false
	}
	if host == "*" {
		return wild
	}
	if v6, ok := strings.CutPrefix(host, "["); ok {
		a, err := netip.ParseAddr(strings.TrimSuffix(v6, "]"))
		return err == nil && strings.HasSuffix(v6, "]") && a.Is6()
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Is4()
}
