package fwlog

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/klauspost/compress/zstd"
)

var update = flag.Bool("update", false, "rewrite golden files")

func summarize(t testing.TB, data []byte, opts Options) Report {
	t.Helper()
	s, _, err := Summarize(context.Background(), []Source{{Name: "x", Reader: bytes.NewReader(data)}}, opts, ModeFull)
	if err != nil {
		t.Fatal(err)
	}
	r := s.Report(0, BuiltinServices())
	r.Inputs = []string{"x"}
	return r
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", name, diff)
	}
}

// Every fixture file gets a golden full report, text and JSON; reviewed in the diff.
func TestGoldenReports(t *testing.T) {
	files, _ := filepath.Glob("testdata/*/*")
	n := 0
	for _, f := range files {
		dir := filepath.Base(filepath.Dir(f))
		if dir == "golden" || dir == "expected" || dir == "compressed" || strings.HasSuffix(f, "README.md") {
			continue
		}
		n++
		t.Run(dir+"/"+filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			r := summarize(t, data, Options{Examples: 5})
			var text bytes.Buffer
			if err := r.WriteText(&text); err != nil {
				t.Fatal(err)
			}
			golden(t, dir+"-"+filepath.Base(f)+".txt", text.Bytes())
			js, _ := json.MarshalIndent(r, "", "  ")
			golden(t, dir+"-"+filepath.Base(f)+".json", append(js, '\n'))
			// The unified-log fixture is a capture of other subsystems: nothing in it is ALF.
			if r.Parsed == 0 && !strings.Contains(f, "unifiedlog-ndjson-fixture") {
				t.Errorf("%s: nothing parsed", f)
			}
		})
	}
	if n < 10 {
		t.Fatalf("only %d fixture files found", n)
	}
}

// genLog makes a log with many connections, some lines of other programs and broken ipfw lines.
func genLog(lines, conns int) []byte {
	var b bytes.Buffer
	for i := range lines {
		c := (i * 7919) % conns
		switch {
		case i%101 == 0:
			fmt.Fprintf(&b, "Nov  9 21:%02d:%02d host sshd[1]: something else\n", i/60%60, i%60)
		case i%211 == 0:
			fmt.Fprintf(&b, "Nov  9 21:%02d:%02d host kernel: ipfw: 10 Deny TCP 10.0.0.%d:99999 192.0.2.1:80 in via en0\n", i/60%60, i%60, c%250)
		case i%2 == 0:
			fmt.Fprintf(&b, "Nov  9 21:%02d:%02d host kernel: ipfw: 10 Deny TCP 198.51.%d.%d:%d 10.0.0.1:22 in via en0\n", i/60%60, i%60, c/250%250, c%250, 1024+c%5000)
		default:
			fmt.Fprintf(&b, "Nov  9 21:%02d:%02d host kernel: ipfw: 20 Accept UDP 10.0.0.1:53 198.51.%d.%d:%d out via en0\n", i/60%60, i%60, c/250%250, c%250, 1024+c%5000)
		}
	}
	return b.Bytes()
}

// The parallel reader must give the same report as one summary fed line by line.
func TestParallelEqualsSequential(t *testing.T) {
	data := genLog(200_000, 3000)
	// Enough examples that they come from many chunks, so their order across workers is tested.
	const examples = 2000
	seq := NewSummary(Options{Examples: examples})
	for i, line := range bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) {
		seq.Line(line, int64(i))
	}
	want := seq.Report(0, BuiltinServices())
	got := summarize(t, data, Options{Examples: examples})
	got.Inputs = nil
	for i := range got.Examples { // only the parallel reader knows files and lines
		got.Examples[i].File, got.Examples[i].LineNo = "", 0
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("parallel report differs from sequential (-seq +par):\n%s", diff)
	}
	if got.Malformed == 0 || got.Unrecognised == 0 || len(got.Examples) != examples {
		t.Errorf("malformed %d unrecognised %d examples %d; the generator makes both", got.Malformed, got.Unrecognised, len(got.Examples))
	}
}

