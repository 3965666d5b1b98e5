package nftposture_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/firewarden/firewarden/internal/host"
	"github.com/firewarden/firewarden/internal/posture"
	"github.com/firewarden/firewarden/internal/posture/baseline"
	"github.com/firewarden/firewarden/internal/posture/nftposture"
	"github.com/firewarden/firewarden/internal/posture/nftposture/fwtable"
	"github.com/firewarden/firewarden/internal/posture/nftposture/nfttest"
	"github.com/firewarden/firewarden/internal/posture/nftposture/ruleset"
)

var now = time.Date(2026, 12, 7, 4, 0, 0, 0, time.UTC)

type fakeKernel = nfttest.Kernel

var (
	nftPol = ruleset.Where{Family: "inet", Table: "filter", Chain: "input", Owner: ruleset.OwnerNFT}
	nftRej = ruleset.Where{Family: "inet", Table: "filter", Chain: "input", Handle: 12, Owner: ruleset.OwnerNFT}
	nftAcc = ruleset.Where{Family: "inet", Table: "filter", Chain: "input", Handle: 5, Owner: ruleset.OwnerNFT}
	ufwPol = ruleset.Where{Family: "ip", Table: "filter", Chain: "INPUT", Owner: ruleset.OwnerUFW}
)

func accepting() []ruleset.Family { return nfttest.Open().Families }

func families(un, echo ruleset.Outcome, open ...ruleset.Open) []ruleset.Family {
	return nfttest.Families(un, echo, open...)
}

func linuxRoot(t *testing.T, files map[string]string) (host.Root, host.OS) {
	t.Helper()
	dir := t.TempDir()
	files["/etc/os-release"] = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n"
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	root, err := host.NewRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	osinfo, err := host.Detect(root)
	if err != nil {
		t.Fatal(err)
	}
	return root, osinfo
}

func request(t *testing.T, yaml string) posture.Request {
	t.Helper()
	b := baseline.Default()
	if yaml != "" {
		var err error
		if b, err = baseline.Parse([]byte(yaml)); err != nil {
			t.Fatal(err)
		}
	}
	return posture.Request{Baseline: b, Now: now}
}

type verdict struct {
	Status  posture.Status
	Managed bool
	Fixable bool
}

func verdicts(rs []posture.Result) map[string]verdict {
	m := map[string]verdict{}
	for _, r := range rs {
		m[r.ID] = verdict{r.Status, r.Managed, r.Fixable}
	}
	return m
}

