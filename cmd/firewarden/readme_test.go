//go:build unix

package main

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode"

	"github.com/google/go-cmp/cmp"
)

var updateReadme = flag.Bool("update-readme", false, "rewrite the outputs in README.md from a run of its commands (varying fields keep the README's values)")

// readmePath is the README whose examples TestReadme runs, relative to this package.
const readmePath = "../../README.md"

// Markers, on the line right before a fenced block (blank lines between allowed):
//
//   - `<!-- readme: not run: REASON -->` keeps TestReadme from running a command block (a
//     reason is required; such blocks are counted and listed);
//   - `<!-- readme: file PATH -->` says the block shows the file PATH of the repository, which
//     TestReadme checks byte for byte (and -update-readme copies in);
//   - `<!-- readme: needs TOOL... -->` runs the block only when every TOOL is installed (curl
//     and jq for the fleet's API, say); without one, the block and the rest of its `## `
//     section, which build on it, are skipped and said so. CI installs them all.
var (
	notRunMarker = regexp.MustCompile(`^<!-- readme: not run: (\S.*?) -->$`)
	fileMarker   = regexp.MustCompile(`^<!-- readme: file (\S+) -->$`)
	needsMarker  = regexp.MustCompile(`^<!-- readme: needs ([a-z0-9][a-z0-9 .+-]*?) -->$`)
)

// readmeCommandTimeout bounds one README command (a hang guard, not a speed check). The go
// commands (`go build`, `go run`) get readmeGoTimeout: on a fresh CI machine they compile
// everything from an empty cache, which took 56 s and more on two loaded cores.
const (
	readmeCommandTimeout = 60 * time.Second
	readmeGoTimeout      = 15 * time.Minute
)

// readmeCmd is one `$ ` line of a README block and the output the README shows under it.
type readmeCmd struct {
	line    int      // 1-based line of the command in the README
	command string   // without the "$ "
	want    []string // the lines shown under it, up to the next command or the block's end
}

// readmeBlock is one fenced block that holds `$ ` lines or follows a file marker.
type readmeBlock struct {
	line    int      // 1-based line of the opening fence
	notRun  string   // the not-run marker's reason; "" when the block runs
	file    string   // the file marker's path; "" for a command block
	needs   []string // the tools the needs marker names
	section string   // the `## ` heading the block is under
	body    []string
	cmds    []readmeCmd
}

// parseReadme returns the fenced blocks of a Markdown text that hold at least one line starting
// with "$ " (a command block: each command with the lines under it) or that follow a file
// marker. A command block starts with a command; a marker it does not recognise is an error.
func parseReadme(text string) ([]readmeBlock, error) {
	lines := strings.Split(text, "\n")
	var blocks []readmeBlock
	section := ""
	for i := 0; i < len(lines); i++ {
		if h, ok := strings.CutPrefix(lines[i], "## "); ok {
			section = h
		}
		if !strings.HasPrefix(lines[i], "```") {
			continue
		}
		start := i
		var body []string
		for i++; i < len(lines) && !strings.HasPrefix(lines[i], "```"); i++ {
			body = append(body, lines[i])
		}
		if i == len(lines) {
			return nil, fmt.Errorf("README line %d: fenced block never closed", start+1)
		}
		b := readmeBlock{line: start + 1, body: body, section: section}
		for k := start - 1; k >= 0; k-- {
			if strings.TrimSpace(lines[k]) == "" {
				continue
			}
			if m := notRunMarker.FindStringSubmatch(lines[k]); m != nil {
				b.notRun = m[1]
			} else if m := fileMarker.FindStringSubmatch(lines[k]); m != nil {
				b.file = m[1]
			} else if m := needsMarker.FindStringSubmatch(lines[k]); m != nil {
				b.needs = strings.Fields(m[1])
			} else if strings.Contains(lines[k], "readme:") {
				return nil, fmt.Errorf("README line %d: malformed marker %q; write <!-- readme: not run: REASON -->, <!-- readme: file PATH --> or <!-- readme: needs TOOL... -->", k+1, lines[k])
			}
			break
		}
		if b.file != "" {
			blocks = append(blocks, b)
			continue
		}
		for j, l := range body {
			if cmd, ok := strings.CutPrefix(l, "$ "); ok {
				b.cmds = append(b.cmds, readmeCmd{line: start + 2 + j, command: cmd})
				continue
			}
			if len(b.cmds) == 0 {
				break // a block that does not start with a command is not a command block
			}
			b.cmds[len(b.cmds)-1].want = append(b.cmds[len(b.cmds)-1].want, l)
		}
		if len(b.cmds) > 0 {
			b.body = nil
			blocks = append(blocks, b)
		}
	}
	return blocks, nil
}

