package nftposture

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"

	"github.com/firewarden/firewarden/internal/posture/baseline"
)

// SSH_CONNECTION is outside text: whatever it holds, BuildSpec keeps at most one session, on a
// real port, from a valid address, and a kept address is the one the text names.
func FuzzBuildSpec(f *testing.F) {
	for _, s := range []string{"", "203.0.113.9 50022 192.0.2.1 22", "::ffff:203.0.113.9 50022 192.0.2.1 2222",
		"203.0.113.9; rm -rf /", "fe80::1%eth0 1 fe80::2 22", "2001:db8::9 1 2001:db8::1 65535", "1.2.3.4 1 1.2.3.4 0"} {
		f.Add(s)
	}
	b := baseline.Default().Linux.Firewall
	f.Fuzz(func(t *testing.T, conn string) {
		spec, warn := BuildSpec(b, conn)
		if len(spec.Keep) > 1 {
			t.Fatalf("BuildSpec(%q) keeps %d sessions", conn, len(spec.Keep))
		}
		for _, k := range spec.Keep {
			if !k.Source.IsValid() || k.Port == 0 || k.Proto != "tcp" || !strings.Contains(conn, strings.Fields(conn)[0]) {
				t.Fatalf("BuildSpec(%q) = %+v", conn, k)
			}
			if a, err := netip.ParseAddr(strings.Fields(conn)[0]); err != nil || a.Unmap() != k.Source {
				t.Fatalf("BuildSpec(%q) keeps %v, not the address the text names", conn, k.Source)
			}
		}
		if len(spec.Keep) == 0 && strings.TrimSpace(conn) != "" && warn == "" {
			t.Fatalf("BuildSpec(%q) kept nothing and said nothing", conn)
		}
	})
}

// A backup's table value is outside text (a file anyone with the state directory could edit):
// decodeTarget never panics, and what it accepts re-encodes to something it accepts again.
func FuzzDecodeTarget(f *testing.F) {
	for _, s := range []string{`{"absent":true}`, `{"absent":false,"data":"AAEC"}`, `{"allowed":[{"proto":"tcp","from":22,"to":22}],"icmp_echo":false,"log":true}`,
		`{"absent":fal`, `{"allowed":[],"flush_all":true}`, `{}`, `{"allowed":[{"proto":"tcp","from":22,"to":22,"sources":["10.0.0.0/8"]}],"keep":[{"source":"192.0.2.7","proto":"tcp","port":22,"why":"x"}]}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		spec, snap, err := decodeTarget(v)
		if err != nil {
			return
		}
		var again []byte
		if spec != nil {
			again, _ = json.Marshal(spec)
		} else {
			again, _ = json.Marshal(snap)
		}
		if _, _, err := decodeTarget(string(again)); err != nil {
			t.Fatalf("decodeTarget(%q) accepted, but its re-encoding %s is refused: %v", v, again, err)
		}
	})
}

// ufw.conf is outside text.
func FuzzConfValue(f *testing.F) {
	for _, s := range []string{"ENABLED=yes\n", "# c\nENABLED=\"no\"\nLOGLEVEL=low\n", "ENABLED", "=\n", "ENABLED='yes'"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data string) {
		v, ok := confValue([]byte(data), "ENABLED")
		if ok && strings.ContainsAny(v, "\n") {
			t.Fatalf("confValue(%q) = %q spans lines", data, v)
		}
	})
}
