package input

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/firewarden/firewarden/internal/detect/event"
)

// readAll reads every event of data, copying each (Raw dropped).
func readAll(t testing.TB, data []byte, opt Options) ([]event.Event, Stats, error) {
	t.Helper()
	r := NewReader(bytes.NewReader(data), "in", opt)
	var evs []event.Event
	for {
		ev, err := r.Next()
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			return evs, r.Stats(), err
		}
		e := *ev
		e.Raw = nil
		evs = append(evs, e)
	}
}

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// compactFixture reads a pretty-printed JSON fixture as one line (the Elastic documents).
func compactFixture(t testing.TB, name string) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, fixture(t, name)); err != nil {
		t.Fatal(err)
	}
	b.WriteByte('\n')
	return b.Bytes()
}

func line(b []byte) []byte { return append(bytes.TrimSpace(b), '\n') }

func yes() *bool { b := true; return &b }
func no() *bool  { b := false; return &b }

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

var ignoreRaw = cmpopts.IgnoreFields(event.Event{}, "Raw")

func TestParseFormat(t *testing.T) {
	for _, tt := range []struct {
		in      string
		want    Format
		wantErr bool
	}{
		{"auto", Auto, false},
		{"eslogger", Eslogger, false},
		{"osquery", Osquery, false},
		{"unifiedlog", UnifiedLog, false},
		{"santa", Santa, false},
		{"ecs", ECS, false},
		{"", "", true},
		{"json", "", true},
		{"ESLOGGER", "", true},
	} {
		got, err := ParseFormat(tt.in)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("ParseFormat(%q) = %q, %v, want %q, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
		if err != nil && !strings.Contains(err.Error(), "auto, eslogger, osquery, unifiedlog, santa, ecs") {
			t.Errorf("ParseFormat(%q) error %q does not name the valid values", tt.in, err)
		}
	}
}

// v9Exec is the event of testdata/eslogger-v9-macos15-exec.json (mullvad's macOS 15 sample) read
// alone: the parent's image falls back to process.executable.path, the pre-exec image of the
// same pid, as the table does not know pid 58916.
var v9Exec = event.Event{
	Time:   utc("2025-08-07T13:21:35.880814738Z"),
	Host:   "mac",
	Source: "eslogger",
	Kind:   event.Exec,
	Process: event.Process{
		PID: 97391, PIDVersion: 149092,
		Path:        "/bin/connection-checker",
		Argv:        []string{"/bin/connection-checker"},
		ArgvExact:   true,
		CommandLine: "/bin/connection-checker",
		SigningID:   "connection_checker-04fde7bdb8bceee3",
		// the sample's cwd (the directory it was run in, as the fixture has it)
		CurrentDirectory: "/bin/mullvadvpn-app",
		Platform:         no(),
		UID:              501, EUID: 501, AUID: 501,
		TTY: "/dev/ttys003",
	},
	PPID: 58916, OriginalPPID: 58916,
	ParentPath:     "/bin/nu",
	Ancestry:       []string{"/bin/nu"},
	ResponsiblePID: 938,
	Seq:            75,
	Input:          "in",
	Line:           1,
}

func TestEsloggerFixtures(t *testing.T) {
	for _, tt := range []struct {
		file string
		want event.Event
	}{
		{"eslogger-v9-macos15-exec.json", v9Exec},
		{
			// mullvad's macOS 26 sample: audit tokens as arrays; process is the parent
			"eslogger-v10-macos26-fork.json",
			event.Event{
				Time: utc("2025-07-22T15:09:01.084030274Z"), Host: "mac", Source: "eslogger", Kind: event.Fork,
				Process: event.Process{
					PID: 21497, PIDVersion: 38282,
					Path:      "/Applications/Mullvad VPN.app/Contents/MacOS/Mullvad VPN",
					SigningID: "net.mullvad.vpn", TeamID: "CKG9MXH72F", Platform: no(),
					UID: 501, EUID: 501, AUID: 501,
				},
				PPID: 19745, OriginalPPID: 19745,
				ParentPath:      "/Applications/Mullvad VPN.app/Contents/MacOS/Mullvad VPN",
				Ancestry:        []string{"/Applications/Mullvad VPN.app/Contents/MacOS/Mullvad VPN"},
				ResponsiblePID:  19745,
				ResponsiblePath: "/Applications/Mullvad VPN.app/Contents/MacOS/Mullvad VPN",
				Seq:             1, Input: "in", Line: 1,
			},
		},
		{
			// SYNTHETIC (edited v9 sample): sudo-like uids, platform binary
			"SYNTHETIC-eslogger-v9-exec-socketfilterfw-off.json",
			event.Event{
				Time: utc("2025-08-07T13:21:35.880814738Z"), Host: "mac", Source: "eslogger", Kind: event.Exec,
				Process: event.Process{
					PID: 97391, PIDVersion: 149092,
					Path:        "/usr/libexec/ApplicationFirewall/socketfilterfw",
					Argv:        []string{"/usr/libexec/ApplicationFirewall/socketfilterfw", "--setglobalstate", "off"},
					ArgvExact:   true,
					CommandLine: "/usr/libexec/ApplicationFirewall/socketfilterfw --setglobalstate off",
					SigningID:   "com.apple.socketfilterfw", Platform: yes(),
					CurrentDirectory: "/Users/alice",
					UID:              0, EUID: 0, AUID: 501, TTY: "/dev/ttys003",
				},
				PPID: 58916, OriginalPPID: 58916,
				ParentPath: "/bin/zsh", Ancestry: []string{"/bin/zsh"},
				ResponsiblePID: 938, Seq: 75, Input: "in", Line: 1,
			},
		},
		{
			// SYNTHETIC (v10 re-encoding): [auid, euid, egid, ruid, rgid, pid, asid, pidversion]
			"SYNTHETIC-eslogger-v10-exec-defaults-alf-off.json",
			event.Event{
				Time: utc("2025-08-07T13:21:35.880814738Z"), Host: "mac", Source: "eslogger", Kind: event.Exec,
				Process: event.Process{
					PID: 97391, PIDVersion: 149092,
					Path:        "/usr/bin/defaults",
					Argv:        []string{"defaults", "write", "/Library/Preferences/com.apple.alf", "globalstate", "-int", "0"},
					ArgvExact:   true,
					CommandLine: "defaults write /Library/Preferences/com.apple.alf globalstate -int 0",
					SigningID:   "com.apple.defaults", Platform: yes(),
					CurrentDirectory: "/Users/alice",
					UID:              0, EUID: 0, AUID: 501, TTY: "/dev/ttys003",
				},
				PPID: 58916, OriginalPPID: 58916,
				ParentPath: "/bin/zsh", Ancestry: []string{"/bin/zsh"},
				ResponsiblePID: 938, Seq: 75, Input: "in", Line: 1,
			},
		},
	} {
		t.Run(tt.file, func(t *testing.T) {
			for _, f := range []Format{Auto, Eslogger} {
				evs, st, err := readAll(t, line(fixture(t, tt.file)), Options{Format: f, Host: "mac"})
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff([]event.Event{tt.want}, evs, ignoreRaw); diff != "" {
					t.Errorf("format %s: events (-want +got):\n%s", f, diff)
				}
				if st.Records[Eslogger] != 1 || st.Events != 1 {
					t.Errorf("format %s: stats = %+v, want one eslogger record and event", f, st)
				}
			}
		})
	}
}

// The tests below build small eslogger lines in the shape of the v9 sample, keeping the keys
// the reader uses (they are synthetic).

func esToken(pid, pidVersion, uid int) map[string]any {
	return map[string]any{"auid": 501, "asid": 100019, "egid": 20, "pid": pid, "pidversion": pidVersion, "rgid": 20, "euid": uid, "ruid": uid}
}

func esProcess(pid, ppid, resp int, path string) map[string]any {
	return map[string]any{
		"is_platform_binary": true, "team_id": nil, "signing_id": "com.apple." + filepath.Base(path),
		"executable":  map[string]any{"path": path, "path_truncated": false},
		"audit_token": esToken(pid, 1, 501), "parent_audit_token": esToken(ppid, 1, 501),
		"responsible_audit_token": esToken(resp, 1, 501),
		"ppid":                    ppid, "original_ppid": ppid, "tty": nil,
	}
}

func esLine(kind string, process, body map[string]any) string {
	b, err := json.Marshal(map[string]any{
		"schema_version": 1, "version": 9, "time": "2025-08-07T13:21:35.880814738Z",
		"event_type": 9, "global_seq_num": 1, "process": process, "event": map[string]any{kind: body},
	})
	if err != nil {
		panic(err)
	}
	return string(b) + "\n"
}

// execLine is pid's exec of path by the image before (the same pid), its parent ppid.
func execLine(pid, ppid int, before, path string, args ...string) string {
	if args == nil {
		args = []string{path}
	}
	return esLine("exec", esProcess(pid, ppid, 938, before), map[string]any{"target": esProcess(pid, ppid, 938, path), "args": args})
}

func forkLine(parent, grand, child int, path string) string {
	return esLine("fork", esProcess(parent, grand, 938, path), map[string]any{"child": esProcess(child, parent, 938, path)})
}

func exitLine(pid, ppid int, path string) string {
	return esLine("exit", esProcess(pid, ppid, 938, path), map[string]any{"stat": 0})
}

// session is launchd, Terminal and a login shell, as an eslogger stream would show them.
var session = execLine(1, 0, "/sbin/launchd", "/sbin/launchd") +
	forkLine(1, 0, 938, "/sbin/launchd") +
	execLine(938, 1, "/sbin/launchd", "/System/Applications/Utilities/Terminal.app/Contents/MacOS/Terminal") +
	forkLine(938, 1, 58916, "/System/Applications/Utilities/Terminal.app/Contents/MacOS/Terminal") +
	execLine(58916, 938, "/System/Applications/Utilities/Terminal.app/Contents/MacOS/Terminal", "/bin/zsh", "-zsh")

const terminal = "/System/Applications/Utilities/Terminal.app/Contents/MacOS/Terminal"

func TestEsloggerParent(t *testing.T) {
	for _, tt := range []struct {
		name         string
		opt          Options
		in           string
		wantParent   string
		wantAncestry []string
		wantResp     string
	}{
		{
			name:         "from the table, not process",
			in:           session + execLine(97391, 58916, "/usr/bin/sudo", "/usr/libexec/ApplicationFirewall/socketfilterfw"),
			wantParent:   "/bin/zsh",
			wantAncestry: []string{"/bin/zsh", terminal, "/sbin/launchd"},
			wantResp:     terminal,
		},
		{
			name:         "fallback to process when the table does not know the parent",
			in:           execLine(97391, 58916, "/bin/zsh", "/usr/libexec/ApplicationFirewall/socketfilterfw"),
			wantParent:   "/bin/zsh",
			wantAncestry: []string{"/bin/zsh"},
		},
		{
			name: "no fallback when process is another pid",
			in: esLine("exec", esProcess(97390, 58916, 938, "/bin/zsh"), map[string]any{
				"target": esProcess(97391, 58916, 938, "/usr/libexec/ApplicationFirewall/socketfilterfw")}),
		},
		{
			name:         "fork copies the parent's image to the child",
			in:           session + forkLine(58916, 938, 97391, "/bin/zsh") + execLine(97392, 97391, "/bin/zsh", "/sbin/pfctl"),
			wantParent:   "/bin/zsh",
			wantAncestry: []string{"/bin/zsh", "/bin/zsh", terminal, "/sbin/launchd"},
			wantResp:     terminal,
		},
		{
			name: "ancestry stops at four",
			in: session + execLine(100, 58916, "/bin/zsh", "/bin/bash") + execLine(101, 100, "/bin/bash", "/bin/sh") +
				execLine(102, 101, "/bin/sh", "/usr/bin/env") + execLine(103, 102, "/usr/bin/env", "/sbin/pfctl"),
			wantParent:   "/usr/bin/env",
			wantAncestry: []string{"/usr/bin/env", "/bin/sh", "/bin/bash", "/bin/zsh"},
			wantResp:     terminal,
		},
		{
			// jamf → sh → pfctl where jamf execs sh itself: allow lists look for jamf
			name: "an image the parent ran before its last exec stays in the lineage",
			in: execLine(1, 0, "/sbin/launchd", "/sbin/launchd") + forkLine(1, 0, 500, "/sbin/launchd") +
				execLine(500, 1, "/sbin/launchd", "/usr/local/jamf/bin/jamf") +
				execLine(500, 1, "/usr/local/jamf/bin/jamf", "/bin/sh") +
				forkLine(500, 1, 600, "/bin/sh") + execLine(600, 500, "/bin/sh", "/sbin/pfctl"),
			wantParent:   "/bin/sh",
			wantAncestry: []string{"/bin/sh", "/usr/local/jamf/bin/jamf", "/sbin/launchd"},
		},
		{
			name: "exit forgets the pid",
			in: session + exitLine(58916, 938, "/bin/zsh") +
				esLine("exec", esProcess(97390, 58916, 938, "/bin/zsh"), map[string]any{"target": esProcess(97391, 58916, 938, "/sbin/pfctl")}),
			wantResp: terminal,
		},
		{
			name: "evicted parents are unknown",
			opt:  Options{MaxProcs: 4},
			in:   session + execLine(97391, 1, "", "/sbin/pfctl"),
			// launchd (pid 1) was written first, and five writes followed
			wantResp: terminal,
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			evs, _, err := readAll(t, []byte(tt.in), tt.opt)
			if err != nil {
				t.Fatal(err)
			}
			last := evs[len(evs)-1]
			if last.ParentPath != tt.wantParent {
				t.Errorf("ParentPath = %q, want %q", last.ParentPath, tt.wantParent)
			}
			if diff := cmp.Diff(tt.wantAncestry, last.Ancestry); diff != "" {
				t.Errorf("Ancestry (-want +got):\n%s", diff)
			}
			if last.ResponsiblePath != tt.wantResp {
				t.Errorf("ResponsiblePath = %q, want %q", last.ResponsiblePath, tt.wantResp)
			}
		})
	}
}