// Fields that vary between runs. Each is replaced by its placeholder in both the README's and
// the run's output before they are compared.
var varying = []struct {
	re   *regexp.Regexp
	repl string
}{
	{regexp.MustCompile(`\b\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)`), "<TIME>"},
	{regexp.MustCompile(`\b\d{8}T\d{6}Z\b`), "<BACKUP>"},
	{regexp.MustCompile(`\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b`), "<UUID>"},
	// What `firewarden --version` takes from the build: the toolchain, the platform and the
	// commit (a scratch copy has none; a release has the tag's).
	{regexp.MustCompile(`\bgo1\.\d+(\.\d+|rc\d+)?\b`), "<GO>"},
	{regexp.MustCompile(`\b(linux|darwin)/(amd64|arm64)\b`), "<PLATFORM>"},
	{regexp.MustCompile(`\bcommit [0-9a-f]{7,40}\b`), "commit <COMMIT>"},
	{regexp.MustCompile(`\b(\d+\.\d+\.\d+)-dev(\+[0-9a-f]{12}(\.dirty)?)?`), "$1-dev<BUILD>"},
	// The fleet's secrets (32 random bytes, base64url) and the server's certificate fingerprint.
	{regexp.MustCompile(`\b(fw[ahe])_[A-Za-z0-9_-]{43}`), "${1}_<SECRET>"},
	{regexp.MustCompile(`\bSHA256:[0-9a-f]{64}\b`), "SHA256:<FINGERPRINT>"},
}

// normalise replaces the varying fields of one output line and drops trailing blanks (which
// tabwriter leaves after an empty last column and editors strip from the README).
func normalise(line string) string {
	line = strings.TrimRight(line, " \t")
	for _, v := range varying {
		line = v.re.ReplaceAllString(line, v.repl)
	}
	return line
}

// durationSlack is how far apart two durations printed in the same place may be and still match:
// a ban's time left or a dry-run's timeout shifts by the seconds between two commands, and a
// latency in µs by anything below it.
const durationSlack = 5 * time.Second

// parseShownDuration reads a duration as firewarden prints it ("15m", "14m58s", "146µs", "7d"),
// with any punctuation around it.
func parseShownDuration(tok string) (time.Duration, bool) {
	tok = strings.TrimFunc(tok, func(r rune) bool { return unicode.IsPunct(r) && r != '.' })
	tok = strings.TrimSuffix(tok, ".")
	if tok == "" || !unicode.IsDigit(rune(tok[0])) {
		return 0, false
	}
	if days, ok := strings.CutSuffix(tok, "d"); ok {
		d, err := time.ParseDuration(days + "h")
		return d * 24, err == nil
	}
	d, err := time.ParseDuration(tok)
	return d, err == nil
}

// looseEqual compares two normalised lines word by word, ignoring the width of the space between
// words, and lets durations differ by durationSlack. It reports whether they match and whether a
// duration had to be allowed to differ.
func looseEqual(want, got string) (equal, slack bool) {
	w, g := strings.Fields(want), strings.Fields(got)
	if len(w) != len(g) {
		return false, false
	}
	for i := range w {
		if w[i] == g[i] {
			continue
		}
		dw, okw := parseShownDuration(w[i])
		dg, okg := parseShownDuration(g[i])
		if !okw || !okg || (dw-dg).Abs() > durationSlack {
			return false, false
		}
		slack = true
	}
	return true, slack
}

