// Command authparse counts SSH authentication failures per address in an auth log with
// internal/authwatch, for bench/auth-vs-tools.sh to time against sshguard's and fail2ban's
// parsers on the same file. It prints the totals on standard output:
//
//	lines N
//	failures N
//	refused N          (sshd failure lines whose address could be the client's: not counted)
//	connections N      (failures grouped by sshd process id and address: one attempt each)
//	addresses N
//	kind KIND N        (one line per kind seen)
//	addr ADDR N        (with -addrs: every address and its count, most failures first)
//
// It is a measuring tool, not the guard: the guard daemon (issue #6) is a later piece.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"sort"
	"time"

	"github.com/firewarden/firewarden/internal/authwatch"
)

func main() {
	addrs := flag.Bool("addrs", false, "print every address with its count")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: authparse [-addrs] FILE|-")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(flag.Arg(0), *addrs, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "authparse:", err)
		os.Exit(1)
	}
}

func run(path string, printAddrs bool, out io.Writer) error {
	in := os.Stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	p := authwatch.Parser{Now: time.Now()}
	counts := map[netip.Addr]int{}
	var kinds [256]int
	lines, failures, refused, conns := 0, 0, 0, 0
	// One connection writes several failure lines under one sshd pid (reference adaptive.md §7);
	// the last address seen per pid groups them. Lines without a pid count one each.
	lastByPID := map[int]netip.Addr{}
	r := bufio.NewReaderSize(in, 1<<20)
	for {
		line, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A line over 1 MiB is no sshd line; skip the rest of it.
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = r.ReadSlice('\n')
			}
			lines++
			continue
		}
		if len(line) > 0 {
			lines++
			switch f, o := p.Classify(line); o {
			case authwatch.Refused:
				refused++
			case authwatch.Recognised:
				failures++
				counts[f.Addr]++
				kinds[f.Kind]++
				if f.PID == 0 || lastByPID[f.PID] != f.Addr {
					conns++
					if f.PID != 0 {
						lastByPID[f.PID] = f.Addr
					}
				}
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	w := bufio.NewWriter(out)
	fmt.Fprintf(w, "lines %d\nfailures %d\nrefused %d\nconnections %d\naddresses %d\n", lines, failures, refused, conns, len(counts))
	for k, n := range kinds {
		if n > 0 {
			fmt.Fprintf(w, "kind %s %d\n", authwatch.Kind(k), n)
		}
	}
	if printAddrs {
		list := make([]netip.Addr, 0, len(counts))
		for a := range counts {
			list = append(list, a)
		}
		sort.Slice(list, func(i, j int) bool {
			if counts[list[i]] != counts[list[j]] {
				return counts[list[i]] > counts[list[j]]
			}
			return list[i].Less(list[j])
		})
		for _, a := range list {
			fmt.Fprintf(w, "addr %s %d\n", a, counts[a])
		}
	}
	return w.Flush()
}