// TestProcessTableHosts: pids are only unique on one host. SYNTHETIC osquery rows, as in
// testdata/SYNTHETIC-osquery-es_process_events.ndjson.
func TestProcessTableHosts(t *testing.T) {
	row := func(host string, pid, parent int, path string) string {
		b, _ := json.Marshal(map[string]any{
			"name": "pack_es_process_events", "hostIdentifier": host, "unixTime": 1754572896, "action": "added",
			"columns": map[string]string{"pid": fmt.Sprint(pid), "parent": fmt.Sprint(parent), "path": path,
				"cmdline": filepath.Base(path) + " ", "event_type": "exec", "time": "1754572896"},
		})
		return string(b) + "\n"
	}
	in := row("a", 100, 1, "/bin/zsh") + row("b", 100, 1, "/bin/bash") +
		row("a", 200, 100, "/sbin/pfctl") + row("b", 200, 100, "/sbin/pfctl") + row("c", 200, 100, "/sbin/pfctl")
	evs, _, err := readAll(t, []byte(in), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range evs[2:] {
		got = append(got, e.Host+" "+e.ParentPath)
	}
	if diff := cmp.Diff([]string{"a /bin/zsh", "b /bin/bash", "c "}, got); diff != "" {
		t.Errorf("host and parent (-want +got):\n%s", diff)
	}
}

func TestProcessTableCap(t *testing.T) {
	// process has no image, so the parent cannot fall back to it
	in := session + execLine(97391, 1, "", "/sbin/pfctl") + execLine(97392, 938, "", "/sbin/pfctl")
	r := NewReader(strings.NewReader(in), "in", Options{MaxProcs: 4})
	var parents []string
	for {
		ev, err := r.Next()
		if err != nil {
			break
		}
		parents = append(parents, ev.ParentPath)
	}
	// writes: 1, 938 (fork), 938 (exec), 58916 (fork), then 58916 (exec) evicts 1 and 97392
	// evicts 938; 97391's exec replaced only a stale slot
	if got, want := parents[len(parents)-2], ""; got != want {
		t.Errorf("parent of a child of evicted pid 1 = %q, want %q", got, want)
	}
	if got, want := parents[len(parents)-1], terminal; got != want {
		t.Errorf("parent of a child of pid 938 = %q, want %q", got, want)
	}
	if st := r.Stats(); st.Evicted != 2 {
		t.Errorf("Stats().Evicted = %d, want 2", st.Evicted)
	}
	if n := r.procs.len(); n > 4 {
		t.Errorf("table holds %d processes, want at most 4", n)
	}
}

// TestProcessTableBounded churns a small table with many pids and exits, as a long stream would.
func TestProcessTableBounded(t *testing.T) {
	const max = 50
	tb := newBounded(max, MaxTableBytes, procBytes)
	for i := range 100_000 {
		k := procKey{"h", i % 7919}
		switch i % 5 {
		case 0:
			tb.delete(k)
		default:
			tb.put(k, proc{path: "/bin/x", ppid: 1})
		}
		if tb.len() > max || len(tb.ring) > max {
			t.Fatalf("after %d writes: %d keys, %d slots, want at most %d", i, tb.len(), len(tb.ring), max)
		}
		if got, want := tb.bytes, tableBytes(tb); got != want {
			t.Fatalf("after %d writes: %d bytes accounted, want %d", i, got, want)
		}
	}
	// the newest keys are kept
	for i := 99_999; i > 99_999-20; i-- {
		if i%5 == 0 {
			continue
		}
		if _, ok := tb.get(procKey{"h", i % 7919}); !ok {
			t.Errorf("recent pid %d was evicted", i%7919)
		}
	}
}

// tableBytes counts what a process table holds, as its cap counts it.
func tableBytes(tb *bounded[procKey, proc]) int {
	n := 0
	for k, e := range tb.m {
		n += procBytes(k, e.v) + entryOverhead
	}
	return n
}

// A small byte cap forgets the oldest entries, keeps the accounting exact through rewrites,
// deletes and evictions, and keeps one entry that is alone over the cap.
func TestProcessTableByteCap(t *testing.T) {
	const maxBytes = 10 * (100 + entryOverhead)
	tb := newBounded(1000, maxBytes, procBytes)
	path := func(n int) string { return strings.Repeat("p", n) }
	for i := range 20_000 {
		k := procKey{"h", i % 97}
		switch {
		case i%11 == 0:
			tb.delete(k)
		case i%13 == 0:
			tb.put(k, proc{path: path(5 * maxBytes), ppid: 1}) // alone over the cap
		default:
			tb.put(k, proc{path: path(i % 200), was: path(i % 7), ppid: 1})
		}
		got, want := tb.bytes, tableBytes(tb)
		if got != want {
			t.Fatalf("after %d writes: %d bytes accounted, want %d", i, got, want)
		}
		if got > maxBytes && tb.len() > 1 {
			t.Fatalf("after %d writes: %d bytes in %d entries, want at most %d", i, got, tb.len(), maxBytes)
		}
		if e, ok := tb.get(k); i%11 != 0 && (!ok || e.ppid != 1) {
			t.Fatalf("after %d writes: the key just written is gone", i)
		}
	}
}

// forkStream is n fork lines by pid 1 of pids 100000, 100001 …, each with an image path of
// pathLen bytes (eslogger never writes one over PATH_MAX, but a forged or broken stream can),
// made as they are read.
type forkStream struct {
	tmpl string
	i, n int
	cur  []byte
}

func newForkStream(n, pathLen int) *forkStream {
	p := "/" + strings.Repeat("x", pathLen-1)
	return &forkStream{tmpl: esLine("fork", esProcess(1, 0, 1, p), map[string]any{"child": esProcess(999999, 1, 1, p)}), n: n}
}

func (f *forkStream) Read(b []byte) (int, error) {
	if len(f.cur) == 0 {
		if f.i == f.n {
			return 0, io.EOF
		}
		f.cur = []byte(strings.ReplaceAll(f.tmpl, "999999", strconv.Itoa(100000+f.i)))
		f.i++
	}
	n := copy(b, f.cur)
	f.cur = f.cur[n:]
	return n, nil
}

// Fork events with 100 KB paths fill the process table up to MaxTableBytes, not up to
// DefaultMaxProcs entries (which would be 6.5 GB of paths); the newest processes are kept.
func TestProcessTableHugePaths(t *testing.T) {
	const forks, pathLen = 1000, 100_000
	r := NewReader(newForkStream(forks, pathLen), "forks", Options{})
	for {
		if _, err := r.Next(); err != nil {
			if err != io.EOF {
				t.Fatal(err)
			}
			break
		}
	}
	held := 0
	for k, e := range r.procs.m {
		held += len(k.host) + len(e.v.path) + len(e.v.was)
	}
	if got := r.procs.bytes; got > MaxTableBytes || got != tableBytes(r.procs) {
		t.Errorf("table accounts %d bytes (really %d), want at most MaxTableBytes %d", got, tableBytes(r.procs), MaxTableBytes)
	}
	if held > MaxTableBytes || held < MaxTableBytes/2 {
		t.Errorf("table holds %d bytes of paths, want between %d and %d", held, MaxTableBytes/2, MaxTableBytes)
	}
	if st := r.Stats(); st.Evicted == 0 || st.Evicted+int64(r.procs.len()) != forks {
		t.Errorf("Stats().Evicted = %d with %d held, want the %d forks split between them", st.Evicted, r.procs.len(), forks)
	}
	if _, ok := r.procs.get(procKey{"", 100000 + forks - 1}); !ok {
		t.Errorf("the newest process was forgotten")
	}
}

func TestEsloggerFileEvents(t *testing.T) {
	// SYNTHETIC: es_message_t field names, not verified against eslogger (reference §7)
	evs, st, err := readAll(t, fixture(t, "SYNTHETIC-eslogger-file-events.ndjson"), Options{Host: "mac"})
	if err != nil {
		t.Fatal(err)
	}
	type got struct {
		Kind           event.Kind
		Path           string
		FilePath       string
		FileFrom       string
		Line           int64
		PPID           int
		ResponsiblePID int
	}
	var gots []got
	for _, e := range evs {
		gots = append(gots, got{e.Kind, e.Path, e.FilePath, e.FileFrom, e.Line, e.PPID, e.ResponsiblePID})
	}
	want := []got{
		{event.FileModify, "/usr/bin/vim", "/etc/pf.conf", "", 1, 58916, 938},
		{event.FileModify, "/usr/bin/vim", "/etc/pf.anchors/evil", "", 2, 58916, 938},
		{event.FileModify, "/usr/bin/vim", "/etc/pf.conf", "", 3, 58916, 938},
		{event.FileModify, "/usr/bin/vim", "/etc/pf.conf", "/etc/pf.conf.new", 4, 58916, 938},
		{event.FileModify, "/usr/bin/vim", "/Library/Preferences/com.apple.alf.plist", "/tmp/x.plist", 5, 58916, 938},
		{event.FileModify, "/usr/bin/vim", "/etc/pf.anchors/com.apple", "", 6, 58916, 938},
		{event.FileModify, "/usr/bin/vim", "/Library/Preferences/com.apple.alf.plist", "", 7, 58916, 938},
		// line 8: close without modification
		{event.ProfileRemove, "/usr/bin/profiles", "", "", 9, 58916, 938},
		{event.Exit, "/usr/bin/vim", "", "", 10, 58916, 938},
		// line 11: mmap, not an event here
	}
	if diff := cmp.Diff(want, gots); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if st.Ignored != 2 || st.Records[Eslogger] != 11 || st.Malformed != 0 {
		t.Errorf("stats = %+v, want 2 ignored of 11 eslogger records", st)
	}
}

func TestOsquery(t *testing.T) {
	// SYNTHETIC: es_process_events columns per osquery's table spec, see testdata/README.md
	evs, st, err := readAll(t, fixture(t, "SYNTHETIC-osquery-es_process_events.ndjson"), Options{Host: "default"})
	if err != nil {
		t.Fatal(err)
	}
	want := []event.Event{
		{
			Time: time.Unix(1754572895, 0).UTC(), Host: "mac-01.example", Source: "osquery", Kind: event.Exec,
			Process: event.Process{
				CurrentDirectory: "/Users/alice",
				PID:              938, Path: terminal,
				Argv: []string{terminal}, CommandLine: terminal,
				SigningID: "com.apple.Terminal", Platform: yes(),
				UID: 501, EUID: event.Unknown, AUID: event.Unknown, User: "alice",
			},
			PPID: 1, OriginalPPID: 1, Seq: 812, Input: "in", Line: 1,
		},
		{
			Time: time.Unix(1754572895, 0).UTC(), Host: "mac-01.example", Source: "osquery", Kind: event.Fork,
			Process: event.Process{
				PID: 58916, Path: terminal, Platform: yes(),
				UID: 501, EUID: event.Unknown, AUID: event.Unknown, User: "alice",
			},
			PPID: 938, ParentPath: terminal, ParentCommandLine: terminal, Ancestry: []string{terminal}, Seq: 812, Input: "in", Line: 2,
		},
		{
			Time: time.Unix(1754572895, 0).UTC(), Host: "mac-01.example", Source: "osquery", Kind: event.Exec,
			Process: event.Process{
				CurrentDirectory: "/Users/alice",
				PID:              58916, Path: "/bin/zsh", Argv: []string{"-zsh"}, CommandLine: "-zsh",
				SigningID: "com.apple.zsh", Platform: yes(),
				UID: 501, EUID: event.Unknown, AUID: event.Unknown, User: "alice",
			},
			PPID: 938, OriginalPPID: 938, ParentPath: terminal, ParentCommandLine: terminal, Ancestry: []string{terminal}, Seq: 812, Input: "in", Line: 3,
		},
		{
			Time: time.Unix(1754572897, 0).UTC(), Host: "mac-01.example", Source: "osquery", Kind: event.Exec,
			Process: event.Process{
				CurrentDirectory: "/Users/alice",
				PID:              97391, Path: "/usr/libexec/ApplicationFirewall/socketfilterfw",
				Argv:        []string{"/usr/libexec/ApplicationFirewall/socketfilterfw", "--setglobalstate", "off"},
				CommandLine: "/usr/libexec/ApplicationFirewall/socketfilterfw --setglobalstate off",
				SigningID:   "com.apple.socketfilterfw", Platform: yes(),
				UID: 0, EUID: event.Unknown, AUID: event.Unknown, User: "root",
			},
			PPID: 58916, OriginalPPID: 58916, ParentPath: "/bin/zsh", ParentCommandLine: "-zsh", Ancestry: []string{"/bin/zsh", terminal},
			Seq: 812, Input: "in", Line: 4,
		},
		{
			Time: time.Unix(1754572898, 0).UTC(), Host: "mac-01.example", Source: "osquery", Kind: event.Exec,
			Process: event.Process{
				CurrentDirectory: "/Users/alice",
				PID:              97392, Path: "/bin/sh",
				Argv:        []string{"/bin/sh", "-c", `pfctl -d; echo "done"`},
				CommandLine: `/bin/sh -c "pfctl -d; echo \"done\""`,
				SigningID:   "com.apple.sh", Platform: yes(),
				UID: 501, EUID: event.Unknown, AUID: event.Unknown, User: "alice",
			},
			PPID: 58916, OriginalPPID: 58916, ParentPath: "/bin/zsh", ParentCommandLine: "-zsh", Ancestry: []string{"/bin/zsh", terminal},
			Seq: 812, Input: "in", Line: 5,
		},
		{
			Time: time.Unix(1754572895, 0).UTC(), Host: "mac-01.example", Source: "osquery", Kind: event.Exit,
			Process: event.Process{
				PID: 97392, Path: "/bin/sh", Platform: yes(),
				UID: 501, EUID: event.Unknown, AUID: event.Unknown, User: "alice",
			},
			PPID: 58916, ParentPath: "/bin/zsh", ParentCommandLine: "-zsh", Ancestry: []string{"/bin/zsh", terminal}, Seq: 812, Input: "in", Line: 6,
		},
		// line 7: an alf row, not a process event
		{
			Time: time.Unix(1754572899, 0).UTC(), Host: "mac-02.example", Source: "osquery", Kind: event.Exec,
			Process: event.Process{
				CurrentDirectory: "/Users/alice",
				PID:              501, Path: "/usr/sbin/pfctl", Argv: []string{"pfctl", "-d"}, CommandLine: "pfctl -d",
				SigningID: "com.apple.pfctl", Platform: yes(),
				UID: 0, EUID: event.Unknown, AUID: event.Unknown, User: "alice",
			},
			PPID: 58916, Seq: 812, Input: "in", Line: 8,
		},
		{
			Time: time.Unix(1754572899, 0).UTC(), Host: "mac-02.example", Source: "osquery", Kind: event.Exec,
			Process: event.Process{
				CurrentDirectory: "/Users/alice",
				PID:              502, Path: "/usr/bin/true", Argv: []string{"true"}, CommandLine: "true",
				Platform: yes(), UID: 501, EUID: event.Unknown, AUID: event.Unknown, User: "alice",
			},
			PPID: 58916, Seq: 812, Input: "in", Line: 8,
		},
		{
			// time column empty: the envelope's unixTime
			Time: time.Unix(1754572901, 0).UTC(), Host: "mac-03.example", Source: "osquery", Kind: event.Exec,
			Process: event.Process{
				CurrentDirectory: "/Users/alice",
				PID:              601, Path: "/usr/bin/defaults",
				Argv:        []string{"defaults", "write", "/Library/Preferences/com.apple.alf", "globalstate", "-int", "0"},
				CommandLine: "defaults write /Library/Preferences/com.apple.alf globalstate -int 0",
				SigningID:   "com.apple.defaults", Platform: yes(),
				UID: 0, EUID: event.Unknown, AUID: event.Unknown, User: "alice",
			},
			PPID: 1, Seq: 812, Input: "in", Line: 9,
		},
	}
	if diff := cmp.Diff(want, evs, ignoreRaw); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if st.Records[Osquery] != 9 || st.Ignored != 1 || st.Events != int64(len(want)) {
		t.Errorf("stats = %+v, want 9 osquery records, 1 ignored", st)
	}
}

func TestUnifiedLog(t *testing.T) {
	evs, st, err := readAll(t, fixture(t, "unifiedlog-ndjson-fixture.ndjson"), Options{Host: "mac"})
	if err != nil {
		t.Fatal(err)
	}
	cet := time.FixedZone("", 3600)
	want := []event.Event{
		{
			Time: time.Date(2020, 12, 10, 17, 0, 10, 147707000, cet), Host: "mac", Source: "unifiedlog", Kind: event.Log,
			Process: event.Process{Path: "/kernel", CommandLine: "Trying to grab power assertion while we already have one",
				UID: event.Unknown, EUID: event.Unknown, AUID: event.Unknown},
			Input: "in", Line: 1,
		},
		{
			Time: time.Date(2020, 12, 10, 17, 0, 10, 150141000, cet), Host: "mac", Source: "unifiedlog", Kind: event.Log,
			Process: event.Process{Path: "/kernel", CommandLine: "(Sandbox) Sandbox: bluetoothd(171) deny(1) mach-lookup com.apple.server.bluetooth",
				UID: event.Unknown, EUID: event.Unknown, AUID: event.Unknown},
			Input: "in", Line: 2,
		},
		{
			Time: time.Date(2020, 12, 10, 17, 0, 10, 150159000, cet), Host: "mac", Source: "unifiedlog", Kind: event.Log,
			Process: event.Process{Path: "/kernel", CommandLine: "Sandbox: routined(596) deny(1) file-read-data /Library/Managed Preferences/com.apple.SubmitDiagInfo.plist",
				UID: event.Unknown, EUID: event.Unknown, AUID: event.Unknown},
			Input: "in", Line: 3,
		},
	}
	if diff := cmp.Diff(want, evs, ignoreRaw); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if st.Records[UnifiedLog] != 4 || st.Ignored != 1 || st.Malformed != 0 {
		t.Errorf("stats = %+v, want 4 unified log records, the count one ignored", st)
	}
}

func TestUnifiedLogEslogger(t *testing.T) {
	// SYNTHETIC: an eslogger --oslog record carrying the synthetic v9 socketfilterfw line
	data := fixture(t, "SYNTHETIC-unifiedlog-eslogger-oslog.ndjson")
	for _, f := range []Format{Auto, UnifiedLog} {
		evs, st, err := readAll(t, data, Options{Format: f, Host: "mac"})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 1 {
			t.Fatalf("format %s: %d events, want 1", f, len(evs))
		}
		e := evs[0]
		if e.Source != "eslogger" || e.Kind != event.Exec || e.Path != "/usr/libexec/ApplicationFirewall/socketfilterfw" ||
			e.ParentPath != "/bin/zsh" || e.EUID != 0 || e.Line != 1 {
			t.Errorf("format %s: event = %+v, want the eslogger exec of socketfilterfw", f, e)
		}
		if st.Records[UnifiedLog] != 2 || st.Ignored != 1 {
			t.Errorf("format %s: stats = %+v, want 2 unified log records, one ignored", f, st)
		}
	}
}

func TestSanta(t *testing.T) {
	evs, _, err := readAll(t, fixture(t, "santa-exec-lines.log"), Options{Host: "mac"})
	if err != nil {
		t.Fatal(err)
	}
	want := []event.Event{
		{
			Time: utc("2022-05-12T11:38:03.923Z"), Host: "mac", Source: "santa", Kind: event.Exec,
			Process: event.Process{
				PID: 71993, PIDVersion: 1097732, Path: "/usr/libexec/xpcproxy",
				Argv:        []string{"xpcproxy", "com.apple.CoreAuthentication.agent"},
				CommandLine: "xpcproxy com.apple.CoreAuthentication.agent",
				UID:         0, EUID: event.Unknown, AUID: event.Unknown, User: "root",
			},
			PPID: 1, Input: "in", Line: 1,
		},
		{
			Time: utc("2019-09-16T13:53:17.187Z"), Host: "mac", Source: "santa", Kind: event.Exec,
			Process: event.Process{
				PID: 55133, Path: "/usr/bin/sed",
				Argv:        []string{"sed", "-E", "s/[^:]*:[[:space:]]+//", "/var/db/.NoMADCreateUser"},
				CommandLine: "sed -E s/[^:]*:[[:space:]]+// /var/db/.NoMADCreateUser",
				UID:         0, EUID: event.Unknown, AUID: event.Unknown, User: "root",
			},
			PPID: 55125, Input: "in", Line: 2,
		},
	}
	if diff := cmp.Diff(want, evs, ignoreRaw); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

func TestSantaActions(t *testing.T) {
	// SYNTHETIC: FORK/EXIT field sets assumed, see testdata/README.md
	evs, st, err := readAll(t, fixture(t, "SYNTHETIC-santa-actions.log"), Options{Host: "mac"})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 {
		t.Fatalf("%d events, want the 2 EXEC lines", len(evs))
	}
	if got, want := evs[0].CommandLine, "sh -c pfctl -d | tee /tmp/o\nx"; got != want {
		t.Errorf("unescaped args = %q, want %q", got, want)
	}
	if got, want := evs[0].Host, "C02ABCDEF"; got != want {
		t.Errorf("Host = %q, want machineid %q", got, want)
	}
	// FORK of 71991 from 71990 copies /bin/sh
	if got, want := evs[1].ParentPath, "/bin/sh"; got != want {
		t.Errorf("pfctl's ParentPath = %q, want %q", got, want)
	}
	if st.Records[Santa] != 6 || st.Ignored != 4 || st.Malformed != 0 {
		t.Errorf("stats = %+v, want 6 Santa records, 4 ignored", st)
	}
}

func TestECS(t *testing.T) {
	defaults := compactFixture(t, "elastic-endpoint-7.10-macos-defaults-write-exec.json")
	systemsetup := compactFixture(t, "elastic-endpoint-7.10-macos-systemsetup-exec-with-parent.json")
	// the same documents without the Elasticsearch hit around them
	var hit struct {
		Source json.RawMessage `json:"_source"`
	}
	if err := json.Unmarshal(systemsetup, &hit); err != nil {
		t.Fatal(err)
	}
	bare := append([]byte(hit.Source), '\n')

	wantDefaults := event.Event{
		Time: utc("2021-01-15T13:56:25.448066Z"), Host: "Sisis-MacBook-Pro.local", Source: "ecs", Kind: event.Exec,
		Process: event.Process{
			PID: 10602, Path: "/usr/bin/defaults",
			Argv:        []string{"defaults", "write", "/Library/Preferences/com.apple.SoftwareUpdate.plist", "CriticalUpdateInstall", "-bool", "NO"},
			ArgvExact:   true,
			CommandLine: "defaults write /Library/Preferences/com.apple.SoftwareUpdate.plist CriticalUpdateInstall -bool NO",
			UID:         501, EUID: 501, AUID: event.Unknown, User: "sisi",
		},
		Seq: 55935, Input: "in", Line: 1,
	}
	wantSystemsetup := event.Event{
		Time: utc("2021-01-02T21:12:21.973006Z"), Host: "Sisis-MacBook-Pro.local", Source: "ecs", Kind: event.Exec,
		Process: event.Process{
			PID: 1203, Path: "/usr/sbin/systemsetup",
			Argv:        []string{"systemsetup", "-setremotelogin", "on"},
			ArgvExact:   true,
			CommandLine: "systemsetup -setremotelogin on",
			UID:         501, EUID: 501, AUID: event.Unknown, User: "sisi",
		},
		PPID: 925, ParentPath: "/bin/bash", Ancestry: []string{"/bin/bash"},
		Seq: 9790, Input: "in", Line: 1,
	}
	for _, tt := range []struct {
		name string
		in   []byte
		want event.Event
	}{
		{"defaults, hit", defaults, wantDefaults},
		{"systemsetup, hit", systemsetup, wantSystemsetup},
		{"systemsetup, bare document", bare, wantSystemsetup},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, f := range []Format{Auto, ECS} {
				evs, _, err := readAll(t, tt.in, Options{Format: f, Host: "mac"})
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff([]event.Event{tt.want}, evs, ignoreRaw); diff != "" {
					t.Errorf("format %s: events (-want +got):\n%s", f, diff)
				}
			}
		})
	}
}

