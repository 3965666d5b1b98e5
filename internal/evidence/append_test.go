package evidence

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/firewarden/firewarden/internal/statedir"
)

func appendN(t testing.TB, dir string, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if _, err := Append(dir, record(id)); err != nil {
			t.Fatal(err)
		}
	}
}

// A kill during an append leaves the chain file ending in part of a line. That line was never
// counted by the head: the chain still verifies, and the next append replaces the fragment.
func TestChainTornTail(t *testing.T) {
	for _, tt := range []struct {
		name     string
		fragment func(next string) string
	}{
		{"half a line", func(next string) string { return next[:len(next)/2] }},
		{"all but the newline", func(next string) string { return next }},
		{"one byte", func(next string) string { return next[:1] }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			appendN(t, dir, "a", "b")
			path := filepath.Join(dir, ChainFile)
			before, _ := os.ReadFile(path)
			next := forge(t, strings.Split(strings.TrimSuffix(string(before), "\n"), "\n"), "c")
			if err := os.WriteFile(path, append(bytes.Clone(before), tt.fragment(next)...), 0o600); err != nil {
				t.Fatal(err)
			}
			if n, err := Verify(dir); err != nil || n != 2 {
				t.Fatalf("Verify() with a torn last line = %d, %v; want 2, nil", n, err)
			}
			e, err := Append(dir, record("d"))
			if err != nil {
				t.Fatalf("Append() after a torn last line = %v, want it appended", err)
			}
			if e.Seq != 3 {
				t.Errorf("Append() after a torn last line: seq %d, want 3", e.Seq)
			}
			if n, err := Verify(dir); err != nil || n != 3 {
				t.Fatalf("Verify() after the append = %d, %v; want 3, nil", n, err)
			}
			after, _ := os.ReadFile(path)
			if !bytes.HasPrefix(after, before) || bytes.Count(after, []byte("\n")) != 3 || !bytes.HasSuffix(after, []byte("\n")) {
				t.Errorf("chain after the append:\n%s\nwant the two entries unchanged, then one whole line", after)
			}
		})
	}
}

// Appends go to the end of the file in place: earlier bytes and the file itself stay, across
// reopening, and the mode is the state directory's 0600.
func TestChainAppendsInPlace(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, ChainFile)
	appendN(t, dir, "a")
	first, _ := os.ReadFile(path)
	// Held open across the appends: a file replaced by a rename would no longer be the one the
	// name leads to (inode numbers alone may be reused).
	held, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	for i, id := range []string{"b", "c", "d"} {
		c, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		if c.Len() != i+1 {
			t.Errorf("Open() after %d appends: Len() = %d, want %d", i+1, c.Len(), i+1)
		}
		e, err := c.Next(record(id))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Append(e); err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	all, _ := os.ReadFile(path)
	through, err := io.ReadAll(held)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(through, all) {
		t.Errorf("the file open before the appends holds %d bytes, the chain %d: an append replaced the file, want it appended to in place", len(through), len(all))
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("chain file: %v, mode %v; want 0600", err, fi.Mode())
	}
	if !bytes.HasPrefix(all, first) {
		t.Error("an append changed the first entry's bytes")
	}
	if n, err := Verify(dir); err != nil || n != 4 {
		t.Fatalf("Verify() = %d, %v; want 4, nil", n, err)
	}
	c, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	recent, err := c.Recent(10)
	if err != nil {
		t.Fatal(err)
	}
	var seqs []int
	for _, e := range recent {
		seqs = append(seqs, e.Seq)
	}
	if diff := cmp.Diff([]int{1, 2, 3, 4}, seqs); diff != "" {
		t.Errorf("Recent(10) seqs (-want +got):\n%s", diff)
	}
	// An entry that does not follow the last one is refused.
	stale := recent[0]
	if err := c.Append(stale); err == nil {
		t.Error("Append(entry 1 again) succeeded, want refusal")
	}
}

// A chain file that is a symbolic link or has another name (a hard link) is never written
// through: the append is refused and the other file is unchanged.
func TestChainNeverWritesThroughALink(t *testing.T) {
	for _, tt := range []struct {
		name string
		link func(target, path string) error
	}{
		{"symbolic link", os.Symlink},
		{"hard link", os.Link},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			appendN(t, dir, "a")
			path := filepath.Join(dir, ChainFile)
			target := filepath.Join(t.TempDir(), "precious")
			data, _ := os.ReadFile(path)
			if err := os.WriteFile(target, data, 0o644); err != nil {
				t.Fatal(err)
			}
			os.Remove(path)
			if err := tt.link(target, path); err != nil {
				t.Fatal(err)
			}
			if _, err := Append(dir, record("b")); err == nil {
				t.Fatalf("Append() through a %s succeeded, want refusal", tt.name)
			}
			got, _ := os.ReadFile(target)
			if !bytes.Equal(got, data) {
				t.Errorf("the %s's target changed:\n%s", tt.name, got)
			}
			if fi, _ := os.Stat(target); fi.Mode().Perm() != 0o644 {
				t.Errorf("the %s's target mode = %04o, want 0644 as it was", tt.name, fi.Mode().Perm())
			}
		})
	}
	// A symbolic link is refused with statedir's ErrUnsafe by the reader as well.
	dir := t.TempDir()
	appendN(t, dir, "a")
	os.Rename(filepath.Join(dir, ChainFile), filepath.Join(dir, "elsewhere"))
	os.Symlink(filepath.Join(dir, "elsewhere"), filepath.Join(dir, ChainFile))
	if _, err := Open(dir); !errors.Is(err, statedir.ErrUnsafe) {
		t.Errorf("Open() of a chain that is a symbolic link = %v, want ErrUnsafe", err)
	}
}

