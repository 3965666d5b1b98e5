package follow

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestFileResume: a File resumed at the Position of a line reads on from the line after it,
// marking as Replay what the file held at the start; a file replaced or truncated since is read
// from its start; no position starts at the end as before. Positions name the byte after each
// line's newline in that file.
func TestFileResume(t *testing.T) {
	type got struct {
		Text   string
		Off    int64
		Replay bool
	}
	for _, tc := range []struct {
		name   string
		change func(e *fileEnv) // between the first run and the resumed one
		noPos  bool
		want   []got
	}{
		{"same file", func(e *fileEnv) { e.append("auth.log", "while down\n") },
			false, []got{{"two", 8, true}, {"while down", 19, true}, {"live", 24, false}}},
		{"rotated", func(e *fileEnv) { e.rename("auth.log", "auth.log.1"); e.write("auth.log", "fresh\n") },
			false, []got{{"fresh", 6, true}, {"live", 11, false}}},
		{"truncated", func(e *fileEnv) { e.write("auth.log", "x\n") },
			false, []got{{"x", 2, true}, {"live", 7, false}}},
		{"no position", func(e *fileEnv) { e.append("auth.log", "while down\n") },
			true, []got{{"live", 24, false}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := FileOptions{Poll: never, SafetyPoll: never, FromStart: true}
			e := newFileEnv(t, opts, true)
			e.write("auth.log", "one\ntwo\n")
			e.start()
			e.got.wait(t, 2)
			e.run.stop(t)
			first := e.got.lines[0]
			if first.Pos.Off != 4 || first.Pos.Ino == 0 {
				t.Fatalf("first line's Pos = %+v, want offset 4 in a file with an inode", first.Pos)
			}
			tc.change(e)

			// A new File in the same root, as after a restart.
			opts = e.file.opts
			opts.FromStart = false
			e.file, e.got = NewFile(logPath, opts), newCollector()
			e.file.stepped = func() { e.steps <- struct{}{} }
			if !tc.noPos {
				e.file.Resume(map[string]Position{e.file.Name(): first.Pos, "file:/other": {Off: 1}})
			}
			e.start()
			e.append("auth.log", "live\n")
			e.got.wait(t, len(tc.want))
			var have []got
			for _, l := range e.got.lines {
				have = append(have, got{string(l.Text), l.Pos.Off, l.Replay})
			}
			if diff := cmp.Diff(tc.want, have); diff != "" {
				t.Errorf("lines after resuming (-want +got):\n%s", diff)
			}
		})
	}
}