func TestEvaluate(t *testing.T) {
	ssh := ruleset.Open{Proto: "tcp", From: 22, To: 22, By: nftAcc}
	dropLogged := ruleset.Outcome{Verdict: ruleset.Drop, By: nftPol, Logged: true, LogLimited: true, LogAt: &nftAcc}
	pass := verdict{Status: posture.Pass}
	fail := verdict{Status: posture.Fail, Fixable: true}
	tests := []struct {
		name     string
		files    map[string]string
		analysis ruleset.Analysis
		want     map[string]verdict
		details  map[string]string // a phrase each check's Detail holds
		hints    map[string]string // a phrase each check's FixHint holds
	}{
		{
			name:     "no firewall",
			analysis: ruleset.Analysis{Families: accepting()},
			want:     map[string]verdict{nftposture.IDEnabled: fail, nftposture.IDStealth: fail, nftposture.IDLogging: fail, nftposture.IDAllowed: fail},
			details: map[string]string{
				nftposture.IDEnabled: "no nftables chain filters inbound traffic",
				nftposture.IDAllowed: "no nftables chain filters inbound traffic: every port that listens is open from anywhere",
			},
		},
		{
			name:     "nft drop policy, logged, ssh open",
			analysis: ruleset.Analysis{Filtering: true, Families: families(dropLogged, ruleset.Outcome{Verdict: ruleset.Drop, By: nftPol}, ssh)},
			want:     map[string]verdict{nftposture.IDEnabled: pass, nftposture.IDStealth: pass, nftposture.IDLogging: pass, nftposture.IDAllowed: pass},
		},
		{
			name: "reject answers, ping answered",
			analysis: ruleset.Analysis{Filtering: true, Families: families(ruleset.Outcome{Verdict: ruleset.Reject, By: nftRej, Logged: true},
				ruleset.Outcome{Verdict: ruleset.Accept, By: nftAcc}, ssh)},
			want: map[string]verdict{nftposture.IDEnabled: pass, nftposture.IDStealth: fail, nftposture.IDLogging: fail, nftposture.IDAllowed: pass},
			details: map[string]string{
				nftposture.IDStealth: "unmatched inbound ipv4 tcp, ipv4 udp, ipv6 tcp, ipv6 udp is rejected (rule inet filter input handle 12, owner nft): the host answers and shows it is there; ping is answered over ipv4, ipv6 (rule inet filter input handle 5, owner nft)",
				nftposture.IDLogging: "has no rate limit",
			},
		},
		{
			name: "ipv6 left open",
			analysis: ruleset.Analysis{Filtering: true, Families: []ruleset.Family{
				{Family: "ipv4", Unmatched: dropLogged, UnmatchedUDP: dropLogged, Echo: dropLogged, Open: []ruleset.Open{ssh}},
				accepting()[1],
			}},
			want: map[string]verdict{nftposture.IDEnabled: fail, nftposture.IDStealth: fail, nftposture.IDLogging: fail, nftposture.IDAllowed: fail},
			details: map[string]string{
				nftposture.IDEnabled: "unmatched inbound ipv6 tcp, ipv6 udp is accepted (no table filters the input hook)",
			},
		},
		{
			name: "ssh dropped, a database open, wider than allowed",
			analysis: ruleset.Analysis{Filtering: true, Families: families(dropLogged, dropLogged,
				ruleset.Open{Proto: "tcp", From: 5432, To: 5432, IIF: "eth1", By: nftAcc})},
			want: map[string]verdict{nftposture.IDEnabled: pass, nftposture.IDStealth: pass, nftposture.IDLogging: pass, nftposture.IDAllowed: fail},
			details: map[string]string{
				nftposture.IDAllowed: "5432/tcp from anywhere on eth1 is open beyond the baseline over ipv4, ipv6 (rule inet filter input handle 5, owner nft); allowed ssh 22/tcp does not answer over ipv4, ipv6: new connections are dropped (policy of inet filter input, owner nft)",
			},
		},
		{
			name:     "unmodelled expression makes it conditional",
			analysis: ruleset.Analysis{Filtering: true, Families: families(dropLogged, dropLogged, ssh), Notes: []ruleset.Note{{Where: nftRej, What: "expression osf"}}},
			want:     map[string]verdict{nftposture.IDEnabled: pass, nftposture.IDStealth: pass, nftposture.IDLogging: pass, nftposture.IDAllowed: pass},
			details: map[string]string{
				nftposture.IDEnabled: "conditional: the ruleset holds what firewarden does not model: expression osf (inet filter input handle 12)",
			},
		},
		{
			name:  "ufw owns a compliant firewall",
			files: map[string]string{nftposture.UFWConf: "# comment\nENABLED=yes\nLOGLEVEL=low\n", "/etc/systemd/system/multi-user.target.wants/ufw.service": ""},
			analysis: ruleset.Analysis{Filtering: true, Tables: []ruleset.Table{{Family: "ip", Name: "filter", Owner: ruleset.OwnerUFW}},
				Families: families(ruleset.Outcome{Verdict: ruleset.Drop, By: ufwPol, Logged: true, LogLimited: true}, ruleset.Outcome{Verdict: ruleset.Drop, By: ufwPol},
					ruleset.Open{Proto: "tcp", From: 22, To: 22, By: ufwPol})},
			want: map[string]verdict{nftposture.IDEnabled: {posture.Managed, true, false}, nftposture.IDStealth: {posture.Managed, true, false},
				nftposture.IDLogging: {posture.Managed, true, false}, nftposture.IDAllowed: {posture.Managed, true, false}},
			details: map[string]string{
				nftposture.IDEnabled: "ufw owns the host firewall (ENABLED=yes in /etc/ufw/ufw.conf; ufw.service enabled (/etc/systemd/system/multi-user.target.wants/ufw.service); its tables ip filter)",
			},
		},
		{
			name:     "ufw enabled in its file, nothing loaded: fail, not fixable",
			files:    map[string]string{nftposture.UFWConf: "ENABLED=yes\n"},
			analysis: ruleset.Analysis{Families: accepting()},
			want: map[string]verdict{nftposture.IDEnabled: {posture.Fail, true, false}, nftposture.IDStealth: {posture.Fail, true, false},
				nftposture.IDLogging: {posture.Fail, true, false}, nftposture.IDAllowed: {posture.Fail, true, false}},
			details: map[string]string{nftposture.IDEnabled: "fix with ufw or `firewarden fix --take-over`"},
			// Each check says what to change in ufw: ping and the DHCP ports are in its files.
			hints: map[string]string{
				nftposture.IDEnabled: "change it with ufw (ufw default deny incoming)",
				nftposture.IDStealth: "echo-request ACCEPT lines of /etc/ufw/before.rules and before6.rules",
				nftposture.IDLogging: "change it with ufw (ufw logging on)",
				nftposture.IDAllowed: "before.rules open 68/udp and before6.rules 546/udp",
			},
		},
		{
			name:     "ufw installed but off",
			files:    map[string]string{nftposture.UFWConf: "ENABLED=no\n", "/etc/systemd/system/multi-user.target.wants/ufw.service": ""},
			analysis: ruleset.Analysis{Filtering: true, Families: families(dropLogged, dropLogged, ssh)},
			want:     map[string]verdict{nftposture.IDEnabled: pass, nftposture.IDStealth: pass, nftposture.IDLogging: pass, nftposture.IDAllowed: pass},
		},
		{
			name:     "firewalld enabled",
			files:    map[string]string{"/etc/systemd/system/multi-user.target.wants/firewalld.service": ""},
			analysis: ruleset.Analysis{Filtering: true, Families: families(ruleset.Outcome{Verdict: ruleset.Reject, By: nftRej}, ruleset.Outcome{Verdict: ruleset.Accept, By: nftAcc}, ssh)},
			want: map[string]verdict{nftposture.IDEnabled: {posture.Managed, true, false}, nftposture.IDStealth: {posture.Fail, true, false},
				nftposture.IDLogging: {posture.Fail, true, false}, nftposture.IDAllowed: {posture.Managed, true, false}},
			details: map[string]string{nftposture.IDStealth: "firewalld owns the host firewall (firewalld.service enabled"},
			hints: map[string]string{
				nftposture.IDStealth: "--set-target=DROP (not REJECT) and --add-icmp-block=echo-request",
				nftposture.IDLogging: "firewall-cmd --set-log-denied=all",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.files == nil {
				tt.files = map[string]string{}
			}
			root, osinfo := linuxRoot(t, tt.files)
			k := &fakeKernel{Analysis: tt.analysis}
			p := nftposture.New(root, osinfo, k, nftposture.Options{})
			got := p.Evaluate(context.Background(), request(t, ""))
			if diff := cmp.Diff(tt.want, verdicts(got)); diff != "" {
				t.Errorf("Evaluate() verdicts (-want +got):\n%s", diff)
			}
			for _, r := range got {
				if phrase := tt.details[r.ID]; !strings.Contains(r.Detail, phrase) {
					t.Errorf("Evaluate() %s Detail = %q, want it to hold %q", r.ID, r.Detail, phrase)
				}
				if r.Source != "nftables" || len(r.Controls) == 0 || r.Evidence[0].Kind != "netlink" || r.Evidence[0].SHA256 == "" {
					t.Errorf("Evaluate() %s = source %q controls %v evidence %+v, want nftables, controls and netlink evidence first", r.ID, r.Source, r.Controls, r.Evidence)
				}
				if r.Status == posture.Fail && r.Managed && !r.Fixable && r.FixHint == "" {
					t.Errorf("Evaluate() %s: managed failure without a FixHint", r.ID)
				}
				if phrase := tt.hints[r.ID]; !strings.Contains(r.FixHint, phrase) {
					t.Errorf("Evaluate() %s FixHint = %q, want it to hold %q", r.ID, r.FixHint, phrase)
				}
			}
		})
	}
}

