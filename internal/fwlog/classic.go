package fwlog

import (
	"bytes"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Classic reproduces the summariser of "Exploring the Mac OS X Firewall" (MacDevCenter, 2005)
// line for line, so that its users can diff old and new reports. The logic follows the script as
// reconstructed in reference logs.md §6:
//
//   - keep lines containing " ipfw: " and drop everything up to the last one;
//   - split on blanks: token 1 is the action, 3 the source, 4 the destination, 5 the direction;
//   - keep the line only if both addresses pass the script's check (one ':', three '.', a port
//     from 1 to 65535, each part from 0 to 255, compared as Perl numbers, so "xx" counts as 0);
//   - key the row by inside then outside address (source first when the direction is "out"),
//     and count the direction.
//
// So it drops what the script dropped: ICMP, IPv6, fragments, "Unreach 13" and other actions
// with a space, Stealth Mode and limit lines.
type Classic struct {
	actions map[string]map[string]*[3]int64 // action → "inside outside" → in, out, other

	// memo maps the text after " ipfw: " to the counter it bumped, so repeated lines skip the
	// parse; bounded, and switched off when lines rarely repeat.
	memo               map[string]classicHit
	memoOff            bool
	memoHits, memoMiss int64
}

type classicHit struct {
	cell *[3]int64 // nil: a line the script drops
	dir  int
}

// NewClassic returns an empty classic summary.
func NewClassic() *Classic { return &Classic{actions: map[string]map[string]*[3]int64{}} }

// Add counts one line (without its newline).
func (c *Classic) Add(line []byte) {
	const tag = " ipfw: "
	// The script strips through the last " ipfw: "; bytes.LastIndex is not vectorised, so find
	// the first and look again after it (a second tag is rare).
	i := bytes.Index(line, []byte(tag))
	if i < 0 {
		return
	}
	for {
		j := bytes.Index(line[i+1:], []byte(tag))
		if j < 0 {
			break
		}
		i += 1 + j
	}
	rest := line[i+len(tag):]
	if !c.memoOff {
		if h, ok := c.memo[string(rest)]; ok {
			c.memoHits++
			if h.cell != nil {
				h.cell[h.dir]++
			}
			return
		}
		c.memoMiss++
		if c.memoMiss > 4*memoMax && c.memoMiss > 4*c.memoHits {
			c.memoOff, c.memo = true, nil
		}
	}
	cell, dirIdx := c.count(rest)
	if !c.memoOff && len(c.memo) < memoMax {
		if c.memo == nil {
			c.memo = map[string]classicHit{}
		}
		c.memo[string(rest)] = classicHit{cell, dirIdx}
	}
}

// count applies the script's logic to the text after the last " ipfw: " and returns the counter
// it bumped (nil when the script drops the line).
func (c *Classic) count(rest []byte) (*[3]int64, int) {
	var tok [6][]byte
	n := 0
	for n < 6 {
		var t []byte
		t, rest = nextPerlField(rest)
		if t == nil {
			break
		}
		tok[n] = t
		n++
	}
	if n < 5 || !perlAddress(tok[3]) || !perlAddress(tok[4]) {
		return nil, 0
	}
	action, from, to := tok[1], tok[3], tok[4]
	var dir []byte
	if n == 6 {
		dir = tok[5]
	}
	inside, outside := to, from
	if string(dir) == "out" {
		inside, outside = from, to
	}
	rows, ok := c.actions[string(action)]
	if !ok {
		rows = map[string]*[3]int64{}
		c.actions[string(action)] = rows
	}
	var keyBuf [128]byte
	key := append(append(append(keyBuf[:0], inside...), ' '), outside...)
	cell, ok := rows[string(key)]
	if !ok {
		cell = new([3]int64)
		rows[string(key)] = cell
	}
	d := 2
	switch string(dir) {
	case "in":
		d = 0
	case "out":
		d = 1
	}
	cell[d]++
	return cell, d
}

// Merge adds another classic summary into c.
func (c *Classic) Merge(o *Classic) {
	c.memo, o.memo = nil, nil // cells move between maps
	for action, rows := range o.actions {
		mine, ok := c.actions[action]
		if !ok {
			c.actions[action] = rows
			continue
		}
		for k, v := range rows {
			if m, ok := mine[k]; ok {
				m[0] += v[0]
				m[1] += v[1]
				m[2] += v[2]
			} else {
				mine[k] = v
			}
		}
	}
}

// Rows is the number of distinct rows.
func (c *Classic) Rows() int {
	n := 0
	for _, rows := range c.actions {
		n += len(rows)
	}
	return n
}

// WriteTo prints the tables exactly as the script's printf calls do: actions and rows in string
// order, widths 21/3/21/8/8, 69 dashes, a blank line after each table.
func (c *Classic) WriteTo(w io.Writer) (int64, error) {
	var b strings.Builder
	actions := make([]string, 0, len(c.actions))
	for a := range c.actions {
		actions = append(actions, a)
	}
	sort.Strings(actions)
	for _, a := range actions {
		rows := c.actions[a]
		keys := make([]string, 0, len(rows))
		for k := range rows {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		fmt.Fprintf(&b, "%s\n", a)
		fmt.Fprintf(&b, "%21s Dir %21s : %8s : %8s\n", "Inside IP", "Outside IP", "In", "Out")
		b.WriteString(strings.Repeat("-", 69) + "\n")
		for _, k := range keys {
			cell := rows[k]
			inside, outside, _ := strings.Cut(k, " ")
			fmt.Fprintf(&b, "%21s %s %21s : %8d : %8d\n", inside, classicDir(cell), outside, cell[0], cell[1])
		}
		b.WriteString("\n")
	}
	n, err := io.WriteString(w, b.String())
	return int64(n), err
}

// nextPerlField is one field of Perl's split(' ', ...): leading blanks skipped, blanks separate.
// It returns nil at the end of the line.
func nextPerlField(b []byte) (field, rest []byte) {
	i := 0
	for i < len(b) && isPerlSpace(b[i]) {
		i++
	}
	if i == len(b) {
		return nil, nil
	}
	j := i
	for j < len(b) && !isPerlSpace(b[j]) {
		j++
	}
	return b[i:j], b[j:]
}

func isPerlSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

// perlAddress is the script's address check: exactly one ':', exactly three '.', the port from 1
// to 65535 and each dotted part from 0 to 255, all compared as Perl numbers.
func perlAddress(b []byte) bool {
	if bytes.Count(b, []byte(":")) != 1 || bytes.Count(b, []byte(".")) != 3 {
		return false
	}
	host, port, _ := bytes.Cut(b, []byte(":"))
	if p := perlNum(port); p < 1 || p > 65535 {
		return false
	}
	for {
		part, rest, more := bytes.Cut(host, []byte("."))
		if v := perlNum(part); v < 0 || v > 255 {
			return false
		}
		if !more {
			break
		}
		host = rest
	}
	return true
}

// perlNum converts like Perl's numeric context for the integers the script compares: leading
// blanks, an optional sign, then digits; anything else ends the number ("xx" is 0).
func perlNum(b []byte) float64 {
	b = skipSpaces(b)
	neg := false
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		neg = b[0] == '-'
		b = b[1:]
	}
	var v float64
	for _, c := range b {
		if c < '0' || c > '9' {
			break
		}
		v = v*10 + float64(c-'0')
	}
	if neg {
		v = -v
	}
	return v
}

// ClassicTable is one action's table of the classic report, for --json.
type ClassicTable struct {
	Action string       `json:"action"`
	Rows   []ClassicRow `json:"rows"`
}

// ClassicRow is one row of a classic table.
type ClassicRow struct {
	Inside  string `json:"inside"`
	Dir     string `json:"dir"`
	Outside string `json:"outside"`
	In      int64  `json:"in"`
	Out     int64  `json:"out"`
}

// Tables returns the classic report as data, in the order WriteTo prints it.
func (c *Classic) Tables() []ClassicTable {
	actions := make([]string, 0, len(c.actions))
	for a := range c.actions {
		actions = append(actions, a)
	}
	sort.Strings(actions)
	out := []ClassicTable{}
	for _, a := range actions {
		t := ClassicTable{Action: a, Rows: []ClassicRow{}}
		keys := make([]string, 0, len(c.actions[a]))
		for k := range c.actions[a] {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			cell := c.actions[a][k]
			inside, outside, _ := strings.Cut(k, " ")
			t.Rows = append(t.Rows, ClassicRow{Inside: inside, Dir: classicDir(cell), Outside: outside, In: cell[0], Out: cell[1]})
		}
		out = append(out, t)
	}
	return out
}

func classicDir(cell *[3]int64) string {
	switch {
	case cell[0] > 0 && cell[1] > 0:
		return "<->"
	case cell[0] > 0:
		return "<--"
	}
	return "-->"
}
