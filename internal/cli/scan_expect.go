package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v4"

	"github.com/firewarden/firewarden/internal/exposure"
	"github.com/firewarden/firewarden/internal/exposure/scan"
	"github.com/firewarden/firewarden/internal/yamlnode"
)

// maxExpectFile bounds the --expect file read.
const maxExpectFile = 1 << 20

// scanExpect is scan's --expect file. It takes two kinds of item, mixed freely in one YAML list:
// a port, a range or a service name that should be open (`- 22`, `- https`, `- "8000-8010"`),
// and a listener in exposure's format (`- {process: postgres, port: 5432, scope: loopback}`),
// so that the file written for `firewarden exposure --expect` serves scan too.
type scanExpect struct {
	file string
	// open are the ports the list's plain items name, each with the line that names it first.
	open map[uint16]int
	// listeners are the exposure entries that name a TCP port (proto tcp or none).
	listeners []exposure.Expectation
	// notes say which entries scan cannot check: a process without a port, UDP.
	notes []string
}

// readScanExpect reads the --expect file name.
func readScanExpect(name string) (*scanExpect, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, usagef("open %s: %v", name, errors.Unwrap(err))
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxExpectFile+1))
	if err != nil {
		return nil, usagef("read %s: %v", name, err)
	}
	if len(b) > maxExpectFile {
		return nil, usagef("%s: longer than %d bytes; is it a list of ports?", name, maxExpectFile)
	}
	return parseScanExpect(name, b)
}

// parseScanExpect reads the text b of the --expect file name.
func parseScanExpect(name string, b []byte) (*scanExpect, error) {
	l, err := yaml.NewLoader(bytes.NewReader(b))
	if err != nil {
		return nil, expectYAMLError(name, err)
	}
	var doc, extra yaml.Node
	switch err := l.Load(&doc); {
	case errors.Is(err, io.EOF):
		return nil, usagef("%s: empty; list the ports that should be open, one `- PORT` a line, or `[]` for none", name)
	case err != nil:
		return nil, expectYAMLError(name, err)
	}
	if err := l.Load(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, expectYAMLError(name, err)
		}
		return nil, usagef("%s:%d: a second YAML document (after ---); keep the list in one", name, extra.Line)
	}
	if len(doc.Content) == 0 {
		return nil, usagef("%s: empty; list the ports that should be open, one `- PORT` a line, or `[]` for none", name)
	}
	seq := yamlnode.Deref(doc.Content[0])
	if seq == nil || seq.Kind != yaml.SequenceNode {
		return nil, usagef("%s:%d: a list of ports (- 22) or of listeners (- {port: 5432, scope: loopback}) was expected, got %s",
			name, doc.Content[0].Line, yamlnode.KindName(doc.Content[0]))
	}
	if len(seq.Content) > exposure.MaxExpectations {
		return nil, usagef("%s:%d: more than %d entries", name, seq.Line, exposure.MaxExpectations)
	}
	e := &scanExpect{file: name, open: map[uint16]int{}}
	// Plain items are parsed one by one (a joined specification could pass ParsePorts' length
	// cap through aliases), each distinct text once, into an array: ten thousand items of
	// every port cost a second, not a minute. Listeners go to exposure's parser together,
	// with their own lines.
	var first [65536]int32 // the line that first names each port; 0: none
	parsed := map[string]bool{}
	listeners := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Line: seq.Line}
	for _, item := range seq.Content {
		it := yamlnode.Deref(item)
		switch {
		case it != nil && it.Kind == yaml.MappingNode:
			listeners.Content = append(listeners.Content, it)
			continue
		case it == nil || it.Kind != yaml.ScalarNode || yamlnode.IsNull(it):
			return nil, usagef("%s:%d: a port, a range, a service name or a listener ({port: N, scope: loopback|lan|any}) was expected", name, item.Line)
		case strings.Contains(it.Value, ","):
			return nil, usagef("%s:%d: one port or range an item, not %q", name, it.Line, it.Value)
		}
		if parsed[it.Value] {
			continue
		}
		parsed[it.Value] = true
		ps, err := scan.ParsePorts(it.Value)
		if err != nil {
			return nil, usagef("%s:%d: %v", name, it.Line, err)
		}
		for _, p := range ps {
			if first[p] == 0 {
				first[p] = int32(it.Line)
			}
		}
	}
	for p, line := range first {
		if line != 0 {
			e.open[uint16(p)] = int(line)
		}
	}
	exps, err := exposure.ExpectFromNode(listeners, name)
	if err != nil {
		return nil, usagef("%v", err)
	}
	var processOnly, udp []string
	for _, x := range exps {
		switch {
		case x.Port == 0:
			processOnly = append(processOnly, strconv.Itoa(x.Line))
		case x.Proto == "udp":
			udp = append(udp, strconv.Itoa(x.Line))
		default:
			e.listeners = append(e.listeners, x)
		}
	}
	if len(processOnly) > 0 {
		e.notes = append(e.notes, fmt.Sprintf("%s: %s a process without a port (line %s); scan checks ports, so it skips %s",
			name, plural(len(processOnly), "entry names", "entries name"), strings.Join(processOnly, ", "), plural(len(processOnly), "it", "them")))
	}
	if len(udp) > 0 {
		e.notes = append(e.notes, fmt.Sprintf("%s: %s UDP (line %s); scan checks TCP only, so it skips %s",
			name, plural(len(udp), "entry is", "entries are"), strings.Join(udp, ", "), plural(len(udp), "it", "them")))
	}
	return e, nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func expectYAMLError(name string, err error) error {
	if line, msg, ok := yamlnode.SyntaxError(err); ok {
		return usagef("%s:%d: %s", name, line, msg)
	}
	return usagef("%s: not valid YAML", name)
}

