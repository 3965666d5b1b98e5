package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// pf address translation through the binary: the filter rules decide on the translated packet,
// the verdict line says how the packet leaves, --explain shows the translation step, and the
// output names the dialect.
func TestRulesPFTranslate(t *testing.T) {
	dir := t.TempDir()
	macos := filepath.Join(dir, "pf.conf")
	conf := "ext_if = \"en0\"\n" +
		"nat on $ext_if from 10.0.0.0/24 to any -> ($ext_if)\n" +
		"rdr on $ext_if proto tcp from any to 192.0.2.10 port 80 -> 10.0.0.5 port 8080\n" +
		"block all\n" +
		"pass in on $ext_if proto tcp to 10.0.0.5 port 8080\n" +
		"pass out on $ext_if from 192.0.2.10\n"
	if err := os.WriteFile(macos, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	openbsd := filepath.Join(dir, "openbsd.conf")
	if err := os.WriteFile(openbsd, []byte("match out on egress from 10.0.0.0/24 nat-to 192.0.2.10\nblock all\npass out from 192.0.2.10\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dialectMacOS := "translation: macOS/FreeBSD (nat/rdr/binat rules); packets are matched as pf translates them\n"
	cases := []struct {
		name string
		args []string
		want string
	}{
		{
			name: "rdr: the filter rules see the redirected destination",
			args: []string{"rules", "eval", macos, "--iface", "en0=192.0.2.10/24", "--packet", "tcp 203.0.113.5:51234 -> 192.0.2.10:80 in via en0 setup"},
			want: "tcp 203.0.113.5:51234 -> 192.0.2.10:80 in via en0 setup: ALLOW by rule " + macos + ":5 (pass in on $ext_if proto tcp to 10.0.0.5 port 8080), as tcp 203.0.113.5:51234 -> 10.0.0.5:8080 in via en0 setup\n" + dialectMacOS,
		},
		{
			name: "nat: the filter rules see the translated source",
			args: []string{"rules", "eval", macos, "--iface", "en0=192.0.2.10/24", "--packet", "udp 10.0.0.7:5353 -> 198.51.100.7:53 out via en0"},
			want: "udp 10.0.0.7:5353 -> 198.51.100.7:53 out via en0: ALLOW by rule " + macos + ":6 (pass out on $ext_if from 192.0.2.10), as udp 192.0.2.10:5353 -> 198.51.100.7:53 out via en0\n" + dialectMacOS,
		},
		{
			name: "explain shows the translation step",
			args: []string{"rules", "eval", macos, "--iface", "en0=192.0.2.10/24", "--explain", "--packet", "tcp 203.0.113.5:51234 -> 192.0.2.10:80 in via en0 setup"},
			want: "rdr: 192.0.2.10:80 -> 10.0.0.5:8080; the filter rules see the translated packet",
		},
		{
			name: "OpenBSD match nat-to",
			args: []string{"rules", "eval", openbsd, "--group", "egress=en0", "--packet", "tcp 10.0.0.7:50000 -> 198.51.100.7:443 out via en0 setup"},
			want: "tcp 10.0.0.7:50000 -> 198.51.100.7:443 out via en0 setup: ALLOW by rule " + openbsd + ":3 (pass out from 192.0.2.10), as tcp 192.0.2.10:50000 -> 198.51.100.7:443 out via en0 setup\n" +
				"translation: OpenBSD (match/nat-to/rdr-to); packets are matched as pf translates them\n",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := firewardenRaw(t, c.args...)
			if r.code != 0 || !strings.Contains(r.stdout, c.want) || r.stderr != "" {
				t.Errorf("%q = exit %d, stdout %q, stderr %q; want exit 0, stdout with %q", c.args, r.code, r.stdout, r.stderr, c.want)
			}
		})
	}

	// JSON carries the translated packet.
	r := firewardenRaw(t, "--json", "rules", "eval", macos, "--iface", "en0=192.0.2.10/24", "--packet", "tcp 203.0.113.5:51234 -> 192.0.2.10:80 in via en0 setup")
	if want := `"translated": "tcp 203.0.113.5:51234 -\u003e 10.0.0.5:8080 in via en0 setup"`; r.code != 0 || !strings.Contains(r.stdout, want) {
		t.Errorf("--json rules eval = exit %d, stdout %q, stderr %q; want %s", r.code, r.stdout, r.stderr, want)
	}

	// Mixing the dialects is bad input.
	mixed := filepath.Join(dir, "mixed.conf")
	if err := os.WriteFile(mixed, []byte("nat on en0 from 10.0.0.0/24 -> 192.0.2.10\npass out on en0 nat-to 192.0.2.10\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = firewardenRaw(t, "rules", "lint", mixed)
	if r.code != 2 || !strings.Contains(r.stderr, "the two dialects do not mix") {
		t.Errorf("rules lint of a file mixing dialects = exit %d, stderr %q; want exit 2 saying the dialects do not mix", r.code, r.stderr)
	}
}

// The lockout check (--keep) decides on the translated packet: a session redirected elsewhere is
// cut off from this host even though the rules pass it.
func TestRulesPFTranslateKeep(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "pf.conf")
	if err := os.WriteFile(conf, []byte("rdr on en0 proto tcp to port 22 -> 10.0.0.5\nblock in all\npass in proto tcp to 10.0.0.5 port 22\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := firewardenRaw(t, "rules", "lint", conf, "--keep", "203.0.113.5:22")
	want := conf + ":1 [lockout] your open session from 203.0.113.5 to port 22 is redirected to 10.0.0.5:22: loading this rule set would send it elsewhere, cutting you off from this host"
	if r.code != 1 || !strings.Contains(r.stdout, want) {
		t.Errorf("rules lint --keep = exit %d, stdout %q, stderr %q; want exit 1 with %q", r.code, r.stdout, r.stderr, want)
	}
	if err := os.WriteFile(conf, []byte("rdr on en0 proto tcp to port 2222 -> 10.0.0.5 port 22\nblock in all\npass in proto tcp to port 22\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := firewardenRaw(t, "rules", "lint", conf, "--keep", "203.0.113.5:22"); strings.Contains(r.stdout, "lockout") {
		t.Errorf("rules lint --keep with an unrelated rdr = stdout %q; want no lockout finding", r.stdout)
	}
}
