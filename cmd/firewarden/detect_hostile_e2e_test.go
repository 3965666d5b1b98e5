package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// esExec is a small eslogger exec line (the keys the reader uses, in the shape of the v9 sample
// in internal/detect/input/testdata): pid runs path with args, as root, at second sec.
func esExec(sec, pid int, path string, args ...string) string {
	token := func(pid int) map[string]any {
		return map[string]any{"auid": 501, "asid": 100019, "egid": 0, "pid": pid, "pidversion": 1, "rgid": 0, "euid": 0, "ruid": 0}
	}
	proc := func(path string) map[string]any {
		return map[string]any{
			"is_platform_binary": true, "team_id": nil, "signing_id": "com.apple." + filepath.Base(path),
			"executable":  map[string]any{"path": path, "path_truncated": false},
			"audit_token": token(pid), "parent_audit_token": token(58916), "responsible_audit_token": token(938),
			"ppid": 58916, "original_ppid": 58916, "tty": nil,
		}
	}
	b, err := json.Marshal(map[string]any{
		"schema_version": 1, "version": 9, "time": fmt.Sprintf("2025-08-07T13:21:%02d.000000000Z", sec),
		"event_type": 9, "global_seq_num": sec, "process": proc("/bin/zsh"),
		"event": map[string]any{"exec": map[string]any{"target": proc(path), "args": append([]string{path}, args...)}},
	})
	if err != nil {
		panic(err)
	}
	return string(b) + "\n"
}

// writeFile writes data to name in dir and returns its path.
func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// A local user runs osascript with text whose Unicode lower case is longer than itself: the run
// must not die, and the HIGH pfctl -d of the line before must still be reported.
func TestDetectHostileOsascript(t *testing.T) {
	dir := t.TempDir()
	f := writeFile(t, dir, "events.jsonl", []byte(
		esExec(1, 7001, "/sbin/pfctl", "-d")+
			esExec(2, 7002, "/usr/bin/osascript", "-e", "ȺȺ do shell script")+
			esExec(3, 7003, "/usr/bin/osascript", "-e", `ȺȺ do shell script "pfctl -F all"`)))
	for _, args := range [][]string{{"detect", f}, {"--json", "detect", f}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			r := firewardenIn(t, nil, args...)
			if r.code != 1 {
				t.Fatalf("firewarden %s: exit %d, want 1; stderr: %s", strings.Join(args, " "), r.code, r.stderr)
			}
			if strings.Contains(r.stderr, "panic") {
				t.Errorf("stderr holds a panic: %s", r.stderr)
			}
			for _, want := range []string{"pf-disable", "pf-flush-main"} {
				if !strings.Contains(r.stdout, want) {
					t.Errorf("stdout lacks %s:\n%s", want, r.stdout)
				}
			}
			if args[0] != "--json" && !strings.Contains(r.stdout, "HIGH pf-disable") {
				t.Errorf("stdout lacks HIGH pf-disable:\n%s", r.stdout)
			}
		})
	}
}

