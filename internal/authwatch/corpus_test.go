package authwatch

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fail2banModes are fail2ban's sshd filter modes (config/filter.d/sshd.conf): "normal" (the
// default), "ddos" (scanners and connections closed before authenticating), "extra" (clients
// that could not agree on algorithms or methods, closes of a named user before authenticating)
// and "aggressive" (all of them).
var fail2banModes = []string{"normal", "ddos", "extra", "aggressive"}

// fail2banKindModes says in which of fail2ban's modes a line of each Kind is a failure: the
// mapping a guard's mode weights follow to count what fail2ban counts. Facts from sshd.conf:
// cmnfailre (every mode) holds the failed logins, invalid and disallowed users, ROOT LOGIN
// REFUSED, TCP wrappers, PAM errors, "maximum authentication attempts", "Too many authentication
// failures" and JSch's "Auth fail"; mdre-ddos the scanners (no identification string, bad
// banners, timeouts) and every close in [preauth]; mdre-extra failed negotiations, "No supported
// authentication methods" and "Disconnected from authenticating|invalid user … [preauth]".
// fail2ban has no rule for OpenSSH 9.8's penalties (sshd already refuses those sources); they
// are put with the scanners. A valid user's failed key counts in no mode (publickey=nofail, the
// default) until the connection gives up ("Too many authentication failures"); a failed hostbased
// key counts in every mode.
var fail2banKindModes = map[Kind]string{
	KindFailed:      "normal",
	KindInvalidUser: "normal",
	KindNotAllowed:  "normal",
	KindRootRefused: "normal",
	KindMaxAttempts: "normal",
	KindPAM:         "normal",
	KindRefused:     "normal",
	KindFailedKey:   "normal", // publickey: invalid users only; see countsIn
	KindPreauth:     "ddos",
	KindNoIdent:     "ddos",
	KindBadBanner:   "ddos",
	KindTimeout:     "ddos",
	KindPenalty:     "ddos",
	KindNoKex:       "extra",
}

// countsIn reports whether fail2ban would count a failure of f's kind in mode.
func countsIn(f Failure, mode string) bool {
	if f.Kind == KindFailedKey && !f.InvalidUser && f.Method == MethodPublickey {
		return false // publickey=nofail; hostbased failures count
	}
	m := fail2banKindModes[f.Kind]
	switch {
	case m == "":
		return false
	case f.Kind == KindPreauth:
		// mdre-ddos-other counts every close in [preauth]; mdre-extra-other only
		// "Disconnected from authenticating|invalid user … [preauth]", which authwatch
		// does not tell apart: both modes count them.
		return mode != "normal"
	case mode == "aggressive", m == "normal", m == mode:
		return true
	}
	return false
}

// guardModeZero are the kinds the guard's modes weigh 0 (internal/guard ModeWeights on branch
// h/guard @ 8bd50d2, copied here because authwatch cannot import the guard): its normal mode
// drops the pre-authentication and scanner kinds, its aggressive mode only no-ident. Every other
// kind weighs more than 0 (failed-key 0.2). Only fail2ban's normal and aggressive modes have a
// guard mode of the same name.
var guardModeZero = map[string]map[Kind]bool{
	"normal":     {KindPreauth: true, KindTimeout: true, KindBadBanner: true, KindNoKex: true, KindNoIdent: true},
	"aggressive": {KindNoIdent: true},
}

// guardCounts reports whether the guard's mode of that name gives f a weight above 0.
func guardCounts(f Failure, mode string) bool {
	zero, ok := guardModeZero[mode]
	return ok && !zero[f.Kind]
}

// f2bExpect is fail2ban's expectation for one line in one mode.
type f2bExpect struct {
	match bool
	addr  netip.Addr // the address to ban when fail2ban names one
	name  string     // a host name fail2ban names instead (UseDNS)
}

// f2bLine is one log line of fail2ban's corpus with its expectation in each mode it is tested in.
type f2bLine struct {
	file  string
	n     int
	line  string
	modes map[string]f2bExpect
}

