//go:build linux

package fleete2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"

	"github.com/firewarden/firewarden/internal/fleet/wire"
	"github.com/firewarden/firewarden/internal/netnstest"
)

// The agent on a real Linux host: the real firewarden and firewarden-server binaries run inside
// the server namespace of a veth pair (netnstest), the server on that namespace's loopback, the
// agent against a fake root (a Debian 12 etc/os-release, a machine ID) whose kernel is the
// namespace's; the client namespace finds out with real connections what the agent's enforce
// mode opened and closed. Needs root, iproute2's ip and nf_tables; skips otherwise.

const linuxHint = "run `sudo go test ./internal/fleet/fleete2e -run LinuxAgent`"

// linuxChecks are the checks of linuxBaseline that apply on Linux.
var linuxChecks = []string{"linux.firewall.enabled", "linux.firewall.stealth", "linux.firewall.logging", "linux.firewall.allowed"}

// linuxBaseline is the baseline of the posture tests (cmd/firewarden's newNFTHost): the
// linux.firewall section allowing the pair's listener port, and the macOS firewall section,
// which does not apply here.
func linuxBaseline(port int) string {
	return fmt.Sprintf("name: e2e-linux\nfirewall: {enabled: true, stealth: true, logging: true}\nlinux:\n  firewall:\n    enabled: true\n    stealth: true\n    icmp_echo: false\n    logging: true\n    allowed:\n      - {name: hi, proto: tcp, port: %d}\n", port)
}

// linuxHost is a fake Linux root whose firewarden runs in a namespace.
type linuxHost struct {
	pair        *netnstest.Pair
	root, state string
}

