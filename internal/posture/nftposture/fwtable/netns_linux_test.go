//go:build linux

package fwtable

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/firewarden/firewarden/internal/netnstest"
)

// The kernel tests of this package run in network namespaces of their own and skip when they
// cannot make one. To run them: as root (or with CAP_NET_ADMIN and CAP_SYS_ADMIN),
// `go test ./internal/posture/nftposture/fwtable`; CI does.
const hint = "run `sudo go test ./internal/posture/nftposture/fwtable`"

// nftPath is the nft program the tests compare output with.
const nftPath = "/usr/sbin/nft"

// namedNS returns a named namespace (so that nft can be run in it) and its descriptor.
func namedNS(t *testing.T) (string, int) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skipf("needs root for a network namespace and nf_tables: %s", hint)
	}
	name, fd := netnstest.Named(t, "fwt")
	netnstest.ProbeNFTables(t, fd)
	return name, fd
}

// nftList returns `nft list table inet firewarden_posture` in namespace ns (args replace
// "list table"), or "" and false when nft is not installed.
func nftList(t *testing.T, ns string, args ...string) (string, bool) {
	t.Helper()
	if _, err := os.Stat(nftPath); err != nil {
		return "", false
	}
	if len(args) == 0 {
		args = []string{"list", "table", "inet", Table}
	}
	ip := netnstest.IPPath(t)
	out, err := exec.Command(ip, append([]string{"netns", "exec", ns, nftPath}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("nft %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out), true
}

// nftRun runs nft with args in namespace ns, skipping the test when nft is not installed.
func nftRun(t *testing.T, ns string, args ...string) string {
	t.Helper()
	out, ok := nftList(t, ns, args...)
	if !ok {
		t.Skipf("needs %s to run: apt-get install nftables", nftPath)
	}
	return out
}
