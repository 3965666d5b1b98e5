package fwlog

import (
	"cmp"
	"fmt"
	"io"
	"net/netip"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode/utf8"
)

// Report is what `firewarden logs summarize` prints; --json carries it as is.
type Report struct {
	Inputs           []string         `json:"inputs"`
	Lines            int64            `json:"lines"`
	Parsed           int64            `json:"parsed"`
	Malformed        int64            `json:"malformed"`
	Unrecognised     int64            `json:"unrecognised"`
	Blank            int64            `json:"blank"`                       // empty or white space; parsed + malformed + unrecognised + blank = lines
	RepeatedMessages int64            `json:"repeated_messages,omitempty"` // syslog "last message repeated" lines, not expanded
	Formats          map[string]int64 `json:"formats"`
	First            string           `json:"first,omitempty"` // timestamp of the first line that has one, as written
	Last             string           `json:"last,omitempty"`
	Approximate      bool             `json:"approximate"`           // a table hit its key cap and was pruned
	ErrorBound       int64            `json:"error_bound,omitempty"` // counts may be low by at most this much
	Actions          []ActionTable    `json:"actions"`
	TopOutside       []AddrCount      `json:"top_outside"`
	TopDeniedPorts   []PortCount      `json:"top_denied_ports"`
	Rules            []NameCount      `json:"rules"`
	Interfaces       []NameCount      `json:"interfaces"`
	Protocols        []NameCount      `json:"protocols"`
	Applications     []AppCount       `json:"applications,omitempty"`
	Stealth          []NameCount      `json:"stealth_attempts,omitempty"`
	Limits           []NameCount      `json:"limits_reached,omitempty"`
	Examples         []Example        `json:"malformed_examples,omitempty"`
}

// ActionTable is the connection table of one action: rows pair both directions of a conversation.
type ActionTable struct {
	Format      string    `json:"format"`
	Action      string    `json:"action"`
	Connections int       `json:"connections"`
	Packets     int64     `json:"packets"`
	Rows        []ConnRow `json:"rows"` // the top rows by packets
}

// ConnRow is one inside↔outside pair.
type ConnRow struct {
	Proto   string `json:"proto"`
	Inside  string `json:"inside"`
	Outside string `json:"outside"`
	Dir     string `json:"dir"` // "-->" outbound only, "<--" inbound only, "<->" both
	In      int64  `json:"in"`
	Out     int64  `json:"out"`
	Other   int64  `json:"other,omitempty"` // direction not logged
}

// AddrCount is packets to or from one outside address.
type AddrCount struct {
	Addr    string `json:"addr"`
	Packets int64  `json:"packets"`
	In      int64  `json:"in"`
	Out     int64  `json:"out"`
}

// PortCount is denied packets to one destination port.
type PortCount struct {
	Port    uint16 `json:"port"`
	Proto   string `json:"proto"`
	Service string `json:"service,omitempty"`
	Packets int64  `json:"packets"`
}

// NameCount is a count by name (rule, interface, protocol).
type NameCount struct {
	Name  string `json:"name"`
	Count int64  `json:"count"`
}

// AppCount is an Application Firewall decision for one application.
type AppCount struct {
	App    string `json:"app"`
	Action string `json:"action"`
	Proto  string `json:"proto"`
	Op     string `json:"op"`
	Lines  int64  `json:"lines"`
}

// Example is a line firewarden could not read, and where it is.
type Example struct {
	Why    string `json:"why"`
	Line   string `json:"line"`
	File   string `json:"file,omitempty"`
	LineNo int64  `json:"line_number,omitempty"` // 1-based, in the file as read (after decompression)
}

func endpoint(ap netip.AddrPort, hasPort bool) string {
	if !hasPort {
		return ap.Addr().String()
	}
	return ap.String()
}

