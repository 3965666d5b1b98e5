package cli

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"

	"github.com/firewarden/firewarden/internal/exposure"
)

// The summary line counts listeners in words a reader expects: "1 listener", "2 listeners".
func TestExposureSummaryCount(t *testing.T) {
	one := exposure.Judgement{Listener: exposure.Listener{Proto: "tcp", Addr: netip.MustParseAddrPort("0.0.0.0:2024"), Scope: exposure.ScopeAll}}
	for _, tt := range []struct {
		js     []exposure.Judgement
		judged bool
		want   string
	}{
		{[]exposure.Judgement{one}, false, "\n1 listener\n"},
		{[]exposure.Judgement{one, one}, false, "\n2 listeners\n"},
		{[]exposure.Judgement{{Listener: one.Listener, Verdict: exposure.Expected}}, true, "\n1 listener: 1 expected, 0 too wide, 0 unexpected\n"},
	} {
		var out bytes.Buffer
		a := &app{Streams: Streams{Out: &out, Err: &out}}
		sum := exposureSummary{Listeners: len(tt.js)}
		if tt.judged {
			sum.Expected = len(tt.js)
		}
		if err := printExposure(a, tt.js, tt.judged, sum, nil); err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(out.String(), tt.want) {
			t.Errorf("printExposure(%d listeners, judged %v) ends %q, want %q", len(tt.js), tt.judged, out.String(), tt.want)
		}
	}
}
