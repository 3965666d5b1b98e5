package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/firewarden/firewarden/internal/block"
	"github.com/firewarden/firewarden/internal/block/blocktest"
	"github.com/firewarden/firewarden/internal/host"
	"github.com/firewarden/firewarden/internal/host/hosttest"
)

var blockT0 = time.Date(2026, 11, 22, 6, 0, 0, 0, time.UTC)

// blockEnv is a fake Linux root and a state directory for `block` commands at an injected time.
type blockEnv struct {
	root, state string
	now         time.Time
}

func newBlockEnv(t *testing.T) *blockEnv {
	return &blockEnv{root: linuxRoot(t), state: t.TempDir(), now: blockT0}
}

// run runs `firewarden --root R --state-dir S block ARGS… --backend dry-run` at e.now (no
// --backend for list and summary), mapping
// the outcome to an exit status as Run does.
func (e *blockEnv) run(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	a := &app{Streams: Streams{In: strings.NewReader(""), Out: &out, Err: &errb}, getenv: func(string) string { return "" },
		now: func() time.Time { return e.now }, euid: func() int { return 501 }}
	full := append([]string{"--root", e.root, "--state-dir", e.state, "block"}, args...)
	// list and summary read the state only and take no --backend.
	if !strings.Contains(strings.Join(args, " "), "--backend") && !slices.Contains([]string{"list", "summary"}, firstOr(args)) {
		full = append(full, "--backend", "dry-run")
	}
	err := a.dispatch(context.Background(), full)
	var ee *exitError
	var ue *usageError
	code := 0
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.As(err, &ee):
		code = ee.code
	case errors.As(err, &ue):
		fmt.Fprintf(&errb, "firewarden: %s\n", ue.msg)
		code = 2
	default:
		fmt.Fprintf(&errb, "firewarden: %s\n", oneLine(err.Error()))
		code = 2
	}
	return out.String(), errb.String(), code
}

func (e *blockEnv) mustRun(t *testing.T, args ...string) string {
	t.Helper()
	out, errs, code := e.run(t, args...)
	if code != 0 {
		t.Fatalf("block %q = exit %d\nstdout:\n%s\nstderr:\n%s", args, code, out, errs)
	}
	return out
}

func (e *blockEnv) stateFile(t *testing.T) []byte {
	data, err := os.ReadFile(filepath.Join(e.state, "block.json"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return data
}

func wantLines(t *testing.T, what, got string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("%s: no %q in\n%s", what, w, got)
		}
	}
}

func TestBlockAddListRemove(t *testing.T) {
	e := newBlockEnv(t)
	out := e.mustRun(t, "add", "192.0.2.1", "2001:db8::/64", "--reason", "ssh brute force")
	wantLines(t, "add", out,
		"dry-run: would add 192.0.2.1 (timeout 15m, until 2026-11-22T06:15:00Z)\n",
		"dry-run: would add 2001:db8::/64 (timeout 15m,",
		"banned 192.0.2.1 for 15m (until 2026-11-22T06:15:00Z)\n",
		"banned 2001:db8::/64 for 15m")
	out = e.mustRun(t, "add", "198.51.100.0/24", "--ttl", "0", "::ffff:198.51.100.0/120")
	if out != "dry-run: would add 198.51.100.0/24 (no timeout)\nbanned 198.51.100.0/24 until removed\n" {
		t.Errorf("add --ttl 0 of one prefix spelled twice printed\n%s", out)
	}
	if strings.Contains(out, "would add 192.0.2.1") {
		t.Errorf("second add re-added the first ban:\n%s", out)
	}

	out = e.mustRun(t, "list")
	wantLines(t, "list", out, "blocking enabled; 3 bans, 0 allowlisted", "192.0.2.1", "2001:db8::/64", "ssh brute force", "forever")

	out = e.mustRun(t, "list", "--json")
	var list struct {
		Enabled bool
		Bans    []struct{ Prefix, Source, Reason string }
		Blocked []struct{ Prefix string }
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("list --json: %v\n%s", err, out)
	}
	if !list.Enabled || len(list.Bans) != 3 || len(list.Blocked) != 3 || list.Bans[0].Source != "cli" {
		t.Errorf("list --json = %+v", list)
	}

	out = e.mustRun(t, "remove", "192.0.2.1")
	wantLines(t, "remove", out, "dry-run: would remove 192.0.2.1\n", "removed the ban on 192.0.2.1\n")
	_, errs, code := e.run(t, "remove", "192.0.2.1")
	if code != 0 || !strings.Contains(errs, "192.0.2.1 was not banned") {
		t.Errorf("second remove = exit %d, stderr %q", code, errs)
	}
	// Part of a range cannot be removed; nothing changes.
	before := e.stateFile(t)
	_, errs, code = e.run(t, "remove", "198.51.100.7")
	if code != 2 || !strings.Contains(errs, "inside the ban on 198.51.100.0/24") || strings.Count(errs, "\n") != 1 {
		t.Errorf("remove inside a range = exit %d, stderr %q", code, errs)
	}
	if !bytes.Equal(before, e.stateFile(t)) {
		t.Error("a refused remove changed the state")
	}
}

