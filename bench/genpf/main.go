// Command genpf writes a synthetic pf.conf for benchmarks and scale tests of `firewarden rules`:
// N filter rules in the mix of a real host rule set (tables of trusted networks and bans, default
// blocks, stateful outbound passes, per-interface service rules for both families, quick blocks,
// port ranges, ICMP and inline anchors). With -macro-addrs and -macro-ports it instead writes
// N rules that each use one address macro and one port macro of that many elements, the shape
// that multiplies out when a rule set is expanded element by element. Output is deterministic
// for a given seed.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"strings"
)

func main() {
	n := flag.Int("rules", 10_000, "filter rules to write")
	seed := flag.Uint64("seed", 1, "random seed")
	maddrs := flag.Int("macro-addrs", 0, "with -macro-ports: addresses in the address macro every rule uses")
	mports := flag.Int("macro-ports", 0, "with -macro-addrs: ports in the port macro every rule uses")
	flag.Parse()
	if *n < 0 || *maddrs < 0 || *mports < 0 || (*maddrs == 0) != (*mports == 0) {
		fmt.Fprintln(os.Stderr, "genpf: -rules must be 0 or more; give both -macro-addrs and -macro-ports or neither")
		os.Exit(2)
	}
	r := rand.New(rand.NewPCG(*seed, 0x5eed))
	w := bufio.NewWriterSize(os.Stdout, 1<<20)
	defer w.Flush()
	if *maddrs > 0 {
		macros(w, r, *n, *maddrs, *mports)
		return
	}
	mix(w, r, *n)
}

func v4(r *rand.Rand, bits int) string {
	a := netip.AddrFrom4([4]byte{byte(r.IntN(223) + 1), byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256))})
	return netip.PrefixFrom(a, bits).Masked().String()
}

func v6(r *rand.Rand, bits int) string {
	var x [16]byte
	x[0], x[1], x[2], x[3] = 0x20, 0x01, 0x0d, 0xb8
	for i := 4; i < 8; i++ {
		x[i] = byte(r.IntN(256))
	}
	return netip.PrefixFrom(netip.AddrFrom16(x), bits).Masked().String()
}

func list(n int, f func() string) string {
	s := make([]string, n)
	for i := range s {
		s[i] = f()
	}
	return strings.Join(s, ", ")
}

func mix(w *bufio.Writer, r *rand.Rand, n int) {
	fmt.Fprintf(w, "# genpf -rules %d\n\n", n)
	fmt.Fprintf(w, "ext_if = \"en0\"\nwifi_if = \"en1\"\nvpn_if = \"utun0\"\nbridge_if = \"bridge100\"\n")
	fmt.Fprintf(w, "web = \"{ http, https, 8080 }\"\n\n")
	fmt.Fprintf(w, "table <trusted> const { %s }\n", list(24, func() string { return v4(r, 8+r.IntN(17)) }))
	fmt.Fprintf(w, "table <partners> { %s, %s }\n", list(60, func() string { return v4(r, 16+r.IntN(9)) }), list(10, func() string { return v6(r, 48) }))
	fmt.Fprintf(w, "table <bans> persist { %s, %s }\n\n", list(400, func() string { return v4(r, 32) }), list(40, func() string { return v6(r, 64) }))
	fmt.Fprintf(w, "set skip on lo0\nset block-policy drop\n\n")
	fmt.Fprintf(w, "scrub-anchor \"com.apple/*\"\nanchor \"com.apple/*\"\n\n")
	fmt.Fprintf(w, "block in all\nblock in quick from <bans>\npass out all keep state\n")
	ifs := []string{"$ext_if", "$wifi_if", "$vpn_if", "$bridge_if"}
	for k := 3; k < n; k++ {
		ifc := ifs[r.IntN(len(ifs))]
		switch x := r.IntN(20); {
		case x < 6:
			fmt.Fprintf(w, "pass in on %s proto tcp from %s to any port %d\n", ifc, v4(r, 16+r.IntN(9)), 1+r.IntN(10000))
		case x < 8:
			fmt.Fprintf(w, "block in quick on %s proto udp from %s to any port %d:%d\n", ifc, v4(r, 20+r.IntN(13)), 2000+r.IntN(1000), 3000+r.IntN(3000))
		case x < 10:
			fmt.Fprintf(w, "pass in inet6 proto tcp from %s to any port %d\n", v6(r, 48+r.IntN(17)), 1+r.IntN(10000))
		case x < 11:
			fmt.Fprintf(w, "block return in proto tcp from <partners> to any port %d\n", 1+r.IntN(1024))
		case x < 12:
			fmt.Fprintf(w, "pass out on %s proto udp to %s port domain keep state\n", ifc, v4(r, 24))
		case x < 13:
			fmt.Fprintf(w, "pass in on %s inet proto icmp from %s icmp-type { echoreq, unreach }\n", ifc, v4(r, 16))
		case x < 14:
			fmt.Fprintf(w, "pass in quick on %s proto tcp from <trusted> to self port $web\n", ifc)
		case x < 15:
			fmt.Fprintf(w, "block in log on %s from %s to any\n", ifc, v4(r, 12+r.IntN(12)))
		case x < 16 && k+11 < n:
			fmt.Fprintf(w, "anchor \"svc%d\" in on %s proto tcp {\n", k, ifc)
			for range 10 {
				fmt.Fprintf(w, "\tpass proto tcp from %s to port %d\n", v4(r, 16+r.IntN(9)), 1+r.IntN(65535))
				k++
			}
			fmt.Fprintf(w, "\tblock quick from %s\n}\n", v4(r, 24))
		case x < 18:
			fmt.Fprintf(w, "pass in on %s proto udp from any to any port { %d, %d, %d } keep state\n", ifc, 1+r.IntN(60000), 1+r.IntN(60000), 1+r.IntN(60000))
		default:
			fmt.Fprintf(w, "block in on %s proto tcp from ! %s to any port < %d\n", ifc, v4(r, 8), 1+r.IntN(1024))
		}
	}
}

// macros writes n rules that each name an address macro of na hosts and a port macro of np
// ports.
func macros(w *bufio.Writer, r *rand.Rand, n, na, np int) {
	fmt.Fprintf(w, "# genpf -rules %d -macro-addrs %d -macro-ports %d\n\n", n, na, np)
	// Short forms, so that the macros stay within pf's 64 KB macro length.
	host, port := 0, 0
	fmt.Fprintf(w, "hosts = \"{ %s }\"\n", list(na, func() string { host++; return fmt.Sprintf("10.%d.%d.%d", host>>16&255, host>>8&255, host&255) }))
	fmt.Fprintf(w, "ports = \"{ %s }\"\n\n", list(np, func() string { port++; return fmt.Sprint(port%65535 + 1) }))
	fmt.Fprintf(w, "block in all\n")
	for k := 1; k < n; k++ {
		fmt.Fprintf(w, "pass in on en%d proto tcp from $hosts to any port $ports\n", k%4)
	}
}
