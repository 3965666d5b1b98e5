package hosttest

import (
	"errors"
	"fmt"
	"os"
	"sort"

	"github.com/firewarden/firewarden/internal/host"
)

// Debian12 is the fake Linux root LayoutLinux writes: system path to content. The values are the
// ones the README's block and guard examples print (host fakelinux, default routers
// 192.168.1.1 and fe80::1, name server 192.168.1.53).
//
// /etc/os-release is Debian 12's as shipped by base-files 12.4; /proc/net/route follows
// fib_route_seq_show in Linux's net/ipv4/fib_trie.c (tab-separated, addresses as host-order
// hex, 127-column padding omitted: firewarden splits on white space), and /proc/net/ipv6_route
// follows ipv6_route_native_seq_show in net/ipv6/route.c. The routes are a typical home network:
// eth0 on 192.168.1.0/24 with the router at .1, and an IPv6 default route via the router's
// link-local address.
var Debian12 = map[string]string{
	"/etc/os-release": `PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
SUPPORT_URL="https://www.debian.org/support"
BUG_REPORT_URL="https://bugs.debian.org/"
`,
	hostnameFile:       "fakelinux\n",
	"/etc/resolv.conf": "# written by macemu layout-linux\nnameserver 192.168.1.53\n",
	"/proc/net/route": "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n" +
		"eth0\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n" +
		"eth0\t0001A8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\n",
	"/proc/net/ipv6_route": "" +
		"fe800000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0\n" +
		"00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000400 00000001 00000000 00000003     eth0\n",
	// Empty: the guard example appends sshd's lines to it while the guard follows it.
	"/var/log/auth.log": "",
}

// LayoutLinux writes a fake Debian 12 under root (the files of Debian12), for running the real
// binary's Linux code paths with --root: OS detection, block autoconfigure, and a guard that
// follows /var/log/auth.log. Files already there are replaced; others are left alone.
// LayoutLinux refuses the real root "/".
func LayoutLinux(root string) error {
	if err := os.MkdirAll(root, 0o755); err != nil {
		return fmt.Errorf("lay out fake linux: %w", err)
	}
	r, err := host.NewRoot(root)
	if err != nil {
		return err
	}
	if r.IsSystem() {
		return errors.New("lay out fake linux: refusing to write over the real system root /; give a scratch directory")
	}
	paths := make([]string, 0, len(Debian12))
	for p := range Debian12 {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		if err := writeFileAtomic(r.Path(p), []byte(Debian12[p]), 0o644); err != nil {
			return fmt.Errorf("lay out fake linux: %w", err)
		}
	}
	return nil
}