// outputsMatch compares a command's output with the README's. Lines must match exactly once
// varying fields are replaced; only when the output holds a duration that moved (a ban's time
// left, which also changes a table's column widths) are its lines compared word by word.
func outputsMatch(want, got []string) bool {
	if len(want) != len(got) {
		return false
	}
	exact, slack := true, false
	for i := range want {
		nw, ng := normalise(want[i]), normalise(got[i])
		if nw == ng {
			continue
		}
		exact = false
		eq, s := looseEqual(nw, ng)
		if !eq {
			return false
		}
		slack = slack || s
	}
	return exact || slack
}

// linesMatch is outputsMatch for one line, for aligning lines when the README is rewritten.
func linesMatch(want, got string) bool {
	nw, ng := normalise(want), normalise(got)
	if nw == ng {
		return true
	}
	eq, slack := looseEqual(nw, ng)
	return eq && slack
}

// mergeOutput is the README's new output for a command: the run's lines, except that a line
// matching the README's line (varying fields aside) keeps the README's text, so that updating
// does not churn timestamps and IDs. Lines are aligned by their longest common subsequence.
func mergeOutput(want, got []string) []string {
	n, m := len(want), len(got)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if linesMatch(want[i], got[j]) {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	out := make([]string, 0, m)
	i, j := 0, 0
	for j < m {
		switch {
		case i < n && linesMatch(want[i], got[j]):
			out = append(out, want[i])
			i, j = i+1, j+1
		case i < n && lcs[i+1][j] >= lcs[i][j+1]:
			i++
		default:
			out = append(out, got[j])
			j++
		}
	}
	return out
}

// session is one bash process that runs the README's commands in order, so that cd, export and
// background jobs carry from one command to the next, as in a terminal.
type session struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	out    *bufio.Reader
	mark   string
	tmp    string // stands in for /tmp/ in commands and outputs
	repo   string // the scratch copy of the repository, bash's working directory
	closed bool
}

func startSession(t *testing.T, repo, tmp string) *session {
	t.Helper()
	cmd := exec.Command("bash", "--noprofile", "--norc")
	cmd.Dir = repo
	// -trimpath keeps the scratch copy's directory out of the build cache's keys, so the
	// README's `go build` and `go run` reuse earlier runs' compiled packages (the binary behaves
	// the same; only file names in its debug information change).
	goflags := strings.TrimSpace(os.Getenv("GOFLAGS") + " -trimpath")
	env := []string{"LC_ALL=C", "TZ=UTC", "TMPDIR=" + tmp, "GOFLAGS=" + goflags}
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(name, "FIREWARDEN_"), name == "LC_ALL", name == "LANG", name == "TZ", name == "TMPDIR",
			name == "GOFLAGS", name == "BASH_ENV", name == "ENV", name == "CDPATH":
			continue
		}
		env = append(env, kv)
	}
	cmd.Env = env
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = pw, pw // one stream: the README shows stdout and stderr as a terminal does
	// Its own process group, so that the daemons the README starts in the background are
	// stopped with it when a command hangs or the README forgets one.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	b := make([]byte, 8)
	rand.Read(b)
	s := &session{cmd: cmd, stdin: stdin, out: bufio.NewReader(pr), mark: "README-DONE-" + hex.EncodeToString(b), tmp: tmp, repo: repo}
	t.Cleanup(func() { s.close() })
	return s
}

func (s *session) close() {
	if s.closed {
		return
	}
	s.closed = true
	s.stdin.Close()
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		s.kill()
		<-done
	}
	s.kill() // whatever the README left running in the background
}

