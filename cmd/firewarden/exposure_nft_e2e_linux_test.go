//go:build linux

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/firewarden/firewarden/internal/netnstest"
)

// On Linux the FIREWALL column follows the nftables ruleset of the namespace the binary runs in:
// this test holds four sockets in a fresh namespace whose ruleset accepts one TCP port from
// anywhere and one UDP port from 10.0.0.0/8, drops the rest, and runs `exposure --json` there.
func TestExposureLinuxFirewall(t *testing.T) {
	const nft = "/usr/sbin/nft"
	if os.Geteuid() != 0 {
		t.Skip("needs root for a network namespace: run as root: go test ./cmd/firewarden -run TestExposureLinuxFirewall")
	}
	if _, err := os.Stat(nft); err != nil {
		t.Skipf("needs nft (%v): apt-get install nftables", err)
	}
	name, fd := netnstest.Named(t, "expo")
	netnstest.ProbeNFTables(t, fd)
	netnstest.IP(t, "-n", name, "link", "set", "lo", "up")
	var open, closed, local net.Listener
	var udp net.PacketConn
	err := netnstest.InNetNS(fd, func() error {
		var err error
		if open, err = net.Listen("tcp4", "0.0.0.0:0"); err != nil {
			return err
		}
		if closed, err = net.Listen("tcp4", "0.0.0.0:0"); err != nil {
			return err
		}
		if local, err = net.Listen("tcp4", "127.0.0.1:0"); err != nil {
			return err
		}
		udp, err = net.ListenPacket("udp4", "0.0.0.0:0")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []interface{ Close() error }{open, closed, local, udp} {
		t.Cleanup(func() { c.Close() })
	}
	port := func(a net.Addr) int {
		switch a := a.(type) {
		case *net.TCPAddr:
			return a.Port
		case *net.UDPAddr:
			return a.Port
		}
		return 0
	}
	rules := fmt.Sprintf("table inet e2eexpo {\n chain input {\n  type filter hook input priority 0; policy drop;\n"+
		"  iif \"lo\" accept\n  tcp dport %d accept\n  ip saddr 10.0.0.0/8 udp dport %d accept\n }\n}\n", port(open.Addr()), port(udp.LocalAddr()))
	file := filepath.Join(t.TempDir(), "rules.nft")
	os.WriteFile(file, []byte(rules), 0o600)
	if out, err := exec.Command(netnstest.IPPath(t), "netns", "exec", name, nft, "-f", file).CombinedOutput(); err != nil {
		t.Fatalf("nft -f: %v: %s", err, out)
	}

	cmd := exec.Command(netnstest.IPPath(t), "netns", "exec", name, fwBin, "--json", "exposure")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("firewarden --json exposure in the namespace: %v\n%s", err, stderr.String())
	}
	var out struct {
		Listeners []struct {
			Proto, Addr string
			PID         int
			Firewall    *struct{ Verdict, Why string }
		}
		Warnings []string
	}
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("firewarden --json exposure: %v\n%s", err, stdout.String())
	}
	got := map[string]string{}
	for _, l := range out.Listeners {
		if l.PID != os.Getpid() {
			continue
		}
		if l.Firewall == nil {
			got[l.Proto+"/"+l.Addr] = "(none)"
			continue
		}
		got[l.Proto+"/"+l.Addr] = l.Firewall.Verdict + ": " + l.Firewall.Why
	}
	want := map[string]string{
		"tcp/" + open.Addr().String():     fmt.Sprintf("allowed: nftables accepts new tcp connections to port %d from anywhere (inet e2eexpo input handle 3)", port(open.Addr())),
		"tcp/" + closed.Addr().String():   fmt.Sprintf("blocked: no nftables rule accepts new tcp connections to port %d over ipv4", port(closed.Addr())),
		"tcp/" + local.Addr().String():    "loopback_only: bound to loopback: no other host can connect, whatever the firewall says",
		"udp/" + udp.LocalAddr().String(): fmt.Sprintf("allowed: nftables accepts new udp connections to port %d from 10.0.0.0/8 only (inet e2eexpo input handle 4)", port(udp.LocalAddr())),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("firewarden --json exposure verdicts of this test's sockets (-want +got):\n%s\nstderr: %s", diff, stderr.String())
	}
	// A container runtime's CLI installed without its daemon (as on some build machines) warns
	// that its published ports are not listed; that is the machine's, not the firewall's.
	var warnings []string
	for _, w := range out.Warnings {
		if !strings.Contains(w, " ps --format json ") {
			warnings = append(warnings, w)
		}
	}
	if len(warnings) > 0 {
		t.Errorf("warnings %q, want none", warnings)
	}
}
