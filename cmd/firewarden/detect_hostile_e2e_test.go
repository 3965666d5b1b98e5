package main

import (
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