// TestECSAncestry: process.Ext.ancestry holds entity ids; their images come from earlier
// documents. SYNTHETIC documents in the shape of the systemsetup fixture.
func TestECSAncestry(t *testing.T) {
	doc := func(pid, ppid int, exe, parentExe, entity, parentEnt string, ancestry ...string) string {
		b, _ := json.Marshal(map[string]any{
			"@timestamp": "2021-01-02T21:12:21.973006Z",
			"event":      map[string]any{"action": "exec", "type": []string{"start"}, "category": []string{"process"}},
			"host":       map[string]any{"name": "h"},
			"process": map[string]any{
				"pid": pid, "executable": exe, "entity_id": entity, "args": []string{filepath.Base(exe)},
				"parent":         map[string]any{"pid": ppid, "executable": parentExe, "entity_id": parentEnt},
				"Ext":            map[string]any{"ancestry": ancestry, "effective_parent": map[string]any{"pid": 938, "executable": terminal}},
				"code_signature": map[string]any{"signing_id": "com.apple." + filepath.Base(exe), "team_id": ""},
			},
		})
		return string(b) + "\n"
	}
	in := doc(938, 1, terminal, "/sbin/launchd", "T", "L", "L") +
		doc(58916, 938, "/bin/zsh", terminal, "Z", "T", "T", "L") +
		doc(97391, 58916, "/sbin/pfctl", "/bin/zsh", "P", "Z", "Z", "T", "L", "unknown", "X")
	evs, _, err := readAll(t, []byte(in), Options{})
	if err != nil {
		t.Fatal(err)
	}
	last := evs[len(evs)-1]
	if diff := cmp.Diff([]string{"/bin/zsh", terminal, "/sbin/launchd"}, last.Ancestry); diff != "" {
		t.Errorf("Ancestry (-want +got):\n%s", diff)
	}
	if last.ResponsiblePath != terminal || last.ResponsiblePID != 938 || last.SigningID != "com.apple.pfctl" {
		t.Errorf("event = %+v, want responsible Terminal and signing id com.apple.pfctl", last)
	}
}

