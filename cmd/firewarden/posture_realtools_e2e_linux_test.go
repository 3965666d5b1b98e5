//go:build linux

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/firewarden/firewarden/internal/netnstest"
)

// The real ufw (Debian 12's package, over iptables-nft) writes its real ruleset into the server
// namespace of a veth pair, with its configuration in the test's root (ufw's --rootdir and
// --datadir, which its own test suite uses), so neither the machine's /etc/ufw nor its kernel
// ruleset is touched; firewarden's check, fix and fix --take-over then run against it there.

const ufwHint = "install ufw (apt-get install ufw) and run `sudo go test ./cmd/firewarden -run LinuxPostureRealUFW`"

// realUFW is ufw run with its files under the host's root.
type realUFW struct {
	h   *nftHost
	bin string
}

// newRealUFW lays out what ufw reads under h.root, as Debian's package installs it: its init
// scripts (lib/ufw), its rule templates (usr/share/ufw) and the pristine configuration the
// package copies to /etc/ufw; /etc/default/ufw as Debian ships it but for IPT_SYSCTL, which
// would change sysctls the test does not look at.
func newRealUFW(t *testing.T, h *nftHost) *realUFW {
	t.Helper()
	u := &realUFW{h: h, bin: "/usr/sbin/ufw"}
	for _, p := range []string{u.bin, "/lib/ufw/ufw-init", "/usr/share/ufw/iptables/before.rules"} {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("needs the real ufw (%s): %s", p, ufwHint)
		}
	}
	cp := func(from, to string, mode os.FileMode) {
		data, err := os.ReadFile(from) // follows /usr/share/ufw's links into iptables/
		if err != nil {
			t.Fatal(err)
		}
		to = filepath.Join(h.root, to)
		os.MkdirAll(filepath.Dir(to), 0o755)
		if err := os.WriteFile(to, data, mode); err != nil {
			t.Fatal(err)
		}
	}
	cp("/lib/ufw/ufw-init", "lib/ufw/ufw-init", 0o755)
	cp("/lib/ufw/ufw-init-functions", "lib/ufw/ufw-init-functions", 0o644)
	tmpl, err := filepath.Glob("/usr/share/ufw/iptables/*")
	if err != nil || len(tmpl) == 0 {
		t.Skipf("no rule templates in /usr/share/ufw/iptables: %s", ufwHint)
	}
	for _, f := range tmpl {
		cp(f, filepath.Join("usr/share/ufw/iptables", filepath.Base(f)), 0o644)
	}
	for _, f := range []string{"before", "after", "before6", "after6", "user", "user6"} {
		cp("/usr/share/ufw/"+f+".rules", "etc/ufw/"+f+".rules", 0o640)
	}
	cp("/usr/share/ufw/ufw.conf", "etc/ufw/ufw.conf", 0o644)
	os.MkdirAll(filepath.Join(h.root, "etc/ufw/applications.d"), 0o755)
	def := "IPV6=yes\nDEFAULT_INPUT_POLICY=\"DROP\"\nDEFAULT_OUTPUT_POLICY=\"ACCEPT\"\nDEFAULT_FORWARD_POLICY=\"DROP\"\nDEFAULT_APPLICATION_POLICY=\"SKIP\"\nMANAGE_BUILTINS=no\nIPT_SYSCTL=\nIPT_MODULES=\"\"\n"
	os.MkdirAll(filepath.Join(h.root, "etc/default"), 0o755)
	if err := os.WriteFile(filepath.Join(h.root, "etc/default/ufw"), []byte(def), 0o644); err != nil {
		t.Fatal(err)
	}
	return u
}

