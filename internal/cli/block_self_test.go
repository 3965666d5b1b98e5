package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBlockAllowRefusesWide: allowlisting a prefix wider than an IPv4 /8 or an IPv6 /16 (which
// lifts every ban) is a usage error that changes nothing, unless --wide says it is meant, as
// for block add.
func TestBlockAllowRefusesWide(t *testing.T) {
	e := newBlockEnv(t)
	e.mustRun(t, "add", "198.51.100.7")
	before := e.stateFile(t)
	for _, p := range []string{"0.0.0.0/0", "::/0", "128.0.0.0/1", "2000::/3"} {
		out, errs, code := e.run(t, "allow", "192.0.2.1", p)
		if code != 2 || !strings.Contains(errs, p+" is wider than a /") || !strings.Contains(errs, "give --wide if that is meant") ||
			strings.Count(errs, "\n") != 1 || out != "" {
			t.Errorf("allow %s = exit %d, stdout %q, stderr %q; want exit 2 and one error line", p, code, out, errs)
		}
		if after := e.stateFile(t); !bytes.Equal(before, after) {
			t.Fatalf("allow %s changed the state:\n%s", p, after)
		}
	}
	out := e.mustRun(t, "allow", "0.0.0.0/0", "--wide")
	if !strings.Contains(out, "allowlisted 0.0.0.0/0; removed the ban on 198.51.100.7") {
		t.Errorf("allow 0.0.0.0/0 --wide said %q", out)
	}
	e.mustRun(t, "allow", "10.0.0.0/8") // a /8 needs no flag
}

// TestBlockRefusesSelf: a ban of loopback is refused under any root, one of this host's own
// addresses when the root is the system's; --self overrides; a wider ban holding them is
// made, with a note.
func TestBlockRefusesSelf(t *testing.T) {
	e := newBlockEnv(t)
	for _, tt := range []struct{ addr, want string }{
		{"127.0.0.1", "firewarden: 127.0.0.1 is a loopback address: banning it cuts this host off from itself; give --self if that is meant\n"},
		{"127.0.0.0/8", "firewarden: 127.0.0.0/8 is loopback: banning it cuts this host off from itself; give --self if that is meant\n"},
		{"::1", "firewarden: ::1 is a loopback address: banning it cuts this host off from itself; give --self if that is meant\n"},
		{"::ffff:127.0.0.2", "firewarden: 127.0.0.2 is a loopback address: banning it cuts this host off from itself; give --self if that is meant\n"},
	} {
		out, errs, code := e.run(t, "add", "192.0.2.1", tt.addr)
		if code != 2 || errs != tt.want || out != "" {
			t.Errorf("add %s = exit %d, stdout %q, stderr %q; want exit 2 and %q", tt.addr, code, out, errs, tt.want)
		}
		if data := e.stateFile(t); data != nil {
			t.Fatalf("add %s wrote the state:\n%s", tt.addr, data)
		}
	}
	if out := e.mustRun(t, "add", "127.0.0.1", "--self"); !strings.Contains(out, "banned 127.0.0.1") {
		t.Errorf("add 127.0.0.1 --self said %q", out)
	}
	_, errs, code := e.run(t, "add", "0.0.0.0/0", "--wide")
	if code != 0 || !strings.Contains(errs, "note: the ban on 0.0.0.0/0 holds the loopback range 127.0.0.0/8") {
		t.Errorf("add 0.0.0.0/0 --wide = exit %d, stderr %q; want a note on loopback", code, errs)
	}

	// this host's own addresses, with the system root
	state := t.TempDir()
	run := func(args ...string) (string, string, int) {
		var out, errb bytes.Buffer
		a := &app{Streams: Streams{In: strings.NewReader(""), Out: &out, Err: &errb}, getenv: func(string) string { return "" },
			now: func() time.Time { return blockT0 }, euid: func() int { return 501 },
			interfaces: func() ([]ifaceAddr, error) {
				return []ifaceAddr{{"lo", netip.MustParseAddr("127.0.0.1")}, {"en0", netip.MustParseAddr("203.0.113.40")},
					{"en0", netip.MustParseAddr("2001:db8:40::40")}}, errors.New("utun9: permission denied")
			}}
		err := a.dispatch(context.Background(), append([]string{"--root", "/", "--state-dir", state, "block"}, append(args, "--backend", "dry-run")...))
		code := 0
		var ue *usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(&errb, "firewarden: %s\n", ue.msg)
			code = 2
		} else if err != nil {
			t.Fatalf("block %q: %v", args, err)
		}
		return out.String(), errb.String(), code
	}
	if _, err := os.Stat("/etc/os-release"); err != nil {
		t.Skip("no /etc/os-release: the system root is not a Linux this test can run against")
	}
	for _, tt := range []struct{ addr, want string }{
		{"203.0.113.40", "firewarden: 203.0.113.40 is an address of this host (en0): banning it cuts this host off from itself; give --self if that is meant\n"},
		{"2001:db8:40::40/128", "firewarden: 2001:db8:40::40 is an address of this host (en0): banning it cuts this host off from itself; give --self if that is meant\n"},
	} {
		out, errs, code := run("add", tt.addr)
		if code != 2 || !strings.HasSuffix(errs, tt.want) || out != "" {
			t.Errorf("add %s = exit %d, stdout %q, stderr %q; want exit 2 and %q", tt.addr, code, out, errs, tt.want)
		}
		if !strings.Contains(errs, "note: this host's addresses could not all be read (utun9: permission denied)") {
			t.Errorf("add %s: stderr %q lacks the note on the interface that could not be read", tt.addr, errs)
		}
	}
	if _, err := os.Stat(filepath.Join(state, "block.json")); err == nil {
		t.Fatal("a refused ban wrote the state")
	}
	out, errs, code := run("add", "203.0.113.0/24")
	if code != 0 || !strings.Contains(out, "banned 203.0.113.0/24") ||
		!strings.Contains(errs, "note: the ban on 203.0.113.0/24 holds 203.0.113.40, an address of this host (en0)") {
		t.Errorf("add 203.0.113.0/24 = exit %d, stdout %q, stderr %q; want the ban and a note", code, out, errs)
	}
	if _, _, code := run("add", "203.0.113.40", "--self"); code != 0 {
		t.Errorf("add 203.0.113.40 --self = exit %d, want 0", code)
	}
}
