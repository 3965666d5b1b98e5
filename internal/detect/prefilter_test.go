package detect

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// naiveAny is the reference: lowercase the line's ASCII letters, look for each needle.
func naiveAny(needles []string, line []byte) bool {
	low := bytes.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r + 32
		}
		return r
	}, line)
	for _, n := range needles {
		if bytes.Contains(low, []byte(n)) {
			return true
		}
	}
	return false
}

func TestMultiFold(t *testing.T) {
	needles := []string{"socketfilterfw", "pfctl", "pf.conf", "com.apple.alf", "com.apple.pfctl", "w"}
	m := newMultiFold(append([]string(nil), needles...))
	for _, tc := range []struct {
		line string
		want bool
	}{
		{`{"path":"\/sbin\/pfctl"}`, true},
		{`{"path":"\/SBIN\/PFCTL"}`, true},
		{`pfct`, false},
		{`xpfctlx`, true},
		{`{"signing_id":"com.apple.PFctl"}`, true},
		{`\/etc\/pf.conf`, true},
		{`\/etc\/pf-conf`, false},
		{`W`, true},
		{``, false},
	} {
		if got := m.any([]byte(tc.line)); got != tc.want {
			t.Errorf("any(%q) = %v, want %v", tc.line, got, tc.want)
		}
	}
}

// The pre-filter only saves work: every case gives the same alerts with it and without it.
func TestInterestingChangesNothing(t *testing.T) {
	rs, err := LoadRules(true)
	if err != nil {
		t.Fatal(err)
	}
	if rs.Interesting() == nil {
		t.Fatal("the built-in pack gives no pre-filter: every line would be decoded")
	}
	dirs, _ := filepath.Glob("testdata/cases/*")
	for _, dir := range dirs {
		with, without := caseText(t, dir, true), caseText(t, dir, false)
		if with != without {
			t.Errorf("%s: alerts with the pre-filter:\n%s\nwithout:\n%s", dir, with, without)
		}
	}
}

func FuzzMultiFold(f *testing.F) {
	f.Add("pfctl,com.apple.alf", `{"path":"\/sbin\/PfCtl"}`)
	f.Add("w,x.y", "abcW")
	f.Fuzz(func(t *testing.T, ns, line string) {
		var needles []string
		for _, n := range strings.Split(strings.ToLower(ns), ",") {
			if n != "" && len(n) < 40 && isASCII(n) { // needles are ASCII (sigma's safeRun)
				needles = append(needles, n)
			}
		}
		m := newMultiFold(append([]string(nil), needles...))
		if got, want := m.any([]byte(line)), naiveAny(needles, []byte(line)); got != want {
			t.Fatalf("any(%q) with %q = %v, reference %v", line, needles, got, want)
		}
	})
}

// BenchmarkInteresting runs the built-in pack's pre-filter over the two real eslogger lines in
// the input package's testdata (mullvad's macOS 15 exec, the macOS 26 fork), neither of which
// any rule wants: the cost every unrelated line pays before it is skipped.
func BenchmarkInteresting(b *testing.B) {
	var lines [][]byte
	for _, name := range []string{"eslogger-v9-macos15-exec.json", "eslogger-v10-macos26-fork.json"} {
		data, err := os.ReadFile(filepath.Join("input", "testdata", name))
		if err != nil {
			b.Fatal(err)
		}
		lines = append(lines, bytes.TrimSpace(data))
	}
	rs, err := LoadRules(true)
	if err != nil {
		b.Fatal(err)
	}
	interesting := rs.Interesting()
	var n int64
	for _, l := range lines {
		n += int64(len(l))
		if interesting(l) {
			b.Fatalf("the pre-filter lets through %.60s…", l)
		}
	}
	b.SetBytes(n / int64(len(lines)))
	for i := 0; b.Loop(); i++ {
		interesting(lines[i%len(lines)])
	}
}
