package exposure

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/firewarden/firewarden/internal/host"
)

const tcpHeader = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
const tcp6Header = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"

// Lines in the kernel's layout (net/ipv4/tcp_ipv4.c get_tcp4_sock, udp.c udp4_format_sock),
// written for these tests.
var procNetTests = []struct {
	name, proto, in string
	want            []Listener
	warns           int
}{
	{
		name: "tcp listeners and an established connection", proto: "tcp",
		in: tcpHeader +
			"   0: 0100007F:1538 00000000:0000 0A 00000000:00000000 00:00000000 00000000   116        0 1001 1 0000000000000000 100 0 0 10 0\n" +
			"   1: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1002 1 0000000000000000 100 0 0 10 0\n" +
			"   2: 0F02000A:0016 0202000A:D431 01 00000000:00000000 02:000A7B2C 00000000     0        0 1003 4 0000000000000000 20 4 29 10 -1\n" +
			"   3: 0101A8C0:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 1004 1 0000000000000000 100 0 0 10 0\n",
		want: []Listener{
			{Proto: "tcp", Addr: netip.MustParseAddrPort("127.0.0.1:5432"), Scope: ScopeLoopback, Inode: 1001},
			{Proto: "tcp", Addr: netip.MustParseAddrPort("0.0.0.0:22"), Scope: ScopeAll, Inode: 1002},
			{Proto: "tcp", Addr: netip.MustParseAddrPort("192.168.1.1:8080"), Scope: ScopePrivate, Inode: 1004},
		},
	},
	{
		name: "tcp6 any, loopback and mapped", proto: "tcp",
		in: tcp6Header +
			"   0: 00000000000000000000000000000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2001 1 0000000000000000 100 0 0 10 0\n" +
			"   1: 00000000000000000000000001000000:0CEA 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2002 1 0000000000000000 100 0 0 10 0\n" +
			"   2: 0000000000000000FFFF00000100007F:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2003 1 0000000000000000 100 0 0 10 0\n" +
			"   3: 000080FE00000000FF0000020300FEFF:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2004 1 0000000000000000 100 0 0 10 0\n",
		want: []Listener{
			{Proto: "tcp", Addr: netip.MustParseAddrPort("[::]:22"), Scope: ScopeAll, Inode: 2001},
			{Proto: "tcp", Addr: netip.MustParseAddrPort("[::1]:3306"), Scope: ScopeLoopback, Inode: 2002},
			{Proto: "tcp", Addr: netip.MustParseAddrPort("[::ffff:127.0.0.1]:8080"), Scope: ScopeLoopback, Inode: 2003},
			{Proto: "tcp", Addr: netip.MustParseAddrPort("[fe80::200:ff:fffe:3]:80"), Scope: ScopeLinkLocal, Inode: 2004},
		},
	},
	{
		name: "udp bound and connected", proto: "udp",
		in: "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n" +
			"  100: 3500007F:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000   101        0 3001 2 0000000000000000 0\n" +
			"  200: 00000000:14E9 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 3002 2 0000000000000000 0\n" +
			"  300: 0F02000A:A001 08080808:0035 01 00000000:00000000 00:00000000 00000000     0        0 3003 2 0000000000000000 0\n" +
			"  400: FB0000E0:14E9 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 3004 2 0000000000000000 0\n" +
			"  500: 010040640:14E9 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 3005 2 0000000000000000 0\n",
		want: []Listener{
			{Proto: "udp", Addr: netip.MustParseAddrPort("127.0.0.53:53"), Scope: ScopeLoopback, Inode: 3001},
			{Proto: "udp", Addr: netip.MustParseAddrPort("0.0.0.0:5353"), Scope: ScopeAll, Inode: 3002},
			{Proto: "udp", Addr: netip.MustParseAddrPort("224.0.0.251:5353"), Scope: ScopeMulticast, Inode: 3004},
		},
		warns: 1,
	},
	{
		name: "garbage lines are warnings", proto: "tcp",
		in:    tcpHeader + "hello\n   0: ZZ:0016 00000000:0000 0A 0 0 0 0 0 1\n   1: 00000000:0016 00000000:0000 0A 0 0 0 0 0 x\n",
		warns: 3,
	},
}

func TestParseProcNet(t *testing.T) {
	for _, tt := range procNetTests {
		t.Run(tt.name, func(t *testing.T) {
			got, warns, err := ParseProcNet(strings.NewReader(tt.in), tt.proto, "tcp")
			if err != nil {
				t.Fatalf("ParseProcNet() error %v", err)
			}
			if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })); diff != "" {
				t.Errorf("ParseProcNet() listeners (-want +got):\n%s", diff)
			}
			if len(warns) != tt.warns {
				t.Errorf("ParseProcNet() warnings = %q, want %d", warns, tt.warns)
			}
		})
	}
}

func TestParseProcNetLongLine(t *testing.T) {
	in := tcpHeader + strings.Repeat("x", maxLineBytes+1) + "\n"
	if _, _, err := ParseProcNet(strings.NewReader(in), "tcp", "/proc/net/tcp"); err == nil || !strings.Contains(err.Error(), "/proc/net/tcp:2:") {
		t.Errorf("ParseProcNet(long line) error = %v, want one naming /proc/net/tcp:2", err)
	}
}