// kill ends bash and everything it started.
func (s *session) kill() { syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL) }

var errCommandTimeout = errors.New("timed out")

// run runs one README command and returns its combined output, with the scratch paths put back
// as the README writes them.
func (s *session) run(command string) ([]string, error) {
	command = strings.ReplaceAll(command, "/tmp/", s.tmp+"/")
	// The mark follows on a line of its own, whatever the command printed last, and leaves $? as
	// the command left it, for a README line such as `echo $?`.
	fmt.Fprintf(s.stdin, "%s\n__readme_rc=$?; printf '\\n%%s\\n' %s; (exit $__readme_rc)\n", command, s.mark)
	type result struct {
		text string
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		var buf strings.Builder
		for {
			line, err := s.out.ReadString('\n')
			if line == s.mark+"\n" {
				ch <- result{buf.String(), nil}
				return
			}
			buf.WriteString(line)
			if err != nil {
				ch <- result{buf.String(), fmt.Errorf("bash ended: %w", err)}
				return
			}
		}
	}()
	timeout := readmeCommandTimeout
	if strings.HasPrefix(command, "go ") {
		timeout = readmeGoTimeout
	}
	var r result
	select {
	case r = <-ch:
	case <-time.After(timeout):
		s.kill()
		r = <-ch
		r.err = errCommandTimeout
	}
	text := strings.TrimSuffix(r.text, "\n") // the newline printf put before the mark
	text = strings.ReplaceAll(text, s.tmp+"/", "/tmp/")
	text = strings.ReplaceAll(text, s.repo+"/", "")
	if text == "" {
		return nil, r.err
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t")
	}
	return lines, r.err
}

// copyTracked copies the files git tracks (and those staged) in the repository at src to dst:
// what a fresh clone holds, with the working tree's contents.
func copyTracked(t *testing.T, src, dst string) {
	t.Helper()
	out, err := exec.Command("git", "-C", src, "ls-files", "-z", "--cached").Output()
	if err != nil {
		t.Skipf("git ls-files in %s: %v; TestReadme needs a git checkout", src, err)
	}
	for _, name := range strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00") {
		from := filepath.Join(src, name)
		fi, err := os.Lstat(from)
		if errors.Is(err, os.ErrNotExist) {
			continue // deleted in the working tree, not yet in the index
		}
		if err != nil {
			t.Fatal(err)
		}
		to := filepath.Join(dst, name)
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			t.Fatal(err)
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			target, err := os.Readlink(from)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(target, to); err != nil {
				t.Fatal(err)
			}
			continue
		}
		data, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to, data, fi.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
}