func TestEvaluateActual(t *testing.T) {
	root, osinfo := linuxRoot(t, map[string]string{})
	k := &fakeKernel{Analysis: ruleset.Analysis{Filtering: true, Families: []ruleset.Family{
		{Family: "ipv4", Unmatched: ruleset.Outcome{Verdict: ruleset.Drop, By: ufwPol}, UnmatchedUDP: ruleset.Outcome{Verdict: ruleset.Drop, By: ufwPol}},
		{Family: "ipv6", Unmatched: ruleset.Outcome{Verdict: ruleset.Drop, By: ufwPol}, UnmatchedUDP: ruleset.Outcome{Verdict: ruleset.Accept}},
	}}}
	got := nftposture.New(root, osinfo, k, nftposture.Options{}).Evaluate(context.Background(), request(t, ""))
	want := "drop (policy of ip filter INPUT, owner ufw) for ipv4 tcp, ipv4 udp, ipv6 tcp; accept (no table filters the input hook) for ipv6 udp"
	if got[0].Actual != want {
		t.Errorf("Evaluate() enabled Actual = %q, want %q", got[0].Actual, want)
	}
}

func TestEvaluateErrors(t *testing.T) {
	for _, tt := range []struct {
		name   string
		err    error
		detail string
	}{
		{"not root", fmt.Errorf("netlink receive: %w", syscall.EPERM), "run as root (sudo firewarden check)"},
		{"other system", fmt.Errorf("nftables: %w", errors.ErrUnsupported), "needs a Linux kernel"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			root, osinfo := linuxRoot(t, map[string]string{})
			got := nftposture.New(root, osinfo, &fakeKernel{ReadErr: tt.err}, nftposture.Options{}).Evaluate(context.Background(), request(t, ""))
			if len(got) != 4 {
				t.Fatalf("Evaluate() = %d results, want 4", len(got))
			}
			for _, r := range got {
				if r.Status != posture.Error || !strings.Contains(r.Detail, tt.detail) {
					t.Errorf("Evaluate() %s = %s %q, want error holding %q", r.ID, r.Status, r.Detail, tt.detail)
				}
			}
		})
	}
}