// gzipped returns data compressed with gzip.
func gzipped(t *testing.T, data string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	if _, err := w.Write([]byte(data)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// One line or file detect cannot read never costs the alerts of the rest: it is named on
// stderr, and the exit status is 1 when alerts fired, 2 when nothing could be read or when no
// alert fired but some input was skipped (no all-clear for unchecked input), 0 only when
// everything was read and nothing fired.
func TestDetectBadInputKeepsAlerts(t *testing.T) {
	dir := t.TempDir()
	// eslogger writes each control character of an argument as \u00XX: 200,000 of them make a
	// line of 1.2 MB, longer than the 1 MiB detect decodes.
	long := esExec(2, 7002, "/bin/echo", strings.Repeat("\x01", 200_000))
	if len(long) <= 1<<20 {
		t.Fatalf("the long line has %d bytes, want more than 1 MiB", len(long))
	}
	ls := esExec(5, 7005, "/bin/ls", "-l")
	var filler strings.Builder
	for range 3000 {
		filler.WriteString(ls)
	}
	full := gzipped(t, esExec(1, 7001, "/sbin/pfctl", "-d")+filler.String())
	var (
		longMid   = writeFile(t, dir, "long.jsonl", []byte(esExec(1, 7001, "/sbin/pfctl", "-d")+long+esExec(3, 7003, "/usr/libexec/ApplicationFirewall/socketfilterfw", "--setglobalstate", "off")))
		longOnly  = writeFile(t, dir, "longonly.jsonl", []byte(ls+long+ls))
		cut       = writeFile(t, dir, "cut.jsonl.gz", full[:len(full)*2/3])
		cutHeader = writeFile(t, dir, "header.jsonl.gz", full[:5])
		lsOnly    = writeFile(t, dir, "ls.jsonl", []byte(ls))
		flush     = writeFile(t, dir, "flush.jsonl", []byte(esExec(4, 7004, "/sbin/pfctl", "-F", "all")))
	)
	for _, tc := range []struct {
		name      string
		args      []string
		code      int
		stdout    []string // each must be in stdout
		stderr    []string // each must be in stderr
		stderrOne bool     // stderr is one line
	}{
		{"long line between two alerts", []string{"detect", longMid}, 1,
			[]string{"HIGH pf-disable", "alf-global-off"},
			[]string{"skipped " + longMid + ":2: line longer than 1048576 bytes", "1 skipped", "incomplete"}, false},
		{"long line between two alerts json", []string{"--json", "detect", longMid}, 1,
			[]string{`"pf-disable"`, `"alf-global-off"`},
			[]string{"skipped " + longMid + ":2: line longer than 1048576 bytes"}, false},
		// pf-disable is in the truncated file, before the cut.
		{"truncated gzip among valid files", []string{"detect", flush, cut, lsOnly}, 1,
			[]string{"pf-flush-main", "HIGH pf-disable"},
			[]string{"skipped " + cut + ": cut off after line", "(truncated file?)", "1 skipped"}, false},
		{"all of it", []string{"detect", flush, cut, longMid}, 1,
			[]string{"pf-flush-main", "HIGH pf-disable", "alf-global-off"},
			[]string{"2 skipped"}, false},
		{"missing file among valid ones", []string{"detect", "/nonexistent/events.jsonl", flush}, 1,
			[]string{"pf-flush-main"},
			[]string{"skipped open /nonexistent/events.jsonl: no such file or directory"}, false},
		{"no alert but a skipped line", []string{"detect", longOnly}, 2,
			nil,
			[]string{"skipped " + longOnly + ":2: line longer than 1048576 bytes", "incomplete: no alerts in what was read"}, false},
		{"nothing readable", []string{"detect", cutHeader}, 2,
			nil, []string{header(cutHeader)}, true},
		{"nothing readable in several", []string{"detect", cutHeader, "/nonexistent/x"}, 2,
			nil, []string{"none of the input could be read (2 problems above)", "no such file"}, false},
		{"everything read, nothing found", []string{"detect", lsOnly}, 0,
			nil, []string{"0 alerts", "0 skipped"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := firewardenIn(t, nil, tc.args...)
			if r.code != tc.code {
				t.Fatalf("firewarden %s: exit %d, want %d; stdout:\n%s\nstderr:\n%s", strings.Join(tc.args, " "), r.code, tc.code, r.stdout, r.stderr)
			}
			for _, want := range tc.stdout {
				if !strings.Contains(r.stdout, want) {
					t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
				}
			}
			if len(tc.stdout) == 0 && r.stdout != "" {
				t.Errorf("stdout = %q, want nothing", r.stdout)
			}
			for _, want := range tc.stderr {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
				}
			}
			if tc.stderrOne && strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
				t.Errorf("stderr = %q, want one line", r.stderr)
			}
		})
	}
}

// header is the error for a gzip file cut inside its header.
func header(name string) string { return "detect: " + name + ": unexpected EOF" }
