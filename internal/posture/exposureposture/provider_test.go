package exposureposture

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/firewarden/firewarden/internal/exposure"
	"github.com/firewarden/firewarden/internal/host"
	"github.com/firewarden/firewarden/internal/posture"
	"github.com/firewarden/firewarden/internal/posture/baseline"
)

const head = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"

// Socket lines in the kernel's layout of /proc/net/tcp and udp, written for these tests:
// sshd on 0.0.0.0:22, postgres on 127.0.0.1:5432 and 0.0.0.0:5432, and 0.0.0.0:9999, whose
// process is not in /proc (another user's, read without root).
const (
	tcpSSHD     = "   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 101 1 0000000000000000 100 0 0 10 0\n"
	tcpPGLocal  = "   1: 0100007F:1538 00000000:0000 0A 00000000:00000000 00:00000000 00000000   116        0 102 1 0000000000000000 100 0 0 10 0\n"
	tcpPGAll    = "   2: 00000000:1538 00000000:0000 0A 00000000:00000000 00:00000000 00000000   116        0 103 1 0000000000000000 100 0 0 10 0\n"
	tcpNameless = "   3: 00000000:270F 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 106 1 0000000000000000 100 0 0 10 0\n"
)

// fakeLinux lays out a root whose /proc holds the tcp table and the processes sshd (pid 612) and
// postgres (pid 840), and returns it.
func fakeLinux(t *testing.T, tcp string) host.Root {
	t.Helper()
	dir := t.TempDir()
	write := func(sys, content string) {
		p := filepath.Join(dir, sys)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	link := func(sys, target string) {
		p := filepath.Join(dir, sys)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
	}
	write("/proc/net/tcp", tcp)
	write("/proc/612/comm", "sshd\n")
	link("/proc/612/exe", "/usr/sbin/sshd")
	link("/proc/612/fd/3", "socket:[101]")
	write("/proc/840/comm", "postgres\n")
	link("/proc/840/exe", "/usr/lib/postgresql/16/bin/postgres")
	link("/proc/840/fd/5", "socket:[102]")
	link("/proc/840/fd/6", "socket:[103]")
	root, err := host.NewRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	return root
}

var debian = host.OS{Kind: host.Linux, Name: "Debian GNU/Linux 12 (bookworm)", Version: "12", Major: 12}

func parse(t *testing.T, yaml string) *baseline.Baseline {
	t.Helper()
	b, err := baseline.Parse([]byte(yaml))
	if err != nil {
		t.Fatalf("baseline.Parse(%q) error %v", yaml, err)
	}
	b.Source = "/etc/firewarden/b.yaml"
	return b
}

// got is what a test compares of a result.
type got struct {
	Status  posture.Status
	Actual  string
	Detail  string
	FixHint string
}

func TestEvaluateLinux(t *testing.T) {
	const strict = "exposure:\n  expect:\n" +
		"    - {process: sshd, port: 22, scope: any}\n" + // line 3
		"    - {process: postgres, port: 5432, scope: loopback}\n" // line 4
	const loose = "exposure:\n  expect:\n" +
		"    - {process: sshd, port: 22, scope: any}\n" +
		"    - {process: postgres, scope: any}\n" +
		"    - {port: 9999, scope: any}\n"
	// The fixes name Linux's firewall rule (exposure.JudgeOn with the host's platform).
	keepOut := func(port string) string {
		return "keep other hosts out: leave tcp port " + port + " out of the baseline's linux.firewall.allowed and run `firewarden fix`, whose table drops what the list does not allow"
	}
	pgFix := "tcp/0.0.0.0:5432: bind postgres (pid 840) to 127.0.0.1:5432 instead of 0.0.0.0:5432 (/etc/firewarden/b.yaml:4 allows loopback only); or " + keepOut("5432")
	strayFix := "tcp/0.0.0.0:9999: stop the process (not found: run as root, or it belongs to another PID namespace such as a container) or bind it to 127.0.0.1:9999; or " + keepOut("9999") + "; " +
		"if it is meant to listen, add to /etc/firewarden/b.yaml: - {process: NAME, port: 9999, proto: tcp, scope: any}"
	all := head + tcpSSHD + tcpPGLocal + tcpPGAll + tcpNameless
	tests := []struct {
		name         string
		baseline     string
		tcp          string
		os           host.OS
		unprivileged bool
		only         map[string]bool
		want         map[string]got
	}{
		{
			// Left out, like any key of a baseline: not run at all.
			name: "no exposure section", baseline: "sip: true\n", tcp: all, os: debian,
			want: map[string]got{},
		},
		{
			name: "another os", baseline: strict, tcp: all, os: host.OS{Kind: host.Unknown},
			want: map[string]got{
				IDUnexpected: {Status: posture.NotApplicable, Actual: "-", Detail: "listening sockets are read on Linux and macOS only; this host runs unknown OS"},
				IDTooWide:    {Status: posture.NotApplicable, Actual: "-", Detail: "listening sockets are read on Linux and macOS only; this host runs unknown OS"},
			},
		},
		{
			name: "both fail", baseline: strict, tcp: all, os: debian,
			want: map[string]got{
				IDUnexpected: {Status: posture.Fail, Actual: "1 listener", Detail: strayFix, FixHint: "firewarden changes no service or bind address; " + strayFix},
				IDTooWide:    {Status: posture.Fail, Actual: "1 listener", Detail: pgFix, FixHint: "firewarden changes no service or bind address; " + pgFix},
			},
		},
		{
			name: "only too_wide", baseline: strict, tcp: all, os: debian, only: map[string]bool{IDTooWide: true},
			want: map[string]got{
				IDTooWide: {Status: posture.Fail, Actual: "1 listener", Detail: pgFix, FixHint: "firewarden changes no service or bind address; " + pgFix},
			},
		},
		{
			name: "everything allowed", baseline: loose, tcp: all, os: debian,
			want: map[string]got{
				IDUnexpected: {Status: posture.Pass, Actual: "none"},
				IDTooWide:    {Status: posture.Pass, Actual: "none"},
			},
		},
		{
			// Without root the socket on 9999 has no process, and the baseline names a process
			// (postgres, any port): with its name it might be expected.
			name: "nameless socket without root", baseline: loose[:len(loose)-len("    - {port: 9999, scope: any}\n")], tcp: all, os: debian, unprivileged: true,
			want: map[string]got{
				IDUnexpected: {Status: posture.Error, Actual: "unknown", Detail: "not root, so the process of these sockets is unknown and the baseline names processes on their ports: tcp/0.0.0.0:9999; run firewarden as root to judge them"},
				IDTooWide:    {Status: posture.Error, Actual: "unknown", Detail: "not root, so the process of these sockets is unknown and the baseline names processes on their ports: tcp/0.0.0.0:9999; run firewarden as root to judge them"},
			},
		},
		{
			// A definite finding stays a finding though another socket cannot be judged.
			name: "nameless socket without root and a finding", baseline: "exposure:\n  expect:\n    - {process: sshd, port: 22, scope: any}\n    - {process: postgres, scope: loopback}\n",
			tcp: all, os: debian, unprivileged: true,
			want: map[string]got{
				IDUnexpected: {Status: posture.Error, Actual: "unknown", Detail: "not root, so the process of these sockets is unknown and the baseline names processes on their ports: tcp/0.0.0.0:9999; run firewarden as root to judge them"},
				IDTooWide: {Status: posture.Fail, Actual: "1 listener",
					Detail:  pgFix + "; not root, so the process of these sockets is unknown and the baseline names processes on their ports: tcp/0.0.0.0:9999; run firewarden as root to judge them",
					FixHint: "firewarden changes no service or bind address; " + pgFix},
			},
		},
		{
			// No expectation could name the nameless socket, whatever its process: unexpected
			// for certain.
			name: "nameless socket without root on a port nobody expects", baseline: strict, tcp: all, os: debian, unprivileged: true,
			want: map[string]got{
				IDUnexpected: {Status: posture.Fail, Actual: "1 listener", Detail: strayFix, FixHint: "firewarden changes no service or bind address; " + strayFix},
				IDTooWide:    {Status: posture.Fail, Actual: "1 listener", Detail: pgFix, FixHint: "firewarden changes no service or bind address; " + pgFix},
			},
		},
		{
			name: "a skipped line makes the verdict conditional", baseline: loose, tcp: all + "   9: garbage\n", os: debian,
			want: map[string]got{
				IDUnexpected: {Status: posture.Pass, Actual: "none", Detail: "this verdict is conditional on what the reading warned: /proc/net/tcp:6: not a socket line (2 fields); line skipped"},
				IDTooWide:    {Status: posture.Pass, Actual: "none", Detail: "this verdict is conditional on what the reading warned: /proc/net/tcp:6: not a socket line (2 fields); line skipped"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := fakeLinux(t, tt.tcp)
			p := New(root, tt.os, host.ExecRunner{Root: root}, Options{Reading: exposure.CollectOptions{Unprivileged: tt.unprivileged}})
			req := posture.Request{Baseline: parse(t, tt.baseline), Only: tt.only, Now: time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)}
			results := p.Evaluate(context.Background(), req)
			gotAll := map[string]got{}
			for _, r := range results {
				gotAll[r.ID] = got{r.Status, r.Actual, r.Detail, r.FixHint}
				if r.Fixable {
					t.Errorf("Evaluate() %s Fixable = true, want false: firewarden changes no listener", r.ID)
				}
			}
			if diff := cmp.Diff(tt.want, gotAll); diff != "" {
				t.Errorf("Evaluate() (-want +got):\n%s", diff)
			}
		})
	}
}

// Both results rest on one reading, recorded as a listing with its SHA-256, and carry the
// controls; an exemption turns a failure into exempt.
func TestEvaluateEvidenceAndExemption(t *testing.T) {
	root := fakeLinux(t, head+tcpSSHD+tcpPGAll)
	b := parse(t, "exposure:\n  expect: [{process: sshd, port: 22, scope: any}]\n"+
		"exemptions:\n  - {check: exposure.unexpected, reason: migration (SEC-9), expires: 2027-01-31}\n")
	p := New(root, debian, host.ExecRunner{Root: root}, Options{})
	results := p.Evaluate(context.Background(), posture.Request{Baseline: b, Now: time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)})
	if len(results) != 2 {
		t.Fatalf("Evaluate() = %d results, want 2", len(results))
	}
	wantListing := "tcp 0.0.0.0:22 all pid=612 process=\"sshd\" path=\"/usr/sbin/sshd\"\n" +
		"tcp 0.0.0.0:5432 all pid=840 process=\"postgres\" path=\"/usr/lib/postgresql/16/bin/postgres\"\n"
	sum := sha256.Sum256([]byte(wantListing))
	wantEvidence := []posture.Evidence{{Kind: "listeners", Path: "/proc", Content: wantListing, SHA256: hex.EncodeToString(sum[:])}}
	for _, r := range results {
		if diff := cmp.Diff(wantEvidence, r.Evidence); diff != "" {
			t.Errorf("Evaluate() %s evidence (-want +got):\n%s", r.ID, diff)
		}
		if r.Source != "/proc" {
			t.Errorf("Evaluate() %s source = %q, want /proc", r.ID, r.Source)
		}
	}
	if r := results[0]; r.ID != IDUnexpected || r.Status != posture.Exempt || r.Exemption == nil || r.Exemption.Reason != "migration (SEC-9)" {
		t.Errorf("Evaluate() %s = %s, exemption %+v, want exempt by the baseline's exemption", r.ID, r.Status, r.Exemption)
	}
	wantControls := map[string][]string{
		IDUnexpected: {"CIS Debian 12 2.1.22", "CIS Controls v8 4.8", "800-53r5 CM-7", "800-53r5 CM-7(1)"},
		IDTooWide:    {"CIS Debian 12 2.1.22", "CIS Controls v8 4.8", "800-53r5 CM-7", "800-53r5 SC-7"},
	}
	for _, r := range results {
		if diff := cmp.Diff(wantControls[r.ID], r.Controls); diff != "" {
			t.Errorf("Evaluate() %s controls (-want +got):\n%s", r.ID, diff)
		}
	}
	// Not Debian 12: no benchmark item number is cited.
	other := New(root, host.OS{Kind: host.Linux, Name: "Fedora Linux 41", Major: 41}, host.ExecRunner{Root: root}, Options{})
	for _, r := range other.Evaluate(context.Background(), posture.Request{Baseline: b}) {
		if strings.HasPrefix(r.Controls[0], "CIS Debian") {
			t.Errorf("Evaluate() on Fedora %s controls = %q, want no CIS Debian item", r.ID, r.Controls)
		}
	}
}

