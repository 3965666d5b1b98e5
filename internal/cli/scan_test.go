package cli

import (
	"encoding/json"
	"encoding/xml"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/firewarden/firewarden/internal/exposure/scan"
)

// TestNmapXML reads the XML back with the element and attribute names of nmap's DTD.
func TestNmapXML(t *testing.T) {
	start := time.Date(2026, 12, 7, 5, 0, 0, 0, time.UTC)
	rep := &scan.Report{
		Addr: netip.MustParseAddr("2001:db8::1"), Start: start, End: start.Add(1500 * time.Millisecond),
		RTT: 250 * time.Microsecond, Timeout: 100 * time.Millisecond,
		Results: []scan.Result{
			{Port: 21, State: scan.Filtered, Reason: scan.ReasonNoResponse, Tries: 2},
			{Port: 22, State: scan.Open, Reason: scan.ReasonSynAck, Tries: 1},
			{Port: 23, State: scan.Closed, Reason: scan.ReasonConnRefused, Tries: 1},
			{Port: 24, State: scan.Filtered, Reason: scan.ReasonHostUnreach, Tries: 1},
			{Port: 25, State: scan.Filtered, Reason: scan.ReasonNoResponse, Tries: 2},
		},
	}
	b, err := nmapXML("server.example", "21-25", []string{"--ports", "21-25", "server.example"}, rep)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), "<?xml") || !strings.Contains(string(b), "<!DOCTYPE nmaprun>") {
		t.Errorf("nmapXML starts %q, want the XML declaration and nmap's doctype", string(b[:min(80, len(b))]))
	}
	type state struct {
		State  string `xml:"state,attr"`
		Reason string `xml:"reason,attr"`
	}
	var got struct {
		Scanner string `xml:"scanner,attr"`
		Host    struct {
			Status  state `xml:"status"`
			Address struct {
				Addr     string `xml:"addr,attr"`
				AddrType string `xml:"addrtype,attr"`
			} `xml:"address"`
			Hostname struct {
				Name string `xml:"name,attr"`
			} `xml:"hostnames>hostname"`
			Extra []struct {
				State string `xml:"state,attr"`
				Count int    `xml:"count,attr"`
			} `xml:"ports>extraports"`
			Ports []struct {
				Protocol string `xml:"protocol,attr"`
				PortID   int    `xml:"portid,attr"`
				State    state  `xml:"state"`
				Service  struct {
					Name string `xml:"name,attr"`
				} `xml:"service"`
			} `xml:"ports>port"`
		} `xml:"host"`
		Hosts struct {
			Up    int `xml:"up,attr"`
			Total int `xml:"total,attr"`
		} `xml:"runstats>hosts"`
		Finished struct {
			Elapsed string `xml:"elapsed,attr"`
		} `xml:"runstats>finished"`
	}
	if err := xml.Unmarshal(b, &got); err != nil {
		t.Fatalf("nmapXML output does not parse: %v\n%s", err, b)
	}
	var lines []string
	lines = append(lines, got.Scanner, got.Host.Status.State, got.Host.Address.Addr, got.Host.Address.AddrType, got.Host.Hostname.Name)
	for _, e := range got.Host.Extra {
		lines = append(lines, "extra "+e.State+" "+strconv.Itoa(e.Count))
	}
	for _, p := range got.Host.Ports {
		lines = append(lines, strings.Join([]string{p.Protocol, strconv.Itoa(p.PortID), p.State.State, p.State.Reason, p.Service.Name}, " "))
	}
	lines = append(lines, "up "+strconv.Itoa(got.Hosts.Up)+"/"+strconv.Itoa(got.Hosts.Total), "elapsed "+got.Finished.Elapsed)
	want := []string{
		"firewarden", "up", "2001:db8::1", "ipv6", "server.example",
		"extra filtered 2",
		"tcp 22 open syn-ack ssh",
		"tcp 23 closed conn-refused telnet",
		"tcp 24 filtered host-unreach ",
		"up 1/1", "elapsed 1.50",
	}
	if diff := cmp.Diff(want, lines); diff != "" {
		t.Errorf("nmapXML read back (-want +got):\n%s", diff)
	}
}

