package input

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/firewarden/firewarden/internal/detect/event"
)

// docSamples are one record of each JSON format, compact, each of which is one event.
func docSamples(t testing.TB) [][]byte {
	t.Helper()
	firstLine := func(name string) []byte {
		l, _, _ := bytes.Cut(fixture(t, name), []byte("\n"))
		return bytes.TrimSpace(l)
	}
	return [][]byte{
		bytes.TrimSpace(fixture(t, "eslogger-v9-macos15-exec.json")),
		bytes.TrimSpace(compactFixture(t, "elastic-endpoint-7.10-macos-systemsetup-exec-with-parent.json")),
		firstLine("SYNTHETIC-osquery-es_process_events.ndjson"),
		firstLine("unifiedlog-ndjson-fixture.ndjson"),
		bytes.TrimSpace(fixture(t, "eslogger-v10-macos26-fork.json")),
	}
}

func indent(t testing.TB, doc []byte, prefix, ind string) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Indent(&b, doc, prefix, ind); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// appleColon is a key and its colon at the start of a line of indented JSON.
var appleColon = regexp.MustCompile(`(?m)^(\s*"(?:[^"\\]|\\.)*"): `)

// layout is one way of writing documents down: it returns the input and the line each
// document starts on.
type layout func(t testing.TB, docs [][]byte) (string, []int64)

