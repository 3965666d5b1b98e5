package authwatch

import (
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFail2banCorpus measures Classify against fail2ban's own sshd test logs, which are not kept
// here (GPL-2.0; testdata/fixtures holds the lines we keep, with attribution). Each log line is
// preceded by a "# failJSON: {…}" comment with fail2ban's expectation: "match" and the "host" to
// ban. Run it with the files' paths in AUTHWATCH_FAIL2BAN (testdata/README.md says how to get
// them):
//
//	AUTHWATCH_FAIL2BAN=/tmp/f2b/sshd:/tmp/f2b/sshd-journal go test ./internal/authwatch -run Fail2banCorpus -v
//
// It fails on any line where authwatch names an address other than fail2ban's, apart from the
// lines in disagreements, and logs the share of fail2ban's addresses it extracts.
func TestFail2banCorpus(t *testing.T) {
	env := os.Getenv("AUTHWATCH_FAIL2BAN")
	if env == "" {
		t.Skip("set AUTHWATCH_FAIL2BAN to fail2ban's tests/files/logs/sshd (and sshd-journal) to measure against its corpus")
	}
	type tally struct{ lines, want, correct, refused, missed, names, namesIgnored, noMatch, falsePos int }
	var all tally
	p := Parser{Now: testNow}
	for _, path := range filepath.SplitList(env) {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var n tally
		var expect map[string]any
		for _, line := range strings.Split(string(data), "\n") {
			if js, ok := strings.CutPrefix(line, "# failJSON: "); ok {
				expect = nil
				if err := json.Unmarshal([]byte(js), &expect); err != nil {
					t.Fatalf("%s: %q: %v", path, js, err)
				}
				continue
			}
			if line == "" || strings.HasPrefix(line, "#") || expect == nil {
				continue
			}
			e := expect
			expect = nil
			n.lines++
			f, o := p.Classify([]byte(line))
			match, _ := e["match"].(bool)
			host, _ := e["host"].(string)
			switch {
			case !match:
				n.noMatch++
				if o == Recognised {
					n.falsePos++
					t.Logf("%s: fail2ban does not match (in some mode), authwatch counts %s: %s", filepath.Base(path), f.Addr, line)
				}
			case host == "":
				// A later line of a multi-line failure; fail2ban names the host elsewhere.
			default:
				a, err := netip.ParseAddr(host)
				if err != nil {
					n.names++
					if o != Recognised {
						n.namesIgnored++
					} else {
						t.Errorf("%s: fail2ban expects the name %s, authwatch counts %s: %s", filepath.Base(path), host, f.Addr, line)
					}
					continue
				}
				n.want++
				switch {
				case o == Recognised && f.Addr == a.Unmap():
					n.correct++
				case o == Recognised:
					if why, ok := disagreement(line); ok {
						t.Logf("%s: %s (listed: %s)", filepath.Base(path), line, why)
						n.missed++
						continue
					}
					t.Errorf("%s: Classify(%q) = %s, fail2ban expects %s", filepath.Base(path), line, f.Addr, a)
				case o == Refused:
					n.refused++
					t.Logf("%s: refused: %s", filepath.Base(path), line)
				default:
					n.missed++
					t.Logf("%s: not recognised: %s", filepath.Base(path), line)
				}
			}
		}
		t.Logf("%s: %d lines with an expectation; fail2ban names an IP address on %d: authwatch extracts it on %d (%.1f %%), refuses %d, misses %d; host names %d (ignored %d); no match in fail2ban %d (authwatch counts %d)",
			filepath.Base(path), n.lines, n.want, n.correct, 100*float64(n.correct)/float64(max(n.want, 1)), n.refused, n.missed, n.names, n.namesIgnored, n.noMatch, n.falsePos)
		all.lines += n.lines
		all.want += n.want
		all.correct += n.correct
	}
	t.Logf("all: %d of %d addresses (%.1f %%)", all.correct, all.want, 100*float64(all.correct)/float64(max(all.want, 1)))
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
