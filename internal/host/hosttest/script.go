package hosttest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// StandInScript writes body as an executable /bin/sh script at the system path sys (such as
// "/usr/bin/log") under root, for code that runs programs by their system path under --root.
// In the script, $root is the root, so it can read fixtures and leave records beside it. The
// test is skipped where there is no /bin/sh.
func StandInScript(t testing.TB, root, sys, body string) {
	t.Helper()
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("no /bin/sh to run the stand-in scripts; run on a Unix machine")
	}
	p := filepath.Join(root, filepath.FromSlash(sys))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	script := "#!/bin/sh\nroot=${0%" + sys + "}\n" + body
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
}

// Lines collects diagnostics from any goroutine: its Logf stands in for the printf-style log
// functions code under test reports through.
type Lines struct {
	mu    sync.Mutex
	lines []string
}

// Logf records one formatted line.
func (l *Lines) Logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

// String returns the lines so far, one per line.
func (l *Lines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// Count is how many lines contain s.
func (l *Lines) Count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, line := range l.lines {
		if strings.Contains(line, s) {
			n++
		}
	}
	return n
}

// RecordRun is a shell line for a StandInScript body that appends the run's argv, words
// separated by "|", as one line of ROOT/runs.log; Runs reads them back.
const RecordRun = `(IFS='|'; echo "$*") >> "$root/runs.log"` + "\n"

// Runs returns the argv of every run RecordRun recorded under root, oldest first.
func Runs(t testing.TB, root string) [][]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "runs.log"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out [][]string
	for line := range strings.Lines(string(data)) {
		out = append(out, strings.Split(strings.TrimSuffix(line, "\n"), "|"))
	}
	return out
}
