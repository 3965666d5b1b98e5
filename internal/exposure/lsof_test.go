package exposure

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/firewarden/firewarden/internal/host"
)

// lsofRow is a listener as the tests compare it.
type lsofRow struct {
	Proto, Addr string
	Scope       Scope
	PID         int
	Process     string
}

func rows(ls []Listener) []lsofRow {
	var out []lsofRow
	for _, l := range ls {
		out = append(out, lsofRow{l.Proto, l.Addr.String(), l.Scope, l.PID, l.Process})
	}
	return out
}

var lsofTests = []struct {
	name, in string
	want     []lsofRow
	warns    []string
	err      string
}{
	{
		name: "tcp listen v4 and v6",
		in:   "p1204\ncpostgres\nf7\ntIPv6\nPTCP\nn[::1]:5432\nTST=LISTEN\nf8\ntIPv4\nPTCP\nn*:5432\nTST=LISTEN\n",
		want: []lsofRow{
			{"tcp", "0.0.0.0:5432", ScopeAll, 1204, "postgres"},
			{"tcp", "[::1]:5432", ScopeLoopback, 1204, "postgres"},
		},
	},
	{
		name: "udp bound, unbound and connected",
		in:   "p412\ncmDNSResponder\nf7\ntIPv6\nPUDP\nn*:5353\nf8\ntIPv4\nPUDP\nn*:*\nf9\ntIPv4\nPUDP\nn10.0.0.2:5000->10.0.0.1:53\n",
		want: []lsofRow{{"udp", "[::]:5353", ScopeAll, 412, "mDNSResponder"}},
	},
	{
		name: "tcp not in listen is left out",
		in:   "p9\ncx\nf3\ntIPv4\nPTCP\nn127.0.0.1:80\nTST=CLOSED\n",
	},
	{
		name:  "fields in any order, other letters skipped, unknown reported",
		in:    "p9\nu501\ncx\nf3\naw\nPTCP\nTST=LISTEN\nTQR=0\nn[fd00::5]:443\ntIPv6\nd0xabc\nX?\n",
		want:  []lsofRow{{"tcp", "[fd00::5]:443", ScopePrivate, 9, "x"}},
		warns: []string{`lsof output line 12: field "X" not understood; line skipped`},
	},
	{
		name: "bad sockets are warnings",
		in:   "p9\ncx\nf3\ntIPv4\nPTCP\nnlocalhost:80\nf4\ntIPv4\nPSCTP\nn*:80\nf5\ntunix\nPTCP\nn*:1\nf6\ntIPv4\nPTCP\nn*:99999\n",
		warns: []string{
			`lsof output line 3: address "localhost" is not an IP address; socket skipped`,
			`lsof output line 7: protocol "SCTP" is neither TCP nor UDP; socket skipped`,
			`lsof output line 11: wildcard address with type "unix", neither IPv4 nor IPv6; socket skipped`,
			`lsof output line 15: port "99999" in "*:99999" is not a number; socket skipped`,
		},
	},
	{name: "file before process", in: "f3\nPTCP\n", err: "lsof output line 1: a file before any process; is this lsof -F output?"},
	{name: "bad pid", in: "pabc\n", err: `lsof output line 1: pid "abc" is not a number`},
}

func TestParseLsof(t *testing.T) {
	for _, tt := range lsofTests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := ParseLsof([]byte(tt.in))
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("ParseLsof() error = %v, want %s", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseLsof() error %v", err)
			}
			if diff := cmp.Diff(tt.want, rows(rep.Listeners)); diff != "" {
				t.Errorf("ParseLsof() (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.warns, rep.Warnings); diff != "" {
				t.Errorf("ParseLsof() warnings (-want +got):\n%s", diff)
			}
		})
	}
}

func FuzzParseLsof(f *testing.F) {
	for _, tt := range lsofTests {
		f.Add([]byte(tt.in))
	}
	for _, file := range []string{"sonoma-services.txt", "debian12-lsof4.95-netns.txt"} {
		if b, err := os.ReadFile("testdata/lsof/" + file); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		rep, err := ParseLsof(in)
		if err != nil {
			return
		}
		for _, l := range rep.Listeners {
			if !l.Addr.IsValid() || l.PID <= 0 || (l.Proto != "tcp" && l.Proto != "udp") {
				t.Errorf("ParseLsof(%q) gave %+v", in, l)
			}
		}
	})
}

// fakeRunner answers every run with out and err.
type fakeRunner struct {
	out    []byte
	stderr []byte
	err    error
	argv   []string
	// ps's answer, and its argv
	psOut []byte
	psErr error
	ps    []string
}

