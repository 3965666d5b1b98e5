package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// pf addresses through the binary: interface addresses from --iface, what the simulator says when
// it is not told them or cannot resolve a host name, and port names from ROOT/etc/services.
func TestRulesPFAddresses(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "pf.conf")
	rules := "block all\n" +
		"pass in proto tcp from en0:network to (en0) port fw-admin\n" +
		"block in quick from { no-route, bad.example }\n" +
		"pass out proto tcp user root\n"
	if err := os.WriteFile(conf, []byte(rules), 0o644); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(dir, "root")
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "etc/services"), []byte("# test\nfw-admin\t7777/tcp\t\t# firewarden's admin port\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	notes := "conditional: the rule set has lines the simulator did not model; each verdict holds only if they do not change it:\n" +
		"  " + conf + ":3: no-route: whether the address has a route is not modelled, so it matches no address here\n" +
		"  " + conf + ":3: bad.example: host name not resolved, so it matches no address here\n"
	noIface := "  " + conf + ":2: en0:network: the addresses of en0 are not known, so it matches no address of en0 here (give --iface en0=ADDR/LEN)\n"
	cases := []struct {
		name string
		args []string
		want string
	}{
		{
			name: "from en0's network to en0's address",
			args: []string{"--iface", "en0=192.0.2.10/24", "--packet", "tcp 192.0.2.7:51234 -> 192.0.2.10:7777 in via en0 setup"},
			want: "tcp 192.0.2.7:51234 -> 192.0.2.10:7777 in via en0 setup: ALLOW by rule " + conf + ":2 (pass in proto tcp from en0:network to (en0) port fw-admin), conditional (see the notes)\n" + notes,
		},
		{
			name: "to another address than en0's",
			args: []string{"--iface", "en0=192.0.2.10/24", "--packet", "tcp 192.0.2.7:51234 -> 192.0.2.11:7777 in via en0 setup"},
			want: "tcp 192.0.2.7:51234 -> 192.0.2.11:7777 in via en0 setup: DENY by rule " + conf + ":1 (block all), conditional (see the notes)\n" + notes,
		},
		{
			name: "without en0's addresses its network is not guessed",
			args: []string{"--packet", "tcp 192.0.2.7:51234 -> 192.0.2.10:7777 in via en0 setup"},
			want: "tcp 192.0.2.7:51234 -> 192.0.2.10:7777 in via en0 setup: DENY by rule " + conf + ":1 (block all), conditional (see the notes)\n" +
				strings.Replace(notes, ":\n", ":\n"+noIface, 1),
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := firewardenRaw(t, append([]string{"--root", root, "rules", "eval", conf}, c.args...)...)
			if r.code != 0 || r.stdout != c.want || r.stderr != "" {
				t.Errorf("rules eval %q = exit %d, stdout %q, stderr %q; want exit 0, stdout %q", c.args, r.code, r.stdout, r.stderr, c.want)
			}
		})
	}

	// Without the services file, fw-admin is no port the binary knows: exit 2, saying where names
	// come from.
	r := firewardenRaw(t, "--root", t.TempDir(), "rules", "eval", conf, "--packet", "tcp 192.0.2.7:51234 -> 192.0.2.10:7777 in via en0 setup")
	want := conf + `:2: unknown port or service "fw-admin": not in the services file (/etc/services under the root) nor in the built-in list of common services (use the number)`
	if r.code != 2 || !strings.Contains(r.stderr, want) || r.stdout != "" {
		t.Errorf("rules eval without ROOT/etc/services = exit %d, stdout %q, stderr %q; want exit 2 and %q", r.code, r.stdout, r.stderr, want)
	}
}
