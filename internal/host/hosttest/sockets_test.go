package hosttest_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/firewarden/firewarden/internal/exposure"
	"github.com/firewarden/firewarden/internal/exposure/firewall"
	"github.com/firewarden/firewarden/internal/host/hosttest"
)

const (
	lsof     = "/usr/sbin/lsof"
	ps       = "/bin/ps"
	codesign = "/usr/bin/codesign"
)

// lsofArgs are the arguments firewarden runs lsof with.
var lsofArgs = exposure.LsofArgs

// listenerRow is what a test compares of an exposure.Listener.
type listenerRow struct {
	Proto, Addr string
	PID         int
	Process     string
	Path        string
}

func listenerRows(ls []exposure.Listener) []listenerRow {
	rows := []listenerRow{}
	for _, l := range ls {
		rows = append(rows, listenerRow{l.Proto, l.Addr.String(), l.PID, l.Process, l.Path})
	}
	return rows
}

// presetListeners are the listeners of every preset with Remote Login off.
var presetListeners = []listenerRow{
	{"tcp", "[::]:3030", 2051, "node", ""},
	{"tcp", "0.0.0.0:5000", 611, "ControlCenter", ""},
	{"tcp", "[::]:5000", 611, "ControlCenter", ""},
	{"tcp", "127.0.0.1:5432", 1204, "postgres", ""},
	{"tcp", "[::1]:5432", 1204, "postgres", ""},
	{"tcp", "0.0.0.0:6379", 1388, "redis-server", ""},
	{"tcp", "[::]:6379", 1388, "redis-server", ""},
	{"tcp", "0.0.0.0:7000", 611, "ControlCenter", ""},
	{"tcp", "[::]:7000", 611, "ControlCenter", ""},
	{"tcp", "[::]:49152", 598, "rapportd", ""},
	{"udp", "0.0.0.0:5353", 412, "mDNSResponder", ""},
	{"udp", "[::]:5353", 412, "mDNSResponder", ""},
}

// withSSH are the preset listeners with Remote Login on: launchd's sockets for sshd first.
var withSSH = append([]listenerRow{
	{"tcp", "0.0.0.0:22", 1, "launchd", ""},
	{"tcp", "[::]:22", 1, "launchd", ""},
}, presetListeners...)

func TestLsofArguments(t *testing.T) {
	tests := []struct {
		name string
		args []string
		exit int
	}{
		{"firewarden's", lsofArgs, 0},
		{"none", nil, 1},
		{"listen only", []string{"+c", "0", "-nP", "-iTCP", "-sTCP:LISTEN", "-iUDP", "-F", "pcftPnT"}, 1},
		{"other fields", []string{"+c", "0", "-nP", "-iTCP", "-iUDP", "-F", "pcn"}, 1},
		{"extra", append(append([]string{}, lsofArgs...), "-p", "1"), 1},
		{"reordered", []string{"-nP", "+c", "0", "-iTCP", "-iUDP", "-F", "pcftPnT"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMac(t, hosttest.Mac15())
			res := run(t, m, lsof, tt.args...)
			if res.ExitCode != tt.exit {
				t.Errorf("lsof %q = exit %d (stderr %q), want %d", tt.args, res.ExitCode, res.Stderr, tt.exit)
			}
			if tt.exit != 0 && (len(res.Stdout) != 0 || !strings.Contains(string(res.Stderr), "usage:")) {
				t.Errorf("lsof %q = stdout %q, stderr %q; want a usage error on stderr only", tt.args, res.Stdout, res.Stderr)
			}
		})
	}
}

