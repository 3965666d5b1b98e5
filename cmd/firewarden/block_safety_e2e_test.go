package main

import (
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBlockAllowlistSafety: through the real binary, the commands that could silently lift
// every ban or cut the host off from itself are refused with exit 2 and one line, and change
// nothing; the flag that says it is meant lets them through.
func TestBlockAllowlistSafety(t *testing.T) {
	root, state := fakeLinux(t), t.TempDir()
	block := func(args ...string) run {
		return firewardenIn(t, nil, append([]string{"--root", root, "--state-dir", state, "block"}, append(args, "--backend", "none")...)...)
	}
	if r := block("add", "198.51.100.7"); r.code != 0 {
		t.Fatalf("block add 198.51.100.7: exit %d: %s", r.code, r.stderr)
	}
	before, err := os.ReadFile(filepath.Join(state, "block.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string // the one line on stderr
	}{
		{[]string{"allow", "0.0.0.0/0"}, "firewarden: 0.0.0.0/0 is wider than a /8: allowlisting it would exempt all of the Internet from every ban; give --wide if that is meant"},
		{[]string{"allow", "::/0"}, "firewarden: ::/0 is wider than a /16: allowlisting it would exempt all of the Internet from every ban; give --wide if that is meant"},
		{[]string{"allow", "192.0.2.1", "0.0.0.0/1"}, "firewarden: 0.0.0.0/1 is wider than a /8: allowlisting it would exempt 1/2 of the Internet from every ban; give --wide if that is meant"},
		{[]string{"add", "127.0.0.1"}, "firewarden: 127.0.0.1 is a loopback address: banning it cuts this host off from itself; give --self if that is meant"},
		{[]string{"add", "::1"}, "firewarden: ::1 is a loopback address: banning it cuts this host off from itself; give --self if that is meant"},
	} {
		r := block(tc.args...)
		if r.code != 2 || strings.TrimSuffix(r.stderr, "\n") != tc.want || r.stdout != "" {
			t.Errorf("block %s: exit %d, stdout %q, stderr %q; want exit 2 and %q", strings.Join(tc.args, " "), r.code, r.stdout, r.stderr, tc.want)
		}
		if after, _ := os.ReadFile(filepath.Join(state, "block.json")); string(after) != string(before) {
			t.Errorf("block %s changed the state", strings.Join(tc.args, " "))
		}
	}
	if r := block("add", "127.0.0.1", "--self"); r.code != 0 {
		t.Errorf("block add 127.0.0.1 --self: exit %d: %s", r.code, r.stderr)
	}
	if r := block("allow", "0.0.0.0/0", "--wide"); r.code != 0 || !strings.Contains(r.stdout, "removed the ban on 198.51.100.7") {
		t.Errorf("block allow 0.0.0.0/0 --wide: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

// TestBlockOwnAddress: with the system root, a ban of an address of this host's own
// interfaces is refused, and a wider ban holding one is made with a note.
func TestBlockOwnAddress(t *testing.T) {
	own := firstInterfaceAddr(t)
	state := t.TempDir()
	block := func(args ...string) run {
		return firewardenIn(t, nil, append([]string{"--root", "/", "--state-dir", state, "block"}, append(args, "--backend", "none")...)...)
	}
	r := block("add", own.addr.String())
	want := "firewarden: " + own.addr.String() + " is an address of this host (" + own.name + "): banning it cuts this host off from itself; give --self if that is meant"
	if r.code != 2 || !strings.HasSuffix(strings.TrimSuffix(r.stderr, "\n"), want) || r.stdout != "" {
		t.Errorf("block add %s: exit %d, stdout %q, stderr %q; want exit 2 and %q", own.addr, r.code, r.stdout, r.stderr, want)
	}
	if _, err := os.Stat(filepath.Join(state, "block.json")); err == nil {
		t.Errorf("a refused ban wrote the state")
	}
	bits := 24
	if own.addr.Is6() {
		bits = 64
	}
	wider := netip.PrefixFrom(own.addr, bits).Masked()
	r = block("add", wider.String())
	if r.code != 0 || !strings.Contains(r.stderr, "note: the ban on "+wider.String()+" holds "+own.addr.String()+", an address of this host ("+own.name+")") {
		t.Errorf("block add %s: exit %d, stderr %q; want the ban with a note", wider, r.code, r.stderr)
	}
}

type namedAddr struct {
	name string
	addr netip.Addr
}

// firstInterfaceAddr is a global address of one of this machine's interfaces, or skips.
func firstInterfaceAddr(t *testing.T) namedAddr {
	t.Helper()
	if _, err := os.Stat("/etc/os-release"); err != nil {
		t.Skip("the system root is not a Linux host (no /etc/os-release)")
	}
	ifs, err := net.Interfaces()
	if err != nil {
		t.Skipf("net.Interfaces: %v", err)
	}
	for _, ifc := range ifs {
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			ip, ok := netip.AddrFromSlice(ipn.IP)
			if ok && ip.Unmap().IsGlobalUnicast() && !ip.IsLoopback() {
				return namedAddr{ifc.Name, ip.Unmap()}
			}
		}
	}
	t.Skip("this machine has no global address on any interface (run it where one has)")
	return namedAddr{}
}

// TestGuardConfigWideAllowlist: a guard configuration whose allowlist is wider than an IPv4 /8
// or an IPv6 /16 is refused at its line, exit 2.
func TestGuardConfigWideAllowlist(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "firewarden.yaml")
	os.WriteFile(cfg, []byte("guard:\n  allowlist:\n    - 192.0.2.0/24\n    - 0.0.0.0/0\n"), 0o644)
	r := firewardenIn(t, nil, "--config", cfg, "guard", "--check-config")
	want := "firewarden: " + cfg + ":4: allowlist: 0.0.0.0/0 is wider than a /8: allowlisting it would exempt all of the Internet from every ban, so the guard would never ban; narrow it (or, if it is meant, add it with `firewarden block allow --wide`)\n"
	if r.code != 2 || r.stderr != want {
		t.Errorf("guard --check-config: exit %d, stderr %q; want exit 2 and %q", r.code, r.stderr, want)
	}
}