// run runs ufw in the server namespace with its files under the root; it fails the test when
// ufw fails.
func (u *realUFW) run(t *testing.T, args ...string) string {
	t.Helper()
	full := append([]string{"netns", "exec", u.h.pair.Server, u.bin, "--rootdir=" + u.h.root, "--datadir=" + u.h.root}, args...)
	cmd := exec.Command(netnstest.IPPath(t), full...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C"}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("ufw %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// ufwBaseline is what a ufw host set up with `ufw default deny incoming`, `ufw allow 22/tcp`
// and `ufw logging on` is: ssh open; ping answered and the DHCP client ports open by the rules
// ufw's before.rules and before6.rules ship (udp sport 67 dport 68 over IPv4, udp sport 547
// dport 546 from fe80::/10 over IPv6).
const ufwBaseline = `name: ufw
linux:
  firewall:
    enabled: true
    stealth: true
    icmp_echo: true
    logging: true
    allowed:
      - {name: ssh, proto: tcp, port: 22}
      - {name: dhcp-client, proto: udp, port: 68, from: [0.0.0.0/0]}
      - {name: dhcpv6-client, proto: udp, port: 546, from: ["fe80::/10"]}
`

// wantUFW fails the test unless every linux.firewall check has status want (or is not one of
// the checks of fails, which must fail), all managed by ufw.
func wantUFW(t *testing.T, what string, res map[string]jsonResult, fails map[string]string) {
	t.Helper()
	for _, id := range []string{"linux.firewall.enabled", "linux.firewall.stealth", "linux.firewall.logging", "linux.firewall.allowed"} {
		r := res[id]
		if !r.Managed || !strings.Contains(r.Detail, "ufw owns the host firewall (ENABLED=yes in /etc/ufw/ufw.conf; its tables ip filter, ip6 filter)") {
			t.Errorf("%s: %s = %+v, want managed by ufw, saying why", what, id, r)
		}
		detail, fail := fails[id]
		switch {
		case !fail && r.Status != "managed":
			t.Errorf("%s: %s = %s %q, want managed", what, id, r.Status, r.Detail)
		case fail && (r.Status != "fail" || !strings.Contains(r.Detail, detail) || !strings.Contains(r.Detail, "fix with ufw or `firewarden fix --take-over`")):
			t.Errorf("%s: %s = %s %q, want fail saying %q and how to fix it", what, id, r.Status, r.Detail, detail)
		}
	}
}

// The real ufw: a setup that meets the baseline is managed, the ssh port answers and others
// are dropped; a port opened beyond the baseline, or a default of reject, fails and fix leaves
// ufw's ruleset alone, saying to use ufw; fix --take-over adds firewarden's table, which then
// drops before ufw rejects, and leaves ufw's rules in place, across a ufw reload too.
func TestLinuxPostureRealUFW(t *testing.T) {
	h := newNFTHost(t, map[string]string{})
	u := newRealUFW(t, h)
	if err := os.WriteFile(h.baseline, []byte(ufwBaseline), 0o644); err != nil {
		t.Fatal(err)
	}
	h.pair.Listen(t, 22)
	other := h.pair.Port // listens, and the baseline does not allow it

	u.run(t, "default", "deny", "incoming")
	u.run(t, "allow", "22/tcp")
	u.run(t, "logging", "on")
	u.run(t, "--force", "enable")
	if st := u.run(t, "status", "verbose"); !strings.Contains(st, "Status: active") || !strings.Contains(st, "22/tcp") {
		t.Fatalf("ufw status verbose after enable:\n%s", st)
	}
	if host, _ := exec.Command("/usr/sbin/nft", "list", "tables").Output(); strings.Contains(string(host), "ufw") {
		t.Fatalf("ufw wrote into the test's own namespace:\n%s", host)
	}

	res, code := h.checkJSON(t)
	if code != 0 {
		t.Errorf("check of ufw (deny incoming, allow 22/tcp, logging on) = exit %d, want 0", code)
	}
	wantUFW(t, "check of the baseline ufw", res, nil)
	if r := res["linux.firewall.enabled"]; !strings.Contains(r.Actual, "policy of ip filter INPUT, owner ufw") || !strings.Contains(r.Actual, "policy of ip6 filter INPUT, owner ufw") {
		t.Errorf("check: enabled actual = %q, want ufw's INPUT policies of both families", r.Actual)
	}
	if r := res["linux.firewall.logging"]; !strings.Contains(r.Actual, "ufw-after-logging-input") {
		t.Errorf("check: logging actual = %q, want ufw's logging chain", r.Actual)
	}
	for _, to := range []string{"ipv4", "ipv6"} {
		addr := h.pair.Server4
		if to == "ipv6" {
			addr = h.pair.Server6
		}
		if got := h.dialPort(t, addr, 22, netnstest.OpenWait); got != "open" {
			t.Errorf("ufw allow 22/tcp: port 22 over %s = %s, want open", to, got)
		}
		if got := h.dialPort(t, addr, other, netnstest.BlockedWait); got != "timeout" {
			t.Errorf("ufw default deny: port %d over %s = %s, want timeout (dropped)", other, to, got)
		}
	}

	// A port beyond the baseline.
	u.run(t, "allow", "8080/tcp")
	h.pair.Listen(t, 8080)
	res, code = h.checkJSON(t)
	if code != 1 {
		t.Errorf("check after ufw allow 8080/tcp = exit %d, want 1", code)
	}
	wantUFW(t, "check after ufw allow 8080/tcp", res, map[string]string{
		"linux.firewall.allowed": "8080/tcp from anywhere is open beyond the baseline over ipv4 (rule ip filter ufw-user-input handle",
	})
	if r := res["linux.firewall.allowed"]; !strings.Contains(r.Detail, "8080/tcp from anywhere is open beyond the baseline over ipv6 (rule ip6 filter ufw6-user-input handle") {
		t.Errorf("check: allowed detail = %q, want 8080/tcp over ipv6 by ufw6-user-input", r.Detail)
	}
	if got := h.dialPort(t, h.pair.Server4, 8080, netnstest.OpenWait); got != "open" {
		t.Errorf("ufw allow 8080/tcp: port 8080 = %s, want open", got)
	}
	before, _ := nftList(t, h.pair.Server)
	r := h.run(t, nil, "fix")
	r.want(t, "fix on the ufw host", 1)
	if !strings.Contains(r.stdout, "linux.firewall.allowed: not changed: ufw owns this host's firewall: change it with ufw (") || !strings.Contains(r.stdout, "`firewarden fix --take-over`") {
		t.Errorf("fix on the ufw host: stdout does not say to fix it with ufw or --take-over:\n%s", r.stdout)
	}
	if after, _ := nftList(t, h.pair.Server); after != before {
		t.Errorf("fix without --take-over changed ufw's ruleset:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	u.run(t, "delete", "allow", "8080/tcp")

	// Reject instead of drop: the host answers, stealth fails.
	u.run(t, "default", "reject", "incoming")
	res, code = h.checkJSON(t)
	if code != 1 {
		t.Errorf("check after ufw default reject incoming = exit %d, want 1", code)
	}
	wantUFW(t, "check after ufw default reject incoming", res, map[string]string{
		"linux.firewall.stealth": "unmatched inbound ipv4 tcp, ipv4 udp is rejected (rule ip filter ufw-reject-input handle",
	})
	if got := h.dialPort(t, h.pair.Server4, other, netnstest.OpenWait); got != "refused" {
		t.Errorf("ufw default reject: port %d = %s, want refused", other, got)
	}
	if got := h.dialPort(t, h.pair.Server6, other, netnstest.OpenWait); got != "refused" {
		t.Errorf("ufw default reject: port %d over ipv6 = %s, want refused", other, got)
	}
	before, _ = nftList(t, h.pair.Server)
	r = h.run(t, nil, "fix")
	r.want(t, "fix on the rejecting ufw host", 1)
	if !strings.Contains(r.stdout, "linux.firewall.stealth: not changed: ufw owns this host's firewall") {
		t.Errorf("fix on the rejecting ufw host: stdout does not leave stealth to ufw:\n%s", r.stdout)
	}
	if after, _ := nftList(t, h.pair.Server); after != before {
		t.Errorf("fix without --take-over changed ufw's ruleset:\nbefore:\n%s\nafter:\n%s", before, after)
	}

	// --take-over: firewarden's table beside ufw's, at filter - 1, so the kernel runs it first:
	// unmatched packets are dropped before ufw rejects them. The checks are then firewarden's
	// (pass, not managed by ufw), and they say that ufw is there too.
	h.run(t, nil, "fix", "--take-over").want(t, "fix --take-over on the rejecting ufw host", 0)
	after, _ := nftList(t, h.pair.Server)
	if !strings.Contains(after, "table inet firewarden_posture") || !strings.Contains(after, "chain ufw-user-input") || !strings.Contains(after, "tcp dport 22") || !strings.Contains(after, "chain ufw-reject-input") {
		t.Errorf("fix --take-over: want firewarden's table beside ufw's rules, got:\n%s", after)
	}
	if st := u.run(t, "status"); !strings.Contains(st, "Status: active") || !strings.Contains(st, "22/tcp") {
		t.Errorf("ufw status after fix --take-over:\n%s", st)
	}
	for _, step := range []string{"after fix --take-over", "after ufw reload"} {
		if step == "after ufw reload" {
			u.run(t, "reload")
		}
		res, code = h.checkJSON(t)
		if code != 0 {
			t.Errorf("check %s = exit %d, want 0", step, code)
		}
		for _, id := range []string{"linux.firewall.enabled", "linux.firewall.stealth", "linux.firewall.logging", "linux.firewall.allowed"} {
			r := res[id]
			if r.Status != "pass" || r.Managed || !strings.Contains(r.Detail, "ufw owns the host firewall") ||
				!strings.Contains(r.Detail, "firewarden's table inet firewarden_posture stands beside it (fix --take-over)") {
				t.Errorf("check %s: %s = %+v, want pass, firewarden's, naming ufw beside it", step, id, r)
			}
		}
		if r := res["linux.firewall.stealth"]; !strings.Contains(r.Actual, "unmatched drop (rule inet firewarden_posture input handle") {
			t.Errorf("check %s: stealth actual = %q, want dropped by firewarden's table", step, r.Actual)
		}
		if got := h.dialPort(t, h.pair.Server4, other, netnstest.BlockedWait); got != "timeout" {
			t.Errorf("%s: port %d = %s, want timeout (dropped by firewarden before ufw rejects)", step, other, got)
		}
		if got := h.dialPort(t, h.pair.Server6, other, netnstest.BlockedWait); got != "timeout" {
			t.Errorf("%s: port %d over ipv6 = %s, want timeout", step, other, got)
		}
		if got := h.dialPort(t, h.pair.Server4, 22, netnstest.OpenWait); got != "open" {
			t.Errorf("%s: port 22 = %s, want open", step, got)
		}
	}
}

// Docker 28's own rules (see the ruleset package's testdata/kernel/docker28-portmap.rules for
// their source) beside the host's default-deny table: Docker is not taken for the owner of the
// host firewall (nothing is managed), the host's table decides, and the port Docker publishes is
// open beyond the baseline through Docker's DNAT, which the check says.
func TestLinuxPostureDocker28(t *testing.T) {
	h := newNFTHost(t, map[string]string{})
	restore, err := exec.LookPath("iptables-nft-restore")
	if err != nil {
		t.Skip("needs iptables-nft-restore: install iptables")
	}
	rules, err := os.ReadFile(filepath.Join("..", "..", "internal", "posture", "nftposture", "ruleset", "testdata", "kernel", "docker28-portmap.rules"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(netnstest.IPPath(t), "netns", "exec", h.pair.Server, restore)
	cmd.Stdin = strings.NewReader(string(rules))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("iptables-nft-restore: %v: %s", err, out)
	}
	host := fmt.Sprintf("table inet filter {\n\tchain input {\n\t\ttype filter hook input priority filter; policy drop;\n\t\tct state established,related accept\n\t\tiif lo accept\n\t\ttcp dport %d accept\n\t}\n}\n", h.pair.Port)
	cmd = exec.Command(netnstest.IPPath(t), "netns", "exec", h.pair.Server, "/usr/sbin/nft", "-f", "-")
	cmd.Stdin = strings.NewReader(host)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft -f: %v: %s", err, out)
	}
	res, code := h.checkJSON(t)
	if code != 1 {
		t.Errorf("check of the Docker host = exit %d, want 1 (8080 published)", code)
	}
	for id, r := range res {
		if r.Managed || strings.Contains(r.Detail, "owns the host firewall") {
			t.Errorf("check: %s = %+v, want nothing managed: Docker does not own the host firewall", id, r)
		}
	}
	if r := res["linux.firewall.enabled"]; r.Status != "pass" || !strings.Contains(r.Actual, "policy of inet filter input, owner nft") {
		t.Errorf("check: enabled = %+v, want pass, decided by the host's own table", r)
	}
	r := res["linux.firewall.allowed"]
	for _, s := range []string{
		"8080/tcp from anywhere is open beyond the baseline over ipv4 (rule ip nat DOCKER handle",
		"owner docker",
		"dnat: the packet is forwarded to another address (a container, another host)",
	} {
		if r.Status != "fail" || !strings.Contains(r.Detail, s) {
			t.Errorf("check: allowed = %s %q, want fail saying %q", r.Status, r.Detail, s)
		}
	}
}