// TestLsofParses reads the emulated lsof's output with firewarden's parser, for every preset and
// with the state changed: Remote Login on, a process added, every socket gone.
func TestLsofParses(t *testing.T) {
	extra := hosttest.Process{PID: 3001, Path: "/opt/homebrew/bin/python3.13", Sockets: []hosttest.Socket{
		{FD: 3, Proto: "TCP", Local: "192.168.1.20:8000", State: "LISTEN"},
		{FD: 4, Proto: "TCP", Local: "192.168.1.20:8000", Peer: "192.168.1.30:61000", State: "ESTABLISHED"},
		{FD: 5, Proto: "UDP", IPv6: true, Local: "[fe80:4::1]:9999"},
	}}
	tests := []struct {
		name   string
		st     hosttest.MacState
		exit   int
		want   []listenerRow
		before [][]string // emulated runs before lsof
	}{
		{"14", hosttest.Mac14(), 0, presetListeners, nil},
		{"15", hosttest.Mac15(), 0, presetListeners, nil},
		{"15.4", hosttest.Mac154(), 0, presetListeners, nil},
		{"26", hosttest.Mac26(), 0, presetListeners, nil},
		{"managed15", hosttest.ManagedMac15(), 0, presetListeners, nil},
		{"remote login in the state", with(hosttest.Mac15(), func(s *hosttest.MacState) {
			s.Launchd = map[string]string{"com.openssh.sshd": "enabled"}
		}), 0, withSSH, nil},
		{"remote login turned on", hosttest.Mac15(), 0,
			withSSH,
			[][]string{{"/usr/sbin/systemsetup", "-setremotelogin", "on"}}},
		{"remote login turned off", with(hosttest.Mac15(), func(s *hosttest.MacState) {
			s.Launchd = map[string]string{"com.openssh.sshd": "enabled"}
		}), 0, presetListeners, [][]string{{"/usr/sbin/systemsetup", "-setremotelogin", "off"}}},
		{"a process added", with(hosttest.Mac15(), func(s *hosttest.MacState) {
			s.Processes = []hosttest.Process{extra}
		}), 0, []listenerRow{
			{"tcp", "192.168.1.20:8000", 3001, "python3.13", ""},
			{"udp", "[fe80:4::1]:9999", 3001, "python3.13", ""},
		}, nil},
		{"no sockets", with(hosttest.Mac15(), func(s *hosttest.MacState) { s.Processes = nil }), 1, []listenerRow{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMac(t, tt.st)
			for _, argv := range tt.before {
				run(t, m, argv[0], argv[1:]...)
			}
			res := run(t, m, lsof, lsofArgs...)
			if res.ExitCode != tt.exit {
				t.Errorf("lsof = exit %d (stderr %q), want %d", res.ExitCode, res.Stderr, tt.exit)
			}
			rep, err := exposure.ParseLsof(res.Stdout)
			if err != nil {
				t.Fatalf("ParseLsof(emulated lsof) error %v", err)
			}
			if len(rep.Warnings) != 0 {
				t.Errorf("ParseLsof(emulated lsof) warnings = %q, want none", rep.Warnings)
			}
			if diff := cmp.Diff(tt.want, listenerRows(rep.Listeners)); diff != "" {
				t.Errorf("ParseLsof(emulated lsof) (-want +got):\n%s", diff)
			}
		})
	}
}

// TestReadMacOnEmulatedMac runs firewarden's whole macOS listing (lsof, then ps for the paths)
// against the emulator.
func TestReadMacOnEmulatedMac(t *testing.T) {
	paths := map[int]string{
		412:  "/usr/sbin/mDNSResponder",
		598:  "/usr/libexec/rapportd",
		611:  "/System/Library/CoreServices/ControlCenter.app/Contents/MacOS/ControlCenter",
		1204: "/opt/homebrew/opt/postgresql@16/bin/postgres",
		1388: "/opt/homebrew/opt/redis/bin/redis-server",
		2051: "/usr/local/bin/node",
	}
	m := newMac(t, hosttest.Mac15())
	rep, err := exposure.ReadMac(context.Background(), m)
	if err != nil {
		t.Fatalf("ReadMac(emulated Mac) error %v", err)
	}
	var want []listenerRow
	for _, r := range presetListeners {
		r.Path = paths[r.PID]
		want = append(want, r)
	}
	if diff := cmp.Diff(want, listenerRows(rep.Listeners)); diff != "" {
		t.Errorf("ReadMac(emulated Mac) (-want +got):\n%s", diff)
	}
	if len(rep.Warnings) != 0 {
		t.Errorf("ReadMac(emulated Mac) warnings = %q, want none", rep.Warnings)
	}
	calls := m.Calls()
	if len(calls) != 2 || calls[1][0] != ps {
		t.Errorf("ReadMac(emulated Mac) ran %q, want lsof then ps", calls)
	}
	if len(m.Writes()) != 0 {
		t.Errorf("ReadMac(emulated Mac) writes = %q, want none", m.Writes())
	}
}