func TestNotLinux(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "System/Library/CoreServices"), 0o755)
	os.WriteFile(filepath.Join(dir, "System/Library/CoreServices/SystemVersion.plist"), []byte(`<?xml version="1.0"?><plist version="1.0"><dict><key>ProductVersion</key><string>15.1</string></dict></plist>`), 0o644)
	root, _ := host.NewRoot(dir)
	osinfo, err := host.Detect(root)
	if err != nil {
		t.Fatal(err)
	}
	k := &fakeKernel{ReadErr: errors.New("must not be read")}
	got := nftposture.New(root, osinfo, k, nftposture.Options{}).Evaluate(context.Background(), request(t, ""))
	for _, r := range got {
		if r.Status != posture.NotApplicable || !strings.Contains(r.Detail, "Linux only") {
			t.Errorf("Evaluate() %s = %s %q, want not_applicable on macOS", r.ID, r.Status, r.Detail)
		}
	}
}

func TestAllowedSources(t *testing.T) {
	const yaml = `
linux:
  firewall:
    allowed:
      - {name: ssh, proto: tcp, port: 22, from: [10.0.0.0/8, 2001:db8::/32]}
      - {name: dns, proto: udp, port: 53}
`
	ten, db8 := netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32")
	dns := ruleset.Open{Proto: "udp", From: 53, To: 53, By: nftAcc}
	for _, tt := range []struct {
		name string
		v4   []ruleset.Open
		v6   []ruleset.Open
		want string // Detail; "" passes
	}{
		{"exact", []ruleset.Open{{Proto: "tcp", From: 22, To: 22, Sources: []netip.Prefix{ten}}, dns}, []ruleset.Open{{Proto: "tcp", From: 22, To: 22, Sources: []netip.Prefix{db8}}, dns}, ""},
		{"anywhere but a ban set", []ruleset.Open{{Proto: "tcp", From: 22, To: 22, Except: []netip.Prefix{netip.MustParsePrefix("10.9.9.9/32")}, By: nftAcc}, dns}, []ruleset.Open{{Proto: "tcp", From: 22, To: 22, Sources: []netip.Prefix{db8}}, dns},
			"22/tcp from anywhere but 10.9.9.9/32, wider than the baseline's ssh 22/tcp from 10.0.0.0/8, 2001:db8::/32 is open beyond the baseline over ipv4 (rule inet filter input handle 5, owner nft)"},
		{"narrower source is fine", []ruleset.Open{{Proto: "tcp", From: 22, To: 22, Sources: []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")}}, dns}, []ruleset.Open{{Proto: "tcp", From: 22, To: 22, Sources: []netip.Prefix{db8}}, dns},
			"allowed ssh 22/tcp from 10.0.0.0/8, 2001:db8::/32 does not answer over ipv4: new connections are dropped (policy of inet filter input, owner nft)"},
		{"ssh from anywhere over ipv6", []ruleset.Open{{Proto: "tcp", From: 22, To: 22, Sources: []netip.Prefix{ten}}, dns}, []ruleset.Open{{Proto: "tcp", From: 20, To: 22, By: nftAcc}, dns},
			"20-21/tcp from anywhere is open beyond the baseline over ipv6 (rule inet filter input handle 5, owner nft); 22/tcp from anywhere, wider than the baseline's ssh 22/tcp from 10.0.0.0/8, 2001:db8::/32 is open beyond the baseline over ipv6 (rule inet filter input handle 5, owner nft)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			wantAllowed(t, yaml, tt.v4, tt.v6, tt.want)
		})
	}
}

// wantAllowed evaluates the baseline yaml, whose only check is linux.firewall.allowed, over a
// ruleset that drops all but v4 and v6, and fails unless the result passes (want "") or fails
// with the detail want.
func wantAllowed(t *testing.T, yaml string, v4, v6 []ruleset.Open, want string) {
	t.Helper()
	drop := ruleset.Outcome{Verdict: ruleset.Drop, By: nftPol}
	root, osinfo := linuxRoot(t, map[string]string{})
	k := &fakeKernel{Analysis: ruleset.Analysis{Filtering: true, Families: []ruleset.Family{
		{Family: "ipv4", Unmatched: drop, UnmatchedUDP: drop, Echo: drop, Open: v4},
		{Family: "ipv6", Unmatched: drop, UnmatchedUDP: drop, Echo: drop, Open: v6},
	}}}
	got := nftposture.New(root, osinfo, k, nftposture.Options{}).Evaluate(context.Background(), request(t, yaml))
	if len(got) != 1 {
		t.Fatalf("Evaluate() = %d results, want 1 (allowed only)", len(got))
	}
	wantStatus := posture.Pass
	if want != "" {
		wantStatus = posture.Fail
	}
	if got[0].Status != wantStatus || got[0].Detail != want {
		t.Errorf("Evaluate() = %s %q, want %s %q", got[0].Status, got[0].Detail, wantStatus, want)
	}
}

func TestBuildSpec(t *testing.T) {
	b := baseline.Default().Linux.Firewall
	client := netip.MustParseAddr("203.0.113.9")
	for _, tt := range []struct {
		name, conn string
		keep       []fwtable.Keep
		warn       string
	}{
		{"not over ssh", "", nil, ""},
		{"ssh on 22", "203.0.113.9 50022 192.0.2.1 22", []fwtable.Keep{{Source: client, Proto: "tcp", Port: 22, Why: "the SSH session this fix runs under"}}, ""},
		{"ssh on 2222", "::ffff:203.0.113.9 50022 192.0.2.1 2222", []fwtable.Keep{{Source: client, Proto: "tcp", Port: 2222, Why: "the SSH session this fix runs under"}},
			"this SSH session (from 203.0.113.9 to port 2222/tcp) is not among the baseline's allowed services: it is kept open for 203.0.113.9 only, and new sessions to that port will be dropped"},
		{"garbage", "203.0.113.9; rm -rf /", nil, `SSH_CONNECTION "203.0.113.9; rm -rf /" is not "CLIENT PORT SERVER PORT": no SSH session is kept open specially; the allowed services decide`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			spec, warn := nftposture.BuildSpec(b, tt.conn)
			want := fwtable.Spec{Allowed: []fwtable.Service{{Proto: "tcp", From: 22, To: 22}}, Keep: tt.keep, Log: true}
			if diff := cmp.Diff(want, spec, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
				t.Errorf("BuildSpec(%q) (-want +got):\n%s", tt.conn, diff)
			}
			if warn != tt.warn {
				t.Errorf("BuildSpec(%q) warn = %q, want %q", tt.conn, warn, tt.warn)
			}
		})
	}
}

