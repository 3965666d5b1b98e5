package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// zstdRawFrame is a zstd frame (RFC 8878) holding content in one raw block, with the window
// descriptor wd (window 2^(10+wd>>3)): made by hand, so the test needs neither the zstd program
// nor an encoder holding a 512 MiB window.
func zstdRawFrame(wd byte, content string) []byte {
	b := []byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, wd}
	h := 1 | len(content)<<3 // last block, raw
	b = append(b, byte(h), byte(h>>8), byte(h>>16))
	return append(b, content...)
}

// A zstd file whose window is over the cap (`zstd --long=29`: 512 MiB, which took 544 MB to
// read) is refused before anything is read, like a missing file: exit 2, nothing on stdout, one
// line naming the file, the cap and what to do. A file at the cap is read.
func TestLogsZstdWindowCap(t *testing.T) {
	plain, err := os.ReadFile(filepath.Join(logdata, "ipfw/ipfw-freebsd-syslog.log"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	atCap := write("at-cap.log.zst", zstdRawFrame(17<<3, string(plain)))       // 128 MiB
	long29 := write("long29.log.zst", zstdRawFrame(19<<3, string(plain)))      // 512 MiB
	later := write("later.log.zst", append(zstdRawFrame(10<<3, string(plain)), // 1 MiB, then 512 MiB
		zstdRawFrame(19<<3, string(plain))...))
	plainFile := filepath.Join(logdata, "ipfw/ipfw-macosx.log")

	r := firewardenIn(t, nil, "logs", "summarize", plainFile, atCap)
	if r.code != 0 || !strings.Contains(r.stdout, "in 2 files") {
		t.Errorf("a window at the cap: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, tt := range []struct {
		name  string
		args  []string
		stdin []byte
		want  string
	}{
		{"over the cap among other files", []string{plainFile, long29, atCap}, nil, long29 + ": zstd window of 512 MiB, over the 128 MiB cap"},
		{"over the cap on standard input", []string{"-"}, zstdRawFrame(19<<3, string(plain)), "-: zstd window of 512 MiB, over the 128 MiB cap"},
		{"a later frame over the cap", []string{plainFile, later}, nil, "read " + later + ": zstd window larger than the 128 MiB cap"},
	} {
		r := firewardenIn(t, tt.stdin, append([]string{"logs", "summarize"}, tt.args...)...)
		if r.code != 2 || r.stdout != "" || !strings.Contains(r.stderr, tt.want) || !strings.Contains(r.stderr, "zstd -d --long=31") ||
			strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("%s: exit %d stdout %q stderr %q; want exit 2, nothing on stdout, one line with %q and what to do", tt.name, r.code, r.stdout, r.stderr, tt.want)
		}
	}
}
