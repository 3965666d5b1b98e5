package fwlog

import (
	"bytes"
	"context"
	"fmt"
	"testing"
)

// genFormat writes n lines of one format with many distinct sources, ports and rules, for an
// end-to-end benchmark of detection, parsing and counting.
func genFormat(format string, n int) []byte {
	var b bytes.Buffer
	for i := range n {
		a, c, port := i%200, (i/200)%250, 1024+i%50000
		switch format {
		case "filterlog":
			fmt.Fprintf(&b, "<134>1 2026-02-20T09:%02d:%02d+01:00 opn filterlog 69805 - [meta sequenceId=\"%d\"] %d,,,%08x,igb0,match,block,in,4,0x0,,64,%d,0,DF,6,tcp,60,198.51.%d.%d,192.0.2.10,%d,22,0,S,1,,64240,,mss\n",
				i/60%60, i%60, i, i%40, i%40, i%65535, c, a, port)
		case "windows":
			fmt.Fprintf(&b, "2026-02-20 09:%02d:%02d DROP TCP 198.51.%d.%d 192.0.2.10 %d 3389 52 S 1234567 0 64240 - - - RECEIVE 4\n", i/60%60, i%60, c, a, port)
		case "mikrotik":
			fmt.Fprintf(&b, "2026-02-20T09:%02d:%02d+01:00 gw firewall,info drop-%d input: in:ether1 out:(unknown 0), connection-state:new src-mac 02:00:5e:aa:bb:cc, proto TCP (SYN), 198.51.%d.%d:%d->192.0.2.1:22, len 60\n",
				i/60%60, i%60, i%40, c, a, port)
		}
	}
	return b.Bytes()
}

func BenchmarkSummarizeFormats(b *testing.B) {
	const n = 200_000
	for _, format := range []string{"filterlog", "windows", "mikrotik"} {
		data := genFormat(format, n)
		b.Run(format, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				s, _, err := Summarize(context.Background(), []Source{{Name: format, Reader: bytes.NewReader(data)}}, Options{}, ModeFull)
				if err != nil || s.Parsed != n {
					b.Fatalf("parsed %d of %d: %v", s.Parsed, n, err)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
		})
	}
}