func (r *fakeRunner) Run(_ context.Context, c host.Cmd) (host.Result, error) {
	if c.Path == PsPath {
		r.ps = c.Argv()
		return host.Result{Argv: c.Argv(), Stdout: r.psOut}, r.psErr
	}
	r.argv = c.Argv()
	return host.Result{Argv: c.Argv(), Stdout: r.out, Stderr: r.stderr}, r.err
}

func TestReadMac(t *testing.T) {
	out, err := os.ReadFile("testdata/lsof/sonoma-services.txt")
	if err != nil {
		t.Fatal(err)
	}
	r := &fakeRunner{out: out}
	rep, err := ReadMac(context.Background(), r)
	if err != nil {
		t.Fatalf("ReadMac() error %v", err)
	}
	if got, want := strings.Join(r.argv, " "), "/usr/sbin/lsof +c 0 -nP -iTCP -iUDP -F pcftPnT"; got != want {
		t.Errorf("ReadMac() ran %q, want %q", got, want)
	}
	got := rows(rep.Listeners)
	wantAll := []lsofRow{
		{"tcp", "0.0.0.0:22", ScopeAll, 1, "launchd"},
		{"tcp", "[::]:22", ScopeAll, 1, "launchd"},
		{"tcp", "[::]:3030", ScopeAll, 2051, "node"},
		{"tcp", "0.0.0.0:5000", ScopeAll, 611, "ControlCenter"},
		{"tcp", "127.0.0.1:5432", ScopeLoopback, 1204, "postgres"},
		{"tcp", "[::1]:5432", ScopeLoopback, 1204, "postgres"},
		{"tcp", "0.0.0.0:6379", ScopeAll, 1388, "redis-server"},
		{"tcp", "0.0.0.0:7000", ScopeAll, 611, "ControlCenter"},
		{"tcp", "[::]:7000", ScopeAll, 611, "ControlCenter"},
		{"tcp", "127.0.0.1:8065", ScopeLoopback, 2210, "com.docker.backend"},
		{"tcp", "[fe80:4::1]:9000", ScopeLinkLocal, 2210, "com.docker.backend"},
		{"tcp", "100.101.102.103:41641", ScopeShared, 2210, "com.docker.backend"},
		{"udp", "0.0.0.0:5353", ScopeAll, 412, "mDNSResponder"},
		{"udp", "[::]:5353", ScopeAll, 412, "mDNSResponder"},
	}
	if diff := cmp.Diff(wantAll, got); diff != "" {
		t.Errorf("ReadMac() (-want +got):\n%s", diff)
	}
	if len(rep.Warnings) != 0 {
		t.Errorf("ReadMac() warnings = %q, want none", rep.Warnings)
	}
}

func TestReadMacNothing(t *testing.T) {
	r := &fakeRunner{err: &host.ExitError{Argv: []string{LsofPath}, Code: 1}}
	rep, err := ReadMac(context.Background(), r)
	if err != nil || len(rep.Listeners) != 0 {
		t.Errorf("ReadMac(lsof exit 1, no output) = %+v, %v, want nothing", rep, err)
	}
	r = &fakeRunner{err: &host.ExitError{Argv: []string{LsofPath}, Code: 2, Stderr: "lsof: bad"}}
	if _, err := ReadMac(context.Background(), r); err == nil {
		t.Errorf("ReadMac(lsof exit 2) error nil, want one")
	}
}

func TestReadMacPaths(t *testing.T) {
	r := &fakeRunner{
		out:   []byte("p1204\ncpostgres\nf7\ntIPv4\nPTCP\nn127.0.0.1:5432\nTST=LISTEN\nf8\ntIPv6\nPTCP\nn[::1]:5432\nTST=LISTEN\np2051\ncnode\nf21\ntIPv6\nPTCP\nn*:3030\nTST=LISTEN\np77\ncgone\nf3\ntIPv4\nPUDP\nn*:9\n"),
		psOut: []byte(" 1204 /Applications/Postgres.app/Contents/Versions/16/bin/postgres\n 2051 /Users/me/Library/Application Support/nvm/node\nnot a line\n"),
		psErr: &host.ExitError{Argv: []string{PsPath}, Code: 1},
	}
	rep, err := ReadMac(context.Background(), r)
	if err != nil {
		t.Fatalf("ReadMac() error %v", err)
	}
	if got, want := strings.Join(r.ps, " "), "/bin/ps -ww -o pid=,comm= -p 2051 -p 1204 -p 77"; got != want {
		t.Errorf("ReadMac() ran %q, want %q", got, want)
	}
	var got []string
	for _, l := range rep.Listeners {
		got = append(got, l.Addr.String()+" "+l.Path)
	}
	want := []string{
		"[::]:3030 /Users/me/Library/Application Support/nvm/node",
		"127.0.0.1:5432 /Applications/Postgres.app/Contents/Versions/16/bin/postgres",
		"[::1]:5432 /Applications/Postgres.app/Contents/Versions/16/bin/postgres",
		"0.0.0.0:9 ",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ReadMac() paths (-want +got):\n%s", diff)
	}
	if len(rep.Warnings) != 0 {
		t.Errorf("ReadMac() warnings = %q, want none (ps exit 1 is a pid gone)", rep.Warnings)
	}

	r.psErr = host.ErrNotInstalled
	rep, err = ReadMac(context.Background(), r)
	if err != nil || len(rep.Listeners) != 4 || len(rep.Warnings) != 1 || !strings.HasPrefix(rep.Warnings[0], "executable paths not shown: ") {
		t.Errorf("ReadMac(ps missing) = %d listeners, warnings %q, %v; want 4, one warning, no error", len(rep.Listeners), rep.Warnings, err)
	}
}

