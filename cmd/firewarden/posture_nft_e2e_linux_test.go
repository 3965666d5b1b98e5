//go:build linux

package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/firewarden/firewarden/internal/netnstest"
)

// The Linux posture end to end: the real binary runs `check`, `fix` and `rollback` inside the
// server namespace of a veth pair (netnstest) against a fake root (etc/os-release, and ufw's
// files where a test needs them), so the kernel it reads and writes is the namespace's and no
// real /etc is touched; the client namespace finds out with real connections what is open.
// Needs root; skips otherwise. CI runs it.

const postureHint = "run `sudo go test ./cmd/firewarden -run LinuxPosture`"

// nftHost is one namespace pair with a fake Linux root, a state directory and a baseline that
// allows the pair's listener port.
type nftHost struct {
	pair     *netnstest.Pair
	root     string
	state    string
	baseline string
}

func newNFTHost(t *testing.T, files map[string]string) *nftHost {
	t.Helper()
	pair := netnstest.NewPair(t, postureHint)
	h := &nftHost{pair: pair, root: t.TempDir(), state: filepath.Join(t.TempDir(), "state"), baseline: filepath.Join(t.TempDir(), "baseline.yaml")}
	files["etc/os-release"] = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n"
	files["etc/hostname"] = "nfthost\n"
	for name, body := range files {
		p := filepath.Join(h.root, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The linux.firewall checks and three macOS ones (not applicable here); not the other Linux
	// checks (sshd), which would read this machine's.
	yaml := fmt.Sprintf("name: e2e\nfirewall: {enabled: true, stealth: true, logging: true}\nlinux:\n  firewall:\n    enabled: true\n    stealth: true\n    icmp_echo: false\n    logging: true\n    allowed:\n      - {name: hi, proto: tcp, port: %d}\n", pair.Port)
	if err := os.WriteFile(h.baseline, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return h
}

// run runs firewarden in the server namespace: global flags, then the command, then --baseline
// for the posture commands. env adds variables (SSH_CONNECTION).
func (h *nftHost) run(t *testing.T, env []string, args ...string) run {
	t.Helper()
	full := []string{"netns", "exec", h.pair.Server, fwBin, "--root", h.root, "--state-dir", h.state}
	full = append(full, args...)
	if contains(args, "check") || contains(args, "evidence") || contains(args, "fix") && !contains(args, "--confirm") && !contains(args, "--boot") {
		full = append(full, "--baseline", h.baseline)
	}
	cmd := exec.Command(netnstest.IPPath(t), full...)
	cmd.Env = append([]string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}, env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return run{out.String(), errb.String(), code}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// want fails the test unless r exited with code.
func (r run) want(t *testing.T, what string, code int) {
	t.Helper()
	if r.code != code {
		t.Fatalf("%s = exit %d, want %d\nstdout:\n%s\nstderr:\n%s", what, r.code, code, r.stdout, r.stderr)
	}
}

// nftList is `nft list ruleset` (or one table) in namespace ns; "" and false without nft.
func nftList(t *testing.T, ns string, what ...string) (string, bool) {
	t.Helper()
	nft, err := exec.LookPath("nft")
	if err != nil {
		return "", false
	}
	args := append([]string{"netns", "exec", ns, nft, "list"}, what...)
	if len(what) == 0 {
		args = append(args, "ruleset")
	}
	out, err := exec.Command(netnstest.IPPath(t), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("nft list %v: %v: %s", what, err, out)
	}
	return string(out), true
}

// dialPort connects from the client to the server's port and says how it ended: "open",
// "refused" or "timeout".
func (h *nftHost) dialPort(t *testing.T, to netip.Addr, port int, timeout time.Duration) string {
	t.Helper()
	return h.pair.Outcome(t, net.Dialer{Timeout: timeout}, netip.AddrPortFrom(to, uint16(port)))
}

// A host without a firewall fails check; fix makes it pass; the allowed port answers over IPv4
// and IPv6, another port times out (dropped, not refused); the log rule counts what it drops;
// rollback restores the earlier ruleset exactly.
func TestLinuxPostureFixAndRollback(t *testing.T) {
	h := newNFTHost(t, map[string]string{})
	other := h.pair.Port + 1
	if other > 65535 {
		other = h.pair.Port - 1
	}
	if got := h.dialPort(t, h.pair.Server4, other, netnstest.OpenWait); got != "refused" {
		t.Fatalf("before the fix, port %d = %s, want refused (nothing listens)", other, got)
	}
	before, haveNFT := nftList(t, h.pair.Server)

	r := h.run(t, nil, "check")
	r.want(t, "check on a host without a firewall", 1)
	for _, id := range []string{"linux.firewall.enabled", "linux.firewall.stealth", "linux.firewall.logging", "linux.firewall.allowed"} {
		if !regexp.MustCompile(regexp.QuoteMeta(id) + `\s+fail`).MatchString(r.stdout) {
			t.Errorf("check: %s is not fail:\n%s", id, r.stdout)
		}
	}
	if !strings.Contains(r.stdout, "3 macOS checks do not apply to this Linux host") || strings.Contains(r.stdout, "alf.enabled  ") {
		t.Errorf("check on Linux shows the macOS checks' rows, or no line about them:\n%s", r.stdout)
	}
	rj := h.run(t, nil, "--json", "check")
	var rec struct {
		Results []struct{ ID, Status string }
	}
	if err := json.Unmarshal([]byte(rj.stdout), &rec); err != nil || len(rec.Results) != 7 {
		t.Errorf("check --json = %d results (%v), want all 7 (3 macOS not applicable)", len(rec.Results), err)
	}

	r = h.run(t, nil, "fix")
	r.want(t, "fix", 0)
	h.run(t, nil, "check").want(t, "check after fix", 0)
	h.pair.WantOpen(t, h.pair.Server4, "the allowed port over IPv4")
	h.pair.WantOpen(t, h.pair.Server6, "the allowed port over IPv6")
	for _, to := range []netip.Addr{h.pair.Server4, h.pair.Server6} {
		if got := h.dialPort(t, to, other, netnstest.BlockedWait); got != "timeout" {
			t.Errorf("after the fix, %v port %d = %s, want timeout (dropped, not refused)", to, other, got)
		}
	}
	// The evidence of a verdict is the ruleset as read over netlink, with its hash.
	r = h.run(t, nil, "evidence")
	r.want(t, "evidence after the fix", 0)
	var ev struct {
		Record struct {
			Results []struct {
				ID       string
				Evidence []struct{ Kind, Path, Content, SHA256 string }
			}
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &ev); err != nil {
		t.Fatalf("evidence: %v\n%s", err, r.stdout)
	}
	found := false
	for _, res := range ev.Record.Results {
		if res.ID != "linux.firewall.enabled" || len(res.Evidence) == 0 {
			continue
		}
		found = true
		e := res.Evidence[0]
		sum := sha256.Sum256([]byte(e.Content))
		if e.Kind != "netlink" || !strings.Contains(e.Content, "table inet firewarden_posture") || e.SHA256 != hex.EncodeToString(sum[:]) {
			t.Errorf("evidence of linux.firewall.enabled = %+v, want the netlink listing with its SHA-256", e)
		}
	}
	if !found {
		t.Errorf("evidence has no linux.firewall.enabled result with evidence:\n%s", r.stdout)
	}
	if table, ok := nftList(t, h.pair.Server, "table", "inet", "firewarden_posture"); ok {
		m := regexp.MustCompile(`limit rate .* counter packets (\d+) .* log prefix`).FindStringSubmatch(table)
		if m == nil {
			t.Errorf("no counted log rule in firewarden's table:\n%s", table)
		} else if n, _ := strconv.Atoi(m[1]); n == 0 {
			t.Errorf("the log rule counted %d packets after dropped connections, want some:\n%s", n, table)
		}
	}

	r = h.run(t, nil, "rollback")
	r.want(t, "rollback", 0)
	if got := h.dialPort(t, h.pair.Server4, other, netnstest.OpenWait); got != "refused" {
		t.Errorf("after rollback, port %d = %s, want refused again", other, got)
	}
	if !haveNFT {
		t.Log("nft is not installed: the ruleset comparison before and after rollback is skipped")
		return
	}
	if after, _ := nftList(t, h.pair.Server); after != before {
		t.Errorf("rollback left another ruleset:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// Rollback restores a firewarden table that existed before the fix, byte for byte as nft lists it.
func TestLinuxPostureRollbackRestoresEarlierTable(t *testing.T) {
	h := newNFTHost(t, map[string]string{})
	if _, ok := nftList(t, h.pair.Server); !ok {
		t.Skip("needs nft to write the earlier table: install nftables")
	}
	earlier := "table inet firewarden_posture {\n\tchain input {\n\t\ttype filter hook input priority 0; policy accept;\n\t\ttcp dport 9 counter reject\n\t}\n}\n"
	cmd := exec.Command(netnstest.IPPath(t), "netns", "exec", h.pair.Server, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(earlier)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft -f: %v: %s", err, out)
	}
	before, _ := nftList(t, h.pair.Server)
	h.run(t, nil, "fix").want(t, "fix over an earlier table", 0)
	h.run(t, nil, "rollback").want(t, "rollback", 0)
	if after, _ := nftList(t, h.pair.Server); after != before {
		t.Errorf("rollback left another ruleset:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// readPending reads the confirmation state the fix left in the state directory.
func (h *nftHost) readPending(t *testing.T) (state string, pid int) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(h.state, "confirm.json"))
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		State string `json:"state"`
		PID   int    `json:"watchdog_pid"`
	}
	if err := json.Unmarshal(data, &p); err != nil {
		t.Fatal(err)
	}
	return p.State, p.PID
}

// waitCheck runs check until it exits with code, for at most limit.
func (h *nftHost) waitCheck(t *testing.T, code int, limit time.Duration) run {
	t.Helper()
	end := time.Now().Add(limit)
	for {
		r := h.run(t, nil, "check")
		if r.code == code || time.Now().After(end) {
			return r
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// fix --confirm-within reverts by itself unless --confirm follows in time; --confirm after the
// revert, or with nothing pending, says so.
func TestLinuxPostureConfirmWithin(t *testing.T) {
	h := newNFTHost(t, map[string]string{})

	r := h.run(t, nil, "fix", "--confirm")
	r.want(t, "fix --confirm with nothing pending", 2)
	if !strings.Contains(r.stderr, "nothing to confirm") {
		t.Errorf("fix --confirm with nothing pending: stderr %q, want it to say nothing to confirm", r.stderr)
	}

	r = h.run(t, nil, "fix", "--confirm-within", "2s")
	r.want(t, "fix --confirm-within 2s", 0)
	if !strings.Contains(r.stdout, "reverts itself at") {
		t.Errorf("fix --confirm-within: stdout does not say when it reverts:\n%s", r.stdout)
	}
	if r := h.waitCheck(t, 1, 20*time.Second); r.code != 1 {
		t.Fatalf("check after an unconfirmed fix = exit %d, want 1 once the watchdog reverted it:\n%s", r.code, r.stdout)
	}
	if st, _ := h.readPending(t); st != "reverted" {
		t.Errorf("confirmation state = %q, want reverted", st)
	}
	r = h.run(t, nil, "fix", "--confirm")
	r.want(t, "fix --confirm after the revert", 1)
	if !strings.Contains(r.stdout, "too late") {
		t.Errorf("fix --confirm after the revert: %q, want it to say too late", r.stdout)
	}

	h.run(t, nil, "fix", "--confirm-within", "60s").want(t, "fix --confirm-within 60s", 0)
	_, pid := h.readPending(t)
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
	r = h.run(t, nil, "fix")
	r.want(t, "another fix while one waits for confirmation", 2)
	if !strings.Contains(r.stderr, "is waiting for confirmation until") {
		t.Errorf("fix while one waits for confirmation: stderr %q, want it to say so", r.stderr)
	}
	r = h.run(t, nil, "fix", "--confirm")
	r.want(t, "fix --confirm", 0)
	if !strings.Contains(r.stdout, "confirmed") {
		t.Errorf("fix --confirm: %q, want confirmed", r.stdout)
	}
	h.run(t, nil, "check").want(t, "check after a confirmed fix", 0)
	h.run(t, nil, "fix", "--confirm").want(t, "a second fix --confirm", 2)
}

// An unconfirmed fix whose watchdog was killed is reverted by the next posture command past its
// deadline, which says so.
func TestLinuxPostureConfirmWatchdogKilled(t *testing.T) {
	h := newNFTHost(t, map[string]string{})
	h.run(t, nil, "fix", "--confirm-within", "1s").want(t, "fix --confirm-within 1s", 0)
	_, pid := h.readPending(t)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill the watchdog %d: %v", pid, err)
	}
	// Past the deadline and its grace (the watchdog may be gone before it could act).
	deadline := time.Now().Add(6 * time.Second)
	var r run
	for time.Now().Before(deadline) {
		if r = h.run(t, nil, "check"); strings.Contains(r.stderr, "reverted it now") {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if !strings.Contains(r.stderr, "its watchdog is gone: reverted it now") || r.code != 1 {
		t.Fatalf("check past the deadline of a fix whose watchdog died = exit %d, stderr %q; want 1 and that it reverted the fix", r.code, r.stderr)
	}
	if st, _ := h.readPending(t); st != "reverted" {
		t.Errorf("confirmation state = %q, want reverted", st)
	}
}

// ufw's shape through iptables-nft: INPUT policy DROP jumping to ufw-* chains.
const ufwRules = `*filter
:INPUT DROP [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:ufw-before-input - [0:0]
:ufw-user-input - [0:0]
:ufw-after-input - [0:0]
:ufw-reject-input - [0:0]
-A INPUT -j ufw-before-input
-A INPUT -j ufw-after-input
-A INPUT -j ufw-reject-input
-A ufw-before-input -i lo -j ACCEPT
-A ufw-before-input -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A ufw-before-input -j ufw-user-input
-A ufw-user-input -p tcp --dport 3306 -j ACCEPT
COMMIT
`

// plainRules is an iptables-nft ruleset no tool of ours knows: INPUT policy DROP, ssh open.
const plainRules = `*filter
:INPUT DROP [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -i lo -j ACCEPT
-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A INPUT -p tcp --dport 22 -j ACCEPT
COMMIT
`

// loadIPTables loads rules for IPv4 and IPv6 (iptables-nft-restore, ip6tables-nft-restore) in
// namespace ns, as ufw and netfilter-persistent do.
func loadIPTables(t *testing.T, ns, rules string) {
	t.Helper()
	for _, name := range []string{"iptables-nft-restore", "ip6tables-nft-restore"} {
		prog, err := exec.LookPath(name)
		if err != nil {
			t.Skipf("needs %s: install iptables", name)
		}
		cmd := exec.Command(netnstest.IPPath(t), "netns", "exec", ns, prog)
		cmd.Stdin = strings.NewReader(rules)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v: %s", name, err, out)
		}
	}
}

type jsonResult struct {
	ID, Status, Actual, Detail string
	Managed                    bool
}

func (h *nftHost) checkJSON(t *testing.T) (map[string]jsonResult, int) {
	t.Helper()
	r := h.run(t, nil, "--json", "check")
	var rec struct{ Results []jsonResult }
	if err := json.Unmarshal([]byte(r.stdout), &rec); err != nil {
		t.Fatalf("check --json: %v\n%s", err, r.stdout)
	}
	m := map[string]jsonResult{}
	for _, res := range rec.Results {
		m[res.ID] = res
	}
	return m, r.code
}

// A ufw-made ruleset is reported as ufw's (managed), and fix leaves it to ufw unless told
// --take-over, which adds firewarden's table and leaves ufw's rules in place.
func TestLinuxPostureUFWManaged(t *testing.T) {
	h := newNFTHost(t, map[string]string{"etc/ufw/ufw.conf": "ENABLED=yes\nLOGLEVEL=low\n", "etc/systemd/system/multi-user.target.wants/ufw.service": ""})
	loadIPTables(t, h.pair.Server, ufwRules)
	res, code := h.checkJSON(t)
	if code != 1 {
		t.Errorf("check of the ufw host = exit %d, want 1 (3306 open, the allowed port dropped)", code)
	}
	for _, id := range []string{"linux.firewall.enabled", "linux.firewall.allowed"} {
		if r := res[id]; !r.Managed || !strings.Contains(r.Detail, "ufw owns the host firewall") {
			t.Errorf("check: %s = %+v, want managed by ufw", id, r)
		}
	}
	if r := res["linux.firewall.enabled"]; r.Status != "managed" || !strings.Contains(r.Actual, "owner ufw") {
		t.Errorf("check: enabled = %+v, want managed, dropped by ufw's chain", r)
	}
	if r := res["linux.firewall.allowed"]; r.Status != "fail" || !strings.Contains(r.Detail, "3306/tcp from anywhere is open beyond the baseline") {
		t.Errorf("check: allowed = %+v, want fail naming 3306", r)
	}
	before, haveNFT := nftList(t, h.pair.Server)

	r := h.run(t, nil, "fix")
	r.want(t, "fix on a ufw host", 1)
	if !strings.Contains(r.stdout, "not changed: ufw owns this host's firewall") || !strings.Contains(r.stdout, "--take-over") {
		t.Errorf("fix on a ufw host: stdout does not refuse naming ufw and --take-over:\n%s", r.stdout)
	}
	if after, _ := nftList(t, h.pair.Server); haveNFT && after != before {
		t.Errorf("fix without --take-over changed the ruleset:\nbefore:\n%s\nafter:\n%s", before, after)
	}

	h.run(t, nil, "fix", "--take-over").want(t, "fix --take-over", 1) // ufw still drops the allowed port
	if !haveNFT {
		return
	}
	after, _ := nftList(t, h.pair.Server)
	if !strings.Contains(after, "table inet firewarden_posture") || !strings.Contains(after, "ufw-user-input") || !strings.Contains(after, "3306") {
		t.Errorf("fix --take-over: want firewarden's table beside ufw's rules, got:\n%s", after)
	}
}

// An iptables-nft ruleset is recognised as such, and its drop policy counts.
func TestLinuxPostureIPTablesNFT(t *testing.T) {
	h := newNFTHost(t, map[string]string{})
	loadIPTables(t, h.pair.Server, plainRules)
	res, _ := h.checkJSON(t)
	r := res["linux.firewall.enabled"]
	if r.Status != "pass" || r.Managed || !strings.Contains(r.Actual, "owner iptables-nft") {
		t.Errorf("check: enabled = %+v, want pass, not managed, decided by an iptables-nft chain", r)
	}
}

// Run over SSH (SSH_CONNECTION) on a port the baseline does not allow, fix keeps that session's
// client on that port, says so, and the kept rule does not fail linux.firewall.allowed; the
// baseline's port still answers everyone.
func TestLinuxPostureKeepsSSHSession(t *testing.T) {
	h := newNFTHost(t, map[string]string{})
	sshPort := h.pair.Port + 1
	if sshPort > 65535 {
		sshPort = h.pair.Port - 1
	}
	conn := fmt.Sprintf("SSH_CONNECTION=%s 50022 %s %d", h.pair.Client4, h.pair.Server4, sshPort)
	r := h.run(t, []string{conn}, "fix")
	r.want(t, "fix over SSH", 0)
	want := fmt.Sprintf("firewarden: warning: this SSH session (from %s to port %d/tcp) is not among the baseline's allowed services", h.pair.Client4, sshPort)
	if !strings.Contains(r.stderr, want) {
		t.Errorf("fix over SSH: stderr %q, want the warning %q", r.stderr, want)
	}
	// Nothing listens on the SSH port here: refused (answered) means the kept rule let it through.
	if got := h.dialPort(t, h.pair.Server4, sshPort, netnstest.OpenWait); got != "refused" {
		t.Errorf("the kept session's port from its client = %s, want refused by the host (let through)", got)
	}
	h.run(t, nil, "check").want(t, "check after a fix that kept an SSH session", 0)
	h.pair.WantOpen(t, h.pair.Server6, "the allowed port over IPv6")
}

// Without privilege the ruleset cannot be read: every check is an error saying to run as root.
func TestLinuxPostureNotRoot(t *testing.T) {
	h := newNFTHost(t, map[string]string{})
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("needs setpriv (util-linux) to drop privileges")
	}
	// A directory nobody can reach (t.TempDir's parents are private): the binary, the root and
	// the baseline, readable by all.
	dir, err := os.MkdirTemp("", "firewarden-nobody-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	for _, f := range []struct {
		from, to string
		mode     os.FileMode
	}{
		{fwBin, "firewarden", 0o755},
		{filepath.Join(h.root, "etc/os-release"), "root/etc/os-release", 0o644},
		{h.baseline, "baseline.yaml", 0o644},
	} {
		data, err := os.ReadFile(f.from)
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Dir(filepath.Join(dir, f.to)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, f.to), data, f.mode); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(netnstest.IPPath(t), "netns", "exec", h.pair.Server, setpriv, "--reuid", "65534", "--regid", "65534", "--clear-groups",
		filepath.Join(dir, "firewarden"), "--root", filepath.Join(dir, "root"), "--state-dir", filepath.Join(dir, "state"),
		"--json", "check", "--baseline", filepath.Join(dir, "baseline.yaml"))
	var out bytes.Buffer
	cmd.Stdout = &out
	err = cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 {
		t.Fatalf("check as nobody = %v, want exit 2\n%s", err, out.String())
	}
	var rec struct{ Results []jsonResult }
	if err := json.Unmarshal(out.Bytes(), &rec); err != nil {
		t.Fatal(err)
	}
	for _, r := range rec.Results {
		if strings.HasPrefix(r.ID, "linux.firewall.") && (r.Status != "error" || !strings.Contains(r.Detail, "run as root (sudo firewarden check)")) {
			t.Errorf("check as nobody: %s = %s %q, want error saying to run as root", r.ID, r.Status, r.Detail)
		}
	}

	// evidence cannot create its chain in a state directory nobody may write: one line saying
	// what to do, exit 2, nothing made.
	cmd = exec.Command(netnstest.IPPath(t), "netns", "exec", h.pair.Server, setpriv, "--reuid", "65534", "--regid", "65534", "--clear-groups",
		filepath.Join(dir, "firewarden"), "--root", filepath.Join(dir, "root"), "--state-dir", filepath.Join(dir, "state"),
		"evidence", "--baseline", filepath.Join(dir, "baseline.yaml"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(stderr.String(), "run it as root (sudo firewarden evidence), or give --state-dir a directory you can write") {
		t.Errorf("evidence as nobody = %v, stderr %q; want exit 2 saying to run as root or give --state-dir", err, stderr.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "state")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("evidence as nobody left a state directory behind (%v)", err)
	}
}

// A firewalld-shaped ruleset (table inet firewalld, rejecting what no zone allows) with its unit
// enabled is firewalld's: enabled is managed, stealth fails (it rejects) and fix leaves it to
// firewall-cmd.
func TestLinuxPostureFirewalldManaged(t *testing.T) {
	h := newNFTHost(t, map[string]string{"etc/systemd/system/multi-user.target.wants/firewalld.service": ""})
	nft, err := exec.LookPath("nft")
	if err != nil {
		t.Skip("needs nft to load a firewalld-shaped ruleset: install nftables")
	}
	rules := fmt.Sprintf(`table inet firewalld {
	chain filter_INPUT {
		type filter hook input priority filter + 10; policy accept;
		ct state established,related accept
		iifname "lo" accept
		tcp dport %d accept
		reject with icmpx admin-prohibited
	}
}
`, h.pair.Port)
	cmd := exec.Command(netnstest.IPPath(t), "netns", "exec", h.pair.Server, nft, "-f", "-")
	cmd.Stdin = strings.NewReader(rules)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft -f: %v: %s", err, out)
	}
	res, code := h.checkJSON(t)
	if code != 1 {
		t.Errorf("check of the firewalld host = exit %d, want 1 (it rejects, and logs nothing)", code)
	}
	if r := res["linux.firewall.enabled"]; r.Status != "managed" || !strings.Contains(r.Detail, "firewalld owns the host firewall") || !strings.Contains(r.Actual, "owner firewalld") {
		t.Errorf("check: enabled = %+v, want managed by firewalld", r)
	}
	if r := res["linux.firewall.stealth"]; r.Status != "fail" || !r.Managed || !strings.Contains(r.Detail, "is rejected") {
		t.Errorf("check: stealth = %+v, want a managed failure saying it rejects", r)
	}
	before, _ := nftList(t, h.pair.Server)
	r := h.run(t, nil, "fix")
	r.want(t, "fix on a firewalld host", 1)
	if !strings.Contains(r.stdout, "firewall-cmd") {
		t.Errorf("fix on a firewalld host: stdout does not say to use firewall-cmd:\n%s", r.stdout)
	}
	if after, _ := nftList(t, h.pair.Server); after != before {
		t.Errorf("fix without --take-over changed the ruleset:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// Legacy iptables (x_tables) filters beside nftables, invisible to netlink: with an INPUT DROP
// policy there and no nftables table, check cannot see the drop. It must not call that a plain
// fail: every verdict says it is conditional and names the legacy table, with its rules counted
// by iptables-legacy-save when the root has it, and without the count when it does not.
func TestLinuxPostureLegacyIPTables(t *testing.T) {
	h := newNFTHost(t, map[string]string{})
	legacy, err := exec.LookPath("iptables-legacy")
	if err != nil {
		t.Skip("needs iptables-legacy: install iptables")
	}
	for _, args := range [][]string{
		{"-A", "INPUT", "-p", "tcp", "--dport", fmt.Sprint(h.pair.Port), "-j", "ACCEPT"},
		{"-P", "INPUT", "DROP"},
	} {
		full := append([]string{"netns", "exec", h.pair.Server, legacy}, args...)
		if out, err := exec.Command(netnstest.IPPath(t), full...).CombinedOutput(); err != nil {
			t.Skipf("iptables-legacy %v: %v: %s (a kernel without ip_tables)", args, err, out)
		}
	}
	// What the note is about: the legacy policy drops a port no nftables rule names.
	if got := h.dialPort(t, h.pair.Server4, h.pair.Port+1, netnstest.OpenWait); got != "timeout" {
		t.Fatalf("a port the legacy INPUT policy drops = %s, want timeout", got)
	}

	res, code := h.checkJSON(t)
	if code != 1 {
		t.Errorf("check exit = %d, want 1 (nftables filters nothing)", code)
	}
	for _, id := range []string{"linux.firewall.enabled", "linux.firewall.stealth", "linux.firewall.logging", "linux.firewall.allowed"} {
		want := "this verdict is conditional: legacy iptables tables filter (ip, not nftables) are loaded and firewarden does not read their rules"
		if r := res[id]; !strings.Contains(r.Detail, want) {
			t.Errorf("check %s detail = %q, want it to hold %q", id, r.Detail, want)
		}
	}

	// With iptables-legacy-save in the root, the note says what the legacy table holds.
	save, err := exec.LookPath("iptables-legacy-save")
	if err != nil {
		t.Skip("needs iptables-legacy-save: install iptables")
	}
	dst := filepath.Join(h.root, "usr/sbin/iptables-legacy-save")
	os.MkdirAll(filepath.Dir(dst), 0o755)
	if err := os.Symlink(save, dst); err != nil {
		t.Fatal(err)
	}
	res, _ = h.checkJSON(t)
	want := "this verdict is conditional: legacy iptables (ip, not nftables) holds table filter: 1 rule, INPUT policy DROP, which firewarden does not read (list them: /usr/sbin/iptables-legacy-save)"
	if r := res["linux.firewall.enabled"]; r.Status != "fail" || !strings.Contains(r.Detail, want) {
		t.Errorf("check enabled = %s %q, want fail holding %q", r.Status, r.Detail, want)
	}
}