// Report builds the report; top limits every table (0: everything).
func (s *Summary) Report(top int, services Services) Report {
	r := Report{
		Lines: s.Lines, Parsed: s.Parsed, Malformed: s.Malformed, Unrecognised: s.Unrecognised, Blank: s.Blank,
		RepeatedMessages: s.Repeats, Formats: map[string]int64{},
		First: string(s.first), Last: string(s.last),
	}
	for f, n := range s.ByFormat {
		if n > 0 {
			r.Formats[Format(f).String()] = n
		}
	}
	r.Approximate = s.cs.approximate()
	r.ErrorBound = s.cs.bound()
	for _, b := range []interface {
		approximate() bool
	}{s.rules, s.ifaces, s.apps, s.limits} {
		r.Approximate = r.Approximate || b.approximate()
	}
	r.ErrorBound = max(r.ErrorBound, s.rules.bound, s.ifaces.bound, s.apps.bound)

	// Connection tables, one per action, in name order like the 2005 report; one pass over the
	// rows, and only rows that make a top-N are unpacked. Packets per action, the outside
	// addresses and the denied ports were counted as the lines came, so they stay exact (or
	// within their own bound) when the connection rows were pruned.
	type agg struct {
		rows int
		top  *best[entry[connKey]]
	}
	betterConn := func(a, b entry[connKey]) bool {
		if x, y := a.c.total(), b.c.total(); x != y {
			return x > y
		}
		return compareConn(a.key, b.key) < 0
	}
	// The packed rows are read in as many slices as there are goroutines (of at least
	// outPerWorker rows), each into top lists of its own, then merged: betterConn is a total
	// order over distinct rows, so the result does not depend on which goroutine saw what.
	k4 := s.cs.k4
	workers := max(1, min(runtime.GOMAXPROCS(0), k4.n/outPerWorker))
	per := make([][]agg, workers)
	parallel(workers, func(w int) {
		aggs := make([]agg, len(s.actNames))
		for i := range s.actNames {
			aggs[i].top = newBest(top, betterConn)
		}
		for i := int32(w * k4.n / workers); i < int32((w+1)*k4.n/workers); i++ {
			sl := k4.slot(i)
			ag := &aggs[sl.key.action()]
			ag.rows++
			if !ag.top.full() || int64(sl.c.in)+int64(sl.c.out)+int64(sl.c.other) >= ag.top.worst().c.total() || k4.spill != nil {
				ag.top.offer(entry[connKey]{sl.key.unpack(), k4.cellAt(i)})
			}
		}
		per[w] = aggs
	})
	aggs := per[0]
	for _, o := range per[1:] {
		for id := range o {
			aggs[id].rows += o[id].rows
			for _, e := range o[id].top.items {
				aggs[id].top.offer(e)
			}
		}
	}
	s.cs.k6.each(func(k connKey6, c cell) {
		aggs[k.action].rows++
		aggs[k.action].top.offer(entry[connKey]{k.unpack(), c})
	})
	s.cs.wide.each(func(k connKey, c cell) {
		aggs[k.action].rows++
		aggs[k.action].top.offer(entry[connKey]{k, c})
	})
	r.Approximate = r.Approximate || s.otherPorts.approximate()
	r.ErrorBound = max(r.ErrorBound, s.otherPorts.bound)
	ids := make([]uint16, 0, len(aggs))
	for id := range aggs {
		if aggs[id].rows > 0 || s.actPackets[id] > 0 {
			ids = append(ids, uint16(id))
		}
	}
	slices.SortFunc(ids, func(a, b uint16) int {
		return cmp.Or(cmp.Compare(s.actNames[a].name, s.actNames[b].name), cmp.Compare(s.actNames[a].format, s.actNames[b].format))
	})
	for _, id := range ids {
		ag := aggs[id]
		t := ActionTable{Format: s.actNames[id].format.String(), Action: s.actNames[id].name, Connections: ag.rows, Packets: s.actPackets[id]}
		for _, e := range ag.top.sorted() {
			// Fragments carry no ports: a row with none on either side prints bare addresses.
			hasPort := e.key.inside.Port() != 0 || e.key.outside.Port() != 0
			row := ConnRow{Proto: e.key.proto.String(), Inside: endpoint(e.key.inside, hasPort), Outside: endpoint(e.key.outside, hasPort),
				In: e.c.In, Out: e.c.Out, Other: e.c.Other, Dir: "---"}
			switch {
			case e.c.In > 0 && e.c.Out > 0:
				row.Dir = "<->"
			case e.c.In > 0:
				row.Dir = "<--"
			case e.c.Out > 0:
				row.Dir = "-->"
			}
			t.Rows = append(t.Rows, row)
		}
		r.Actions = append(r.Actions, t)
	}

	betterAddr := func(a, b entry[netip.Addr]) bool {
		if x, y := a.c.total(), b.c.total(); x != y {
			return x > y
		}
		return a.key.Less(b.key)
	}
	// One top list per goroutine that sums the outside addresses, then the best of them all
	// (betterAddr is a total order, so which goroutine offers what does not change the result).
	workers = runtime.GOMAXPROCS(0)
	tops := make([]*best[entry[netip.Addr]], workers)
	for w := range tops {
		tops[w] = newBest(top, betterAddr)
	}
	s.cs.eachOutsideCountPar(workers, func(w int, a netip.Addr, c cell) {
		if t := tops[w]; !t.full() || c.total() >= t.worst().c.total() {
			t.offer(entry[netip.Addr]{a, c})
		}
	})
	topOut := tops[0]
	for _, t := range tops[1:] {
		for _, e := range t.items {
			if !topOut.full() || e.c.total() >= topOut.worst().c.total() {
				topOut.offer(e)
			}
		}
	}
	for _, e := range topOut.sorted() {
		r.TopOutside = append(r.TopOutside, AddrCount{Addr: e.key.String(), Packets: e.c.total(), In: e.c.In, Out: e.c.Out})
	}
	topPorts := newBest(top, func(a, b entry[portKey]) bool {
		if x, y := a.c.total(), b.c.total(); x != y {
			return x > y
		}
		return a.key.port < b.key.port || a.key.port == b.key.port && a.key.proto < b.key.proto
	})
	for pi, proto := range []Proto{ProtoTCP, ProtoUDP} {
		for port := range s.ports[pi] {
			if c := s.portCell(pi, uint16(port)); c.total() > 0 {
				topPorts.offer(entry[portKey]{portKey{proto, uint16(port)}, c})
			}
		}
	}
	s.otherPorts.each(func(k portKey, c cell) { topPorts.offer(entry[portKey]{k, c}) })
	for _, e := range topPorts.sorted() {
		r.TopDeniedPorts = append(r.TopDeniedPorts, PortCount{Port: e.key.port, Proto: e.key.proto.String(),
			Service: services.Name(e.key.proto, e.key.port), Packets: e.c.total()})
	}
	byName := func(a, b string) bool { return a < b }
	for _, e := range s.rules.top(top, byName) {
		f, rule := Format(e.key[0]-'0'), e.key[1:]
		r.Rules = append(r.Rules, NameCount{f.String() + " " + rule, e.c.total()})
	}
	for _, e := range s.ifaces.top(top, byName) {
		r.Interfaces = append(r.Interfaces, NameCount{e.key, e.c.total()})
	}
	for p, n := range s.protos {
		if n > 0 {
			r.Protocols = append(r.Protocols, NameCount{Proto(p).String(), n})
		}
	}
	slices.SortFunc(r.Protocols, func(a, b NameCount) int { return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Name, b.Name)) })
	for _, e := range s.apps.top(top, byName) {
		parts := strings.SplitN(e.key, "\x00", 4)
		for len(parts) < 4 {
			parts = append(parts, "")
		}
		r.Applications = append(r.Applications, AppCount{App: parts[0], Action: parts[1], Proto: parts[2], Op: parts[3], Lines: e.c.total()})
	}
	for p, n := range s.stealth {
		if n > 0 {
			r.Stealth = append(r.Stealth, NameCount{Proto(p).String(), n})
		}
	}
	for _, e := range s.limits.top(top, byName) {
		r.Limits = append(r.Limits, NameCount{"rule " + e.key, e.c.total()})
	}
	ex := slices.Clone(s.examples)
	slices.SortStableFunc(ex, func(a, b example) int { return cmp.Compare(a.seq, b.seq) })
	if len(ex) > s.opts.Examples {
		ex = ex[:s.opts.Examples]
	}
	for _, e := range ex {
		r.Examples = append(r.Examples, Example{Why: e.why, Line: e.line, File: e.file, LineNo: e.lineNo})
	}
	return r
}