func TestPs(t *testing.T) {
	usage := "usage: ps [-AaCcEefhjlMmrSTvwXx]"
	tests := []struct {
		name   string
		args   []string
		exit   int
		stdout string
		stderr string // a prefix
	}{
		{"one", []string{"-ww", "-o", "pid=,comm=", "-p", "412"}, 0, "  412 /usr/sbin/mDNSResponder\n", ""},
		{"in pid order", []string{"-ww", "-o", "pid=,comm=", "-p", "2051", "-p", "598"}, 0,
			"  598 /usr/libexec/rapportd\n 2051 /usr/local/bin/node\n", ""},
		{"a pid gone", []string{"-ww", "-o", "pid=,comm=", "-p", "412", "-p", "99999"}, 1, "  412 /usr/sbin/mDNSResponder\n", ""},
		{"no pid", []string{"-ww", "-o", "pid=,comm="}, 1, "", usage},
		{"other columns", []string{"-ww", "-o", "pid=,command=", "-p", "412"}, 1, "", usage},
		{"pid not a number", []string{"-ww", "-o", "pid=,comm=", "-p", "x"}, 1, "", usage},
		{"no -p", []string{"-ww", "-o", "pid=,comm=", "412", "598"}, 1, "", usage},
		{"dangling -p", []string{"-ww", "-o", "pid=,comm=", "-p", "412", "-p"}, 1, "", usage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMac(t, hosttest.Mac15())
			res := run(t, m, ps, tt.args...)
			if res.ExitCode != tt.exit || string(res.Stdout) != tt.stdout || !strings.HasPrefix(string(res.Stderr), tt.stderr) {
				t.Errorf("ps %q = exit %d %q (stderr %q), want %d %q (stderr %q…)", tt.args, res.ExitCode, res.Stdout, res.Stderr, tt.exit, tt.stdout, tt.stderr)
			}
		})
	}
}

func TestCodesign(t *testing.T) {
	st := with(hosttest.Mac15(), func(s *hosttest.MacState) {
		s.Processes = append(s.Processes, hosttest.Process{PID: 5000, Path: "/usr/local/bin/apple-built", Signature: hosttest.SignatureApple})
	})
	tests := []struct {
		path      string
		exitApple int // codesign --verify -R=anchor apple PATH
		exitGen   int // codesign --verify -R=anchor apple generic PATH
		want      firewall.Signature
	}{
		{"/usr/sbin/mDNSResponder", 0, 0, firewall.SignedByApple},
		{"/System/Library/CoreServices/ControlCenter.app/Contents/MacOS/ControlCenter", 0, 0, firewall.SignedByApple},
		{"/usr/local/bin/node", 3, 0, firewall.SignedByDeveloper},
		{"/opt/homebrew/opt/redis/bin/redis-server", 1, 1, firewall.NotSigned},
		{"/opt/homebrew/opt/postgresql@16/bin/postgres", 1, 1, firewall.NotSigned},
		{"/usr/local/bin/apple-built", 0, 0, firewall.SignedByApple},
		{"/usr/local/bin/nobody-runs-it", 1, 1, firewall.NotSigned},
		{"/Applications/Nothing.app/Contents/MacOS/Nothing", 1, 1, firewall.NotSigned},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			m := newMac(t, st)
			for req, want := range map[string]int{"anchor apple": tt.exitApple, "anchor apple generic": tt.exitGen} {
				res := run(t, m, codesign, "--verify", "-R="+req, tt.path)
				if res.ExitCode != want || len(res.Stdout) != 0 {
					t.Errorf("codesign --verify -R=%s %s = exit %d, stdout %q; want %d and no output", req, tt.path, res.ExitCode, res.Stdout, want)
				}
			}
			got, err := firewall.CodesignSigner(context.Background(), m)(tt.path)
			if err != nil || got != tt.want {
				t.Errorf("CodesignSigner(emulated Mac)(%s) = %v, %v; want %v", tt.path, got, err, tt.want)
			}
		})
	}
}

