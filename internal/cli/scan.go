package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/firewarden/firewarden/internal/exposure"
	"github.com/firewarden/firewarden/internal/exposure/scan"
	"github.com/firewarden/firewarden/internal/version"
)

// defaultScanPorts is what scan scans without --ports: the well-known ports. nmap's default
// (its 1000 most frequent ports) comes from its own frequency file, which we do not have.
const defaultScanPorts = "1-1024"

func scanSpec() *cmdSpec {
	return &cmdSpec{
		name: "scan", args: "HOST", summary: "TCP connect scan of a host: open, closed and filtered ports",
		desc: "Connects to each port of HOST (an IPv4 or IPv6 address, a link-local one with its interface as " +
			"fe80::1%eth0, or a name resolved once: its first IPv4 address, else its first IPv6 one; -4 or -6 chooses the " +
			"family, and the addresses not scanned are listed) and reports it open (the connection completed), closed (the host " +
			"answered with a reset) or filtered (no answer, or an ICMP unreachable). It needs neither raw sockets nor " +
			"root. The per-port timeout follows the round trip measured from the first answers (eight round trips, at " +
			"least --min-timeout, at most --timeout), so a host that drops everything does not cost the full timeout per " +
			"port; a port with no answer is tried once more (--retries). First it connects to a few likely ports at once " +
			"(80, 443, 22, the first ports of --ports and the first of --expect): the first answer, open or closed, times the " +
			"round trip; when none answers within --timeout the host seems down or drops everything, and scan stops with " +
			"exit 2 as nmap does (--no-ping scans it anyway). The table lists open and closed ports and " +
			"counts the filtered ones; --json lists every port that answered and counts those that did not; --xml FILE " +
			"writes nmap's XML format. --expect FILE compares: exit 1 on any difference. Its YAML list holds ports, ranges " +
			"or service names that should be open (- 22), or listeners in exposure's format (- {process: postgres, port: 5432, " +
			"scope: loopback}), so one file serves both commands: a port of scope any should be open; lan, open when the scan " +
			"comes from the target's LAN (both addresses private, link-local or 100.64/10) and closed otherwise; loopback, " +
			"closed unless HOST is a loopback address. Entries without a port, and UDP ones, are skipped with a note. The " +
			"ports the file names are scanned too. Exit 2 on bad input.",
		examples: []string{
			"firewarden scan 192.0.2.10",
			"firewarden scan --ports - --rate 2000 server.example.org",
			"firewarden scan --ports ssh,http,https,8000-8100 --expect open-ports.yaml 2001:db8::10",
			"firewarden scan --ports - --xml scan.xml 192.0.2.10",
		},
		run: runScan,
	}
}