func TestBlockAllowlist(t *testing.T) {
	e := newBlockEnv(t)
	out := e.mustRun(t, "allow", "10.0.0.5", "--reason", "gateway")
	wantLines(t, "allow", out, "allowlisted 10.0.0.5\n")
	before := e.stateFile(t)

	// Blocking the allowlisted address is refused, with one line, and nothing is written.
	for _, addr := range []string{"10.0.0.5", "::ffff:10.0.0.5", "10.0.0.5/32"} {
		out, errs, code := e.run(t, "add", "192.0.2.9", addr)
		if code != 2 || !strings.Contains(errs, "10.0.0.5 is allowlisted: gateway") || strings.Count(errs, "\n") != 1 || out != "" {
			t.Errorf("add %s = exit %d, stdout %q, stderr %q; want exit 2 and one line", addr, code, out, errs)
		}
		if !bytes.Equal(before, e.stateFile(t)) {
			t.Errorf("refused add %s changed the state", addr)
		}
	}

	// A range around it is blocked minus the address, and says so.
	out = e.mustRun(t, "add", "10.0.0.0/24", "--ttl", "1h")
	wantLines(t, "add range", out,
		"banned 10.0.0.0/24 for 1h (until 2026-11-22T07:00:00Z); except the allowlisted 10.0.0.5: the firewall gets 8 prefixes\n",
		"would add 10.0.0.4 ", "would add 10.0.0.6/31 ")
	if strings.Contains(out, "would add 10.0.0.5") || strings.Contains(out, "would add 10.0.0.0/24") {
		t.Errorf("the allowlisted address reached the firewall:\n%s", out)
	}

	// Unallowing restores the whole range; allowing again lifts the address.
	out = e.mustRun(t, "unallow", "10.0.0.5")
	wantLines(t, "unallow", out, "removed 10.0.0.5 from the allowlist\n", "would add 10.0.0.0/24 ", "would remove 10.0.0.4\n")
	out = e.mustRun(t, "allow", "10.0.0.5")
	wantLines(t, "allow in a ban", out, "allowlisted 10.0.0.5; lifted it from the ban on 10.0.0.0/24\n", "would remove 10.0.0.0/24\n", "would add 10.0.0.4 ")
	_, errs, _ := e.run(t, "unallow", "10.9.9.9")
	wantLines(t, "unallow missing", errs, "10.9.9.9 was not on the allowlist")
}