func TestFixAndRollback(t *testing.T) {
	root, osinfo := linuxRoot(t, map[string]string{})
	k := &fakeKernel{Analysis: ruleset.Analysis{Families: accepting()}}
	var warned []string
	env := map[string]string{"SSH_CONNECTION": "203.0.113.9 50022 192.0.2.1 22"}
	p := nftposture.New(root, osinfo, k, nftposture.Options{Getenv: func(k string) string { return env[k] }, Warn: func(s string) { warned = append(warned, s) }})
	e := &posture.Engine{Providers: []posture.Provider{p}, Now: func() time.Time { return now }}
	saver := &memSaver{}
	fr, err := e.Fix(context.Background(), request(t, ""), false, saver)
	if err != nil {
		t.Fatal(err)
	}
	if fr.ExitCode() != 0 || len(fr.Applied) != 1 || fr.Applied[0].Key != nftposture.KeyTable {
		t.Fatalf("Fix() = exit %d, applied %+v, after %+v; want exit 0 and one table change", fr.ExitCode(), fr.Applied, fr.After)
	}
	if len(k.Writes) != 1 || len(k.Writes[0].Keep) != 1 || len(warned) != 0 {
		t.Errorf("Fix() wrote %+v, warned %q; want one table keeping the SSH session, no warning", k.Writes, warned)
	}
	if fr.Applied[0].From != `{"absent":true}` {
		t.Errorf("Fix() change From = %s, want the snapshot of an absent table", fr.Applied[0].From)
	}
	// A second fix has nothing to do.
	fr, _ = e.Fix(context.Background(), request(t, ""), false, saver)
	if len(fr.Planned) != 0 || fr.ExitCode() != 0 {
		t.Errorf("second Fix() planned %+v, exit %d; want nothing, 0", fr.Planned, fr.ExitCode())
	}
	res, err := e.Rollback(context.Background(), saver.saved)
	if err != nil || len(res) != 1 || res[0].Error != "" {
		t.Fatalf("Rollback() = %+v, %v; want one restored change", res, err)
	}
	if k.Table != nil {
		t.Errorf("after Rollback() the table is %+v, want it absent again", k.Table)
	}
}

type memSaver struct{ saved []posture.Change }

func (m *memSaver) Save(c []posture.Change) (string, error) { m.saved = c; return "b1", nil }