// mixed is one of every format, a line of nothing, and blank lines.
func mixed(t testing.TB) []byte {
	var b bytes.Buffer
	b.Write(line(fixture(t, "eslogger-v9-macos15-exec.json")))
	b.Write(compactFixture(t, "elastic-endpoint-7.10-macos-defaults-write-exec.json"))
	b.WriteString("\n   \n")
	b.Write(fixture(t, "santa-exec-lines.log"))
	b.WriteString("Aug  7 13:21:35 mac sudo[1]: not telemetry\n")
	b.Write(fixture(t, "unifiedlog-ndjson-fixture.ndjson"))
	osq := bytes.SplitAfter(fixture(t, "SYNTHETIC-osquery-es_process_events.ndjson"), []byte("\n"))
	b.Write(osq[3])
	b.Write(line(fixture(t, "eslogger-v10-macos26-fork.json")))
	return b.Bytes()
}

func TestAutoMixed(t *testing.T) {
	evs, st, err := readAll(t, mixed(t), Options{Host: "mac"})
	if err != nil {
		t.Fatal(err)
	}
	type got struct {
		Source string
		Kind   event.Kind
		Line   int64
	}
	var gots []got
	for _, e := range evs {
		gots = append(gots, got{e.Source, e.Kind, e.Line})
	}
	want := []got{
		{"eslogger", event.Exec, 1},
		{"ecs", event.Exec, 2},
		{"santa", event.Exec, 5},
		{"santa", event.Exec, 6},
		{"unifiedlog", event.Log, 8},
		{"unifiedlog", event.Log, 9},
		{"unifiedlog", event.Log, 10},
		{"osquery", event.Exec, 12},
		{"eslogger", event.Fork, 13},
	}
	if diff := cmp.Diff(want, gots); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	wantStats := Stats{
		Lines: 13, Events: 9, Ignored: 1, Malformed: 1,
		Records: map[Format]int64{Eslogger: 2, ECS: 1, Santa: 2, UnifiedLog: 4, Osquery: 1},
	}
	if diff := cmp.Diff(wantStats, st); diff != "" {
		t.Errorf("Stats() (-want +got):\n%s", diff)
	}

	// with one format asked for, the others are malformed
	evs, st, err = readAll(t, mixed(t), Options{Format: Santa})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || st.Malformed != 9 || st.Records[Santa] != 2 {
		t.Errorf("Format santa: %d events, stats %+v; want 2 events, 9 malformed", len(evs), st)
	}
}