// TestLastLines checks the tail reader against splitting the whole file, across chunk edges.
func TestLastLines(t *testing.T) {
	long := strings.Repeat("x", tailChunk+17)
	for _, tt := range []struct {
		name string
		data string
	}{
		{"empty", ""},
		{"no newline", "abc"},
		{"one line", "a\n"},
		{"torn tail", "a\nb\nc"},
		{"lines over a chunk", long + "\n" + long + "\n" + "z\n"},
		{"line over two chunks", "a\n" + long + long + "\n"},
		{"empty lines", "\n\n\n"},
	} {
		for _, n := range []int{1, 2, 5} {
			t.Run(fmt.Sprintf("%s/%d", tt.name, n), func(t *testing.T) {
				f := tempFile(t, tt.data)
				lines, end, err := lastLines(f, n)
				if err != nil {
					t.Fatal(err)
				}
				wantLines, wantEnd := refLastLines([]byte(tt.data), n)
				if diff := cmp.Diff(wantLines, toStrings(lines)); diff != "" || end != wantEnd {
					t.Errorf("lastLines(%q, %d) end = %d, want %d; lines (-want +got):\n%s", tt.name, n, end, wantEnd, diff)
				}
			})
		}
	}
}

func tempFile(t *testing.T, data string) *os.File {
	t.Helper()
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// refLastLines is lastLines by splitting the whole data.
func refLastLines(data []byte, n int) ([]string, int64) {
	end := completeLines(data)
	if end == 0 {
		return nil, 0
	}
	lines := strings.Split(string(data[:end-1]), "\n")
	return lines[max(0, len(lines)-n):], int64(end)
}

func toStrings(bs [][]byte) []string {
	var out []string
	for _, b := range bs {
		out = append(out, string(b))
	}
	return out
}

// FuzzLastLines compares the tail reader with splitting the whole file.
func FuzzLastLines(f *testing.F) {
	f.Add([]byte("a\nb\nc"), 2)
	f.Add([]byte(""), 1)
	f.Add([]byte("\n\n"), 3)
	f.Add([]byte("{\"seq\":1}\n{\"seq\":2}\n"), 1)
	f.Fuzz(func(t *testing.T, data []byte, n int) {
		if n < 1 || n > 64 {
			return
		}
		path := filepath.Join(t.TempDir(), "f")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		file, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer file.Close()
		lines, end, err := lastLines(file, n)
		if err != nil {
			t.Fatal(err)
		}
		want, wantEnd := refLastLines(data, n)
		if diff := cmp.Diff(want, toStrings(lines)); diff != "" || end != wantEnd {
			t.Errorf("lastLines(%q, %d) end = %d, want %d; lines (-want +got):\n%s", data, n, end, wantEnd, diff)
		}
	})
}

// appendHelperEnv makes the test binary an appender that TestChainSurvivesKill9 kills.
const appendHelperEnv = "FIREWARDEN_EVIDENCE_APPENDER"

// TestMain lets the test binary act as a process appending to a chain until it is killed.
func TestMain(m *testing.M) {
	if dir := os.Getenv(appendHelperEnv); dir != "" {
		for i := 0; ; i++ {
			if _, err := Append(dir, record(fmt.Sprint("k", i))); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(3)
			}
		}
	}
	os.Exit(m.Run())
}

// kill -9 of a process appending to the chain, at many moments: every time, the chain verifies,
// holds at least the entries it held before, and takes the next append.
func TestChainSurvivesKill9(t *testing.T) {
	dir := t.TempDir()
	appendN(t, dir, "a")
	held := 1
	for i := range 12 {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), appendHelperEnv+"="+dir)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(20+i*15) * time.Millisecond) // where the kill lands varies; any point must do
		cmd.Process.Signal(syscall.SIGKILL)
		err := cmd.Wait()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() == 3 {
			t.Fatalf("appender: %v: %s", err, stderr.String())
		}
		n, err := Verify(dir)
		if err != nil {
			t.Fatalf("Verify() after kill %d = %d, %v; want the chain intact", i, n, err)
		}
		if n < held {
			t.Fatalf("Verify() after kill %d = %d entries, fewer than the %d before", i, n, held)
		}
		e, err := Append(dir, record(fmt.Sprint("after", i)))
		if err != nil || e.Seq != n+1 {
			t.Fatalf("Append() after kill %d = seq %d, %v; want %d, nil", i, e.Seq, err, n+1)
		}
		held = n + 1
	}
	fi, err := os.Stat(filepath.Join(dir, ChainFile))
	if err != nil || fi.Mode()&fs.ModePerm != 0o600 {
		t.Errorf("chain file after the kills: %v, mode %v; want 0600", err, fi.Mode())
	}
	t.Logf("%d entries after 12 kills", held)
}

// BenchmarkOpenAppend is what a cycle of the agent or a `firewarden evidence` run pays for the
// chain: open it (checking its end against the head), append one record, close. The chain
// starts with FIREWARDEN_BENCH_CHAIN entries (default 400) of the size a Mac's run has.
func BenchmarkOpenAppend(b *testing.B) {
	n := 400
	if v := os.Getenv("FIREWARDEN_BENCH_CHAIN"); v != "" {
		fmt.Sscan(v, &n)
	}
	dir := b.TempDir()
	rec := record("bench")
	// A Mac's run carries some 20 KB of program output as evidence.
	rec.Results[0].Evidence[0].Stdout = strings.Repeat("Firewall is enabled. (State = 1)\n", 600)
	for range n {
		if _, err := Append(dir, rec); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Append(dir, rec); err != nil {
			b.Fatal(err)
		}
	}
}