// TestScanCommand scans two ports of this host's loopback, one listening, one not: the table,
// --json, and --expect's exit status.
func TestScanCommand(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Skipf("no loopback listener: %v", err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	open := ln.Addr().(*net.TCPAddr).Port
	// A port just released is not listening (another process could take it; unlikely).
	l2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l2.Addr().(*net.TCPAddr).Port
	l2.Close()
	ports := strconv.Itoa(open) + "," + strconv.Itoa(closed)
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(good, []byte("- "+strconv.Itoa(open)+"\n"), 0o600)
	os.WriteFile(bad, []byte("- "+strconv.Itoa(closed)+"\n"), 0o600)

	out, errOut, code := runCLI(t, nil, "scan", "--ports", ports, "127.0.0.1")
	if code != 0 || !strings.Contains(out, strconv.Itoa(open)+"/tcp") || !strings.Contains(out, "1 open, 1 closed, 0 filtered") ||
		!strings.Contains(out, "host up: port ") {
		t.Errorf("scan = %d, %q (stderr %q), want 0, the ping's answer and one open, one closed port", code, out, errOut)
	}
	_, _, code = runCLI(t, nil, "scan", "--ports", ports, "--expect", good, "127.0.0.1")
	if code != 0 {
		t.Errorf("scan --expect (as found) = %d, want 0", code)
	}
	out, _, code = runCLI(t, nil, "--json", "scan", "--ports", ports, "--expect", bad, "127.0.0.1")
	var j scanJSON
	if err := json.Unmarshal([]byte(out), &j); err != nil {
		t.Fatalf("scan --json: %v: %s", err, out)
	}
	if code != 1 || j.Open != 1 || j.Closed != 1 || !cmp.Equal(j.Expect, &expectDiff{Missing: []uint16{uint16(closed)}, Unexpected: []uint16{uint16(open)}}) {
		t.Errorf("scan --json --expect (differs) = %d, %s, want 1, one open, one closed, the differences", code, out)
	}
	if j.Ping == nil || j.Ping.State != scan.Open && j.Ping.State != scan.Closed {
		t.Errorf("scan --json ping = %+v, want the first answer of the ping", j.Ping)
	}
	// exposure's format: on the target's own loopback a loopback listener should be open, and
	// the closed port, allowed on loopback only, is not missing.
	lo := filepath.Join(dir, "exposure.yaml")
	os.WriteFile(lo, []byte("- {process: x, port: "+strconv.Itoa(open)+", scope: loopback}\n- {process: y, scope: any}\n"), 0o600)
	out, errOut, code = runCLI(t, nil, "scan", "--ports", ports, "--expect", lo, "127.0.0.1")
	if code != 0 || !strings.Contains(out, "open ports as expected") || !strings.Contains(errOut, "scan checks ports, so it skips it") {
		t.Errorf("scan --expect exposure.yaml 127.0.0.1 = %d, %q (stderr %q), want 0, as expected, and the note", code, out, errOut)
	}
	// The ports the file names are scanned even when --ports leaves them out.
	out, errOut, code = runCLI(t, nil, "scan", "--ports", "1", "--expect", good, "127.0.0.1")
	if code != 0 || !strings.Contains(errOut, "also scanning "+strconv.Itoa(open)) || !strings.Contains(out, strconv.Itoa(open)+"/tcp  open") {
		t.Errorf("scan --ports 1 --expect (names another port) = %d, %q (stderr %q), want 0, that port scanned", code, out, errOut)
	}
	for _, c := range [][]string{
		{"scan"},
		{"scan", "--ports", "0", "127.0.0.1"},
		{"scan", "--timeout", "0s", "127.0.0.1"},
		{"scan", "a b"},
		{"scan", "-4", "-6", "127.0.0.1"},
		{"scan", "-6", "127.0.0.1"},
	} {
		if _, errOut, code := runCLI(t, nil, c...); code != 2 || errOut == "" {
			t.Errorf("%v = %d, %q, want 2 and a message", c, code, errOut)
		}
	}
}
