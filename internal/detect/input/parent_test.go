package input

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// got is what TestParentAndDirectory compares of an event.
type got struct {
	Kind, Path, ParentPath, ParentCommandLine, CurrentDirectory string
}

// ecsDoc returns an ECS exec document of pid running argv, with fields of process (merged).
func ecsExec(pid, ppid int, exe string, argv []string, extra map[string]any) string {
	proc := map[string]any{"pid": pid, "executable": exe, "args": argv, "command_line": strings.Join(argv, " "),
		"parent": map[string]any{"pid": ppid}}
	for k, v := range extra {
		proc[k] = v
	}
	b, err := json.Marshal(map[string]any{
		"@timestamp": "2021-01-02T21:12:21.973006Z", "agent": map[string]any{"type": "endpoint"},
		"event":   map[string]any{"action": "exec", "category": []string{"process"}, "type": []string{"start"}},
		"host":    map[string]any{"name": "mac"},
		"process": proc,
	})
	if err != nil {
		panic(err)
	}
	return string(b) + "\n"
}

func santaExec(pid, ppid int, path, args string) string {
	return fmt.Sprintf("[2022-05-12T11:38:03.910Z] I santad: action=EXEC|decision=ALLOW|pid=%d|pidversion=1|ppid=%d|uid=0|user=root|path=%s|args=%s\n", pid, ppid, path, args)
}

func santaFork(pid, ppid int) string {
	return fmt.Sprintf("[2022-05-12T11:38:03.900Z] I santad: action=FORK|pid=%d|pidversion=1|ppid=%d|uid=0\n", pid, ppid)
}

