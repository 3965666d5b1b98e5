// Command genipfw writes a synthetic ipfw log for benchmarks: N lines over about K distinct
// connections, in the Mac OS X / FreeBSD syslog shape
// ("Nov  9 21:12:18 host kernel: ipfw: 2060 Accept TCP 192.0.2.1:119 198.51.100.2:54609 in via en0"),
// with both directions of a conversation, several actions (including "Unreach 13"), ICMP and a
// few lines of other programs. With -rules N it writes instead an ipfw rule list of N rules in the
// mix of internal/rules' realistic benchmark set, for scale tests of `firewarden rules`. Output is
// deterministic for a given seed.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
)

func main() {
	lines := flag.Int("lines", 10_000_000, "lines to write")
	conns := flag.Int("conns", 5000, "distinct connections (approximately)")
	seed := flag.Uint64("seed", 1, "random seed")
	nrules := flag.Int("rules", 0, "write an ipfw rule list of `N` rules instead of a log")
	flag.Parse()
	if *nrules > 0 {
		w := bufio.NewWriterSize(os.Stdout, 1<<20)
		defer w.Flush()
		ruleList(w, rand.New(rand.NewPCG(*seed, 0x5eed)), *nrules)
		return
	}
	if *lines < 0 || *conns < 1 {
		fmt.Fprintln(os.Stderr, "genipfw: -lines must be 0 or more and -conns 1 or more")
		os.Exit(2)
	}
	rng := rand.New(rand.NewPCG(*seed, 0x5eed))
	w := bufio.NewWriterSize(os.Stdout, 1<<20)
	defer w.Flush()
	buf := make([]byte, 0, 160)
	sec := 0
	for i := range *lines {
		if i%50 == 0 {
			sec++
		}
		buf = buf[:0]
		h, m, s := (sec/3600)%24, (sec/60)%60, sec%60
		buf = append(buf, "Nov  9 "...)
		buf = two(buf, h)
		buf = append(buf, ':')
		buf = two(buf, m)
		buf = append(buf, ':')
		buf = two(buf, s)
		if i%997 == 0 {
			buf = append(buf, " host sshd[412]: Connection closed by 198.51.100.7 port 52116\n"...)
			w.Write(buf)
			continue
		}
		c := uint64(rng.IntN(*conns))
		x := c*0x9E3779B97F4A7C15 + 12345 // spread the connection number over address bits
		inside := [4]int{10, int(x>>8) & 255, int(x>>16) & 255, int(x>>24)&254 + 1}
		outside := [4]int{int(x>>32)%223 + 1, int(x>>40) & 255, int(x>>48) & 255, int(x>>56)&254 + 1}
		ip, op := 1024+int(x>>12)%60000, []int{22, 25, 53, 80, 110, 143, 443, 445, 993, 3389, 8080}[x%11]
		action := "Accept"
		switch r := x % 100; {
		case r < 35:
			action = "Deny"
		case r < 38:
			action = "Unreach 13"
		}
		proto := "TCP"
		if x%7 == 0 {
			proto = "UDP"
		}
		buf = append(buf, " host kernel: ipfw: "...)
		buf = strconv.AppendInt(buf, int64(100+int(x%40)*10), 10)
		buf = append(buf, ' ')
		buf = append(buf, action...)
		buf = append(buf, ' ')
		out := rng.IntN(10) < 4
		if x%53 == 0 {
			buf = append(buf, "ICMP:8.0 "...)
			buf = addr(buf, outside, -1)
			buf = append(buf, ' ')
			buf = addr(buf, inside, -1)
			out = false
		} else {
			buf = append(buf, proto...)
			buf = append(buf, ' ')
			if out {
				buf = addr(buf, inside, ip)
				buf = append(buf, ' ')
				buf = addr(buf, outside, op)
			} else {
				buf = addr(buf, outside, op)
				buf = append(buf, ' ')
				buf = addr(buf, inside, ip)
			}
		}
		if out {
			buf = append(buf, " out via en0\n"...)
		} else {
			buf = append(buf, " in via en0\n"...)
		}
		w.Write(buf)
	}
}

func two(b []byte, n int) []byte { return append(b, byte('0'+n/10), byte('0'+n%10)) }

func addr(b []byte, a [4]int, port int) []byte {
	for i, p := range a {
		if i > 0 {
			b = append(b, '.')
		}
		b = strconv.AppendInt(b, int64(p), 10)
	}
	if port >= 0 {
		b = append(b, ':')
		b = strconv.AppendInt(b, int64(port), 10)
	}
	return b
}

// ruleList writes n rules: loopback and anti-spoofing first, then per-host and per-network allows
// and denies on service ports, ICMP types, interface rules and counts, numbered in order (numbers
// repeat once there are more rules than numbers), and a final deny.
func ruleList(w *bufio.Writer, r *rand.Rand, n int) {
	fmt.Fprintf(w, "00100 allow ip from any to any via lo*\n00200 deny ip from 127.0.0.0/8 to any in\n00300 deny ip from any to 127.0.0.0/8 in\n")
	for i := range n - 4 {
		num := 1000 + i*63000/n
		host := fmt.Sprintf("10.%d.%d.%d", r.IntN(200), r.IntN(250), 1+r.IntN(250))
		net := fmt.Sprintf("172.%d.%d.0/24", 16+r.IntN(16), r.IntN(250))
		port := []string{"22", "25", "80", "443", "993", "3389", "5900", "8080", "1000-2000", "137-139"}[r.IntN(10)]
		switch r.IntN(8) {
		case 0:
			fmt.Fprintf(w, "%05d deny ip from %s to any in\n", num, net)
		case 1:
			fmt.Fprintf(w, "%05d allow tcp from %s to me %s in setup\n", num, host, port)
		case 2:
			fmt.Fprintf(w, "%05d deny log tcp from %s to any %s in\n", num, net, port)
		case 3:
			fmt.Fprintf(w, "%05d allow udp from %s to me %s in\n", num, net, port)
		case 4:
			fmt.Fprintf(w, "%05d allow icmp from %s to any icmptypes 0,3,8,11\n", num, net)
		case 5:
			fmt.Fprintf(w, "%05d count tcp from any to %s %s\n", num, host, port)
		case 6:
			fmt.Fprintf(w, "%05d allow tcp from %s to %s %s recv en%d\n", num, net, host, port, r.IntN(2))
		default:
			fmt.Fprintf(w, "%05d reject tcp from %s to any %s in setup\n", num, host, port)
		}
	}
	fmt.Fprintf(w, "65000 deny ip from any to any\n")
}