func TestBlockExpireWithClock(t *testing.T) {
	e := newBlockEnv(t)
	e.mustRun(t, "add", "192.0.2.1", "--ttl", "10m", "--reason", "scan")
	e.mustRun(t, "add", "192.0.2.2", "--ttl", "30")
	e.now = blockT0.Add(5 * time.Minute)
	if out := e.mustRun(t, "expire"); out != "no ban has expired\n" {
		t.Errorf("expire at +5m = %q", out)
	}
	e.now = blockT0.Add(11 * time.Minute)
	out := e.mustRun(t, "expire")
	want := "dry-run: would remove 192.0.2.1\nexpired the ban on 192.0.2.1 (banned 11m ago by cli: scan)\n"
	if out != want {
		t.Errorf("expire at +11m =\n%s\nwant\n%s", out, want)
	}
	// A ban that expired while nothing ran goes at the next sweep.
	e.now = blockT0.Add(48 * time.Hour)
	wantLines(t, "expire at +48h", e.mustRun(t, "expire"), "expired the ban on 192.0.2.2 (banned 2d ago by cli)\n")
	wantLines(t, "list", e.mustRun(t, "list"), "0 bans")
}

func TestBlockRepeatOffender(t *testing.T) {
	e := newBlockEnv(t)
	e.mustRun(t, "add", "192.0.2.1")
	e.now = blockT0.Add(20 * time.Minute)
	e.mustRun(t, "expire")
	out := e.mustRun(t, "add", "192.0.2.1")
	wantLines(t, "second add", out, "banned 192.0.2.1 for 30m (until 2026-11-22T06:50:00Z) (ban 2 of this address)\n")
	out = e.mustRun(t, "summary")
	wantLines(t, "summary", out, "blocking enabled: 1 active bans", "TOP OFFENDERS", "192.0.2.1", "BY SOURCE", "RECENT", "expire")
	out = e.mustRun(t, "summary", "--json")
	var sum struct {
		Bans         int `json:"bans"`
		TopOffenders []struct {
			Count int `json:"count"`
		} `json:"top_offenders"`
	}
	if err := json.Unmarshal([]byte(out), &sum); err != nil || sum.Bans != 1 || len(sum.TopOffenders) != 1 || sum.TopOffenders[0].Count != 2 {
		t.Errorf("summary --json = %+v, %v\n%s", sum, err, out)
	}
}

func TestBlockEnableDisable(t *testing.T) {
	e := newBlockEnv(t)
	e.mustRun(t, "add", "192.0.2.1")
	out := e.mustRun(t, "disable")
	wantLines(t, "disable", out, "dry-run: would disable the drop rules (1 entries kept)\n", "blocking disabled; 1 bans kept\n")
	_, errs, _ := e.run(t, "add", "192.0.2.2")
	wantLines(t, "add while disabled", errs, "blocking is disabled")
	out = e.mustRun(t, "enable")
	wantLines(t, "enable", out, "dry-run: would enable the drop rules (2 entries kept)\n", "blocking enabled; 2 bans kept\n")
	out = e.mustRun(t, "sync")
	wantLines(t, "sync", out, "dry-run: added 0, removed 0, kept 2; blocking enabled\n")
}

func TestBlockBadInput(t *testing.T) {
	e := newBlockEnv(t)
	for _, args := range [][]string{
		{"add", "example.org"},
		{"add", "192.0.2.1", "example.org"},
		{"add", "192.0.2.300"},
		{"add"},
		{"add", "192.0.2.1", "--ttl", "soon"},
		{"add", "192.0.2.1", "--ttl", "-5m"},
		{"add", "192.0.2.1", "--max-bans", "0"},
		{"add", "192.0.2.1", "--backend", "iptables"},
		{"list", "192.0.2.1"},
		{"frobnicate"},
		{},
		{"sync", "--backend", "none"},
		{"autoconfigure", "--interval", "5s"},
	} {
		out, errs, code := e.run(t, args...)
		if code != 2 || strings.Count(errs, "\n") != 1 || out != "" {
			t.Errorf("block %q = exit %d, stdout %q, stderr %q; want exit 2 and one line", args, code, out, errs)
		}
		if data := e.stateFile(t); data != nil {
			t.Fatalf("block %q wrote the state:\n%s", args, data)
		}
	}
	_, errs, _ := e.run(t, "add", "example.org")
	wantLines(t, "host name", errs, "host names are not allowed (afctl said: No DNS names allowed); give an address or a CIDR prefix")
}