func TestApplyVerifies(t *testing.T) {
	root, osinfo := linuxRoot(t, map[string]string{})
	spec, _ := json.Marshal(fwtable.Spec{Allowed: []fwtable.Service{{Proto: "tcp", From: 22, To: 22}}, Log: true})
	c := posture.Change{Check: nftposture.IDEnabled, Key: nftposture.KeyTable, From: `{"absent":true}`, To: string(spec)}
	for _, tt := range []struct {
		name string
		k    *fakeKernel
		want string
	}{
		{"write refused", &fakeKernel{WriteErr: syscall.EPERM}, "write table inet firewarden_posture: operation not permitted"},
		{"not exact", &fakeKernel{Inexact: true}, "table inet firewarden_posture was written but the kernel holds something else"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := nftposture.New(root, osinfo, tt.k, nftposture.Options{}).Apply(context.Background(), c)
			if err == nil || err.Error() != tt.want {
				t.Errorf("Apply() = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	p := nftposture.New(host.Root{}, host.OS{Kind: host.Linux}, &fakeKernel{}, nftposture.Options{})
	for _, tt := range []struct {
		name string
		c    posture.Change
		want string // "" valid
	}{
		{"snapshot absent", posture.Change{Check: nftposture.IDEnabled, Key: nftposture.KeyTable, To: `{"absent":true}`}, ""},
		{"snapshot data fwtable cannot decode", posture.Change{Check: nftposture.IDEnabled, Key: nftposture.KeyTable, To: `{"absent":false,"data":"AAEC"}`}, "damaged firewall table snapshot"},
		{"spec", posture.Change{Check: nftposture.IDStealth, Key: nftposture.KeyTable, To: `{"allowed":[{"proto":"tcp","from":22,"to":22}],"icmp_echo":false,"log":true}`}, ""},
		{"truncated", posture.Change{Check: nftposture.IDEnabled, Key: nftposture.KeyTable, To: `{"absent":fal`}, "the saved table is not JSON"},
		{"absent with data", posture.Change{Check: nftposture.IDEnabled, Key: nftposture.KeyTable, To: `{"absent":true,"data":"AAEC"}`}, "absent must go with no data"},
		{"bad proto", posture.Change{Check: nftposture.IDEnabled, Key: nftposture.KeyTable, To: `{"allowed":[{"proto":"icmp","from":22,"to":22}]}`}, `service proto "icmp" is not tcp or udp`},
		{"unknown field", posture.Change{Check: nftposture.IDEnabled, Key: nftposture.KeyTable, To: `{"allowed":[],"flush_all":true}`}, "unknown field"},
		{"neither", posture.Change{Check: nftposture.IDEnabled, Key: nftposture.KeyTable, To: `{}`}, "neither a table nor a snapshot"},
		{"other key", posture.Change{Check: nftposture.IDEnabled, Key: "alf.stealth", To: `{}`}, "unknown setting"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := p.Validate(tt.c)
			if (tt.want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate(%s) = %v, want %q", tt.c.To, err, tt.want)
			}
		})
	}
}

// A session kept open on a port the baseline does not allow is warned about at the fix and does
// not fail linux.firewall.allowed afterwards; another source on that port would.
func TestKeptSession(t *testing.T) {
	root, osinfo := linuxRoot(t, map[string]string{})
	k := &fakeKernel{}
	var warned []string
	env := map[string]string{"SSH_CONNECTION": "203.0.113.9 50022 192.0.2.1 2222"}
	p := nftposture.New(root, osinfo, k, nftposture.Options{Getenv: func(k string) string { return env[k] }, Warn: func(s string) { warned = append(warned, s) }})
	e := &posture.Engine{Providers: []posture.Provider{p}, Now: func() time.Time { return now }}
	fr, err := e.Fix(context.Background(), request(t, ""), false, &memSaver{})
	if err != nil {
		t.Fatal(err)
	}
	if fr.ExitCode() != 0 || len(warned) != 1 {
		t.Errorf("Fix() = exit %d, after %+v, warned %q; want exit 0 and one warning", fr.ExitCode(), fr.After, warned)
	}
	k.Analysis.Families[0].Open = append(k.Analysis.Families[0].Open, ruleset.Open{Proto: "tcp", From: 2222, To: 2222, Sources: []netip.Prefix{netip.MustParsePrefix("198.51.100.1/32")}, By: nfttest.TableRule})
	got := p.Evaluate(context.Background(), request(t, ""))
	want := "2222/tcp from 198.51.100.1/32 is open beyond the baseline over ipv4 (rule inet firewarden_posture input handle 9, owner firewarden); kept open by firewarden's table beyond the baseline, as warned at the fix: 2222/tcp from 203.0.113.9 (the SSH session this fix runs under)"
	if got[3].Detail != want {
		t.Errorf("Evaluate() allowed Detail = %q, want %q", got[3].Detail, want)
	}
}

// --take-over makes a failing check of a ufw-owned firewall fixable; once firewarden's table
// stands beside ufw's, the checks are firewarden's.
func TestTakeOver(t *testing.T) {
	files := map[string]string{nftposture.UFWConf: "ENABLED=yes\n"}
	for _, tt := range []struct {
		name     string
		takeOver bool
		want     verdict
	}{
		{"without", false, verdict{posture.Fail, true, false}},
		{"with", true, verdict{posture.Fail, true, true}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			root, osinfo := linuxRoot(t, files)
			k := &fakeKernel{}
			p := nftposture.New(root, osinfo, k, nftposture.Options{TakeOver: tt.takeOver})
			got := verdicts(p.Evaluate(context.Background(), request(t, "")))
			if got[nftposture.IDEnabled] != tt.want {
				t.Errorf("Evaluate() enabled = %+v, want %+v", got[nftposture.IDEnabled], tt.want)
			}
			e := &posture.Engine{Providers: []posture.Provider{p}, Now: func() time.Time { return now }}
			fr, err := e.Fix(context.Background(), request(t, ""), false, &memSaver{})
			if err != nil {
				t.Fatal(err)
			}
			if wrote := len(k.Writes) == 1; wrote != tt.takeOver {
				t.Errorf("Fix() wrote the table = %v, want %v", wrote, tt.takeOver)
			}
			// After the take-over firewarden's table holds what the check judges: it is
			// firewarden's (pass, not managed), naming ufw beside it.
			if tt.takeOver {
				if a := fr.After.Results[0]; a.Status != posture.Pass || a.Managed || !strings.Contains(a.Detail, "ufw owns the host firewall") || !strings.Contains(a.Detail, "stands beside it (fix --take-over)") {
					t.Errorf("after Fix() --take-over enabled = %s managed %v %q, want pass, firewarden's, naming ufw", a.Status, a.Managed, a.Detail)
				}
			}
		})
	}
}

// An allowed service behind a ban set ("anywhere but") still answers, and is not excess.
func TestAllowedBehindBanSet(t *testing.T) {
	root, osinfo := linuxRoot(t, map[string]string{})
	drop := ruleset.Outcome{Verdict: ruleset.Drop, By: nftPol}
	ssh := ruleset.Open{Proto: "tcp", From: 22, To: 22, Except: []netip.Prefix{netip.MustParsePrefix("192.0.2.9/32")}, By: nftAcc}
	k := &fakeKernel{Analysis: ruleset.Analysis{Filtering: true, Families: families(drop, drop, ssh)}}
	got := nftposture.New(root, osinfo, k, nftposture.Options{}).Evaluate(context.Background(), request(t, ""))
	if got[3].Status != posture.Pass || got[3].Actual != "22/tcp from anywhere but 192.0.2.9/32" {
		t.Errorf("Evaluate() allowed = %s %q (%s), want pass showing the exception", got[3].Status, got[3].Actual, got[3].Detail)
	}
}

// A service allowed from 0.0.0.0/0 (or ::/0) is allowed from anywhere of that family: a port
// open from anywhere over IPv4 is within it. Found with the real ufw, whose DHCP client rule
// (udp sport 67 dport 68) opens 68/udp over IPv4 only; firewarden's own table writes such a
// service as "ip saddr 0.0.0.0/0", which its check failed before.
func TestAllowedWholeFamily(t *testing.T) {
	dhcp := ruleset.Open{Proto: "udp", From: 68, To: 68, By: nftAcc}
	for _, tt := range []struct {
		name, from string
		v4, v6     []ruleset.Open
		want       string // Detail; "" passes
	}{
		{"ipv4 from 0.0.0.0/0", "0.0.0.0/0", []ruleset.Open{dhcp}, nil, ""},
		{"ipv6 from ::/0", "::/0", nil, []ruleset.Open{dhcp}, ""},
		{"ipv4 only, open over ipv6 too", "0.0.0.0/0", []ruleset.Open{dhcp}, []ruleset.Open{dhcp},
			"68/udp from anywhere, wider than the baseline's dhcp 68/udp from 0.0.0.0/0 is open beyond the baseline over ipv6 (rule inet filter input handle 5, owner nft)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			yaml := fmt.Sprintf("linux:\n  firewall:\n    allowed:\n      - {name: dhcp, proto: udp, port: 68, from: [%q]}\n", tt.from)
			wantAllowed(t, yaml, tt.v4, tt.v6, tt.want)
		})
	}
}

// A fix that would make firewarden's table accept more than it does is marked as weakening, so
// that enforce mode leaves it alone; writing the table where there is none, or over one edited
// by hand, is not.
func TestPlanWeakens(t *testing.T) {
	ssh := fwtable.Spec{Allowed: []fwtable.Service{{Proto: "tcp", From: 22, To: 22}}, Log: true}
	sshOnly := "name: t\nlinux:\n  firewall:\n    enabled: true\n    stealth: true\n    logging: true\n    allowed:\n      - {name: ssh, proto: tcp, port: 22}\n"
	sshWeb := sshOnly + "      - {name: web, proto: tcp, port: 443}\n"
	for _, tt := range []struct {
		name    string
		table   *fwtable.Spec
		inexact bool
		yaml    string
		want    bool
	}{
		{"no table yet", nil, false, sshWeb, false},
		{"a service more", &ssh, false, sshWeb, true},
		{"a table edited by hand", &ssh, true, sshWeb, false},
		{"the table without its log rule", &fwtable.Spec{Allowed: ssh.Allowed}, false, sshOnly, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			root, osinfo := linuxRoot(t, map[string]string{})
			k := &fakeKernel{Analysis: ruleset.Analysis{Families: accepting()}}
			if tt.table != nil {
				k.Table, k.Analysis, k.Inexact = tt.table, nfttest.TableAnalysis(*tt.table), tt.inexact
			}
			p := nftposture.New(root, osinfo, k, nftposture.Options{})
			e := &posture.Engine{Providers: []posture.Provider{p}, Now: func() time.Time { return now }}
			fr, err := e.Fix(context.Background(), request(t, tt.yaml), true, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(fr.Planned) != 1 || fr.Planned[0].Weakens != tt.want {
				t.Errorf("Fix(dry run) planned %+v, want one change with Weakens %v", fr.Planned, tt.want)
			}
		})
	}
}

// An unattended run (the agent in enforce mode) that rewrites firewarden's table keeps the
// sessions an earlier fix kept: nobody is there to say they are over. A run with an operator
// writes only its own session.
func TestUnattendedCarriesKeeps(t *testing.T) {
	kept := fwtable.Keep{Source: netip.MustParseAddr("198.51.100.7"), Proto: "tcp", Port: 2222, Why: "the SSH session this fix runs under"}
	for _, tt := range []struct {
		name       string
		unattended bool
		want       []fwtable.Keep
	}{
		{"agent", true, []fwtable.Keep{kept}},
		{"operator", false, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			root, osinfo := linuxRoot(t, map[string]string{})
			// The table an earlier fix wrote, with logging since switched off by hand: it fails.
			old := fwtable.Spec{Allowed: []fwtable.Service{{Proto: "tcp", From: 22, To: 22}}, Keep: []fwtable.Keep{kept}}
			k := &fakeKernel{Table: &old, Analysis: nfttest.TableAnalysis(old)}
			p := nftposture.New(root, osinfo, k, nftposture.Options{Unattended: tt.unattended})
			e := &posture.Engine{Providers: []posture.Provider{p}, Now: func() time.Time { return now }}
			if _, err := e.Fix(context.Background(), request(t, ""), false, &memSaver{}); err != nil {
				t.Fatal(err)
			}
			if len(k.Writes) != 1 {
				t.Fatalf("Fix() wrote %d tables, want 1", len(k.Writes))
			}
			got := k.Writes[0].Keep
			if len(got) != len(tt.want) || len(got) == 1 && (got[0].Source != kept.Source || got[0].Port != kept.Port) {
				t.Errorf("Fix() wrote keeps %+v, want %+v", got, tt.want)
			}
		})
	}
}