// A socket table that cannot be read is an error for both checks, never a pass.
func TestEvaluateUnreadable(t *testing.T) {
	root := fakeLinux(t, head)
	if err := os.Remove(root.Path("/proc/net/tcp")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(root.Path("/proc/net/tcp"), 0o755); err != nil {
		t.Fatal(err)
	}
	p := New(root, debian, host.ExecRunner{Root: root}, Options{})
	for _, r := range p.Evaluate(context.Background(), posture.Request{Baseline: parse(t, "exposure:\n  expect: []\n")}) {
		if r.Status != posture.Error || !strings.HasPrefix(r.Detail, "list the listening sockets: read /proc/net/tcp") {
			t.Errorf("Evaluate() %s = %s %q, want error reading /proc/net/tcp", r.ID, r.Status, r.Detail)
		}
	}
}

// lsofRunner answers lsof with out and ps with nothing.
type lsofRunner struct{ out []byte }

func (r lsofRunner) Run(_ context.Context, c host.Cmd) (host.Result, error) {
	if c.Path == exposure.LsofPath {
		return host.Result{Argv: c.Argv(), Stdout: r.out}, nil
	}
	return host.Result{Argv: c.Argv()}, nil
}

// On macOS the listing comes from lsof, whose run is evidence too; without root lsof shows only
// the caller's sockets, so what would pass is an error instead.
func TestEvaluateMac(t *testing.T) {
	out, err := os.ReadFile("../../exposure/testdata/lsof/sonoma-services.txt")
	if err != nil {
		t.Fatal(err)
	}
	root, err := host.NewRoot(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	mac := host.OS{Kind: host.MacOS, Name: "macOS", Version: "14.5", Major: 14, Minor: 5}
	b := parse(t, "exposure:\n  expect:\n"+
		"    - {process: launchd, port: 22, scope: any}\n"+
		"    - {process: node, port: 3030, scope: any}\n"+
		"    - {process: ControlCenter, scope: any}\n"+
		"    - {process: postgres, port: 5432, scope: loopback}\n"+
		"    - {process: redis-server, port: 6379, scope: loopback}\n"+
		"    - {process: com.docker.backend, scope: any}\n"+
		"    - {process: mDNSResponder, port: 5353, proto: udp, scope: any}\n")
	for _, tt := range []struct {
		name         string
		unprivileged bool
		want         map[string]posture.Status
	}{
		{"root", false, map[string]posture.Status{IDUnexpected: posture.Pass, IDTooWide: posture.Fail}},
		{"not root", true, map[string]posture.Status{IDUnexpected: posture.Error, IDTooWide: posture.Fail}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := New(root, mac, lsofRunner{out}, Options{Reading: exposure.CollectOptions{Unprivileged: tt.unprivileged}})
			gotStatus := map[string]posture.Status{}
			for _, r := range p.Evaluate(context.Background(), posture.Request{Baseline: b}) {
				gotStatus[r.ID] = r.Status
				if r.Source != "lsof" || len(r.Evidence) < 2 || r.Evidence[0].Kind != "exec" || r.Evidence[0].Argv[0] != exposure.LsofPath || r.Evidence[len(r.Evidence)-1].Kind != "listeners" {
					t.Errorf("Evaluate() %s source %q evidence %+v, want lsof's run and the listing", r.ID, r.Source, r.Evidence)
				}
				if tt.unprivileged && !strings.Contains(r.Detail, "not root, so lsof listed only the sockets of your own processes") {
					t.Errorf("Evaluate() %s detail = %q, want it to say lsof saw only the caller's sockets", r.ID, r.Detail)
				}
				if r.ID == IDTooWide && !strings.Contains(r.Detail, "tcp/0.0.0.0:6379: bind redis-server (pid 1388) to 127.0.0.1:6379") {
					t.Errorf("Evaluate() too_wide detail = %q, want redis's fix", r.Detail)
				}
			}
			if diff := cmp.Diff(tt.want, gotStatus); diff != "" {
				t.Errorf("Evaluate() statuses (-want +got):\n%s", diff)
			}
		})
	}
}

// Nothing is fixable: Apply refuses, and Validate refuses a backup naming an exposure check.
func TestNoChanges(t *testing.T) {
	p := New(host.Root{}, debian, nil, Options{})
	c := posture.Change{Check: IDUnexpected, Key: IDUnexpected, From: "a", To: "b"}
	if _, err := p.Apply(context.Background(), c); err == nil {
		t.Error("Apply() = nil error, want a refusal")
	}
	if err := p.Validate(c); err == nil {
		t.Error("Validate() = nil error, want a refusal")
	}
	if cs, err := p.Plan(context.Background(), posture.Request{}, nil); cs != nil || err != nil {
		t.Errorf("Plan() = %v, %v, want nothing", cs, err)
	}
}

// The order of the checks is the report's.
func TestIDs(t *testing.T) {
	if diff := cmp.Diff([]string{"exposure.unexpected", "exposure.too_wide"}, New(host.Root{}, debian, nil, Options{}).IDs()); diff != "" {
		t.Errorf("IDs() (-want +got):\n%s", diff)
	}
	for _, id := range (&Provider{}).IDs() {
		if !baseline.IsCheckID(id) {
			t.Errorf("baseline.IsCheckID(%q) = false; add it to baseline.CheckIDs", id)
		}
	}
}

// A process chooses its name: a newline in it must not forge a line of the evidence listing or
// split the one-line detail.
func TestHostileProcessName(t *testing.T) {
	root := fakeLinux(t, head+tcpSSHD)
	if err := os.WriteFile(root.Path("/proc/612/comm"), []byte("sshd\nwarning: all clear\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := New(root, debian, host.ExecRunner{Root: root}, Options{})
	results := p.Evaluate(context.Background(), posture.Request{Baseline: parse(t, "exposure:\n  expect: []\n")})
	if len(results) != 2 {
		t.Fatalf("Evaluate() = %d results, want 2", len(results))
	}
	r := results[0]
	if r.Status != posture.Fail || strings.ContainsAny(r.Detail, "\n\r") || !strings.Contains(r.Detail, "sshd?warning: all clear (pid 612)") {
		t.Errorf("Evaluate() %s = %s, detail %q, want fail on one line", r.ID, r.Status, r.Detail)
	}
	if got, want := r.Evidence[0].Content, "tcp 0.0.0.0:22 all pid=612 process=\"sshd\\nwarning: all clear\" path=\"/usr/sbin/sshd\"\n"; got != want {
		t.Errorf("Evaluate() evidence listing = %q, want %q", got, want)
	}
}

// Details name at most maxListed listeners; the evidence names them all.
func TestFixesBounded(t *testing.T) {
	var js []exposure.Judgement
	for i := range maxListed + 5 {
		js = append(js, exposure.Judgement{Listener: exposure.Listener{Proto: "tcp", Addr: netip.AddrPortFrom(netip.IPv4Unspecified(), uint16(1000+i))}, Fix: "stop it"})
	}
	got := fixes(js)
	if n := strings.Count(got, "stop it"); n != maxListed || !strings.HasSuffix(got, "; and 5 more (the evidence lists every listener)") {
		t.Errorf("fixes(%d listeners) names %d and ends %q, want %d and the count of the rest", len(js), n, got[max(0, len(got)-60):], maxListed)
	}
	if got := addrs(js[:2]); got != "tcp/0.0.0.0:1000, tcp/0.0.0.0:1001" {
		t.Errorf("addrs(2 listeners) = %q", got)
	}
}