func TestBlockMaxBans(t *testing.T) {
	e := newBlockEnv(t)
	e.mustRun(t, "add", "192.0.2.1", "192.0.2.2", "--max-bans", "2")
	before := e.stateFile(t)
	_, errs, code := e.run(t, "add", "192.0.2.3", "--max-bans", "2")
	if code != 2 || !strings.Contains(errs, "the ban list is full") {
		t.Errorf("add beyond --max-bans = exit %d, stderr %q", code, errs)
	}
	if !bytes.Equal(before, e.stateFile(t)) {
		t.Error("a refused add changed the state")
	}
}

func TestBlockBackendNoneKeepsStateOnly(t *testing.T) {
	e := newBlockEnv(t)
	out := e.mustRun(t, "add", "192.0.2.1", "--backend", "none")
	if strings.Contains(out, "dry-run") || !strings.Contains(out, "banned 192.0.2.1") {
		t.Errorf("add --backend none printed %q", out)
	}
}

func TestBlockNeedsRootOnTheRealSystem(t *testing.T) {
	var out, errb bytes.Buffer
	a := &app{Streams: Streams{Out: &out, Err: &errb}, getenv: func(string) string { return "" }, now: time.Now, euid: func() int { return 501 }}
	err := a.dispatch(context.Background(), []string{"--root", "/", "--state-dir", t.TempDir(), "block", "add", "192.0.2.1", "--backend", "nft"})
	var ue *usageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "run it as root") {
		t.Errorf("block add --backend nft as uid 501 = %v, want a usage error asking for root", err)
	}
}

func TestBlockAutoconfigureLinux(t *testing.T) {
	e := newBlockEnv(t)
	os.MkdirAll(filepath.Join(e.root, "proc/net"), 0o755)
	os.WriteFile(filepath.Join(e.root, "proc/net/route"), []byte("Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"+
		"eth0\t00000000\t0101A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"), 0o644)
	os.WriteFile(filepath.Join(e.root, "etc/resolv.conf"), []byte("nameserver 192.168.1.53\n"), 0o644)
	e.mustRun(t, "allow", "192.168.1.53", "--reason", "by hand")
	e.mustRun(t, "add", "192.168.1.0/24")
	out, errs, code := e.run(t, "autoconfigure", "--interval", "10m")
	if code != 0 {
		t.Fatalf("autoconfigure = exit %d\n%s\n%s", code, out, errs)
	}
	wantLines(t, "autoconfigure", out,
		"allowlisted 127.0.0.0/8 (loopback)\n",
		"allowlisted ::1 (loopback)\n",
		"allowlisted 192.168.1.1 (default router); lifted it from the ban on 192.168.1.0/24\n",
		"1 allowlist entries were already there\n",
		"wrote /etc/systemd/system/firewarden-block-expire.service\n",
		"wrote /etc/systemd/system/firewarden-block-expire.timer\n",
		"systemctl daemon-reload && systemctl enable --now firewarden-block-expire.timer")
	wantLines(t, "autoconfigure stderr", errs, "interface addresses not read", "default routers: read /proc/net/ipv6_route: no such file or directory")
	service, _ := os.ReadFile(filepath.Join(e.root, "etc/systemd/system/firewarden-block-expire.service"))
	timer, _ := os.ReadFile(filepath.Join(e.root, "etc/systemd/system/firewarden-block-expire.timer"))
	// Under a fake root the service runs the default binary, not this test's.
	wantLines(t, "service", string(service), "Type=oneshot\n", "ExecStart=/usr/local/bin/firewarden --state-dir "+e.state+" block expire --backend dry-run\n", "ReadWritePaths="+e.state+"\n")
	wantLines(t, "timer", string(timer), "OnUnitActiveSec=600s\n", "WantedBy=timers.target\n")
	// The state directory is a temporary one, which the unit's private /tmp would hide.
	wantLines(t, "autoconfigure stderr", errs, "note: the state directory "+e.state+" cannot be used by a systemd service")
	// The entry added by hand stays; running again keeps everything.
	out = e.mustRun(t, "autoconfigure")
	wantLines(t, "second autoconfigure", out, "4 allowlist entries were already there\n")
	wantLines(t, "list", e.mustRun(t, "list"), "192.168.1.53  cli            by hand")
}