// readFail2ban reads fail2ban's test logs: "# failJSON: {…}" before each line gives fail2ban's
// expectation ("match", and the address in "host", "ip4" or "ip6"); "# filterOptions: […]" says
// in which modes the following lines are tested (fail2ban's samplestestcase.py), and a
// failJSON's "constraint" limits that to some of them.
func readFail2ban(t *testing.T, paths []string) []f2bLine {
	t.Helper()
	var out []f2bLine
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		modes := []string{"normal"}
		var expect map[string]any
		for i, line := range strings.Split(string(data), "\n") {
			if js, ok := strings.CutPrefix(line, "# filterOptions: "); ok {
				modes = nil
				var opts []map[string]any
				if strings.HasPrefix(js, "{") {
					js = "[" + js + "]"
				}
				if err := json.Unmarshal([]byte(js), &opts); err != nil {
					t.Fatalf("%s:%d: %v", path, i+1, err)
				}
				for _, o := range opts {
					if c, ok := o["test.condition"].(string); ok && strings.ReplaceAll(c, " ", "") != "name=='sshd'" {
						t.Fatalf("%s:%d: test.condition %q not modelled", path, i+1, c)
					}
					m, _ := o["mode"].(string)
					if m == "" {
						m = "normal"
					}
					modes = append(modes, m)
				}
				continue
			}
			if js, ok := strings.CutPrefix(line, "# failJSON: "); ok {
				expect = nil
				if err := json.Unmarshal([]byte(js), &expect); err != nil {
					t.Fatalf("%s:%d: %q: %v", path, i+1, js, err)
				}
				continue
			}
			if line == "" || strings.HasPrefix(line, "#") || expect == nil {
				continue
			}
			e := expect
			expect = nil
			l := f2bLine{file: filepath.Base(path), n: i + 1, line: line, modes: map[string]f2bExpect{}}
			var x f2bExpect
			x.match, _ = e["match"].(bool)
			for _, k := range []string{"host", "ip4", "ip6"} {
				if h, ok := e[k].(string); ok {
					if a, err := netip.ParseAddr(h); err == nil {
						x.addr = a.Unmap()
					} else {
						x.name = h
					}
				}
			}
			constraint, _ := e["constraint"].(string)
			for _, m := range modes {
				ok, err := f2bConstraint(constraint, m)
				if err != nil {
					t.Fatalf("%s:%d: %v", path, i+1, err)
				}
				if ok {
					l.modes[m] = x
				}
			}
			out = append(out, l)
		}
	}
	return out
}

// f2bConstraint evaluates the few Python expressions fail2ban's corpus uses as constraints.
func f2bConstraint(c, mode string) (bool, error) {
	c = strings.ReplaceAll(c, " ", "")
	opt := mode
	if mode == "normal" {
		opt = "" // opts.get('mode') is None without a mode
	}
	switch {
	case c == "", c == "name=='sshd'":
		return true, nil
	case strings.HasPrefix(c, "opts.get('mode')=="):
		return "'"+opt+"'" == strings.TrimPrefix(c, "opts.get('mode')=="), nil
	case strings.HasPrefix(c, "opts.get('mode')!="):
		return "'"+opt+"'" != strings.TrimPrefix(c, "opts.get('mode')!="), nil
	}
	return false, fmt.Errorf("constraint %q not modelled", c)
}

// corpusEvent is what authwatch made of one line: its event after Sessions, and whether a later
// Accepted line of the same process forgave it.
type corpusEvent struct {
	Event
	forgiven bool
}

// failures returns the failures ev reports with an address: the line's own, and those of earlier
// lines of its process that it resolved.
func (ev corpusEvent) failures() []Failure {
	var fs []Failure
	if ev.Outcome == Recognised {
		fs = append(fs, ev.Failure)
	}
	return append(fs, ev.Resolved...)
}

// runCorpus classifies every line, in order, and correlates them as the guard does.
func runCorpus(lines []f2bLine) []corpusEvent {
	p := Parser{Now: testNow}
	var s *Sessions
	evs := make([]corpusEvent, len(lines))
	var counted map[int][]int // pid → indexes of lines whose failures count
	for i, l := range lines {
		if i == 0 || l.file != lines[i-1].file {
			s, counted = NewSessions(1024), map[int][]int{} // each file is a log of its own
		}
		f, o := p.Classify([]byte(l.line))
		ev := s.Feed(f, o)
		evs[i].Event = ev
		if len(evs[i].failures()) > 0 && f.PID > 0 {
			counted[f.PID] = append(counted[f.PID], i)
		}
		if n := len(ev.Forgive); n > 0 {
			idx := counted[f.PID]
			for _, j := range idx[max(len(idx)-n, 0):] {
				evs[j].forgiven = true
			}
			delete(counted, f.PID)
		}
	}
	return evs
}