// Past the key cap the tables are pruned: memory stays bounded, the report says so, and the
// heavy rows survive with counts no further off than the stated bound.
func TestKeyCapIsApproximateAndSaysSo(t *testing.T) {
	var b bytes.Buffer
	for i := range 50_000 {
		if i%2 == 0 {
			b.WriteString("kernel: ipfw: 1 Deny TCP 203.0.113.9:4444 10.0.0.1:445 in via en0\n") // the heavy hitter
		} else {
			fmt.Fprintf(&b, "kernel: ipfw: 1 Deny TCP 198.51.%d.%d:%d 10.0.0.1:22 in via en0\n", i/250%250, i%250, 1024+i%6000)
		}
	}
	exact := summarize(t, b.Bytes(), Options{})
	approx := summarize(t, b.Bytes(), Options{MaxKeys: 500})
	if exact.Approximate || !approx.Approximate || approx.ErrorBound == 0 {
		t.Fatalf("approximate = %v/%v bound %d; want exact without a cap and approximate with one", exact.Approximate, approx.Approximate, approx.ErrorBound)
	}
	top := approx.Actions[0].Rows[0]
	if top.Outside != "203.0.113.9:4444" || top.In < 25_000-approx.ErrorBound || top.In > 25_000 {
		t.Errorf("top row %+v, want 203.0.113.9:4444 with 25000 packets within %d", top, approx.ErrorBound)
	}
	// Packets per action are counted as lines arrive: exact even when rows were pruned.
	if approx.Actions[0].Packets != exact.Actions[0].Packets {
		t.Errorf("pruned report: %d packets, exact %d", approx.Actions[0].Packets, exact.Actions[0].Packets)
	}
	// The outside-address and denied-port tables keep their own counts: the heavy address and
	// port stay on top with their true counts.
	if o := approx.TopOutside[0]; o.Addr != "203.0.113.9" || o.Packets != 25_000 {
		t.Errorf("top outside %+v, want 203.0.113.9 with 25000", o)
	}
	ports := map[uint16]int64{}
	for _, p := range approx.TopDeniedPorts {
		ports[p.Port] = p.Packets
	}
	if ports[445] != 25_000 || ports[22] != 25_000 {
		t.Errorf("denied ports %v, want 445 and 22 with 25000 each (the 22 ones from thousands of pruned rows)", ports)
	}
	var text bytes.Buffer
	approx.WriteText(&text)
	if !strings.Contains(text.String(), "approximate:") {
		t.Errorf("the text report does not say it is approximate:\n%s", text.String())
	}
}

func TestDecompress(t *testing.T) {
	plain := []byte("kernel: ipfw: 1 Deny TCP 203.0.113.9:4444 10.0.0.1:445 in via en0\n")
	var gz, zs bytes.Buffer
	gw := gzip.NewWriter(&gz)
	gw.Write(plain)
	gw.Close()
	zw, _ := zstd.NewWriter(&zs)
	zw.Write(plain)
	zw.Close()
	bz, err := os.ReadFile("testdata/compressed/two.log.bz2") // made with bzip2(1)
	if err != nil {
		t.Fatal(err)
	}
	for name, tt := range map[string]struct {
		in    []byte
		lines int
	}{"plain": {plain, 1}, "gzip": {gz.Bytes(), 1}, "zstd": {zs.Bytes(), 1}, "bzip2": {bz, 2}} {
		r, err := Decompress(bytes.NewReader(tt.in))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out, err := io.ReadAll(r)
		if err != nil || bytes.Count(out, []byte("ipfw:")) != tt.lines {
			t.Errorf("Decompress(%s) = %q, %v", name, out, err)
		}
	}
	if _, err := Decompress(bytes.NewReader([]byte{0x1f, 0x8b, 0, 0})); err == nil {
		t.Error("Decompress(broken gzip) = nil error")
	}
	// A truncated stream is an error, not a shorter log.
	for name, in := range map[string][]byte{"gzip": gz.Bytes()[:gz.Len()-8], "zstd": zs.Bytes()[:zs.Len()-4], "bzip2": bz[:len(bz)-10]} {
		r, err := Decompress(bytes.NewReader(in))
		if err == nil {
			_, _, err = Summarize(context.Background(), []Source{{Name: name, Reader: r}}, Options{}, ModeFull)
		}
		if err == nil {
			t.Errorf("Summarize(truncated %s) = nil error", name)
		}
	}
}

func TestLongLinesAndNoFinalNewline(t *testing.T) {
	long := strings.Repeat("x", 3*MaxLine)
	data := []byte("kernel: ipfw: 1 Deny TCP 203.0.113.9:4444 10.0.0.1:445 in via en0\n" + long + "\nkernel: ipfw: 1 Deny TCP 203.0.113.9:4444 10.0.0.1:445 in via en0")
	r := summarize(t, data, Options{Examples: 1})
	if r.Lines != 3 || r.Parsed != 2 || r.Unrecognised != 1 || len(r.Examples) != 1 || len(r.Examples[0].Line) > 4096 {
		t.Errorf("lines %d parsed %d unrecognised %d examples %d; want 3, 2, 1 and a cut example", r.Lines, r.Parsed, r.Unrecognised, len(r.Examples))
	}
}

