package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/firewarden/firewarden/internal/exposure/scan"
)

// TestScanProgress feeds progress at set times and reads the lines written: rate-limited, the
// end of each pass always shown, the time left at the pass's pace.
func TestScanProgress(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC)
	var now time.Time
	var b strings.Builder
	progress := scanProgress(&b, func() time.Time { return now })
	var lines []string
	for _, step := range []struct {
		at time.Duration
		p  scan.Progress
	}{
		{0, scan.Progress{Done: 0, Total: 1000}},
		{50 * time.Millisecond, scan.Progress{Done: 10, Total: 1000}}, // too soon: not shown
		{time.Second, scan.Progress{Done: 100, Total: 1000, Open: 1}},
		{time.Second + 50*time.Millisecond, scan.Progress{Done: 120, Total: 1000, Open: 1}}, // too soon
		{5 * time.Second, scan.Progress{Done: 1000, Total: 1000, Open: 2}},                  // end of the pass
		{5*time.Second + 10*time.Millisecond, scan.Progress{Pass: 1, Done: 1, Total: 900, Open: 2}},
		{5*time.Second + 500*time.Millisecond, scan.Progress{Pass: 1, Done: 450, Total: 900, Open: 2}}, // no pace yet
		{6*time.Second + 500*time.Millisecond, scan.Progress{Pass: 1, Done: 899, Total: 900, Open: 2}},
		{6*time.Second + 501*time.Millisecond, scan.Progress{Pass: 1, Done: 900, Total: 900, Open: 2}},
	} {
		now = t0.Add(step.at)
		b.Reset()
		progress(step.p)
		lines = append(lines, b.String())
	}
	want := []string{
		"\r\033[Kscan: 0/1000 ports (0%), 0 open",
		"",
		"\r\033[Kscan: 100/1000 ports (10%), 1 open, about 9s left",
		"",
		"\r\033[Kscan: 1000/1000 ports (100%), 2 open",
		"",
		"\r\033[Kscan: retry 1: 450/900 silent ports, 2 open",
		"\r\033[Kscan: retry 1: 899/900 silent ports, 2 open, under 1s left",
		"\r\033[Kscan: retry 1: 900/900 silent ports, 2 open",
	}
	if diff := cmp.Diff(want, lines); diff != "" {
		t.Errorf("progress lines (-want +got):\n%s", diff)
	}
}