// modeTally counts one mode's results.
type modeTally struct {
	pos, hit, wrong, refused, missed int // lines fail2ban counts with an IP address
	implied, impliedHit              int // lines fail2ban counts without naming the address
	names, namesCounted              int // lines fail2ban counts for a host name
	neg, negRecognised, negCounted   int // lines fail2ban does not count
	counted                          int // of hit: counted under fail2banKindModes, not forgiven
	guardHit, guardNeg               int // of pos and neg: counted under the guard's mode weights
}

func (m modeTally) String() string {
	return fmt.Sprintf("fail2ban counts %d lines naming an address: recognised with that address %d (%.1f %%), counted in this mode %d (%.1f %%), wrong address %d, refused %d, missed %d; "+
		"%d more without naming it (recognised %d); %d host names (counted %d); %d lines fail2ban does not count: recognised %d (%.1f %%), counted in this mode %d (%.1f %%)",
		m.pos, m.hit, pct(m.hit, m.pos), m.counted, pct(m.counted, m.pos), m.wrong, m.refused, m.missed,
		m.implied, m.impliedHit, m.names, m.namesCounted, m.neg, m.negRecognised, pct(m.negRecognised, m.neg), m.negCounted, pct(m.negCounted, m.neg))
}

func (m modeTally) guard() string {
	return fmt.Sprintf("under the guard's mode weights: counted %d of %d (%.1f %%); of the %d lines fail2ban does not count, %d (%.1f %%)",
		m.guardHit, m.pos, pct(m.guardHit, m.pos), m.neg, m.guardNeg, pct(m.guardNeg, m.neg))
}

func pct(a, b int) float64 { return 100 * float64(a) / float64(max(b, 1)) }

// TestFail2banCorpus measures Classify and Sessions against fail2ban's own sshd test logs, in each
// of fail2ban's modes. The logs are not kept here (GPL-2.0); testdata/README.md says how to get
// them. Run it with their paths in AUTHWATCH_FAIL2BAN:
//
//	AUTHWATCH_FAIL2BAN=/tmp/f2b/sshd:/tmp/f2b/sshd-journal:/tmp/f2b/dropbear go test ./internal/authwatch -run Fail2banCorpus -v
//
// Per mode it reports recall (lines fail2ban counts whose address authwatch recognises, also
// counting a line whose address an earlier or later line of the same sshd process gave), the
// same counted under fail2banKindModes, wrong addresses, and the lines fail2ban does not count
// that authwatch recognises and counts. It fails on any wrong address outside disagreements.
func TestFail2banCorpus(t *testing.T) {
	env := os.Getenv("AUTHWATCH_FAIL2BAN")
	if env == "" {
		t.Skip("set AUTHWATCH_FAIL2BAN to fail2ban's tests/files/logs/sshd (and sshd-journal, dropbear) to measure against its corpus")
	}
	lines := readFail2ban(t, filepath.SplitList(env))
	evs := runCorpus(lines)
	verbose := os.Getenv("AUTHWATCH_FAIL2BAN_VERBOSE") != ""
	tallies := map[string]*modeTally{}
	for _, m := range fail2banModes {
		tallies[m] = new(modeTally)
	}
	for i, l := range lines {
		fs := evs[i].failures()
		for _, m := range fail2banModes {
			x, tested := l.modes[m]
			if !tested {
				continue
			}
			n := tallies[m]
			counted, guard := false, false
			for _, f := range fs {
				counted = counted || (!evs[i].forgiven && countsIn(f, m))
				guard = guard || (!evs[i].forgiven && guardCounts(f, m))
			}
			switch {
			case !x.match:
				n.neg++
				if guard {
					n.guardNeg++
				}
				if len(fs) > 0 && !evs[i].forgiven {
					n.negRecognised++
				}
				if counted {
					n.negCounted++
					if verbose {
						t.Logf("%s:%d [%s] fail2ban does not count, authwatch counts %s %s: %s", l.file, l.n, m, fs[0].Kind, fs[0].Addr, l.line)
					}
				}
			case x.name != "":
				n.names++
				if len(fs) > 0 {
					n.namesCounted++
					t.Errorf("%s:%d: fail2ban expects the name %s, authwatch counts %s: %s", l.file, l.n, x.name, fs[0].Addr, l.line)
				}
			case !x.addr.IsValid():
				n.implied++
				if len(fs) > 0 {
					n.impliedHit++
				}
			default:
				n.pos++
				hit := false
				for _, f := range fs {
					hit = hit || f.Addr == x.addr
				}
				if hit && guard {
					n.guardHit++
				}
				switch {
				case hit:
					n.hit++
					if counted {
						n.counted++
					} else if verbose {
						t.Logf("%s:%d [%s] recognised, not counted in this mode: %s", l.file, l.n, m, l.line)
					}
				case len(fs) > 0:
					if why, ok := disagreement(l.line); ok {
						n.missed++
						if m == "normal" {
							t.Logf("%s:%d: %s (listed: %s)", l.file, l.n, l.line, why)
						}
						continue
					}
					n.wrong++
					t.Errorf("%s:%d [%s]: authwatch counts %s, fail2ban %s: %s", l.file, l.n, m, fs[0].Addr, x.addr, l.line)
				case evs[i].Outcome == Refused:
					n.refused++
					if verbose {
						t.Logf("%s:%d [%s] refused: %s", l.file, l.n, m, l.line)
					}
				default:
					n.missed++
					if verbose {
						t.Logf("%s:%d [%s] missed (%s): %s", l.file, l.n, m, evs[i].Outcome, l.line)
					}
				}
			}
		}
	}
	for _, m := range fail2banModes {
		t.Logf("mode %s: %s", m, tallies[m])
		if guardModeZero[m] != nil {
			t.Logf("mode %s %s", m, tallies[m].guard())
		}
	}
}