func TestGzip(t *testing.T) {
	var z bytes.Buffer
	w := gzip.NewWriter(&z)
	w.Write(mixed(t))
	w.Close()
	plain, _, err := readAll(t, mixed(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := readAll(t, z.Bytes(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(plain, got); diff != "" {
		t.Errorf("gzip events differ from plain (-plain +gzip):\n%s", diff)
	}

	// a broken stream is an error, not the end
	_, _, err = readAll(t, z.Bytes()[:z.Len()/2], Options{})
	if err == nil || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("truncated gzip: error %v, want one wrapping io.ErrUnexpectedEOF", err)
	}
}

func TestNoTelemetry(t *testing.T) {
	for _, tt := range []struct {
		name    string
		in      string
		format  Format
		wantErr string // "" for a plain end
	}{
		{"syslog", "Aug  7 13:21:35 mac sudo[1]: alice : TTY=ttys003\nmore\n", Auto,
			`detect: in: no line is eslogger, osquery, unified log, Santa or ECS telemetry (first line: "Aug  7 13:21:35 mac sudo[1]: alice : TTY=ttys003")`},
		{"other JSON", "\n{\"a\":1}\n", Auto,
			`detect: in: no line is eslogger, osquery, unified log, Santa or ECS telemetry (first line: "{\"a\":1}")`},
		{"wrong format", string(fixture(t, "santa-exec-lines.log")), Osquery,
			`detect: in: no line is osquery telemetry (first line: "[2022-05-12T11:38:03.923Z] I santad: action=EXEC|decision=ALLOW|reason=BINARY|ex")`},
		{"empty", "", Auto, ""},
		{"blank", "\n \r\n\t\n", Auto, ""},
		{"count record only", "{\"count\":0,\"finished\":1}\n", Auto, ""},
		{"one good line among bad", "garbage\n" + string(fixture(t, "santa-exec-lines.log")), Auto, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, st, err := readAll(t, []byte(tt.in), Options{Format: tt.format})
			if tt.wantErr == "" {
				if err != nil {
					t.Errorf("error %v, want io.EOF", err)
				}
				return
			}
			var nt *NoTelemetryError
			if !errors.As(err, &nt) || err.Error() != tt.wantErr {
				t.Errorf("error %v, want *NoTelemetryError %q", err, tt.wantErr)
			}
			if st.Malformed == 0 {
				t.Errorf("Stats().Malformed = 0, want the lines counted")
			}
		})
	}
}

func TestLongLine(t *testing.T) {
	exec := line(fixture(t, "eslogger-v9-macos15-exec.json"))
	long := append(bytes.Repeat([]byte("x"), MaxLine), '\n')
	in := append(append(append([]byte(nil), exec...), long...), exec...)
	evs, st, err := readAll(t, in, Options{})
	if err != nil || len(evs) != 2 || st.Malformed != 1 || st.TooLong != 0 {
		t.Errorf("a %d-byte line: %d events, %+v, %v; want it read (and malformed)", MaxLine, len(evs), st, err)
	}

	for _, tt := range []struct {
		name string
		in   []byte
		want []Skip
		evs  int
	}{
		{"between two records", concat(exec, bytes.Repeat([]byte("x"), MaxLine+1), []byte("\n"), exec), []Skip{{"big.json", 2, "line longer than 1048576 bytes"}}, 2},
		{"crlf", concat(exec, bytes.Repeat([]byte("x"), MaxLine+1), []byte("\r\n"), exec), []Skip{{"big.json", 2, "line longer than 1048576 bytes"}}, 2},
		{"last without line end", concat(exec, bytes.Repeat([]byte("x"), 3*MaxLine)), []Skip{{"big.json", 2, "line longer than 1048576 bytes"}}, 1},
		{"two in a row", concat(exec, bytes.Repeat([]byte("{"), MaxLine+10), []byte("\n"), bytes.Repeat([]byte("y"), 5*MaxLine), []byte("\n"), exec),
			[]Skip{{"big.json", 2, "line longer than 1048576 bytes"}, {"big.json", 3, "line longer than 1048576 bytes"}}, 2},
		{"exactly the buffer", concat(exec, bytes.Repeat([]byte(" "), readBuffer), exec), nil, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var skips []Skip
			r := NewReader(bytes.NewReader(tt.in), "big.json", Options{Skip: func(s Skip) { skips = append(skips, s) }})
			n := 0
			for {
				_, err := r.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("Next() = %v, want events then io.EOF", err)
				}
				n++
			}
			if n != tt.evs {
				t.Errorf("Next() gave %d events, want %d", n, tt.evs)
			}
			if diff := cmp.Diff(tt.want, skips); diff != "" {
				t.Errorf("skips (-want +got):\n%s", diff)
			}
			if st := r.Stats(); st.TooLong != int64(len(tt.want)) {
				t.Errorf("Stats().TooLong = %d, want %d", st.TooLong, len(tt.want))
			}
		})
	}
}