// TestReadme runs every command block of README.md, in order, in one bash session inside a
// scratch copy of the repository, and compares each command's output (stdout and stderr
// together) with what the README shows under it. /tmp/ in the commands is a directory of the
// test's own. Times, run IDs, backup names and small shifts in printed durations are not
// compared; everything else is. Blocks preceded by `<!-- readme: not run: REASON -->` are
// skipped and counted. -update-readme rewrites the README's outputs from the run.
func TestReadme(t *testing.T) {
	for _, tool := range []string{"bash", "git"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("TestReadme runs the README's commands with %s, which is not installed", tool)
		}
	}
	src, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := parseReadme(string(data))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	repo, tmp := filepath.Join(dir, "repo"), filepath.Join(dir, "tmp")
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	copyTracked(t, src, repo)

	start := time.Now()
	s := startSession(t, repo, tmp)
	readmeLines := strings.Split(string(data), "\n")
	type rewrite struct {
		from, to int // 0-based README lines [from, to) that hold the old output
		lines    []string
	}
	var rewrites []rewrite
	ran, skipped := 0, 0
	failed := false
	missingIn := map[string]string{} // section -> the tool whose absence skips the rest of it
	for _, b := range blocks {
		if b.file != "" {
			content, err := os.ReadFile(filepath.Join(src, b.file))
			if err != nil {
				t.Errorf("README line %d shows %s: %v", b.line, b.file, err)
				continue
			}
			want := strings.Split(strings.TrimSuffix(string(content), "\n"), "\n")
			if diff := cmp.Diff(want, b.body); diff != "" {
				if *updateReadme {
					rewrites = append(rewrites, rewrite{b.line, b.line + len(b.body), want})
					continue
				}
				failed = true
				t.Errorf("README line %d: the block differs from %s (-file +README):\n%s", b.line, b.file, diff)
			}
			continue
		}
		if b.notRun != "" {
			skipped++
			t.Logf("README line %d: block not run: %s", b.line, b.notRun)
			continue
		}
		for _, tool := range b.needs {
			if _, err := exec.LookPath(tool); err != nil && missingIn[b.section] == "" {
				missingIn[b.section] = tool
			}
		}
		if tool := missingIn[b.section]; tool != "" {
			skipped++
			t.Logf("README line %d: block not run: %s is not installed and section %q needs it (CI installs it)", b.line, tool, b.section)
			continue
		}
		for _, c := range b.cmds {
			ran++
			began := time.Now()
			got, err := s.run(c.command)
			if d := time.Since(began); d > 2*time.Second {
				t.Logf("README line %d took %s: $ %s", c.line, d.Round(time.Millisecond), c.command)
			}
			if err != nil {
				t.Fatalf("README line %d: $ %s: %v; output so far:\n%s", c.line, c.command, err, strings.Join(got, "\n"))
			}
			if outputsMatch(c.want, got) {
				continue
			}
			if *updateReadme {
				rewrites = append(rewrites, rewrite{c.line, c.line + len(c.want), mergeOutput(c.want, got)})
				continue
			}
			failed = true
			t.Errorf("README line %d: $ %s\noutput differs from the README (-want +got), times, IDs and backup names aside:\n%s",
				c.line, c.command, cmp.Diff(strings.Join(c.want, "\n")+"\n", strings.Join(got, "\n")+"\n"))
		}
	}
	t.Logf("README: %d commands run in %s; %d blocks not run (marked)", ran, time.Since(start).Round(time.Millisecond), skipped)
	if failed {
		t.Log("to take the new outputs into README.md: go test ./cmd/firewarden -run '^TestReadme$' -update-readme, then review git diff README.md")
	}
	if *updateReadme && len(rewrites) > 0 {
		var out []string
		next := 0
		for _, r := range rewrites {
			out = append(out, readmeLines[next:r.from]...)
			out = append(out, r.lines...)
			next = r.to
		}
		out = append(out, readmeLines[next:]...)
		if err := os.WriteFile(readmePath, []byte(strings.Join(out, "\n")), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("rewrote the output of %d README commands; review git diff README.md", len(rewrites))
	}
}

func TestParseReadme(t *testing.T) {
	text := "intro\n\n```\n$ echo a\na\n$ true\n```\n\n<!-- readme: not run: needs a real Mac -->\n\n```\n$ sudo x\ny\n```\n\n```yaml\nkey: v\n```\n<!-- readme: file examples/x.yaml -->\n```yaml\nkey: w\n```\n" +
		"## Fleet\n<!-- readme: needs curl jq -->\n```\n$ curl -s x | jq .\n{}\n```\n"
	got, err := parseReadme(text)
	if err != nil {
		t.Fatal(err)
	}
	want := []readmeBlock{
		{line: 3, cmds: []readmeCmd{{line: 4, command: "echo a", want: []string{"a"}}, {line: 6, command: "true"}}},
		{line: 11, notRun: "needs a real Mac", cmds: []readmeCmd{{line: 12, command: "sudo x", want: []string{"y"}}}},
		{line: 20, file: "examples/x.yaml", body: []string{"key: w"}},
		{line: 25, needs: []string{"curl", "jq"}, section: "Fleet", cmds: []readmeCmd{{line: 26, command: "curl -s x | jq .", want: []string{"{}"}}}},
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(readmeBlock{}, readmeCmd{})); diff != "" {
		t.Errorf("parseReadme (-want +got):\n%s", diff)
	}
	for _, bad := range []string{"```\n$ x\n", "<!-- readme: skip -->\n```\n$ x\n```\n", "<!-- readme: needs -->\n```\n$ x\n```\n"} {
		if _, err := parseReadme(bad); err == nil {
			t.Errorf("parseReadme(%q) = nil error, want one", bad)
		}
	}
}