func newLinuxHost(t *testing.T, pair *netnstest.Pair) *linuxHost {
	t.Helper()
	h := &linuxHost{pair: pair, root: t.TempDir(), state: filepath.Join(t.TempDir(), "state")}
	for name, body := range map[string]string{
		"etc/os-release": "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nID=debian\nVERSION_ID=\"12\"\n",
		"etc/hostname":   "bastion-1\n",
		"etc/machine-id": "4c4c4544004b3510804bb2c04f4a3132\n",
	} {
		p := filepath.Join(h.root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

// fw runs firewarden in the server namespace on the fake root.
func (h *linuxHost) fw(t *testing.T, args ...string) result {
	t.Helper()
	return run(t, netnstest.IPPath(t), append([]string{"netns", "exec", h.pair.Server, fwBin, "--root", h.root, "--state-dir", h.state}, args...)...)
}

// once runs `agent run --once` and checks its exit code.
func (h *linuxHost) once(t *testing.T, want int) {
	t.Helper()
	if r := h.fw(t, "agent", "run", "--once"); r.code != want {
		t.Fatalf("agent run --once: exit %d, want %d\nstdout %s\nstderr %s", r.code, want, r.stdout, r.stderr)
	}
}

// dial connects from the client namespace to the server's port and says how it ended: "open",
// "refused" or "timeout" (netnstest.Pair.Outcome).
func (h *linuxHost) dial(t *testing.T, to netip.Addr, port int, timeout time.Duration) string {
	t.Helper()
	return h.pair.Outcome(t, net.Dialer{Timeout: timeout}, netip.AddrPortFrom(to, uint16(port)))
}

// debianDefault loads into namespace fd what Debian 12's nftables.service loads from its
// default /etc/nftables.conf: table inet filter with input, forward and output base chains at
// priority filter, no rules, policy accept. It filters nothing.
func debianDefault(t *testing.T, fd int) {
	t.Helper()
	c, err := nftables.New(nftables.WithNetNSFd(fd))
	if err != nil {
		t.Fatal(err)
	}
	tab := c.AddTable(&nftables.Table{Family: nftables.TableFamilyINet, Name: "filter"})
	accept := nftables.ChainPolicyAccept
	for _, ch := range []struct {
		name string
		hook *nftables.ChainHook
	}{{"input", nftables.ChainHookInput}, {"forward", nftables.ChainHookForward}, {"output", nftables.ChainHookOutput}} {
		c.AddChain(&nftables.Chain{Name: ch.name, Table: tab, Type: nftables.ChainTypeFilter, Hooknum: ch.hook, Priority: nftables.ChainPriorityFilter, Policy: &accept})
	}
	if err := c.Flush(); err != nil {
		t.Fatalf("load Debian's default nftables.conf: %v", err)
	}
}

// nft lists the ruleset of the namespace; "" and false when nft is not installed.
func nft(t *testing.T, ns string) (string, bool) {
	t.Helper()
	path, err := exec.LookPath("nft")
	if err != nil {
		return "", false
	}
	out, err := exec.Command(netnstest.IPPath(t), "netns", "exec", ns, path, "list", "ruleset").CombinedOutput()
	if err != nil {
		t.Fatalf("nft list ruleset: %v: %s", err, out)
	}
	return string(out), true
}

// inNetNS makes the fleet's client connect from inside namespace fd, where the server listens.
func (f *fleet) inNetNS(fd int) {
	tr := f.client.Transport.(*http.Transport)
	dial := tr.DialContext
	tr.DialContext = func(ctx context.Context, network, addr string) (c net.Conn, err error) {
		err = netnstest.InNetNS(fd, func() error {
			c, err = dial(ctx, network, addr)
			return err
		})
		return c, err
	}
}

// linuxHostView is GET /api/v1/hosts/{id}: the host, its current results, and the latest
// stored run with the evidence of each result.
type linuxHostView struct {
	Host struct {
		OS        string   `json:"os"`
		OSVersion string   `json:"os_version"`
		Hostname  string   `json:"hostname"`
		UUID      string   `json:"uuid"`
		Status    string   `json:"status"`
		Failing   []string `json:"failing"`
	} `json:"host"`
	Results []struct {
		Check, Status, Expected, Actual string
	} `json:"results"`
	LatestRun wire.Run `json:"latest_run"`
}

// TestLinuxAgentReportEnforce: a Linux host whose firewall filters nothing (Debian's default
// nftables.conf loaded) enrolls with a real server and reports the four linux.firewall checks
// failing, with the ruleset read over netlink as evidence, to the admin API and the dashboard;
// enforce mode then writes firewarden's table (the allowed port answers, another times out,
// Debian's table stays), the server shows the checks passing with a fix transition each, and the
// table is held for boot with the agent named as what settled it. Deleted behind the agent's
// back, the table is a drift of every check that the next run observes and reverts; a policy
// allowing one more port is not enforced, since enforce mode never opens a service.
func TestLinuxAgentReportEnforce(t *testing.T) {
	pair := netnstest.NewPair(t, linuxHint)
	h := newLinuxHost(t, pair)
	debianDefault(t, pair.ServerFd)
	other := pair.Port + 1
	if other > 65535 {
		other = pair.Port - 1
	}

	f := newFleet(t, "")
	u := dashUsers[0]
	if r := runStdin(t, u.password+"\n", serverBin, "user", "add", u.name, "--role", u.role, "--data-dir", f.dir); r.code != 0 {
		t.Fatalf("firewarden-server user add %s: exit %d: %s", u.name, r.code, r.stderr)
	}
	// The server listens on the namespace's loopback; the agent and this test reach it there.
	f.serveUnder = []string{netnstest.IPPath(t), "netns", "exec", pair.Server}
	f.inNetNS(pair.ServerFd)
	s := f.serve(t, "127.0.0.1:0")
	policy := func(mode string) {
		s.admin(t, "PUT", "/api/v1/policies", map[string]any{
			"name": "default", "mode": mode, "interval_seconds": 3600, "baseline_yaml": linuxBaseline(pair.Port),
		}, nil)
	}
	policy(wire.ModeReport)

	r := h.fw(t, "--json", "agent", "enroll", "--server", s.url(), "--secret", f.enrollSecret, "--fingerprint", f.fingerprint, "--label", "linux")
	var enrolled struct {
		HostID string `json:"host_id"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &enrolled); r.code != 0 || err != nil || enrolled.HostID == "" {
		t.Fatalf("agent enroll: exit %d, %v\nstdout %s\nstderr %s", r.code, err, r.stdout, r.stderr)
	}
	id := enrolled.HostID

	// Report mode: every linux.firewall check fails, with the ruleset as netlink read it.
	h.once(t, 1)
	var v linuxHostView
	s.admin(t, "GET", "/api/v1/hosts/"+id, nil, &v)
	if got := fmt.Sprintf("%s %s %s %s %s", v.Host.OS, v.Host.OSVersion, v.Host.Hostname, v.Host.UUID, v.Host.Status); got != "Linux 12 bastion-1 4c4c4544004b3510804bb2c04f4a3132 non_compliant" {
		t.Errorf("host = %q, want the fake root's Debian 12, hostname and machine ID, non_compliant", got)
	}
	if got, want := v.Host.Failing, slices.Sorted(slices.Values(linuxChecks)); !slices.Equal(got, want) {
		t.Errorf("failing = %q, want %q", got, want)
	}
	results := map[string]string{}
	for _, res := range v.Results {
		t.Logf("report: %s %s expected %q actual %q", res.Check, res.Status, res.Expected, res.Actual)
		results[res.Check] = res.Status
		if slices.Contains(linuxChecks, res.Check) && (res.Expected == "" || res.Actual == "" || res.Expected == res.Actual) {
			t.Errorf("%s: expected %q, actual %q; want both said, and different", res.Check, res.Expected, res.Actual)
		}
	}
	for _, c := range linuxChecks {
		if results[c] != wire.StatusFail {
			t.Errorf("%s = %q, want fail; results %v", c, results[c], results)
		}
	}
	for _, c := range []string{"alf.enabled", "alf.stealth", "alf.logging"} {
		if st, ok := results[c]; ok && st != wire.StatusNotApplicable {
			t.Errorf("%s = %q on a Linux host, want not_applicable or absent", c, st)
		}
	}
	wantEvidence(t, v.LatestRun, "linux.firewall.enabled", "table inet filter")

	// The dashboard's host page lists the Linux checks, with the ruleset as evidence.
	page := dashGet(t, s, u.name, u.password, "/hosts/"+id)
	for _, want := range append(slices.Clone(linuxChecks), "Linux 12", `<dt>Kind</dt><dd>netlink</dd>`, `<dt>Read from</dt><dd><code class="path">nftables ruleset</code></dd>`, "table inet filter {") {
		if !strings.Contains(page, want) {
			t.Errorf("the dashboard's host page does not show %q", want)
		}
	}

	// Enforce mode: the next run writes firewarden's table.
	if got := h.dial(t, pair.Server4, other, netnstest.OpenWait); got != "refused" {
		t.Fatalf("before enforcing, port %d = %s, want refused (nothing listens)", other, got)
	}
	policy(wire.ModeEnforce)
	h.once(t, 0)
	if rs, ok := nft(t, pair.Server); ok && (!strings.Contains(rs, "table inet firewarden_posture") || !strings.Contains(rs, "table inet filter")) {
		t.Errorf("after the enforcing run the namespace's ruleset lacks table inet firewarden_posture, or Debian's table inet filter is gone:\n%s", rs)
	} else if !ok {
		t.Log("nft is not installed: the ruleset listing is not checked")
	}
	pair.WantOpen(t, pair.Server4, "the allowed port over IPv4 after enforcing")
	pair.WantOpen(t, pair.Server6, "the allowed port over IPv6 after enforcing")
	for _, to := range []netip.Addr{pair.Server4, pair.Server6} {
		if got := h.dial(t, to, other, netnstest.BlockedWait); got != "timeout" {
			t.Errorf("after enforcing, %v port %d = %s, want timeout (dropped, not refused)", to, other, got)
		}
	}

	v = linuxHostView{}
	s.admin(t, "GET", "/api/v1/hosts/"+id, nil, &v)
	if v.Host.Status != "compliant" || len(v.Host.Failing) != 0 {
		t.Errorf("host after enforcing = %s failing %q, want compliant", v.Host.Status, v.Host.Failing)
	}
	for _, res := range v.Results {
		t.Logf("enforce: %s %s expected %q actual %q", res.Check, res.Status, res.Expected, res.Actual)
		if slices.Contains(linuxChecks, res.Check) && res.Status != wire.StatusPass {
			t.Errorf("%s after enforcing = %s (actual %q), want pass", res.Check, res.Status, res.Actual)
		}
	}
	wantEvidence(t, v.LatestRun, "linux.firewall.enabled", "table inet firewarden_posture")
	for _, c := range linuxChecks {
		var changes []string
		for _, tr := range s.history(t, id, c) {
			changes = append(changes, tr.From+">"+tr.To+" "+tr.Cause)
		}
		if n := len(changes); n == 0 || changes[n-1] != "fail>pass fix" {
			t.Errorf("history of %s = %q, want it to end fail>pass fix", c, changes)
		}
	}

	data, err := os.ReadFile(filepath.Join(h.state, "firewall-table.json"))
	if err != nil {
		t.Fatalf("the enforcing run held no table: %v", err)
	}
	var held struct {
		By string `json:"by"`
	}
	if err := json.Unmarshal(data, &held); err != nil || held.By != "agent" {
		t.Errorf("held table: %v, by %q, want by agent\n%s", err, held.By, data)
	}

	// Enforced and unchanged: the next run finds nothing to fix.
	h.once(t, 0)
	for _, c := range linuxChecks {
		if n := len(s.history(t, id, c)); n != 2 {
			t.Errorf("history of %s after a run with nothing to fix: %d transitions, want 2 (first report, fix)", c, n)
		}
	}

	// firewarden's table deleted behind the agent's back: a drift of every check, which the
	// next run observes and reverts.
	c, err := nftables.New(nftables.WithNetNSFd(pair.ServerFd))
	if err != nil {
		t.Fatal(err)
	}
	c.DelTable(&nftables.Table{Family: nftables.TableFamilyINet, Name: "firewarden_posture"})
	if err := c.Flush(); err != nil {
		t.Fatalf("delete table inet firewarden_posture: %v", err)
	}
	if got := h.dial(t, pair.Server4, other, netnstest.OpenWait); got != "refused" {
		t.Fatalf("with firewarden's table deleted, port %d = %s, want refused", other, got)
	}
	h.once(t, 0)
	for _, c := range linuxChecks {
		var changes []string
		for _, tr := range s.history(t, id, c) {
			changes = append(changes, tr.From+">"+tr.To+" "+tr.Cause)
		}
		if n := len(changes); n < 2 || changes[n-2] != "pass>fail observed" || changes[n-1] != "fail>pass fix" {
			t.Errorf("history of %s after the table was deleted = %q, want it to end pass>fail observed, fail>pass fix", c, changes)
		}
	}
	if got := h.dial(t, pair.Server4, other, netnstest.BlockedWait); got != "timeout" {
		t.Errorf("after the revert, port %d = %s, want timeout", other, got)
	}
	if v := s.host(t, id); v.Host.Status != "compliant" {
		t.Errorf("host after the revert = %s, want compliant", v.Host.Status)
	}

	// A policy that allows one more port: enforce mode never opens a service (as on a Mac it
	// never allows an app), so the port stays dropped and the host fails until someone runs fix.
	extra := pair.Listen(t, 0)
	s.admin(t, "PUT", "/api/v1/policies", map[string]any{
		"name": "default", "mode": wire.ModeEnforce, "interval_seconds": 3600,
		"baseline_yaml": linuxBaseline(pair.Port) + fmt.Sprintf("      - {name: extra, proto: tcp, port: %d}\n", extra),
	}, nil)
	h.once(t, 1)
	if got := h.dial(t, pair.Server4, extra, netnstest.BlockedWait); got != "timeout" {
		t.Errorf("enforce mode with one more port allowed: port %d = %s, want timeout (not opened)", extra, got)
	}
	if v := s.host(t, id); v.Host.Status != "non_compliant" || strings.Join(v.Host.Failing, ",") != "linux.firewall.allowed" {
		t.Errorf("host with one more port allowed = %s failing %q, want non_compliant failing linux.firewall.allowed", v.Host.Status, v.Host.Failing)
	}
	if h := s.history(t, id, "linux.firewall.allowed"); len(h) == 0 || h[len(h)-1].From+">"+h[len(h)-1].To+" "+h[len(h)-1].Cause != "pass>fail observed" {
		t.Errorf("history of linux.firewall.allowed = %+v, want it to end pass>fail observed, with no fix", h)
	}
}

// wantEvidence fails the test unless every linux.firewall result of run carries evidence read
// over netlink, and check's holds want.
func wantEvidence(t *testing.T, run wire.Run, check, want string) {
	t.Helper()
	seen := map[string]bool{}
	for _, res := range run.Results {
		if !slices.Contains(linuxChecks, res.Check) {
			continue
		}
		seen[res.Check] = true
		if len(res.Evidence) == 0 {
			t.Errorf("latest run: %s has no evidence", res.Check)
			continue
		}
		e := res.Evidence[0]
		if sum := sha256.Sum256([]byte(e.Output)); e.Kind != "netlink" || e.SHA256 != hex.EncodeToString(sum[:]) {
			t.Errorf("latest run: evidence of %s = kind %q, sha256 %q of %q; want the netlink listing and its hash", res.Check, e.Kind, e.SHA256, e.Output)
		}
		if res.Check == check && !strings.Contains(e.Output, want) {
			t.Errorf("latest run: evidence of %s lacks %q:\n%s", check, want, e.Output)
		}
	}
	if len(seen) != len(linuxChecks) {
		t.Errorf("latest run holds %d of the %d linux.firewall checks: %v", len(seen), len(linuxChecks), seen)
	}
}

// dashGet logs into the dashboard with a plain HTTP client (the form, a cookie jar) and returns
// the page at path.
func dashGet(t *testing.T, s *serving, user, password, path string) string {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Transport: s.f.client.Transport, Jar: jar, Timeout: time.Minute}
	resp, err := c.PostForm(s.url()+"/login", url.Values{"user": {user}, "password": {password}, "next": {path}})
	if err != nil {
		t.Fatalf("POST /login: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != path {
		t.Fatalf("POST /login as %s = %d at %s, want 200 at %s:\n%s", user, resp.StatusCode, resp.Request.URL.Path, path, body)
	}
	return string(body)
}