var layouts = []struct {
	name string
	lay  layout
}{
	{"ndjson", func(t testing.TB, docs [][]byte) (string, []int64) {
		var b strings.Builder
		var at []int64
		for i, d := range docs {
			at = append(at, int64(i+1))
			b.Write(d)
			b.WriteByte('\n')
		}
		return b.String(), at
	}},
	{"pretty, two spaces", func(t testing.TB, docs [][]byte) (string, []int64) {
		return prettyDocs(t, docs, "  ", "\n")
	}},
	{"pretty, tabs, CRLF, no final line end", func(t testing.TB, docs [][]byte) (string, []int64) {
		s, at := prettyDocs(t, docs, "\t", "\r\n")
		return strings.TrimSuffix(s, "\r\n"), at
	}},
	{"pretty, closing and opening brace on one line", func(t testing.TB, docs [][]byte) (string, []int64) {
		var b strings.Builder
		var at []int64
		n := int64(1)
		for i, d := range docs {
			at = append(at, n)
			p := indent(t, d, "", "  ")
			b.WriteString(p)
			n += int64(strings.Count(p, "\n"))
			if i == len(docs)-1 {
				b.WriteByte('\n')
			}
		}
		return b.String(), at
	}},
	{"concatenated on one line", func(t testing.TB, docs [][]byte) (string, []int64) {
		at := make([]int64, len(docs))
		for i := range at {
			at[i] = 1
		}
		return string(bytes.Join(docs, nil)) + "\n", at
	}},
	{"concatenated with spaces, two lines", func(t testing.TB, docs [][]byte) (string, []int64) {
		var b strings.Builder
		var at []int64
		for i, d := range docs {
			at = append(at, int64(i/2+1))
			b.Write(d)
			if i%2 == 1 {
				b.WriteString(" \n")
			} else {
				b.WriteString("  ")
			}
		}
		return b.String(), at
	}},
	{"array, one line", func(t testing.TB, docs [][]byte) (string, []int64) {
		at := make([]int64, len(docs))
		for i := range at {
			at[i] = 1
		}
		return "[" + string(bytes.Join(docs, []byte(","))) + "]\n", at
	}},
	{"array, pretty (jq, json.dumps)", func(t testing.TB, docs [][]byte) (string, []int64) {
		all := "[" + string(bytes.Join(docs, []byte(","))) + "]"
		s := indent(t, []byte(all), "", "  ") + "\n"
		var at []int64
		for i, l := range strings.Split(s, "\n") {
			if l == "  {" {
				at = append(at, int64(i+1))
			}
		}
		return s, at
	}},
	{"array, one element a line, unindented", func(t testing.TB, docs [][]byte) (string, []int64) {
		var b strings.Builder
		var at []int64
		b.WriteString("[\n")
		for i, d := range docs {
			at = append(at, int64(i+2))
			b.Write(d)
			if i < len(docs)-1 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString("]\n")
		return b.String(), at
	}},
	{"log show --style json (Apple's layout)", func(t testing.TB, docs [][]byte) (string, []int64) {
		// [{ on the first line, "key" : value, },{ between records, }] at the end
		var b strings.Builder
		var at []int64
		n := int64(1)
		b.WriteString("[")
		for i, d := range docs {
			if i > 0 {
				b.WriteString(",")
			}
			at = append(at, n)
			p := appleColon.ReplaceAllString(indent(t, d, "", "  "), "$1 : ")
			b.WriteString(p)
			n += int64(strings.Count(p, "\n"))
		}
		b.WriteString("]\n")
		return b.String(), at
	}},
	{"two arrays and a document", func(t testing.TB, docs [][]byte) (string, []int64) {
		var b strings.Builder
		var at []int64
		k := min(2, len(docs))
		b.WriteString("[ ")
		for i, d := range docs[:k] {
			if i > 0 {
				b.WriteString(" , ")
			}
			b.Write(d)
			at = append(at, 1)
		}
		b.WriteString(" ]\n\n[\n]\n")
		n := int64(5)
		for _, d := range docs[k:] {
			at = append(at, n)
			p := indent(t, d, "", "    ")
			b.WriteString(p)
			b.WriteByte('\n')
			n += int64(strings.Count(p, "\n")) + 1
		}
		return b.String(), at
	}},
}

func prettyDocs(t testing.TB, docs [][]byte, ind, eol string) (string, []int64) {
	var b strings.Builder
	var at []int64
	n := int64(1)
	for _, d := range docs {
		at = append(at, n)
		p := indent(t, d, "", ind)
		n += int64(strings.Count(p, "\n")) + 1
		b.WriteString(strings.ReplaceAll(p, "\n", eol))
		b.WriteString(eol)
	}
	return b.String(), at
}

// TestDocumentLayouts: the same records give the same events however the JSON is laid out,
// each under the line its document starts on.
func TestDocumentLayouts(t *testing.T) {
	docs := docSamples(t)
	var nd bytes.Buffer
	for _, d := range docs {
		nd.Write(d)
		nd.WriteByte('\n')
	}
	want, st, err := readAll(t, nd.Bytes(), Options{})
	if err != nil || len(want) != len(docs) || st.Malformed != 0 {
		t.Fatalf("ndjson: %d events, %+v, %v; want %d", len(want), st, err, len(docs))
	}
	for _, l := range layouts {
		t.Run(l.name, func(t *testing.T) {
			in, at := l.lay(t, docs)
			var skips []Skip
			got, st, err := readAll(t, []byte(in), Options{Skip: func(s Skip) { skips = append(skips, s) }})
			if err != nil {
				t.Fatalf("Next() error %v", err)
			}
			if diff := cmp.Diff(want, got, ignoreRaw, cmpopts.IgnoreFields(event.Event{}, "Line")); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
			var lines []int64
			for _, e := range got {
				lines = append(lines, e.Line)
			}
			if diff := cmp.Diff(at, lines); diff != "" {
				t.Errorf("event lines (-want +got):\n%s", diff)
			}
			if st.Malformed != 0 || st.TooLong != 0 || len(skips) != 0 {
				t.Errorf("Stats() = %+v, skips %v; want nothing malformed or skipped", st, skips)
			}
			if wl := int64(strings.Count(in, "\n") + 1); st.Lines > wl {
				t.Errorf("Stats().Lines = %d, want at most %d", st.Lines, wl)
			}
		})
	}
}

// TestPrettyFixtures: the Elastic documents as the data set has them, pretty-printed with tabs
// and wrapped in an Elasticsearch hit, are read as they are.
func TestPrettyFixtures(t *testing.T) {
	for _, name := range []string{"elastic-endpoint-7.10-macos-defaults-write-exec.json", "elastic-endpoint-7.10-macos-systemsetup-exec-with-parent.json"} {
		t.Run(name, func(t *testing.T) {
			want, _, err := readAll(t, compactFixture(t, name), Options{})
			if err != nil || len(want) != 1 {
				t.Fatalf("compact: %d events, %v", len(want), err)
			}
			got, st, err := readAll(t, fixture(t, name), Options{})
			if err != nil || st.Malformed != 0 {
				t.Fatalf("pretty: %+v, %v", st, err)
			}
			if diff := cmp.Diff(want, got, ignoreRaw); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDocumentRaw: Raw is the document as the input has it, pretty-printing included.
func TestDocumentRaw(t *testing.T) {
	doc := docSamples(t)[0]
	p := indent(t, doc, "", "  ")
	for _, tt := range []struct{ name, in, want string }{
		{"pretty", "\n" + p + "\n", p},
		{"in an array", "[" + p + ",\n" + p + "]", p},
		{"concatenated", string(doc) + string(doc), string(doc)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := NewReader(strings.NewReader(tt.in), "in", Options{})
			ev, err := r.Next()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, string(ev.Raw)); diff != "" {
				t.Errorf("Raw (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDocumentDamage: what is not JSON, or not whole, is counted and reported where it
// starts, and the reading goes on after it.
func TestDocumentDamage(t *testing.T) {
	docs := docSamples(t)
	exec := string(docs[0])
	pretty := indent(t, docs[0], "", "  ")
	plines := int64(strings.Count(pretty, "\n") + 1)
	half := pretty[:strings.LastIndex(pretty[:len(pretty)/2], "\n")] // whole lines
	hlines := int64(strings.Count(half, "\n") + 1)
	santa := string(fixture(t, "santa-exec-lines.log"))
	for _, tt := range []struct {
		name      string
		in        string
		maxDoc    int
		events    int
		lines     []int64 // of the events
		malformed int64
		tooLong   int64
		skips     []Skip
	}{
		{name: "truncated ndjson line", in: exec[:200] + "\n" + exec + "\n", events: 1, lines: []int64{2}, malformed: 1},
		{name: "truncated ndjson line outside a string", in: exec[:strings.Index(exec, `"process":`)+10] + "\n" + exec + "\n",
			events: 1, lines: []int64{2}, malformed: 1},
		{name: "truncated ndjson line, then pretty", in: exec[:200] + "\n" + pretty + "\n", events: 1, lines: []int64{2}, malformed: 1},
		{name: "truncated last line", in: exec + "\n" + exec[:300], events: 1, lines: []int64{1}, malformed: 1},
		{name: "pretty document cut short", in: exec + "\n" + half + "\n" + exec + "\n", events: 2,
			lines: []int64{1, hlines + 2}, malformed: 1,
			skips: []Skip{{"in", 2, fmt.Sprintf("JSON document (lines 2-%d) is not valid: not closed before line %d", hlines+1, hlines+2)}}},
		{name: "pretty document cut short at the end", in: exec + "\n" + half, events: 1, lines: []int64{1}, malformed: 1,
			skips: []Skip{{"in", 2, fmt.Sprintf("JSON document (lines 2-%d) is not valid: not closed at the end of the input (truncated?)", hlines+1)}}},
		{name: "string broken over lines", in: "{\n  \"a\": \"b\n c\"\n}\n" + exec + "\n", events: 1, lines: []int64{5}, malformed: 3,
			skips: []Skip{{"in", 1, "JSON document (lines 1-2) is not valid: a line ends inside a string"}}},
		{name: "array not closed", in: "[\n" + exec + ",\n" + exec + "\n", events: 2, lines: []int64{2, 3},
			skips: []Skip{{"in", 1, "JSON array not closed at the end of the input (truncated?)"}}},
		{name: "array of other values", in: "[{}, 1, \"two\", [3], null, " + exec + "]\n", events: 1, lines: []int64{1}, malformed: 5},
		{name: "text after a document", in: exec + " trailing words\n" + exec + "\n", events: 2, lines: []int64{1, 2}, malformed: 1},
		{name: "santa lines around a pretty document", in: santa + pretty + "\n" + santa, events: 5, lines: []int64{1, 2, 3, 3 + plines, 4 + plines}},
		{name: "santa line ends an open document", in: exec[:100] + "\n" + santa, events: 2, lines: []int64{2, 3}, malformed: 1},
		{name: "document over the cap", in: pretty + "\n" + exec + "\n", maxDoc: 1000, events: 1, lines: []int64{plines + 1}, tooLong: 1,
			skips: []Skip{{"in", 1, "JSON document longer than 1000 bytes"}}},
		{name: "array element over the cap", in: "[" + exec + "," + pretty + "," + exec + "]", maxDoc: len(exec) + 10, events: 2,
			lines: []int64{1, plines}, tooLong: 1, skips: []Skip{{"in", 1, fmt.Sprintf("JSON document longer than %d bytes", len(exec)+10)}}},
		{name: "compact element over the cap", in: "[" + exec + "," + exec + "]\n", maxDoc: len(exec) - 1, lines: nil, tooLong: 2,
			skips: []Skip{{"in", 1, fmt.Sprintf("JSON document longer than %d bytes", len(exec)-1)}, {"in", 1, fmt.Sprintf("JSON document longer than %d bytes", len(exec)-1)}}},
		{name: "not JSON", in: "{ this is not json\n  at all\n}\n", malformed: 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var skips []Skip
			r := NewReader(strings.NewReader(tt.in), "in", Options{Skip: func(s Skip) { skips = append(skips, s) }})
			if tt.maxDoc > 0 {
				r.maxDoc = tt.maxDoc
			}
			var lines []int64
			for {
				ev, err := r.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					if _, ok := err.(*NoTelemetryError); ok && tt.events == 0 {
						break
					}
					t.Fatalf("Next() = %v", err)
				}
				lines = append(lines, ev.Line)
			}
			if len(lines) != tt.events {
				t.Errorf("Next() gave %d events, want %d", len(lines), tt.events)
			}
			if diff := cmp.Diff(tt.lines, lines); diff != "" {
				t.Errorf("event lines (-want +got):\n%s", diff)
			}
			if st := r.Stats(); st.Malformed != tt.malformed || st.TooLong != tt.tooLong {
				t.Errorf("Stats() = %+v, want %d malformed, %d too long", st, tt.malformed, tt.tooLong)
			}
			if diff := cmp.Diff(tt.skips, skips); diff != "" {
				t.Errorf("skips (-want +got):\n%s", diff)
			}
		})
	}
}

// TestLongArray: a JSON array on one line far longer than MaxLine (a compact export) is read
// element by element, with memory bounded by the document cap, not the line.
func TestLongArray(t *testing.T) {
	doc := docSamples(t)[0]
	const n = 2000 // about 8 MB
	var b bytes.Buffer
	b.WriteString("[")
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		b.Write(doc)
	}
	b.WriteString("]\n")
	b.Write(doc)
	if b.Len() < 4*MaxLine {
		t.Fatalf("corpus of %d bytes, want it longer than the line cap", b.Len())
	}
	evs, st, err := readAll(t, b.Bytes(), Options{})
	if err != nil || len(evs) != n+1 || st.Malformed != 0 || st.TooLong != 0 || st.Lines != 2 {
		t.Fatalf("%d events, %+v, %v; want %d on 2 lines", len(evs), st, err, n+1)
	}
	if evs[n-1].Line != 1 || evs[n].Line != 2 {
		t.Errorf("lines %d, %d; want 1, 2", evs[n-1].Line, evs[n].Line)
	}
}

func TestArrayStart(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want bool
	}{
		{"", true},
		{"\n", true},
		{" {", true},
		{"\t\t[", true},
		{"]", true},
		{"2022-05-12T11:38:03.923Z] I santad: action=EXEC", false},
		{` "a"]`, false},
		{"1,2]", false},
	} {
		if got := arrayStart([]byte(tt.in)); got != tt.want {
			t.Errorf("arrayStart(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

// docScanTable holds values and where they end, fed in one piece with a line end.
var docScanTable = []struct {
	in     string
	end    int
	broken string
}{
	{`{"a":1}`, 7, ""},
	{`{"a":1} {"b":2}`, 7, ""},
	{`{"a":"}"}x`, 9, ""},
	{`{"a":"\"}"}`, 11, ""},
	{`{"a":"\\"}`, 10, ""},
	{`[{"a":[1,2]},{}]`, 16, ""},
	{`"str"`, 5, ""},
	{`"st\"r",`, 7, ""},
	{`123,`, 3, ""},
	{`null]`, 4, ""},
	{`true`, 4, ""},
	{`:`, 1, ""},
	{`{"a":`, -1, ""},
	{`{"a":"b`, -1, brokenString},
	{"{\"a\":\"b\nc\"}", -1, brokenString},
	{"{\"a\":\"b\rc\"}", -1, brokenString},
	{`{{{`, -1, ""},
}

func TestDocScan(t *testing.T) {
	for _, tt := range docScanTable {
		var d docScan
		end, broken := d.feed([]byte(tt.in), true)
		if end != tt.end || broken != tt.broken {
			t.Errorf("feed(%q) = %d, %q; want %d, %q", tt.in, end, broken, tt.end, tt.broken)
		}
		// fed a byte at a time, mid-line, the value ends at the same place
		d = docScan{}
		got := -1
		for i := 0; i < len(tt.in) && got < 0; i++ {
			e, br := d.feed([]byte{tt.in[i]}, false)
			if br != "" {
				break
			}
			if e >= 0 {
				got = i + e
			}
		}
		if tt.broken == "" && tt.end >= 0 && got != tt.end && !d.scalar {
			t.Errorf("feed(%q) byte by byte ends at %d, want %d", tt.in, got, tt.end)
		}
	}
}

// docsOf returns the records a Reader finds in data, read as Next does (a line that is not
// one object is scanned), with the size of the buffer and the caps given.
func docsOf(data []byte, bufSize, maxLine int) (recs [][]byte, st Stats, skips []Skip, err error) {
	r := NewReader(bytes.NewReader(data), "fuzz", Options{Skip: func(s Skip) { skips = append(skips, s) }})
	r.bufSize, r.maxLine = bufSize, maxLine
	if err := r.start(); err != nil {
		return nil, r.Stats(), skips, err
	}
	for {
		rec, scanned, err := r.record()
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			return recs, r.Stats(), skips, err
		}
		if rec[0] == '{' && !scanned {
			var t jtop
			s := jscan{b: rec}
			if !t.walk(&s) {
				r.scan(rec, true, false)
				continue
			}
		}
		if r.recLine < 1 || r.recLine > r.lines {
			return recs, r.Stats(), skips, fmt.Errorf("record on line %d of %d", r.recLine, r.lines)
		}
		recs = append(recs, bytes.Clone(rec))
	}
}

// FuzzDocuments checks the document scanner against encoding/json: when the input is a
// sequence of JSON objects, each layout of them (one a line, pretty-printed, concatenated,
// in an array on one line or pretty-printed) gives back exactly those objects, also with a
// 16-byte buffer (every long line in pieces) for the layouts that do not rely on whole lines.
// Any input: no panic, records within the lines read.
func FuzzDocuments(f *testing.F) {
	for _, tt := range docScanTable {
		f.Add([]byte(tt.in))
	}
	for _, d := range docSamples(f) {
		f.Add(d)
	}
	for _, l := range layouts {
		in, _ := l.lay(f, [][]byte{[]byte(`{"a":[1,{"b":"}"}],"c":"\"{"}`), []byte(`{}`)})
		f.Add([]byte(in))
	}
	f.Add([]byte("[2022-05-12T11:38:03.923Z] I santad: action=EXEC|pid=1\n{\n\"a\":1}\n[{}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, _, _, err := docsOf(data, 16, 32); err != nil && !bytes.HasPrefix(data, []byte{0x1f, 0x8b}) {
			t.Fatalf("docsOf: %v", err)
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		var want [][]byte
		for {
			var raw json.RawMessage
			if err := dec.Decode(&raw); err == io.EOF {
				break
			} else if err != nil {
				return
			}
			var c bytes.Buffer
			if json.Compact(&c, raw) != nil || c.Len() == 0 || c.Bytes()[0] != '{' {
				return
			}
			want = append(want, c.Bytes())
		}
		if len(want) == 0 {
			return
		}
		for _, l := range layouts {
			in, _ := l.lay(t, want)
			small := strings.Contains(l.name, "pretty") || strings.Contains(l.name, "array")
			for _, size := range []int{readBuffer, 16} {
				if size == 16 && !small {
					continue
				}
				recs, st, skips, err := docsOf([]byte(in), size, max(size, MaxLine/size))
				if err != nil || len(skips) > 0 || st.Malformed > 0 {
					t.Fatalf("%s, buffer %d: %v, skips %v, %+v", l.name, size, err, skips, st)
				}
				var got [][]byte
				for _, r := range recs {
					var c bytes.Buffer
					if err := json.Compact(&c, r); err != nil {
						t.Fatalf("%s, buffer %d: record %q: %v", l.name, size, r, err)
					}
					got = append(got, c.Bytes())
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Fatalf("%s, buffer %d: documents (-want +got):\n%s", l.name, size, diff)
				}
			}
		}
	})
}