// TestParentAndDirectory: CurrentDirectory comes from the record (eslogger's cwd, osquery's
// cwd column, ECS process.working_directory), ParentCommandLine from the record where it has
// one (ECS process.parent.command_line or .args) and otherwise from the parent's own exec seen
// earlier, through forks, never from another program that reused the pid.
func TestParentAndDirectory(t *testing.T) {
	sudo := execLine(70000, 58916, "/bin/zsh", "/usr/bin/sudo", "sudo", "-s", "--", "x y")
	for _, tt := range []struct {
		name string
		in   string
		opt  Options
		want []got // the events of the input
	}{
		{
			name: "eslogger: shell, then a command it runs",
			in:   session + execLine(97391, 58916, "/bin/zsh", "/sbin/pfctl", "pfctl", "-d"),
			want: []got{
				{"exec", "/sbin/launchd", "/sbin/launchd", "", ""}, {"fork", "/sbin/launchd", "/sbin/launchd", "/sbin/launchd", ""},
				{"exec", terminal, "/sbin/launchd", "/sbin/launchd", ""}, {"fork", terminal, terminal, terminal, ""},
				{"exec", "/bin/zsh", terminal, terminal, ""}, {"exec", "/sbin/pfctl", "/bin/zsh", "-zsh", ""},
			},
		},
		{
			name: "eslogger: the parent forked a copy that ran the command",
			in: session + forkLine(58916, 938, 70000, "/bin/zsh") + sudo +
				forkLine(70000, 58916, 70001, "/usr/bin/sudo") + execLine(70001, 70000, "/usr/bin/sudo", "/sbin/pfctl", "pfctl", "-F", "all"),
			opt: Options{Interesting: func(l []byte) bool { return bytes.Contains(l, []byte("pfctl")) }},
			want: []got{
				{"exec", "/sbin/pfctl", "/usr/bin/sudo", "sudo -s -- 'x y'", ""},
			},
		},
		{
			name: "eslogger: a pid reused by another program lends nothing",
			// 58916 exits and its pid comes back as a fork of launchd; the table's image for
			// it is then launchd's, not zsh's command line
			in: session + exitLine(58916, 938, "/bin/zsh") + forkLine(1, 0, 58916, "/sbin/launchd") +
				execLine(97391, 58916, "/sbin/launchd", "/sbin/pfctl", "pfctl", "-d"),
			opt:  Options{Interesting: func(l []byte) bool { return bytes.Contains(l, []byte("pfctl")) }},
			want: []got{{"exec", "/sbin/pfctl", "/sbin/launchd", "/sbin/launchd", ""}},
		},
		{
			name: "eslogger: cwd of the real v9 sample",
			in:   string(line(fixture(t, "eslogger-v9-macos15-exec.json"))),
			want: []got{{"exec", "/bin/connection-checker", "/bin/nu", "", "/bin/mullvadvpn-app"}},
		},
		{
			name: "eslogger inside the unified log",
			in:   string(fixture(t, "SYNTHETIC-unifiedlog-eslogger-oslog.ndjson")),
			want: []got{{"exec", "/usr/libexec/ApplicationFirewall/socketfilterfw", "/bin/zsh", "", "/Users/alice"}},
		},
		{
			name: "osquery",
			in:   string(fixture(t, "SYNTHETIC-osquery-es_process_events.ndjson")),
			opt:  Options{Interesting: func(l []byte) bool { return bytes.Contains(l, []byte("socketfilterfw")) }},
			want: []got{{"exec", "/usr/libexec/ApplicationFirewall/socketfilterfw", "/bin/zsh", "-zsh", "/Users/alice"}},
		},
		{
			name: "santa: through a fork",
			in:   string(fixture(t, "SYNTHETIC-santa-actions.log")),
			want: []got{
				{"exec", "/bin/sh", "", "", ""},
				{"exec", "/sbin/pfctl", "/bin/sh", "sh -c pfctl -d | tee /tmp/o\nx", ""},
			},
		},
		{
			name: "santa: the parent's exec long gone from a full ring",
			in:   santaExec(10, 1, "/bin/sh", "sh -c x") + santaExec(11, 1, "/bin/cat", strings.Repeat("a", 64<<10-3)) + santaFork(12, 10) + santaExec(12, 10, "/sbin/pfctl", "pfctl -d"),
			want: []got{{"exec", "/bin/sh", "", "", ""}, {"exec", "/bin/cat", "", "", ""}, {"exec", "/sbin/pfctl", "/bin/sh", "", ""}},
		},
		{
			name: "ecs: from the document, then from the table",
			in: ecsExec(900, 1, "/bin/bash", []string{"bash", "-l"}, map[string]any{"working_directory": "/Users/sisi"}) +
				ecsExec(901, 900, "/usr/sbin/systemsetup", []string{"systemsetup", "-setremotelogin", "on"}, nil) +
				ecsExec(902, 900, "/sbin/pfctl", []string{"pfctl", "-d"},
					map[string]any{"parent": map[string]any{"pid": 900, "executable": "/bin/bash", "command_line": "bash -c 'pfctl -d'"}}) +
				ecsExec(903, 900, "/sbin/pfctl", []string{"pfctl", "-d"},
					map[string]any{"parent": map[string]any{"pid": 900, "args": []string{"bash", "-c", "pfctl -d"}}}),
			want: []got{
				{"exec", "/bin/bash", "", "", "/Users/sisi"},
				{"exec", "/usr/sbin/systemsetup", "/bin/bash", "bash -l", ""},
				{"exec", "/sbin/pfctl", "/bin/bash", "bash -c 'pfctl -d'", ""},
				{"exec", "/sbin/pfctl", "/bin/bash", "bash -c 'pfctl -d'", ""},
			},
		},
		{
			name: "ecs: the data set's document, parent args empty",
			in:   string(fixture(t, "elastic-endpoint-7.10-macos-systemsetup-exec-with-parent.json")),
			want: []got{{"exec", "/usr/sbin/systemsetup", "/bin/bash", "", ""}},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := NewReader(strings.NewReader(tt.in), "in", tt.opt)
			if strings.Contains(tt.name, "full ring") {
				r.cmds.max = 64 << 10
			}
			var evs []got
			for {
				ev, err := r.Next()
				if err != nil {
					break
				}
				evs = append(evs, got{string(ev.Kind), ev.Path, ev.ParentPath, ev.ParentCommandLine, ev.CurrentDirectory})
			}
			if diff := cmp.Diff(tt.want, evs); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCmdRing(t *testing.T) {
	c := cmdRing{max: 10}
	a := c.put([]byte("aaaa"), cmdJSON)
	b := c.put([]byte("bbbb"), cmdJSON)
	for _, tt := range []struct {
		name string
		ref  cmdRef
		want string
	}{
		{"first", a, "aaaa"},
		{"second", b, "bbbb"},
		{"none", cmdRef{}, ""},
	} {
		if got := c.commandLine(tt.ref); got != tt.want {
			t.Errorf("%s: commandLine() = %q, want %q", tt.name, got, tt.want)
		}
	}
	cc := c.put([]byte("cccc"), cmdJSON) // wraps: overwrites a, b survives
	if got := c.commandLine(a); got != "" {
		t.Errorf("after wrapping, commandLine(a) = %q, want it gone", got)
	}
	if got := c.commandLine(b); got != "bbbb" {
		t.Errorf("after wrapping, commandLine(b) = %q, want bbbb", got)
	}
	c.put([]byte("dddd"), cmdJSON) // overwrites b
	if got, got2 := c.commandLine(b), c.commandLine(cc); got != "" || got2 != "cccc" {
		t.Errorf("after a second write, b = %q, c = %q; want gone, cccc", got, got2)
	}
	if r := c.put(make([]byte, 11), cmdJSON); r != (cmdRef{}) {
		t.Errorf("put of more than the ring = %+v, want none", r)
	}
	if len(c.buf) > 10 {
		t.Errorf("ring of %d bytes, want at most 10", len(c.buf))
	}
}