func compareConn(a, b connKey) int {
	return cmp.Or(a.inside.Compare(b.inside), a.outside.Compare(b.outside), cmp.Compare(a.proto, b.proto))
}

// WriteText prints the full report.
func (r Report) WriteText(w io.Writer) error {
	var b strings.Builder
	files := "file"
	if len(r.Inputs) != 1 {
		files = "files"
	}
	fmt.Fprintf(&b, "%s lines in %d %s: %s parsed", num(r.Lines), len(r.Inputs), files, num(r.Parsed))
	if len(r.Formats) > 0 {
		var fs []string
		for _, f := range FormatNames()[1:] {
			if n, ok := r.Formats[f]; ok {
				fs = append(fs, f+" "+num(n))
			}
		}
		fmt.Fprintf(&b, " (%s)", strings.Join(fs, ", "))
	}
	fmt.Fprintf(&b, ", %s malformed, %s not firewall lines", num(r.Malformed), num(r.Unrecognised))
	if r.Blank > 0 {
		fmt.Fprintf(&b, ", %s blank", num(r.Blank))
	}
	b.WriteString("\n")
	if r.First != "" {
		fmt.Fprintf(&b, "from %s to %s\n", r.First, r.Last)
	}
	if r.Approximate {
		fmt.Fprintf(&b, "approximate: more distinct keys than the cap; rarer entries were pruned and counts may be low by up to %s\n", num(r.ErrorBound))
	}
	for _, t := range r.Actions {
		fmt.Fprintf(&b, "\n%s (%s): %s, %s\n", t.Action, t.Format, plural(int64(t.Connections), "connection"), plural(t.Packets, "packet"))
		wi, wo := 21, 21
		for _, row := range t.Rows {
			wi, wo = max(wi, len(row.Inside)), max(wo, len(row.Outside))
		}
		fmt.Fprintf(&b, "%*s Dir %*s : %8s : %8s  %s\n", wi, "Inside IP", wo, "Outside IP", "In", "Out", "Proto")
		b.WriteString(strings.Repeat("-", wi+wo+40) + "\n")
		for _, row := range t.Rows {
			fmt.Fprintf(&b, "%*s %s %*s : %8d : %8d  %s", wi, row.Inside, row.Dir, wo, row.Outside, row.In, row.Out, row.Proto)
			if row.Other > 0 {
				fmt.Fprintf(&b, " (%d with no direction)", row.Other)
			}
			b.WriteString("\n")
		}
		if t.Connections > len(t.Rows) {
			fmt.Fprintf(&b, "%s more connections (--top 0 shows all)\n", num(int64(t.Connections-len(t.Rows))))
		}
	}
	if len(r.TopOutside) > 0 {
		fmt.Fprintf(&b, "\nTop outside addresses\n%9s %9s %9s  %s\n", "Packets", "In", "Out", "Address")
		for _, a := range r.TopOutside {
			fmt.Fprintf(&b, "%9d %9d %9d  %s\n", a.Packets, a.In, a.Out, a.Addr)
		}
	}
	if len(r.TopDeniedPorts) > 0 {
		fmt.Fprintf(&b, "\nTop denied destination ports\n%9s  %-10s %s\n", "Packets", "Port", "Service")
		for _, p := range r.TopDeniedPorts {
			line := fmt.Sprintf("%9d  %-10s %s", p.Packets, strconv.Itoa(int(p.Port))+"/"+p.Proto, p.Service)
			b.WriteString(strings.TrimRight(line, " ") + "\n")
		}
	}
	for _, sec := range []struct {
		title string
		list  []NameCount
	}{{"Rules", r.Rules}, {"Interfaces", r.Interfaces}, {"Protocols", r.Protocols}, {"Stealth Mode attempts", r.Stealth}, {"Limits reached", r.Limits}} {
		if len(sec.list) == 0 {
			continue
		}
		parts := make([]string, len(sec.list))
		for i, n := range sec.list {
			parts[i] = fmt.Sprintf("%s (%s)", n.Name, num(n.Count))
		}
		fmt.Fprintf(&b, "\n%s: %s\n", sec.title, strings.Join(parts, ", "))
	}
	if len(r.Applications) > 0 {
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "\nApplication Firewall\nApplication\tAction\tProto\tOp\tLines\n")
		for _, a := range r.Applications {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\n", a.App, a.Action, a.Proto, a.Op, a.Lines)
		}
		tw.Flush()
	}
	if r.RepeatedMessages > 0 {
		fmt.Fprintf(&b, "\n%s: \"last message repeated\" lines, counted once each, not expanded\n", num(r.RepeatedMessages))
	}
	if len(r.Examples) > 0 {
		fmt.Fprintf(&b, "\nLines not read (first %d):\n", len(r.Examples))
		for _, e := range r.Examples {
			if e.LineNo > 0 {
				fmt.Fprintf(&b, "  %s:%d: ", printable(e.File), e.LineNo)
			} else {
				b.WriteString("  ")
			}
			fmt.Fprintf(&b, "%s: %s\n", e.Why, printable(e.Line))
		}
	} else if r.Malformed+r.Unrecognised > 0 {
		verb := "lines were"
		if r.Malformed+r.Unrecognised == 1 {
			verb = "line was"
		}
		fmt.Fprintf(&b, "\n%s %s not read; --show-malformed N prints examples\n", num(r.Malformed+r.Unrecognised), verb)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func plural(n int64, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return num(n) + " " + word + "s"
}

// num prints 1234567 as 1,234,567.
func num(n int64) string {
	s := strconv.FormatInt(n, 10)
	if len(s) <= 3 || n < 0 {
		return s
	}
	var b strings.Builder
	pre := len(s) % 3
	if pre > 0 {
		b.WriteString(s[:pre])
	}
	for i := pre; i < len(s); i += 3 {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(s[i : i+3])
	}
	return b.String()
}

// printable escapes control bytes and invalid UTF-8 so a hostile log line cannot drive the
// terminal it is printed on.
func printable(s string) string {
	clean := true
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError || (r >= 0x80 && r < 0xa0) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}
