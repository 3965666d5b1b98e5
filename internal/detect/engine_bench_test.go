package detect

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/firewarden/firewarden/internal/detect/event"
	"github.com/firewarden/firewarden/internal/detect/input"
)

// caseEvents decodes the telemetry of testdata/cases (positives, look-alikes, file and profile
// events) once, for the benchmarks.
func caseEvents(tb testing.TB) []*event.Event {
	names, err := filepath.Glob("testdata/cases/*/events.jsonl")
	if err != nil || len(names) == 0 {
		tb.Fatalf("no cases: %v", err)
	}
	return decodeEvents(tb, names)
}

// decodeEvents reads every event of the named telemetry files, each a copy of its own.
func decodeEvents(tb testing.TB, names []string) []*event.Event {
	tb.Helper()
	var evs []*event.Event
	for _, name := range names {
		f, err := os.Open(name)
		if err != nil {
			tb.Fatal(err)
		}
		r := input.NewReader(f, name, input.Options{})
		for {
			ev, err := r.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				tb.Fatal(err)
			}
			cp := cloneEvent(ev)
			evs = append(evs, &cp)
		}
		f.Close()
	}
	return evs
}

// BenchmarkProcess runs the built-in rules over every event of the cases (folding on, so that
// alerts cost what they cost in a run); one op is one event.
func BenchmarkProcess(b *testing.B) {
	rs, err := LoadRules(true)
	if err != nil {
		b.Fatal(err)
	}
	evs := caseEvents(b)
	e := New(rs, Options{})
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e.Process(evs[i%len(evs)])
	}
}
