//go:build linux

package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/firewarden/firewarden/internal/netnstest"
	"github.com/firewarden/firewarden/internal/ptytest"
)

// TestScanThroughTheBinary scans, with the real binary in the client namespace, a server
// namespace whose nftables rule set accepts the pair's port, resets 1000-1009 and drops the
// rest: --json, --xml and --expect's exit status, over IPv4 and IPv6.
func TestScanThroughTheBinary(t *testing.T) {
	const nft = "/usr/sbin/nft"
	if _, err := os.Stat(nft); err != nil {
		t.Skipf("needs nft (%v): apt-get install nftables", err)
	}
	p := netnstest.NewPair(t, "run as root: go test ./cmd/firewarden -run TestScanThroughTheBinary")
	rules := fmt.Sprintf("table inet e2escan {\n chain input {\n  type filter hook input priority 0; policy drop;\n"+
		"  iif \"lo\" accept\n  meta l4proto ipv6-icmp accept\n  tcp dport %d accept\n"+
		"  tcp dport 1000-1009 reject with tcp reset\n }\n}\n", p.Port)
	dir := t.TempDir()
	file := filepath.Join(dir, "rules.nft")
	os.WriteFile(file, []byte(rules), 0o600)
	if out, err := exec.Command(netnstest.IPPath(t), "netns", "exec", p.Server, nft, "-f", file).CombinedOutput(); err != nil {
		t.Fatalf("nft -f: %v: %s", err, out)
	}
	good, bad := filepath.Join(dir, "good.yaml"), filepath.Join(dir, "bad.yaml")
	os.WriteFile(good, []byte("- "+strconv.Itoa(p.Port)+"\n"), 0o600)
	// The open port is in bad.yaml too, so the ping (which tries the expected ports first)
	// finds the host up; only ssh differs.
	os.WriteFile(bad, []byte("- ssh\n- "+strconv.Itoa(p.Port)+"\n"), 0o600)
	ports := "ssh,900-1100," + strconv.Itoa(p.Port)
	var wantClosed []uint16
	for port := uint16(1000); port <= 1009; port++ {
		wantClosed = append(wantClosed, port)
	}
	for _, addr := range []string{p.Server4.String(), p.Server6.String()} {
		t.Run(addr, func(t *testing.T) {
			scanRun := func(args ...string) (string, int) {
				full := append([]string{"netns", "exec", p.Client, fwBin}, args...)
				cmd := exec.Command(netnstest.IPPath(t), full...)
				var out, errb bytes.Buffer
				cmd.Stdout, cmd.Stderr = &out, &errb
				err := cmd.Run()
				var ee *exec.ExitError
				if errors.As(err, &ee) {
					return out.String(), ee.ExitCode()
				} else if err != nil {
					t.Fatal(err)
				}
				return out.String(), 0
			}
			xmlFile := filepath.Join(t.TempDir(), "scan.xml")
			out, code := scanRun("--json", "scan", "--ports", ports, "--expect", good, "--xml", xmlFile, addr)
			var j struct {
				Addr     string `json:"addr"`
				Filtered int    `json:"filtered"`
				Results  []struct {
					Port  uint16 `json:"port"`
					State string `json:"state"`
				} `json:"results"`
			}
			if err := json.Unmarshal([]byte(out), &j); err != nil || code != 0 {
				t.Fatalf("scan --json = %d, %q (%v), want 0 and JSON", code, out, err)
			}
			var open, closed []uint16
			for _, r := range j.Results {
				switch r.State {
				case "open":
					open = append(open, r.Port)
				case "closed":
					closed = append(closed, r.Port)
				}
			}
			if diff := cmp.Diff([]uint16{uint16(p.Port)}, open); diff != "" {
				t.Errorf("open (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(wantClosed, closed); diff != "" {
				t.Errorf("closed (-want +got):\n%s", diff)
			}
			if j.Addr != addr || j.Filtered != 1+201-10 {
				t.Errorf("scan --json addr %s, %d filtered, want %s, %d", j.Addr, j.Filtered, addr, 1+201-10)
			}
			b, err := os.ReadFile(xmlFile)
			var x struct {
				Ports []struct {
					PortID int `xml:"portid,attr"`
				} `xml:"host>ports>port"`
			}
			if err != nil || xml.Unmarshal(b, &x) != nil || len(x.Ports) != 11 {
				t.Errorf("--xml wrote %d port elements (%v), want 11:\n%s", len(x.Ports), err, b)
			}
			if _, code := scanRun("scan", "--ports", ports, "--expect", bad, addr); code != 1 {
				t.Errorf("scan --expect (ssh, which is filtered) = %d, want 1", code)
			}
		})
	}
}

// scanInNS runs the binary with args in namespace ns: stdout, stderr and the exit status.
func scanInNS(t *testing.T, ns string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(netnstest.IPPath(t), append([]string{"netns", "exec", ns, fwBin}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return out.String(), errb.String(), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), 0
}

// nftIn loads rules into namespace ns, or skips the test without nft.
func nftIn(t *testing.T, ns, rules string) {
	t.Helper()
	const nft = "/usr/sbin/nft"
	if _, err := os.Stat(nft); err != nil {
		t.Skipf("needs nft (%v): apt-get install nftables", err)
	}
	file := filepath.Join(t.TempDir(), "rules.nft")
	if err := os.WriteFile(file, []byte(rules), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(netnstest.IPPath(t), "netns", "exec", ns, nft, "-f", file).CombinedOutput(); err != nil {
		t.Fatalf("nft -f: %v: %s", err, out)
	}
}

// TestScanHostDownThroughTheBinary: a host that drops everything stops the scan after the
// ping, with exit 2 and a message naming --no-ping, and nothing on stdout; --no-ping scans it.
func TestScanHostDownThroughTheBinary(t *testing.T) {
	if _, err := os.Stat("/usr/sbin/nft"); err != nil {
		t.Skipf("needs nft (%v): apt-get install nftables", err)
	}
	p := netnstest.NewPair(t, "run as root: go test ./cmd/firewarden -run TestScanHostDownThroughTheBinary")
	nftIn(t, p.Server, "table inet e2edrop {\n chain input {\n  type filter hook input priority 0; policy drop;\n"+
		"  iif \"lo\" accept\n  meta l4proto ipv6-icmp accept\n }\n}\n")
	for _, addr := range []string{p.Server4.String(), p.Server6.String()} {
		t.Run(addr, func(t *testing.T) {
			xmlFile := filepath.Join(t.TempDir(), "scan.xml")
			out, errOut, code := scanInNS(t, p.Client, "--json", "scan", "--ports", "-", "--xml", xmlFile, addr)
			if code != 2 || out != "" || !strings.Contains(errOut, "seems down or drops everything") ||
				!strings.Contains(errOut, "no answer from ports 1-3,22,80,443") || !strings.Contains(errOut, "--no-ping") {
				t.Errorf("scan of a host that drops everything = %d, stdout %q, stderr %q, want 2, nothing, and the host-down message", code, out, errOut)
			}
			// As nmap, the XML says the host is down.
			var x struct {
				Status struct {
					State string `xml:"state,attr"`
				} `xml:"host>status"`
				Hosts struct {
					Down int `xml:"down,attr"`
				} `xml:"runstats>hosts"`
			}
			if b, err := os.ReadFile(xmlFile); err != nil || xml.Unmarshal(b, &x) != nil || x.Status.State != "down" || x.Hosts.Down != 1 {
				t.Errorf("--xml of a host that seems down = %+v (%v), want host status down, 1 host down", x, err)
			}
			out, errOut, code = scanInNS(t, p.Client, "--json", "scan", "--no-ping", "--ports", "1-20", "--timeout", "200ms", "--retries", "0", addr)
			var j struct {
				Filtered int       `json:"filtered"`
				Ping     *struct{} `json:"ping"`
			}
			if err := json.Unmarshal([]byte(out), &j); err != nil || code != 0 || j.Filtered != 20 || j.Ping != nil {
				t.Errorf("scan --no-ping = %d, %q (%v; stderr %q), want 0 and 20 filtered ports, no ping", code, out, err, errOut)
			}
		})
	}
}

// TestScanExposureExpectThroughTheBinary: scan's --expect reads exposure's listener file. The
// server listens on the pair's port (scope any), 3000 (lan) and 5432 (loopback); no firewall.
// From outside the server's LAN (the pair's documentation addresses) 3000 and 5432 are open
// but not allowed; from its LAN (10.77.0.0/24 on both sides) only 5432 is.
func TestScanExposureExpectThroughTheBinary(t *testing.T) {
	p := netnstest.NewPair(t, "run as root: go test ./cmd/firewarden -run TestScanExposureExpectThroughTheBinary")
	netnstest.IP(t, "-n", p.Server, "addr", "add", "10.77.0.1/24", "dev", "vs")
	netnstest.IP(t, "-n", p.Client, "addr", "add", "10.77.0.2/24", "dev", "vc")
	for _, port := range []int{3000, 5432} {
		p.Listen(t, port)
	}
	file := filepath.Join(t.TempDir(), "exposure.yaml")
	os.WriteFile(file, []byte(fmt.Sprintf("- {process: sshd, port: %d, scope: any}\n"+
		"- {process: grafana, port: 3000, scope: lan}\n- {process: postgres, port: 5432, scope: loopback}\n"+
		"- {process: cupsd, scope: loopback}\n", p.Port)), 0o600)
	type rule struct {
		Port  uint16 `json:"port"`
		Line  int    `json:"line"`
		Scope string `json:"scope"`
	}
	for _, c := range []struct {
		addr, from, reach string
		notAllowed        []rule
	}{
		{p.Server4.String(), p.Client4.String(), "any", []rule{{3000, 2, "lan"}, {5432, 3, "loopback"}}},
		{p.Server6.String(), p.Client6.String(), "any", []rule{{3000, 2, "lan"}, {5432, 3, "loopback"}}},
		{"10.77.0.1", "10.77.0.2", "lan", []rule{{5432, 3, "loopback"}}},
	} {
		t.Run(c.addr, func(t *testing.T) {
			out, errOut, code := scanInNS(t, p.Client, "--json", "scan", "--ports", "1-100", "--expect", file, c.addr)
			var j struct {
				Expect struct {
					Missing    []uint16 `json:"missing"`
					Unexpected []uint16 `json:"unexpected"`
					NotAllowed []rule   `json:"not_allowed"`
					From       string   `json:"from"`
					Reach      string   `json:"reach"`
				} `json:"expect"`
			}
			if err := json.Unmarshal([]byte(out), &j); err != nil || code != 1 {
				t.Fatalf("scan --expect exposure.yaml = %d, %q (%v; stderr %q), want 1 and JSON", code, out, err, errOut)
			}
			if diff := cmp.Diff(c.notAllowed, j.Expect.NotAllowed); diff != "" {
				t.Errorf("not_allowed (-want +got):\n%s", diff)
			}
			if len(j.Expect.Missing) != 0 || len(j.Expect.Unexpected) != len(c.notAllowed) || j.Expect.From != c.from || j.Expect.Reach != c.reach {
				t.Errorf("expect = %+v, want nothing missing, the not allowed ports unexpected, from %s, reach %s", j.Expect, c.from, c.reach)
			}
			if !strings.Contains(errOut, "scan checks ports, so it skips it") {
				t.Errorf("stderr %q, want the note on the process-only entry", errOut)
			}
			out, _, code = scanInNS(t, p.Client, "scan", "--ports", "1-100", "--expect", file, c.addr)
			if code != 1 || !strings.Contains(out, "5432: "+file+":3 allows it on loopback only") {
				t.Errorf("scan --expect (table) = %d, %q, want 1 and why 5432 is not allowed", code, out)
			}
		})
	}
}

// TestScanHostFormsThroughTheBinary: an IPv6 link-local address with the client's interface as
// its zone is scanned; a zone-less link-local address, and an address of the other family than
// -4 or -6 asks, are exit 2 with a message.
func TestScanHostFormsThroughTheBinary(t *testing.T) {
	p := netnstest.NewPair(t, "run as root: go test ./cmd/firewarden -run TestScanHostFormsThroughTheBinary")
	// Link-local addresses of our own, without duplicate address detection (the kernel's own
	// would be tentative for a while).
	const server = "fe80::77:1"
	netnstest.IP(t, "-n", p.Server, "-6", "addr", "add", server+"/64", "dev", "vs", "nodad")
	netnstest.IP(t, "-n", p.Client, "-6", "addr", "add", "fe80::77:2/64", "dev", "vc", "nodad")
	port := strconv.Itoa(p.Port)
	out, errOut, code := scanInNS(t, p.Client, "--json", "scan", "--ports", port, server+"%vc")
	var j struct {
		Addr string `json:"addr"`
		Open int    `json:"open"`
	}
	if err := json.Unmarshal([]byte(out), &j); err != nil || code != 0 || j.Open != 1 || j.Addr != server+"%vc" {
		t.Errorf("scan %s%%vc = %d, %q (%v; stderr %q), want 0 and port %s open at that address", server, code, out, err, errOut, port)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"scan", "--ports", port, server}, "is link-local: name the interface"},
		{[]string{"scan", "--ports", port, server + "%nosuch0"}, "no interface nosuch0 on this host"},
		{[]string{"scan", "-6", "--ports", port, p.Server4.String()}, "is an IPv4 address, and -6 asks for IPv6"},
		{[]string{"scan", "-4", "--ports", port, p.Server6.String()}, "is an IPv6 address, and -4 asks for IPv4"},
	} {
		if out, errOut, code := scanInNS(t, p.Client, c.args...); code != 2 || out != "" || !strings.Contains(errOut, c.want) {
			t.Errorf("%v = %d, %q, %q, want 2 and %q", c.args, code, out, errOut, c.want)
		}
	}
}

// TestScanProgressThroughTheBinary: with stderr on a terminal, scan keeps a progress line there
// (ports done, open so far) and clears it at the end; with stderr on a pipe, no progress line.
func TestScanProgressThroughTheBinary(t *testing.T) {
	p := netnstest.NewPair(t, "run as root: go test ./cmd/firewarden -run TestScanProgressThroughTheBinary")
	nftIn(t, p.Server, fmt.Sprintf("table inet e2eprogress {\n chain input {\n  type filter hook input priority 0; policy drop;\n"+
		"  iif \"lo\" accept\n  meta l4proto ipv6-icmp accept\n  tcp dport %d accept\n }\n}\n", p.Port))
	// Dropped ports cost the 100ms floor each, 1024 at a time: a few tenths of a second, so
	// more than one progress line. The expected port is pinged first, so the host is up.
	expect := filepath.Join(t.TempDir(), "expect.yaml")
	os.WriteFile(expect, []byte("- "+strconv.Itoa(p.Port)+"\n"), 0o600)
	args := []string{"netns", "exec", p.Client, fwBin, "scan", "--ports", "1-3000", "--expect", expect, p.Server4.String()}
	master, pty := ptytest.Open(t)
	cmd := exec.Command(netnstest.IPPath(t), args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, pty
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pty.Close() // the child has its copy; the master reads EIO once it exits
	read := make(chan string)
	go func() {
		b, _ := io.ReadAll(master)
		read <- string(b)
	}()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("scan with stderr on a terminal: %v\n%s", err, out.String())
	}
	term := <-read
	if !strings.Contains(term, "\r\033[Kscan: ") || !strings.Contains(term, " ports (") || !strings.Contains(term, "1 open") ||
		!strings.HasSuffix(strings.TrimRight(term, "\r\n"), "\r\033[K") {
		t.Errorf("stderr on a terminal = %q, want progress lines (ports done, 1 open) and the line cleared at the end", term)
	}
	if !strings.Contains(out.String(), strconv.Itoa(p.Port)+"/tcp") {
		t.Errorf("stdout = %q, want the open port", out.String())
	}
	_, errOut, code := scanInNS(t, p.Client, "scan", "--ports", "1-3000", "--expect", expect, p.Server4.String())
	if code != 0 || strings.Contains(errOut, "\r") || strings.Contains(errOut, "scan: ") {
		t.Errorf("stderr on a pipe = %d, %q, want 0 and no progress line", code, errOut)
	}
}