// runScan is `firewarden scan HOST`.
func runScan(ctx context.Context, a *app, args []string) error {
	fs := a.flagSet("scan")
	spec := fs.String("ports", defaultScanPorts, "the ports to scan, `SPEC`: 22,80,443, ranges 8000-8100, service names (ssh, https…), - for all")
	timeout := fs.Duration("timeout", scan.DefaultTimeout, "the longest wait for an answer, `D`: before the round trip is known, and the cap after")
	minTimeout := fs.Duration("min-timeout", scan.DefaultMinTimeout, "the shortest per-port timeout, `D`, however short the round trip")
	rate := fs.Float64("rate", 0, "start at most `N` connections per second (0: no limit)")
	conc := fs.Int("concurrency", scan.DefaultConcurrency, "at most `N` connections in flight")
	retries := fs.Int("retries", 1, "try a port that gave no answer `N` more times")
	expect := fs.String("expect", "", "a YAML `FILE` listing the ports that should be open, or exposure's listeners file; exit 1 on any difference")
	xmlOut := fs.String("xml", "", "also write the result in nmap's XML format to `FILE`")
	v4 := fs.Bool("4", false, "scan the IPv4 address of a HOST name (the default when it has one)")
	v6 := fs.Bool("6", false, "scan the IPv6 address of a HOST name")
	noPing := fs.Bool("no-ping", false, "scan even a host that answers none of the first few ports tried (nmap's -Pn); each try then waits up to --timeout")
	pos, err := a.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("scan takes one HOST, got %d", len(pos))
	}
	ports, err := scan.ParsePorts(*spec)
	if err != nil {
		return usagef("--ports: %v", err)
	}
	switch {
	case *timeout <= 0:
		return usagef("--timeout %v: give a positive duration such as 1s", *timeout)
	case *minTimeout <= 0 || *minTimeout > *timeout:
		return usagef("--min-timeout %v: give a positive duration no longer than --timeout", *minTimeout)
	case *rate < 0:
		return usagef("--rate %v: give a number of connections per second, or 0 for no limit", *rate)
	case *conc < 1 || *conc > 65535:
		return usagef("--concurrency %d: give 1 to 65535", *conc)
	case *retries < 0 || *retries > 10:
		return usagef("--retries %d: give 0 to 10", *retries)
	}
	var exp *scanExpect
	if *expect != "" {
		if exp, err = readScanExpect(*expect); err != nil {
			return err
		}
		for _, n := range exp.notes {
			fmt.Fprintln(a.Err, n)
		}
	}
	host := pos[0]
	family := 0
	switch {
	case *v4 && *v6:
		return usagef("-4 and -6 exclude each other: give one, or neither")
	case *v4:
		family = 4
	case *v6:
		family = 6
	}
	addr, others, err := resolveScanHost(ctx, host, family, net.DefaultResolver.LookupNetIP)
	if err != nil {
		return err
	}
	// What the file expects depends, for listener entries, on where the scan comes from.
	var rules []portRule
	var from netip.Addr
	reach := exposure.ReachAny
	if exp != nil {
		if exp.hasListeners() {
			if from, err = sourceAddr(ctx, addr); err != nil {
				return fmt.Errorf("no route to %s: %v", addr, err)
			}
			reach = scanReach(from, addr)
		}
		rules = exp.rules(reach)
		// The ports the file names are scanned too, so that one file serves any --ports.
		var extra []uint16
		for _, r := range rules {
			if _, ok := slices.BinarySearch(ports, r.Port); !ok {
				extra = append(extra, r.Port)
			}
		}
		if len(extra) > 0 {
			if !a.g.json {
				fmt.Fprintf(a.Err, "also scanning %s, named in %s\n", scan.FormatPorts(extra), *expect)
			}
			ports = slices.Concat(ports, extra)
			slices.Sort(ports)
			*spec += "," + scan.FormatPorts(extra)
		}
	}

	o := scan.Options{Timeout: *timeout, MinTimeout: *minTimeout, Rate: *rate, Concurrency: *conc, Retries: *retries}
	if !*noPing {
		o.Ping = scan.PingPorts(ports, rulePorts(rules, true))
	}
	if isTTY(a.Err) {
		o.Progress = scanProgress(a.Err, time.Now)
	}
	if !a.g.json {
		fmt.Fprintf(a.Err, "scanning %s (%s), %s\n", host, addr, nPorts(len(ports)))
		if len(others) > 0 {
			fmt.Fprintf(a.Err, "%s has other addresses, not scanned: %s (-4 or -6 chooses the family; give an address to scan that one)\n",
				host, joinAddrs(others))
		}
	}
	start := time.Now()
	rep, err := scan.Scan(ctx, addr, ports, o)
	if o.Progress != nil {
		fmt.Fprint(a.Err, "\r\033[K")
	}
	if err != nil {
		var le *scan.LocalError
		if errors.As(err, &le) {
			return fmt.Errorf("scan stopped: %v (lower --concurrency or --rate)", le)
		}
		var down *scan.HostDownError
		if errors.As(err, &down) {
			// nmap stops too ("Host seems down"); scanning on would cost the cap on every
			// slot-full of tries and find every port filtered.
			if *xmlOut != "" {
				// nmap writes its XML for a host that seems down too: a tool reading the file
				// finds the host down, not an old file or none.
				downRep := &scan.Report{Addr: addr, Start: start, End: time.Now()}
				if err := writeNmapXML(*xmlOut, host, *spec, args, downRep); err != nil {
					return err
				}
			}
			return fmt.Errorf("%s (%s): %v; if it is up, scan it anyway with --no-ping", host, addr, down)
		}
		return err
	}
	var diff *expectDiff
	if exp != nil {
		diff = compareExpect(rules, rep.Ports(scan.Open))
		if exp.hasListeners() {
			diff.From, diff.Reach = &from, reach.String()
		}
	}
	if *xmlOut != "" {
		if err := writeNmapXML(*xmlOut, host, *spec, args, rep); err != nil {
			return err
		}
	}
	out := bufio.NewWriter(a.Out)
	if a.g.json {
		err = writeScanJSON(out, host, others, *spec, rep, diff)
	} else {
		writeScanTable(out, host, *expect, rep, diff)
	}
	if err != nil {
		return err
	}
	if err := out.Flush(); err != nil {
		return err
	}
	if diff != nil && (len(diff.Missing) > 0 || len(diff.Unexpected) > 0) {
		return exitCode(1)
	}
	return nil
}