func concat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// A gzip file cut short ends the Reader with an error that names the last line read, after
// every event before the cut.
func TestTruncatedGzip(t *testing.T) {
	exec := line(fixture(t, "eslogger-v9-macos15-exec.json"))
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	for range 50 {
		w.Write(exec)
	}
	w.Close()
	cut := b.Bytes()[:b.Len()*3/4]
	r := NewReader(bytes.NewReader(cut), "cut.gz", Options{})
	n := 0
	var err error
	for {
		if _, err = r.Next(); err != nil {
			break
		}
		n++
	}
	if n == 0 || n >= 50 {
		t.Errorf("Next() gave %d events before the cut, want some but not all of 50", n)
	}
	want := fmt.Sprintf("detect: cut.gz: cut off after line %d (truncated file?): unexpected EOF", n)
	if err == nil || err.Error() != want {
		t.Errorf("Next() error %v, want %q", err, want)
	}
	if _, again := r.Next(); again != err {
		t.Errorf("Next() after the error = %v, want the same error", again)
	}
}

func TestInteresting(t *testing.T) {
	target := execLine(97391, 58916, "/usr/bin/sudo", "/usr/libexec/ApplicationFirewall/socketfilterfw", "socketfilterfw", "--setglobalstate", "off")
	in := session + execLine(4000, 58916, "/bin/zsh", "/bin/ls") + target
	seen := 0
	opt := Options{Interesting: func(line []byte) bool {
		seen++
		return bytes.Contains(line, []byte("socketfilterfw"))
	}}
	evs, st, err := readAll(t, []byte(in), opt)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].Path != "/usr/libexec/ApplicationFirewall/socketfilterfw" {
		t.Fatalf("events %+v, want only the socketfilterfw exec", evs)
	}
	// the skipped lines still built the table
	if diff := cmp.Diff([]string{"/bin/zsh", terminal, "/sbin/launchd"}, evs[0].Ancestry); diff != "" {
		t.Errorf("Ancestry (-want +got):\n%s", diff)
	}
	if st.Skipped != 6 || seen != 7 || st.Records[Eslogger] != 7 {
		t.Errorf("stats %+v, Interesting called %d times; want 6 skipped of 7", st, seen)
	}
}

