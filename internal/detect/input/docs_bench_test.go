package input

import (
	"bytes"
	"encoding/json"
	"io"
	"testing"
)

// BenchmarkReaderLayouts reads the 1,001 eslogger lines of benchCorpus laid out as NDJSON (the
// fast path, for comparison), pretty-printed with two-space indents, and as one pretty-printed
// JSON array, every record decoded. MB/s are of the NDJSON bytes, so the layouts compare by
// records per second.
func BenchmarkReaderLayouts(b *testing.B) {
	corpus, lines := benchCorpus(1000)
	var pretty, array bytes.Buffer
	array.WriteString("[\n")
	for i, l := range bytes.Split(bytes.TrimSpace(corpus), []byte("\n")) {
		if err := json.Indent(&pretty, l, "", "  "); err != nil {
			b.Fatal(err)
		}
		pretty.WriteByte('\n')
		if i > 0 {
			array.WriteString(",\n")
		}
		json.Indent(&array, l, "  ", "  ")
	}
	array.WriteString("\n]\n")
	for _, l := range []struct {
		name string
		data []byte
	}{{"ndjson", corpus}, {"pretty", pretty.Bytes()}, {"array", array.Bytes()}} {
		b.Run(l.name, func(b *testing.B) {
			b.SetBytes(int64(len(corpus)))
			b.ReportAllocs()
			for b.Loop() {
				r := NewReader(bytes.NewReader(l.data), "bench", Options{})
				n := 0
				for {
					if _, err := r.Next(); err == io.EOF {
						break
					} else if err != nil {
						b.Fatal(err)
					}
					n++
				}
				if n != lines {
					b.Fatalf("%d events, want %d", n, lines)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*lines), "ns/record")
		})
	}
}