// disagreement looks line up in disagreements by its message, whatever its header.
func disagreement(line string) (string, bool) {
	_, msg, _ := splitHeader([]byte(line))
	for l, why := range disagreements {
		if _, m, _ := splitHeader([]byte(l)); string(m) == string(msg) {
			return why, true
		}
	}
	return "", false
}

// TestSSHGuardCorpus measures Classify and Sessions against SSHGuard's parser test table
// (src/parser/tests.txt: a log line, then the expected "SERVICE ADDR FAMILY SCORE" or "*", then
// "M"). Its SSH (service 100) and Dropbear (101) lines are the positives; every other line, of
// any service, is one authwatch must not count. Run it with the file's path in
// AUTHWATCH_SSHGUARD:
//
//	AUTHWATCH_SSHGUARD=/tmp/sshguard/src/parser/tests.txt go test ./internal/authwatch -run SSHGuardCorpus -v
func TestSSHGuardCorpus(t *testing.T) {
	path := os.Getenv("AUTHWATCH_SSHGUARD")
	if path == "" {
		t.Skip("set AUTHWATCH_SSHGUARD to SSHGuard's src/parser/tests.txt to measure against its table")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	p := Parser{Now: testNow}
	s := NewSessions(1024)
	var pos, hit, wrong, refused, missed, neg, fp int
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if l == "" || strings.HasPrefix(l, "#") || l == "M" || strings.HasPrefix(l, "M }}}") {
			continue
		}
		if i+1 >= len(lines) {
			t.Fatalf("%s:%d: no expectation after the line", path, i+1)
		}
		exp := strings.Fields(lines[i+1])
		i++
		f, o := p.Classify([]byte(l))
		ev := corpusEvent{Event: s.Feed(f, o)}
		fs := ev.failures()
		switch {
		case len(exp) == 4 && (exp[0] == "100" || exp[0] == "101"):
			pos++
			want := mustAddr(exp[1])
			switch {
			case len(fs) > 0 && fs[0].Addr == want:
				hit++
			case len(fs) > 0:
				if why, ok := disagreement(l); ok {
					missed++
					t.Logf("%s:%d: %s (listed: %s)", filepath.Base(path), i, l, why)
					continue
				}
				wrong++
				t.Errorf("%s:%d: authwatch counts %s, SSHGuard %s: %s", filepath.Base(path), i, fs[0].Addr, want, l)
			case ev.Outcome == Refused:
				refused++
				t.Logf("%s:%d: refused: %s", filepath.Base(path), i, l)
			default:
				missed++
				t.Logf("%s:%d: missed: %s", filepath.Base(path), i, l)
			}
		case len(exp) == 4 || (len(exp) == 1 && exp[0] == "*"):
			neg++
			if len(fs) > 0 {
				fp++
				t.Logf("%s:%d: SSHGuard counts no SSH attack, authwatch counts %s %s: %s", filepath.Base(path), i, fs[0].Kind, fs[0].Addr, l)
			}
		default:
			t.Fatalf("%s:%d: expectation %q", path, i+1, lines[i])
		}
	}
	t.Logf("SSHGuard table: %d SSH and Dropbear attacks: recognised with SSHGuard's address %d (%.1f %%), wrong address %d, refused %d, missed %d; %d other lines: counted %d (%.1f %%)",
		pos, hit, pct(hit, pos), wrong, refused, missed, neg, fp, pct(fp, neg))
}