// TestSkippedLinesDoNotAllocate: a skipped eslogger exec line costs no allocation once the
// table has seen its pids and paths.
func TestSkippedLinesDoNotAllocate(t *testing.T) {
	const perCall = 200
	corpus, _ := benchCorpus(perCall)
	r := NewReader(&repeater{b: corpus}, "bench", Options{Interesting: benchInteresting})
	for range 3 {
		if _, err := r.Next(); err != nil {
			t.Fatal(err)
		}
	}
	allocs := testing.AllocsPerRun(20, func() {
		if _, err := r.Next(); err != nil {
			t.Fatal(err)
		}
	})
	// each call reads perCall skipped lines and decodes one interesting line, which allocates
	// its strings and slices (about 20)
	if allocs > 40 {
		t.Errorf("%v allocations for %d skipped lines and one event, want at most 40", allocs, perCall)
	}
	if st := r.Stats(); st.Skipped < 20*perCall {
		t.Errorf("Stats().Skipped = %d, want the lines skipped", st.Skipped)
	}
}

// readLines reads data with a bufSize-byte buffer and a maxLine cap and returns the lines
// read (line ends included) with their numbers, and the numbers of the lines skipped.
func readLines(data []byte, bufSize, maxLine int) (lines []string, numbers, skipped []int64, err error) {
	r := NewReader(bytes.NewReader(data), "in", Options{Skip: func(s Skip) { skipped = append(skipped, s.Line) }})
	r.bufSize, r.maxLine = bufSize, maxLine
	if err := r.start(); err != nil {
		return nil, nil, nil, err
	}
	for {
		l, err := r.readLine()
		if err == errScanning {
			// a long JSON array, handed to the scanner: counted as skipped here, the rest
			// of its line drained
			skipped = append(skipped, r.lines)
			for r.midLine {
				if err := r.nextPiece(); err != nil {
					break
				}
			}
			r.scanning, r.pend = false, nil
			continue
		}
		if err == io.EOF {
			return lines, numbers, skipped, nil
		}
		if err != nil {
			return lines, numbers, skipped, err
		}
		lines = append(lines, string(l))
		numbers = append(numbers, r.lines)
	}
}