// hasListeners reports whether the file holds exposure entries, whose verdict depends on
// where the scan comes from.
func (e *scanExpect) hasListeners() bool { return len(e.listeners) > 0 }

// portRule is what the --expect file says of one port, seen from this scan.
type portRule struct {
	Port uint16 `json:"port"`
	// Open: the port should be open; otherwise it should not be.
	Open bool `json:"-"`
	// Line is the line of the item that decided.
	Line int `json:"line"`
	// Scope is that entry's scope ("" for a plain item).
	Scope string `json:"scope,omitempty"`
}

// rules says, for every port the file names, whether it should be open when seen from a scan
// of the given reach. A plain item should be open. Of the listener entries for a port, the
// widest scope decides: the port should be open when that scope reaches as far as the scan
// comes from (any: always; lan: from the target's LAN or closer; loopback: from the target
// itself), and should not be open otherwise. Sorted by port.
func (e *scanExpect) rules(from exposure.Reach) []portRule {
	byPort := map[uint16]portRule{}
	for p, line := range e.open {
		byPort[p] = portRule{Port: p, Open: true, Line: line}
	}
	widest := map[uint16]exposure.Expectation{}
	for _, x := range e.listeners {
		if w, ok := widest[x.Port]; !ok || x.Scope > w.Scope {
			widest[x.Port] = x
		}
	}
	for p, x := range widest {
		if _, plain := byPort[p]; plain {
			continue // a plain item says open, whatever the scope
		}
		byPort[p] = portRule{Port: p, Open: x.Scope >= from, Line: x.Line, Scope: x.Scope.String()}
	}
	out := make([]portRule, 0, len(byPort))
	for _, r := range byPort {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b portRule) int { return int(a.Port) - int(b.Port) })
	return out
}

// ports lists the ports of rules that should be open (wantOpen) or should not.
func rulePorts(rules []portRule, wantOpen bool) []uint16 {
	var out []uint16
	for _, r := range rules {
		if r.Open == wantOpen {
			out = append(out, r.Port)
		}
	}
	return out
}

// scanReach is how far from the target a scan from src comes: loopback when the target is this
// host's loopback, lan when both addresses are on a LAN (private, link-local or shared
// 100.64/10, as exposure classifies bind addresses), any otherwise. An invalid src (unknown)
// is any.
func scanReach(src, dst netip.Addr) exposure.Reach {
	dst = dst.Unmap()
	switch {
	case dst.IsLoopback():
		return exposure.ReachLoopback
	case src.IsValid() && exposure.Classify(src).Reach() == exposure.ReachLAN && exposure.Classify(dst).Reach() == exposure.ReachLAN:
		return exposure.ReachLAN
	}
	return exposure.ReachAny
}

// sourceAddr is the address this host would send from to reach dst: a UDP socket's connect
// chooses it by the routing table and sends nothing.
func sourceAddr(ctx context.Context, dst netip.Addr) (netip.Addr, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "udp", netip.AddrPortFrom(dst, 9).String())
	if err != nil {
		return netip.Addr{}, err
	}
	defer c.Close()
	ap, err := netip.ParseAddrPort(c.LocalAddr().String())
	if err != nil {
		return netip.Addr{}, err
	}
	return ap.Addr().Unmap(), nil
}

// expectDiff is how the open ports differ from the expected ones.
type expectDiff struct {
	Missing    []uint16 `json:"missing"`    // expected open, found closed or filtered
	Unexpected []uint16 `json:"unexpected"` // open, not expected (including those in NotAllowed)
	// NotAllowed are the open ports that a listener entry allows only closer than this scan
	// comes from (a loopback or lan scope), with the entry.
	NotAllowed []portRule `json:"not_allowed,omitempty"`
	// From is the scan's source address and Reach how far from the target it is (loopback,
	// lan or any), when the file has listener entries, whose verdict depends on them.
	From  *netip.Addr `json:"from,omitempty"`
	Reach string      `json:"reach,omitempty"`
}

// compareExpect compares the open ports with rules: a port that should be open and is not is
// missing; an open port that no rule allows is unexpected.
func compareExpect(rules []portRule, open []uint16) *expectDiff {
	d := &expectDiff{Missing: []uint16{}, Unexpected: []uint16{}}
	byPort := map[uint16]portRule{}
	for _, r := range rules {
		byPort[r.Port] = r
		if _, ok := slices.BinarySearch(open, r.Port); r.Open && !ok {
			d.Missing = append(d.Missing, r.Port)
		}
	}
	for _, p := range open {
		r, named := byPort[p]
		if named && r.Open {
			continue
		}
		d.Unexpected = append(d.Unexpected, p)
		if named {
			d.NotAllowed = append(d.NotAllowed, r)
		}
	}
	return d
}

// why says why an open port that an entry names is not allowed from here.
func (d *expectDiff) why(file string, r portRule) string {
	from := "this scan"
	if d.From != nil {
		from = "this scan from " + d.From.String()
	}
	switch r.Scope {
	case "loopback":
		return fmt.Sprintf("%s:%d allows it on loopback only, and %s reaches it from outside the host", file, r.Line, from)
	default:
		return fmt.Sprintf("%s:%d allows it on the LAN only, and %s is not on the target's LAN", file, r.Line, from)
	}
}