func TestCodesignBadArguments(t *testing.T) {
	tests := [][]string{
		nil,
		{"--verify", "/usr/local/bin/node"},
		{"-v", "-R=anchor apple", "/usr/local/bin/node"},
		{"--verify", "-R=anchor trusted", "/usr/local/bin/node"},
		{"--verify", "-R=anchor apple", "node"},
		{"--verify", "-R=anchor apple", "/usr/local/bin/node", "/usr/bin/true"},
	}
	for _, args := range tests {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			m := newMac(t, hosttest.Mac15())
			res := run(t, m, codesign, args...)
			if res.ExitCode != 2 || len(res.Stderr) == 0 {
				t.Errorf("codesign %q = exit %d, stderr %q; want 2 and a message", args, res.ExitCode, res.Stderr)
			}
		})
	}
}

func TestBadProcesses(t *testing.T) {
	good := hosttest.Process{PID: 10, Path: "/usr/bin/x", Sockets: []hosttest.Socket{{FD: 3, Proto: "TCP", Local: "*:1", State: "LISTEN"}}}
	tests := []struct {
		name string
		f    func(*hosttest.Process)
	}{
		{"pid 1", func(p *hosttest.Process) { p.PID = 1 }},
		{"relative path", func(p *hosttest.Process) { p.Path = "x" }},
		{"signature", func(p *hosttest.Process) { p.Signature = "maybe" }},
		{"protocol", func(p *hosttest.Process) { p.Sockets[0].Proto = "tcp" }},
		{"no port", func(p *hosttest.Process) { p.Sockets[0].Local = "*" }},
		{"newline", func(p *hosttest.Process) { p.Sockets[0].Local = "*:1\nTST=LISTEN" }},
		{"port not a number", func(p *hosttest.Process) { p.Sockets[0].Local = "*:ssh" }},
		{"port too big", func(p *hosttest.Process) { p.Sockets[0].Local = "*:65536" }},
		{"host name", func(p *hosttest.Process) { p.Sockets[0].Local = "localhost:1" }},
		{"IPv6 without brackets", func(p *hosttest.Process) { p.Sockets[0].Local = "::1:1" }},
		{"IPv4 in brackets", func(p *hosttest.Process) { p.Sockets[0].Local = "[127.0.0.1]:1" }},
		{"wildcard peer", func(p *hosttest.Process) { p.Sockets[0].Peer = "*:1" }},
		{"state with a newline", func(p *hosttest.Process) { p.Sockets[0].State = "LISTEN\nx" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := good
			p.Sockets = append([]hosttest.Socket(nil), good.Sockets...)
			tt.f(&p)
			st := with(hosttest.Mac15(), func(s *hosttest.MacState) { s.Processes = []hosttest.Process{p} })
			if _, err := hosttest.NewMac(t.TempDir(), st); err == nil {
				t.Errorf("NewMac(process %+v) = nil error, want one", p)
			}
		})
	}
	t.Run("duplicate pid", func(t *testing.T) {
		st := with(hosttest.Mac15(), func(s *hosttest.MacState) { s.Processes = []hosttest.Process{good, good} })
		if _, err := hosttest.NewMac(t.TempDir(), st); err == nil {
			t.Error("NewMac(two processes with one pid) = nil error, want one")
		}
	})
	t.Run("good", func(t *testing.T) {
		st := with(hosttest.Mac15(), func(s *hosttest.MacState) { s.Processes = []hosttest.Process{good} })
		if _, err := hosttest.NewMac(t.TempDir(), st); err != nil {
			t.Errorf("NewMac(%+v) = %v, want nil", good, err)
		}
	})
}

// TestStateIsCopied checks that State hands out processes the caller may change.
func TestStateIsCopied(t *testing.T) {
	m := newMac(t, hosttest.Mac15())
	st := m.State()
	st.Processes[0].Sockets[0].Local = "*:1"
	if got := m.State().Processes[0].Sockets[0].Local; got != "*:5353" {
		t.Errorf("State() after changing a copy: first socket %q, want %q", got, "*:5353")
	}

}