func FuzzParseProcNet(f *testing.F) {
	for _, tt := range procNetTests {
		f.Add(tt.in, tt.proto == "udp")
	}
	f.Fuzz(func(t *testing.T, in string, udp bool) {
		proto := "tcp"
		if udp {
			proto = "udp"
		}
		ls, _, err := ParseProcNet(strings.NewReader(in), proto, "fuzz")
		if err != nil {
			return
		}
		for _, l := range ls {
			if !l.Addr.IsValid() || l.Scope != Classify(l.Addr.Addr()) {
				t.Errorf("ParseProcNet(%q) gave %+v", in, l)
			}
		}
	})
}

// fakeProc lays out a /proc under a temporary root: the socket tables and processes with
// socket:[INODE] descriptor links.
type fakeProc struct {
	t    *testing.T
	root string
}

func newFakeProc(t *testing.T) *fakeProc {
	t.Helper()
	return &fakeProc{t: t, root: t.TempDir()}
}

func (p *fakeProc) file(sys, content string) {
	p.t.Helper()
	path := filepath.Join(p.root, sys)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		p.t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		p.t.Fatal(err)
	}
}

func (p *fakeProc) link(sys, target string) {
	p.t.Helper()
	path := filepath.Join(p.root, sys)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		p.t.Fatal(err)
	}
	if err := os.Symlink(target, path); err != nil {
		p.t.Fatal(err)
	}
}

// process adds /proc/PID with comm, an exe link (when exe is not empty) and descriptor links.
func (p *fakeProc) process(pid, comm, exe string, fds map[string]string) {
	p.file("/proc/"+pid+"/comm", comm+"\n")
	if exe != "" {
		p.link("/proc/"+pid+"/exe", exe)
	}
	for fd, target := range fds {
		p.link("/proc/"+pid+"/fd/"+fd, target)
	}
}

func TestReadLinux(t *testing.T) {
	p := newFakeProc(t)
	p.file("/proc/net/tcp", procNetTests[0].in)
	p.file("/proc/net/tcp6", procNetTests[1].in)
	p.file("/proc/net/udp", procNetTests[2].in)
	// no udp6: IPv6 may be off; a missing table is skipped
	p.process("1", "systemd", "/usr/lib/systemd/systemd", map[string]string{"0": "/dev/null"})
	p.process("700", "sshd", "/usr/sbin/sshd", map[string]string{"3": "socket:[1002]", "4": "socket:[2001]"})
	p.process("800", "postgres", "/usr/lib/postgresql/16/bin/postgres", map[string]string{"5": "socket:[1001]", "6": "pipe:[77]"})
	p.process("801", "postgres", "/usr/lib/postgresql/16/bin/postgres", map[string]string{"5": "socket:[1001]"})
	p.process("900", "systemd-resolve", "", map[string]string{"12": "socket:[3001]"})
	p.file("/proc/self", "not a process directory")
	root, err := host.NewRoot(p.root)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := ReadLinux(root)
	if err != nil {
		t.Fatalf("ReadLinux() error %v", err)
	}
	type row struct {
		Proto, Addr string
		Scope       Scope
		PID         int
		Process     string
		Path        string
	}
	var got []row
	for _, l := range rep.Listeners {
		got = append(got, row{l.Proto, l.Addr.String(), l.Scope, l.PID, l.Process, l.Path})
	}
	want := []row{
		{"tcp", "0.0.0.0:22", ScopeAll, 700, "sshd", "/usr/sbin/sshd"},
		{"tcp", "[::]:22", ScopeAll, 700, "sshd", "/usr/sbin/sshd"},
		{"tcp", "[fe80::200:ff:fffe:3]:80", ScopeLinkLocal, 0, "", ""},
		{"tcp", "[::1]:3306", ScopeLoopback, 0, "", ""},
		{"tcp", "127.0.0.1:5432", ScopeLoopback, 800, "postgres", "/usr/lib/postgresql/16/bin/postgres"},
		{"tcp", "192.168.1.1:8080", ScopePrivate, 0, "", ""},
		{"tcp", "[::ffff:127.0.0.1]:8080", ScopeLoopback, 0, "", ""},
		{"udp", "127.0.0.53:53", ScopeLoopback, 900, "systemd-resolve", ""},
		{"udp", "0.0.0.0:5353", ScopeAll, 0, "", ""},
		{"udp", "224.0.0.251:5353", ScopeMulticast, 0, "", ""},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ReadLinux() (-want +got):\n%s", diff)
	}
	if len(rep.Warnings) != 1 || !strings.HasPrefix(rep.Warnings[0], "/proc/net/udp:6:") {
		t.Errorf("ReadLinux() warnings = %q, want one about /proc/net/udp:6", rep.Warnings)
	}
}

func TestReadLinuxNoProc(t *testing.T) {
	root, err := host.NewRoot(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	rep, err := ReadLinux(root)
	if err != nil || len(rep.Listeners) != 0 {
		t.Errorf("ReadLinux(empty root) = %+v, %v, want nothing and no error", rep, err)
	}
}