func FuzzParsePsPaths(f *testing.F) {
	f.Add([]byte(" 1204 /usr/bin/x y\n 2 /a\nbad\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		for pid, path := range ParsePsPaths(in) {
			if pid <= 0 || !strings.HasPrefix(path, "/") {
				t.Errorf("ParsePsPaths(%q) gave %d %q", in, pid, path)
			}
		}
	})
}

// lsof exits 1 when one selection found nothing (no UDP socket, say) or it met an error: what it
// printed is read all the same, and what it said on stderr is a warning.
func TestReadMacExit1(t *testing.T) {
	out := []byte("p1204\ncpostgres\nf7\ntIPv4\nPTCP\nn127.0.0.1:5432\nTST=LISTEN\n")
	for _, tt := range []struct {
		name     string
		stderr   string
		warnings []string
	}{
		{"quiet", "", nil},
		{"said why", "lsof: WARNING: can't stat() nfs file system /Volumes/x\n      Output information may be incomplete.\n",
			[]string{"/usr/sbin/lsof exited with status 1: lsof: WARNING: can't stat() nfs file system /Volumes/x …; some listeners may be missing"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := &fakeRunner{out: out, stderr: []byte(tt.stderr), err: &host.ExitError{Argv: []string{LsofPath}, Code: 1, Stderr: tt.stderr}}
			rep, err := ReadMac(context.Background(), r)
			if err != nil {
				t.Fatalf("ReadMac(lsof exit 1 with output) error %v, want none", err)
			}
			if diff := cmp.Diff([]lsofRow{{"tcp", "127.0.0.1:5432", ScopeLoopback, 1204, "postgres"}}, rows(rep.Listeners)); diff != "" {
				t.Errorf("ReadMac(lsof exit 1 with output) (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.warnings, rep.Warnings); diff != "" {
				t.Errorf("ReadMac(lsof exit 1 with output) warnings (-want +got):\n%s", diff)
			}
		})
	}
}

// A real capture of lsof 4.95.0's field output (Debian 12, in a network namespace holding one
// process's sockets; see testdata/lsof/NOTES.md): TCP in LISTEN and bound UDP are listeners; the
// established TCP pair, the connected UDP socket and the TQR/TQS fields are not.
func TestParseLsofCaptured(t *testing.T) {
	data, err := os.ReadFile("testdata/lsof/debian12-lsof4.95-netns.txt")
	if err != nil {
		t.Fatal(err)
	}
	rep, err := ParseLsof(data)
	if err != nil {
		t.Fatalf("ParseLsof(capture) error %v", err)
	}
	want := []lsofRow{
		{"tcp", "127.0.0.1:5432", ScopeLoopback, 0, "python3"},
		{"tcp", "[::1]:6379", ScopeLoopback, 0, "python3"},
		{"tcp", "0.0.0.0:8080", ScopeAll, 0, "python3"},
		{"tcp", "[::]:8443", ScopeAll, 0, "python3"},
		{"udp", "0.0.0.0:5353", ScopeAll, 0, "python3"},
		{"udp", "[::]:5353", ScopeAll, 0, "python3"},
	}
	got := rows(rep.Listeners)
	for i := range got {
		got[i].PID = 0 // the capture's pid is whatever the kernel gave
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ParseLsof(capture) (-want +got):\n%s", diff)
	}
	if len(rep.Warnings) > 0 {
		t.Errorf("ParseLsof(capture) warnings %q, want none", rep.Warnings)
	}
}