func TestMACLinesAreNotConnections(t *testing.T) {
	r := summarize(t, []byte("h kernel: ipfw: 340 Deny MAC in via em0\n"), Options{})
	if r.Parsed != 1 || len(r.Actions) != 0 || len(r.TopOutside) != 0 {
		t.Errorf("MAC line: parsed %d actions %d outside %d; want it parsed but no connection row", r.Parsed, len(r.Actions), len(r.TopOutside))
	}
}

func BenchmarkSummarize(b *testing.B) {
	for _, conns := range []int{5000, 500_000} {
		data := genLog(1_000_000, conns)
		b.Run(fmt.Sprintf("conns=%d", conns), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := Summarize(context.Background(), []Source{{Reader: bytes.NewReader(data)}}, Options{}, ModeFull); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// With the memo off (as on logs with many distinct lines) rows go through the batched table
// path; the report must not change, exact or pruned.
func TestBatchedPathMatchesMemoPath(t *testing.T) {
	data := genLog(60_000, 20_000)
	lines := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
	for _, maxKeys := range []int{DefaultMaxKeys, 3000} {
		memo, batched := NewSummary(Options{MaxKeys: maxKeys}), NewSummary(Options{MaxKeys: maxKeys})
		batched.memoOff = true
		for i, l := range lines {
			memo.Line(l, int64(i))
			batched.Line(l, int64(i))
		}
		want, got := memo.Report(0, nil), batched.Report(0, nil)
		if maxKeys != DefaultMaxKeys {
			// Pruning depends on arrival order of the batches only through ties; compare the heads.
			if !got.Approximate || got.Actions[0].Packets > want.Actions[0].Packets+got.ErrorBound {
				t.Errorf("pruned batched report: approximate %v, packets %d vs %d", got.Approximate, got.Actions[0].Packets, want.Actions[0].Packets)
			}
			continue
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("batched path differs (-memo +batched):\n%s", diff)
		}
	}
}

// FuzzSummaryCountsAddUp: every line read is counted once, as parsed, malformed, not a
// firewall line or blank, and the lines read are the lines of the input.
func FuzzSummaryCountsAddUp(f *testing.F) {
	for _, s := range []string{"", "\n", "\n\n \n\t\r\n", "x\ny", "Mar  1 11:00:00 box kernel: ipfw: 100 Deny TCP 203.0.113.9:4000 192.0.2.1:22 in via en0\n\nhello\n"} {
		f.Add([]byte(s))
	}
	files, _ := filepath.Glob("testdata/*/*.log")
	for _, name := range files {
		if data, err := os.ReadFile(name); err == nil && len(data) < 64<<10 {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s := summarize(t, data, Options{})
		want := int64(bytes.Count(data, []byte("\n")))
		if len(data) > 0 && data[len(data)-1] != '\n' {
			want++
		}
		if sum := s.Parsed + s.Malformed + s.Unrecognised + s.Blank; s.Lines != want || sum != s.Lines {
			t.Fatalf("Summarize(%q): %d lines (want %d) = %d parsed + %d malformed + %d unrecognised + %d blank = %d",
				data, s.Lines, want, s.Parsed, s.Malformed, s.Unrecognised, s.Blank, sum)
		}
	})
}

// countRule's cache of numeric rules counts as the tally alone would: the same keys, counts,
// drops and bound, through prunes (which move slots) and rules that share a number across
// formats or that the cache does not take (leading zeros, words, long numbers).
func TestRuleCacheCountsAsTheTally(t *testing.T) {
	type rule struct {
		f    Format
		name string
	}
	numbered := func(n, distinct int) []rule {
		var rs []rule
		x := uint64(7)
		for i := range n {
			x = mix64(x + uint64(i))
			rs = append(rs, rule{FormatIPFW, strconv.Itoa(int(x % uint64(distinct)))})
		}
		return rs
	}
	for _, tt := range []struct {
		name  string
		max   int
		rules []rule
	}{
		{"few rules", 100, numbered(1000, 20)},
		{"more rules than the cache", 1000, numbered(5000, 500)},
		{"pruned", 8, numbered(5000, 200)},
		{"pruned hard", 1, numbered(500, 5)},
		{"same number, two formats", 100, []rule{{FormatIPFW, "100"}, {FormatPF, "100"}, {FormatIPFW, "100"}, {FormatPF, "100"}, {FormatPF, "164"}}},
		{"not numbers", 4, []rule{{FormatIPFW, "0100"}, {FormatIPFW, "100"}, {FormatIPFW, "0"}, {FormatIPFW, "00"}, {FormatIPFW, "1234567890"},
			{FormatIPFW, "1234567890"}, {FormatIPFW, "block-in"}, {FormatIPFW, "100"}, {FormatIPFW, "0100"}, {FormatIPFW, "-1"}, {FormatIPFW, "100"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := NewSummary(Options{MaxKeys: tt.max})
			want := newStrTally(tt.max)
			for i, r := range tt.rules {
				d := Dir(i % 3)
				s.countRule(r.f, []byte(r.name), d)
				want.cells[want.slot([]byte(string(rune('0'+r.f))+r.name))].add(d, 1)
			}
			got := map[string]cell{}
			s.rules.each(func(k string, c cell) { got[k] = c })
			wantCells := map[string]cell{}
			want.each(func(k string, c cell) { wantCells[k] = c })
			if diff := cmp.Diff(wantCells, got); diff != "" {
				t.Errorf("rules (-want +got):\n%s", diff)
			}
			if s.rules.drops != want.drops || s.rules.bound != want.bound {
				t.Errorf("drops, bound = %d, %d, want %d, %d", s.rules.drops, s.rules.bound, want.drops, want.bound)
			}
		})
	}
}

// The memo switches itself off after memoEarly misses when lines nearly never repeat, and stays
// on while they do.
func TestMemoOffEarlyOnDistinctLines(t *testing.T) {
	line := func(i int) []byte {
		return fmt.Appendf(nil, "Nov  9 00:00:01 host kernel: ipfw: 100 Deny TCP 10.0.%d.%d:%d 198.51.100.7:22 in via en0", i>>8&0xff, i&0xff, 1024+i>>16)
	}
	for _, tt := range []struct {
		name    string
		repeat  bool // every other line repeats the one before
		wantOff bool
	}{
		{"distinct lines", false, true},
		{"half the lines repeat", true, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := NewSummary(Options{})
			for i := 0; s.memoMisses <= memoEarly; i++ {
				n := i
				if tt.repeat {
					n = i / 2
				}
				s.Line(line(n), int64(i))
			}
			if s.memoOff != tt.wantOff {
				t.Errorf("after %d misses and %d hits: memo off %v, want %v", s.memoMisses, s.memoHits, s.memoOff, tt.wantOff)
			}
		})
	}
}

// Denied ports are counted in 32 bits; what passes them is carried, exactly, through merges.
func TestPortCountsPast32Bits(t *testing.T) {
	deny := func(s *Summary, n int, d Dir) {
		for range n {
			s.addPort(sideSlots{portKind: 1, port: 22}, d)
		}
	}
	a, b := NewSummary(Options{}), NewSummary(Options{})
	deny(a, 1, DirIn)
	a.ports[0][22].in = math.MaxUint32 - 1
	deny(a, 3, DirIn) // 2 past
	deny(a, 1, DirOut)
	deny(b, 1, DirIn)
	b.ports[0][22].in = math.MaxUint32
	b.ports[0][22].other = math.MaxUint32 - 1
	deny(b, 2, DirUnknown)
	b.addPort(sideSlots{portKind: 2, port: 53}, DirIn)
	if got, want := a.portCell(0, 22), (cell{In: math.MaxUint32 + 2, Out: 1}); got != want {
		t.Errorf("portCell(tcp 22) = %+v, want %+v", got, want)
	}
	a.Merge(b)
	if got, want := a.portCell(0, 22), (cell{In: 2*math.MaxUint32 + 2, Out: 1, Other: math.MaxUint32 + 1}); got != want {
		t.Errorf("after merge: portCell(tcp 22) = %+v, want %+v", got, want)
	}
	if got, want := a.portCell(1, 53), (cell{In: 1}); got != want {
		t.Errorf("after merge: portCell(udp 53) = %+v, want %+v", got, want)
	}
	r := a.Report(1, nil)
	if diff := cmp.Diff([]PortCount{{Port: 22, Proto: "tcp", Packets: 3*math.MaxUint32 + 4}}, r.TopDeniedPorts); diff != "" {
		t.Errorf("TopDeniedPorts (-want +got):\n%s", diff)
	}
}