// An unattended run suspended (a fix reverted unconfirmed) changes nothing: the failing checks
// are not fixable and say why.
func TestUnattendedSuspended(t *testing.T) {
	root, osinfo := linuxRoot(t, map[string]string{})
	k := &fakeKernel{}
	why := "enforce mode leaves table inet firewarden_posture alone: the fix saved as backup B was reverted unconfirmed"
	p := nftposture.New(root, osinfo, k, nftposture.Options{Unattended: true, Suspended: func() string { return why }})
	e := &posture.Engine{Providers: []posture.Provider{p}, Now: func() time.Time { return now }}
	fr, err := e.Fix(context.Background(), request(t, ""), false, &memSaver{})
	if err != nil {
		t.Fatal(err)
	}
	if len(k.Writes) != 0 {
		t.Errorf("Fix() wrote %d tables while suspended, want none", len(k.Writes))
	}
	for _, r := range fr.Before.Results {
		if r.Status != posture.Fail || r.Fixable || r.FixHint != why || !strings.Contains(r.Detail, why) {
			t.Errorf("%s = %s fixable %v hint %q, want fail, not fixable, saying why", r.ID, r.Status, r.Fixable, r.FixHint)
		}
	}
	// Not unattended: the same Suspended is not asked.
	p = nftposture.New(root, osinfo, &fakeKernel{}, nftposture.Options{Suspended: func() string { return why }})
	for _, r := range p.Evaluate(context.Background(), request(t, "")) {
		if !r.Fixable {
			t.Errorf("%s with an operator: not fixable, want fixable", r.ID)
		}
	}
}