func writeScanTable(w io.Writer, host, expectFile string, rep *scan.Report, diff *expectDiff) {
	name := rep.Addr.String()
	if host != name {
		name = host + " (" + name + ")"
	}
	fmt.Fprintf(w, "%s: %s in %s, round trip %s, timeout %s\n", name, nPorts(len(rep.Results)),
		rep.End.Sub(rep.Start).Round(time.Millisecond), rep.RTT.Round(10*time.Microsecond), rep.Timeout.Round(time.Millisecond))
	if a := rep.Ping; a != nil {
		fmt.Fprintf(w, "host up: port %d answered in %s (%s, %s)\n", a.Port, a.RTT.Round(10*time.Microsecond), a.State, a.Reason)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	listed := 0
	filtered := map[string]int{}
	for _, r := range rep.Results {
		if r.State == scan.Filtered {
			filtered[r.Reason]++
			continue
		}
		if listed == 0 {
			fmt.Fprintln(tw, "PORT\tSTATE\tSERVICE\tREASON")
		}
		listed++
		fmt.Fprintf(tw, "%d/tcp\t%s\t%s\t%s\n", r.Port, r.State, orDash(scan.ServiceName(r.Port)), r.Reason)
	}
	tw.Flush()
	if n := rep.Count(scan.Filtered); n > 0 {
		var why []string
		for _, reason := range slices.Sorted(mapKeys(filtered)) {
			why = append(why, fmt.Sprintf("%d %s", filtered[reason], reason))
		}
		fmt.Fprintf(w, "%d filtered ports not shown (%s)\n", n, strings.Join(why, ", "))
	}
	fmt.Fprintf(w, "%d open, %d closed, %d filtered\n", rep.Count(scan.Open), rep.Count(scan.Closed), rep.Count(scan.Filtered))
	if diff != nil {
		if len(diff.Missing) == 0 && len(diff.Unexpected) == 0 {
			fmt.Fprintln(w, "open ports as expected")
		}
		if len(diff.Missing) > 0 {
			fmt.Fprintf(w, "expected open but not: %s\n", scan.FormatPorts(diff.Missing))
		}
		if len(diff.Unexpected) > 0 {
			fmt.Fprintf(w, "open but not expected: %s\n", scan.FormatPorts(diff.Unexpected))
		}
		for _, r := range diff.NotAllowed {
			fmt.Fprintf(w, "  %d: %s\n", r.Port, diff.why(expectFile, r))
		}
	}
}

func nPorts(n int) string {
	if n == 1 {
		return "1 port"
	}
	return strconv.Itoa(n) + " ports"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func mapKeys(m map[string]int) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// scanJSON is scan's --json output. Ports with no answer are counted, not listed, so that a
// full scan of a host that drops everything stays small; every other port is listed.
type scanJSON struct {
	Host       string        `json:"host"`
	Addr       netip.Addr    `json:"addr"`
	OtherAddrs []netip.Addr  `json:"other_addrs,omitempty"` // the name's addresses not scanned
	Ports      string        `json:"ports"`
	Start      time.Time     `json:"start"`
	ElapsedMS  int64         `json:"elapsed_ms"`
	RTTMicros  int64         `json:"rtt_us"`
	TimeoutMS  int64         `json:"timeout_ms"`
	Tries      int           `json:"tries"`
	Ping       *pingJSON     `json:"ping,omitempty"` // the ping's first answer; absent with --no-ping
	Open       int           `json:"open"`
	Closed     int           `json:"closed"`
	Filtered   int           `json:"filtered"`
	NoResponse int           `json:"no_response"` // filtered ports with no answer, not listed
	Results    []scan.Result `json:"results"`
	Expect     *expectDiff   `json:"expect,omitempty"`
}

// pingJSON is the ping's first answer in scan's --json output.
type pingJSON struct {
	Port      uint16     `json:"port"`
	State     scan.State `json:"state"`
	Reason    string     `json:"reason"`
	RTTMicros int64      `json:"rtt_us"`
}

func writeScanJSON(w io.Writer, host string, others []netip.Addr, spec string, rep *scan.Report, diff *expectDiff) error {
	j := scanJSON{
		Host: host, Addr: rep.Addr, OtherAddrs: others, Ports: spec, Start: rep.Start.UTC(),
		ElapsedMS: rep.End.Sub(rep.Start).Milliseconds(), RTTMicros: rep.RTT.Microseconds(),
		TimeoutMS: rep.Timeout.Milliseconds(), Tries: rep.Tries,
		Open: rep.Count(scan.Open), Closed: rep.Count(scan.Closed), Filtered: rep.Count(scan.Filtered),
		Results: []scan.Result{}, Expect: diff,
	}
	if a := rep.Ping; a != nil {
		j.Ping = &pingJSON{Port: a.Port, State: a.State, Reason: a.Reason, RTTMicros: a.RTT.Microseconds()}
	}
	for _, r := range rep.Results {
		if r.Reason == scan.ReasonNoResponse {
			j.NoResponse++
			continue
		}
		j.Results = append(j.Results, r)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(j)
}

// nmap's XML output format (its nmap.dtd): the elements and attributes other tools read.
type nmapRun struct {
	XMLName          xml.Name     `xml:"nmaprun"`
	Scanner          string       `xml:"scanner,attr"`
	Args             string       `xml:"args,attr"`
	Start            int64        `xml:"start,attr"`
	StartStr         string       `xml:"startstr,attr"`
	Version          string       `xml:"version,attr"`
	XMLOutputVersion string       `xml:"xmloutputversion,attr"`
	ScanInfo         nmapScanInfo `xml:"scaninfo"`
	Host             nmapHost     `xml:"host"`
	RunStats         nmapRunStats `xml:"runstats"`
}

type nmapScanInfo struct {
	Type        string `xml:"type,attr"`
	Protocol    string `xml:"protocol,attr"`
	NumServices int    `xml:"numservices,attr"`
	Services    string `xml:"services,attr"`
}

type nmapHost struct {
	StartTime int64          `xml:"starttime,attr"`
	EndTime   int64          `xml:"endtime,attr"`
	Status    nmapStatus     `xml:"status"`
	Address   nmapAddress    `xml:"address"`
	Hostnames *nmapHostnames `xml:"hostnames,omitempty"`
	Ports     nmapPorts      `xml:"ports"`
	Times     nmapTimes      `xml:"times"`
}

type nmapStatus struct {
	State  string `xml:"state,attr"`
	Reason string `xml:"reason,attr"`
}

type nmapAddress struct {
	Addr     string `xml:"addr,attr"`
	AddrType string `xml:"addrtype,attr"`
}

type nmapHostnames struct {
	Hostname []nmapHostname `xml:"hostname"`
}

type nmapHostname struct {
	Name string `xml:"name,attr"`
	Type string `xml:"type,attr"`
}

type nmapPorts struct {
	Extra []nmapExtraPorts `xml:"extraports"`
	Port  []nmapPort       `xml:"port"`
}

type nmapExtraPorts struct {
	State   string             `xml:"state,attr"`
	Count   int                `xml:"count,attr"`
	Reasons []nmapExtraReasons `xml:"extrareasons"`
}

type nmapExtraReasons struct {
	Reason string `xml:"reason,attr"`
	Count  int    `xml:"count,attr"`
}

type nmapPort struct {
	Protocol string       `xml:"protocol,attr"`
	PortID   uint16       `xml:"portid,attr"`
	State    nmapState    `xml:"state"`
	Service  *nmapService `xml:"service,omitempty"`
}

type nmapState struct {
	State  string `xml:"state,attr"`
	Reason string `xml:"reason,attr"`
}

type nmapService struct {
	Name   string `xml:"name,attr"`
	Method string `xml:"method,attr"`
	Conf   int    `xml:"conf,attr"`
}

type nmapTimes struct {
	SRTT   int64 `xml:"srtt,attr"` // microseconds
	RTTVar int64 `xml:"rttvar,attr"`
	To     int64 `xml:"to,attr"`
}

type nmapRunStats struct {
	Finished nmapFinished `xml:"finished"`
	Hosts    nmapHosts    `xml:"hosts"`
}

type nmapFinished struct {
	Time    int64  `xml:"time,attr"`
	TimeStr string `xml:"timestr,attr"`
	Elapsed string `xml:"elapsed,attr"`
	Summary string `xml:"summary,attr"`
	Exit    string `xml:"exit,attr"`
}

type nmapHosts struct {
	Up    int `xml:"up,attr"`
	Down  int `xml:"down,attr"`
	Total int `xml:"total,attr"`
}

// nmapXML renders a report as nmap's XML output. Filtered ports with no answer are an
// extraports count, as nmap writes them; every other port is a port element. A report without
// results or ping (scan's for a host that seems down) is a host down.
func nmapXML(host, spec string, args []string, rep *scan.Report) ([]byte, error) {
	family := "ipv4"
	if rep.Addr.Is6() {
		family = "ipv6"
	}
	elapsed := rep.End.Sub(rep.Start)
	run := nmapRun{
		Scanner: "firewarden", Args: strings.Join(append([]string{"firewarden", "scan"}, args...), " "),
		Start: rep.Start.Unix(), StartStr: rep.Start.UTC().Format(time.ANSIC), Version: version.String(),
		XMLOutputVersion: "1.05",
		ScanInfo:         nmapScanInfo{Type: "connect", Protocol: "tcp", NumServices: len(rep.Results), Services: spec},
		Host: nmapHost{
			StartTime: rep.Start.Unix(), EndTime: rep.End.Unix(),
			Status:  nmapStatus{State: "unknown", Reason: "no-response"},
			Address: nmapAddress{Addr: rep.Addr.String(), AddrType: family},
			Times:   nmapTimes{SRTT: rep.RTT.Microseconds(), RTTVar: 0, To: rep.Timeout.Microseconds()},
		},
	}
	if a := rep.Ping; a != nil {
		run.Host.Status = nmapStatus{State: "up", Reason: a.Reason}
	}
	isDown := len(rep.Results) == 0 && rep.Ping == nil
	if isDown {
		run.Host.Status = nmapStatus{State: "down", Reason: "no-response"}
	}
	if host != rep.Addr.String() {
		run.Host.Hostnames = &nmapHostnames{Hostname: []nmapHostname{{Name: host, Type: "user"}}}
	}
	noResponse := 0
	for _, r := range rep.Results {
		if r.Reason == scan.ReasonNoResponse {
			noResponse++
			continue
		}
		if r.State != scan.Filtered {
			run.Host.Status = nmapStatus{State: "up", Reason: r.Reason}
		}
		p := nmapPort{Protocol: "tcp", PortID: r.Port, State: nmapState{State: r.State.String(), Reason: r.Reason}}
		if n := scan.ServiceName(r.Port); n != "" {
			p.Service = &nmapService{Name: n, Method: "table", Conf: 3}
		}
		run.Host.Ports.Port = append(run.Host.Ports.Port, p)
	}
	if noResponse > 0 {
		run.Host.Ports.Extra = []nmapExtraPorts{{State: "filtered", Count: noResponse,
			Reasons: []nmapExtraReasons{{Reason: scan.ReasonNoResponse, Count: noResponse}}}}
	}
	up, down := 0, 0
	if run.Host.Status.State == "up" {
		up = 1
	}
	if isDown {
		down = 1
	}
	run.RunStats = nmapRunStats{
		Finished: nmapFinished{
			Time: rep.End.Unix(), TimeStr: rep.End.UTC().Format(time.ANSIC),
			Elapsed: strconv.FormatFloat(elapsed.Seconds(), 'f', 2, 64), Exit: "success",
			Summary: fmt.Sprintf("firewarden scan done: 1 IP address (%d host up) scanned in %.2f seconds", up, elapsed.Seconds()),
		},
		Hosts: nmapHosts{Up: up, Down: down, Total: 1},
	}
	b, err := xml.MarshalIndent(run, "", " ")
	if err != nil {
		return nil, err
	}
	return append([]byte(xml.Header+"<!DOCTYPE nmaprun>\n"), append(b, '\n')...), nil
}

func writeNmapXML(name, host, spec string, args []string, rep *scan.Report) error {
	b, err := nmapXML(host, spec, args, rep)
	if err != nil {
		return err
	}
	if err := os.WriteFile(name, b, 0o644); err != nil {
		return fmt.Errorf("write --xml: %w", err)
	}
	return nil
}