func TestBlockAutoconfigureMac(t *testing.T) {
	e := newBlockEnv(t)
	e.root = t.TempDir()
	os.MkdirAll(filepath.Join(e.root, "System/Library/CoreServices"), 0o755)
	os.WriteFile(filepath.Join(e.root, "System/Library/CoreServices/SystemVersion.plist"), []byte(`<?xml version="1.0" encoding="UTF-8"?>
<plist version="1.0"><dict><key>ProductName</key><string>macOS</string><key>ProductVersion</key><string>14.5</string></dict></plist>`), 0o644)
	os.MkdirAll(filepath.Join(e.root, "usr/sbin"), 0o755)
	os.WriteFile(filepath.Join(e.root, "usr/sbin/netstat"), []byte("#!/bin/sh\nprintf 'Internet:\\nDestination Gateway Flags Netif\\ndefault 10.0.0.1 UGScg en0\\n\\nInternet6:\\ndefault fe80::1%%en0 UGcg en0\\n'\n"), 0o755)
	os.MkdirAll(filepath.Join(e.root, "etc"), 0o755)
	os.WriteFile(filepath.Join(e.root, "etc/resolv.conf"), []byte("nameserver 10.0.0.53\n"), 0o644)
	out, errs, code := e.run(t, "autoconfigure", "--interval", "1h")
	if code != 0 {
		t.Fatalf("autoconfigure = exit %d\n%s\n%s", code, out, errs)
	}
	wantLines(t, "autoconfigure", out,
		"allowlisted 10.0.0.1 (default router)\n", "allowlisted fe80::1 (default router)\n", "allowlisted 10.0.0.53 (name server)\n",
		"wrote /Library/LaunchDaemons/org.firewarden.block-expire.plist\n", "launchctl bootstrap system /Library/LaunchDaemons/org.firewarden.block-expire.plist")
	plist, _ := os.ReadFile(filepath.Join(e.root, "Library/LaunchDaemons/org.firewarden.block-expire.plist"))
	wantLines(t, "plist", string(plist), "<key>StartInterval</key>\n\t\t<integer>3600</integer>", "\t\t\t<string>block</string>\n\t\t\t<string>expire</string>\n")
}

// TestBlockBackendFailureKeepsState: the state is the source of truth. When the backend refuses a
// change the state is saved, the command exits 2 saying so, the kernel keeps what it had, and
// `block sync` repairs it later.
func TestBlockBackendFailureKeepsState(t *testing.T) {
	dir := t.TempDir()
	fake := &blocktest.Fake{}
	var out, errb bytes.Buffer
	a := &app{Streams: Streams{Out: &out, Err: &errb}}
	b := &blocker{a: a, store: &block.Store{Dir: dir}, backend: fake, now: blockT0}
	ctx := context.Background()
	if err := b.add(ctx, []netip.Prefix{netip.MustParsePrefix("192.0.2.1/32")}); err != nil {
		t.Fatal(err)
	}
	fake.Fail = errors.New("netlink: operation not permitted")
	err := b.add(ctx, []netip.Prefix{netip.MustParsePrefix("192.0.2.2/32")})
	if err == nil || !strings.Contains(err.Error(), "is saved, but the fake firewall was not changed: netlink: operation not permitted; run `firewarden block sync`") {
		t.Fatalf("add with a failing backend = %v", err)
	}
	if !strings.Contains(out.String(), "banned 192.0.2.2") {
		t.Errorf("the saved ban was not reported:\n%s", out.String())
	}
	s, _ := b.store.Load()
	if len(s.Bans) != 2 {
		t.Errorf("state holds %d bans, want 2", len(s.Bans))
	}
	// A failed removal leaves the kernel blocking: never weaker than before.
	if err := b.remove(ctx, []netip.Prefix{netip.MustParsePrefix("192.0.2.1/32")}); err == nil {
		t.Error("remove with a failing backend = nil error")
	}
	if held, _ := fake.Held(ctx); len(held) != 1 || held[0] != netip.MustParsePrefix("192.0.2.1/32") {
		t.Errorf("kernel holds %v after failures, want what it had: 192.0.2.1", held)
	}
	fake.Fail = nil
	out.Reset()
	if err := b.sync(ctx); err != nil {
		t.Fatal(err)
	}
	if held, _ := fake.Held(ctx); len(held) != 1 || held[0] != netip.MustParsePrefix("192.0.2.2/32") {
		t.Errorf("kernel holds %v after sync, want 192.0.2.2", held)
	}
	if st, _ := fake.Status(ctx); !st.Enabled {
		t.Error("sync left the drop rules off")
	}
	wantLines(t, "sync", out.String(), "fake: added 1, removed 1, kept 0; blocking enabled\n")
}