func TestOutputsMatch(t *testing.T) {
	tests := []struct {
		name      string
		want, got []string
		match     bool
	}{
		{"same", []string{"a  b"}, []string{"a  b"}, true},
		{"times and ids", []string{"backup 20261122T023641Z at 2026-11-22T02:36:41Z run 01a20110-552a-7877-8792-5eb624cf31d0"},
			[]string{"backup 20270101T000000Z at 2027-01-01T00:00:00Z run 019aaaaa-552a-7877-8792-5eb624cf31d0"}, true},
		{"version", []string{"firewarden 0.3.0-dev+0123456789ab (commit 0123456, go1.26.8, linux/amd64)"},
			[]string{"firewarden 0.3.0-dev (commit abcdef0, go1.27.1, darwin/arm64)"}, true},
		{"another release", []string{"firewarden 0.3.0 (commit abc1234, go1.26.8, linux/amd64)"},
			[]string{"firewarden 0.4.0 (commit abc1234, go1.26.8, linux/amd64)"}, false},
		{"another word", []string{"banned 203.0.113.9"}, []string{"banned 203.0.113.8"}, false},
		{"fleet secrets", []string{"admin_token  fwa_T1lwB2iYwCa0C4cAS_IKZVDsh0_jwGQP6N7wJMr90sQ", "SHA256:943e933e4f7ca426ce2a86cfcecdd3d9182167a454cbce0696d72efce82673bf"},
			[]string{"admin_token  fwa_jZaz4w73-XwSc6CputXmeq1XbDSaUwxkgyZ3-KkKhOU", "SHA256:9deec2d86f44b431355c94522d0ff02cc7f99cd47687dcdc93a3229e63cf56b7"}, true},
		{"another kind of secret", []string{"fwa_T1lwB2iYwCa0C4cAS_IKZVDsh0_jwGQP6N7wJMr90sQ"}, []string{"fwe_T1lwB2iYwCa0C4cAS_IKZVDsh0_jwGQP6N7wJMr90sQ"}, false},
		{"spacing without a duration", []string{"a  b"}, []string{"a b"}, false},
		{"a line more", []string{"a"}, []string{"a", "b"}, false},
		{"time left shifted, columns wider", []string{"LEFT  COUNT", "15m   1"}, []string{"LEFT    COUNT", "14m59s  1"}, true},
		{"latency", []string{"in the kernel 146µs after"}, []string{"in the kernel 1.2ms after"}, true},
		{"duration far off", []string{"ban for 15m"}, []string{"ban for 30m"}, false},
		{"duration instead of a word", []string{"after 3 failures"}, []string{"after 3s failures"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := outputsMatch(tt.want, tt.got); got != tt.match {
				t.Errorf("outputsMatch(%q, %q) = %v, want %v", tt.want, tt.got, got, tt.match)
			}
		})
	}
}

func TestMergeOutput(t *testing.T) {
	want := []string{"run 2026-11-22T02:36:41Z", "old line", "kept"}
	got := []string{"run 2027-01-01T00:00:00Z", "new line", "kept", "added"}
	merged := mergeOutput(want, got)
	if diff := cmp.Diff([]string{"run 2026-11-22T02:36:41Z", "new line", "kept", "added"}, merged); diff != "" {
		t.Errorf("mergeOutput (-want +got):\n%s", diff)
	}
}