// FuzzLines checks the line reader against a plain split: with a tiny buffer and cap, every
// line whose content (without "\n" or "\r\n") fits the cap is returned whole under its number,
// and every longer one is reported as skipped under its number (or, a JSON array, handed to
// the scanner), never returned.
func FuzzLines(f *testing.F) {
	f.Add([]byte("a\nbb\r\n\nccc"), uint8(16), uint8(4))
	f.Add([]byte("0123456789012345678901234567890123456789\nshort\n"), uint8(16), uint8(20))
	f.Add([]byte(strings.Repeat("x", 100)+"\r\n"+strings.Repeat("y", 20)+"\r\r\n"), uint8(16), uint8(20))
	f.Fuzz(func(t *testing.T, data []byte, buf, max uint8) {
		bufSize := 16 + int(buf%48) // bufio's smallest buffer is 16
		maxLine := bufSize + int(max%64)
		if bytes.HasPrefix(data, []byte{0x1f, 0x8b}) {
			return // gzip magic: another path
		}
		lines, numbers, skipped, err := readLines(data, bufSize, maxLine)
		if err != nil {
			t.Fatalf("readLines: %v", err)
		}
		var wantLines []string
		var wantNumbers, wantSkipped []int64
		for n, rest := int64(1), data; len(rest) > 0; n++ {
			i := bytes.IndexByte(rest, '\n') + 1
			if i == 0 {
				i = len(rest)
			}
			l := rest[:i]
			rest = rest[i:]
			if len(dropEOL(l)) <= maxLine {
				wantLines = append(wantLines, string(l))
				wantNumbers = append(wantNumbers, n)
			} else {
				wantSkipped = append(wantSkipped, n)
			}
		}
		if diff := cmp.Diff(wantLines, lines); diff != "" {
			t.Errorf("lines (buffer %d, cap %d) (-want +got):\n%s", bufSize, maxLine, diff)
		}
		if diff := cmp.Diff(wantNumbers, numbers); diff != "" {
			t.Errorf("line numbers (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(wantSkipped, skipped); diff != "" {
			t.Errorf("skipped lines (-want +got):\n%s", diff)
		}
	})
}