// TestBlockPFThroughTheEmulatedMac runs `block` with its default backend on a fake Mac, whose
// pfctl is the in-process emulator: the bans land in the firewarden table of the anchor, the
// allowlisted address never does, and disable keeps the table.
func TestBlockPFThroughTheEmulatedMac(t *testing.T) {
	dir := t.TempDir()
	ms := hosttest.Mac15()
	ms.PF = &hosttest.PFState{}
	mac, err := hosttest.NewMac(dir, ms)
	if err != nil {
		t.Fatal(err)
	}
	root, err := host.NewRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	osinfo, err := host.Detect(root)
	if err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		a := &app{Streams: Streams{Out: &out, Err: &errb}, getenv: func(string) string { return "" }, now: func() time.Time { return blockT0 },
			euid: func() int { return 0 }, root: root, os: osinfo, rec: &host.Recorder{Runner: mac}}
		if err := a.dispatch(context.Background(), append([]string{"block"}, args...)); err != nil {
			t.Fatalf("block %q = %v\n%s", args, err, errb.String())
		}
		return out.String()
	}
	table := func() []string {
		pf := mac.State().PF
		if pf == nil {
			return nil
		}
		return pf.Anchors["com.apple/400.firewarden"].Tables["firewarden"]
	}
	run("allow", "10.0.0.5")
	run("add", "10.0.0.4/31", "2001:db8::/64")
	if diff := cmp.Diff([]string{"10.0.0.4", "2001:db8::/64"}, table()); diff != "" {
		t.Errorf("pf table after add (-want +got):\n%s", diff)
	}
	if !mac.State().PF.Running {
		t.Error("pf is not running after a ban")
	}
	run("disable")
	if len(table()) != 2 {
		t.Errorf("disable emptied the table: %v", table())
	}
	wantLines(t, "sync", run("sync"), "pf: added 0, removed 0, kept 2; blocking disabled\n")
	run("enable")
	run("remove", "2001:db8::/64")
	if diff := cmp.Diff([]string{"10.0.0.4"}, table()); diff != "" {
		t.Errorf("pf table after remove (-want +got):\n%s", diff)
	}
}

// TestBlockRefusesWideBans: a ban wider than an IPv4 /8 or an IPv6 /16 is a usage error that
// changes nothing, unless --wide says it is meant.
func TestBlockRefusesWideBans(t *testing.T) {
	e := newBlockEnv(t)
	for _, p := range []string{"0.0.0.0/0", "::/0", "8.0.0.0/7"} {
		out, errs, code := e.run(t, "add", "192.0.2.1", p)
		if code != 2 || !strings.Contains(errs, p+" is wider than a /") || strings.Count(errs, "\n") != 1 || out != "" {
			t.Errorf("add %s = exit %d, stdout %q, stderr %q; want exit 2 and one error line", p, code, out, errs)
		}
		if data := e.stateFile(t); data != nil {
			t.Fatalf("add %s wrote the state:\n%s", p, data)
		}
	}
	out := e.mustRun(t, "add", "8.0.0.0/7", "--wide")
	if !strings.Contains(out, "banned 8.0.0.0/7") {
		t.Errorf("add 8.0.0.0/7 --wide said %q", out)
	}
}

// firstOr is args[0], or "" when there is none.
func firstOr(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return args[0]
}
