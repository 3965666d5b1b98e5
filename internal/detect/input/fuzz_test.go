package input

import (
	"bytes"
	"io"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fuzzRead reads data in format f twice, decoding every line and skipping every line, and
// checks what must hold whatever the input: no panic, the end is io.EOF or a
// *NoTelemetryError (or a gzip error), events come from lines that exist and carry the right source, the counts
// add up, and skipping a line keeps the process table exactly as decoding it does.
func fuzzRead(t *testing.T, data []byte, f Format) {
	full := NewReader(bytes.NewReader(data), "fuzz", Options{Format: f})
	n := 0
	for {
		ev, err := full.Next()
		if err != nil {
			_, none := err.(*NoTelemetryError)
			gz := bytes.HasPrefix(data, []byte{0x1f, 0x8b}) // a broken gzip stream is an error
			if !none && err != io.EOF && !gz {
				t.Fatalf("Next() error %v, want io.EOF or *NoTelemetryError", err)
			}
			break
		}
		n++
		if ev.Line < 1 || ev.Line > full.Stats().Lines {
			t.Fatalf("event from line %d of %d", ev.Line, full.Stats().Lines)
		}
		if f != Auto && ev.Source != string(f) && !(f == UnifiedLog && ev.Source == string(Eslogger)) {
			t.Fatalf("format %s gave an event from %s", f, ev.Source)
		}
		if ev.Kind == "" {
			t.Fatalf("event without a kind: %+v", ev)
		}
	}
	st := full.Stats()
	var recs int64
	for _, c := range st.Records {
		recs += c
	}
	if st.Events != int64(n) || st.Skipped != 0 {
		t.Fatalf("stats %+v after %d events", st, n)
	}

	skip := NewReader(bytes.NewReader(data), "fuzz", Options{Format: f, Interesting: func([]byte) bool { return false }})
	for {
		if _, err := skip.Next(); err != nil {
			break
		}
		t.Fatal("an event although Interesting turned every line down")
	}
	sst := skip.Stats()
	// skipped, every recognised line is counted Skipped but the count records of the unified
	// log, which are Ignored without asking Interesting
	if sst.Skipped+sst.Ignored != recs || sst.Malformed != st.Malformed {
		t.Fatalf("skipping: stats %+v, decoding: %+v", sst, st)
	}
	if diff := cmp.Diff(tableOf(full.procs), tableOf(skip.procs), cmp.AllowUnexported(proc{}, cmdRef{})); diff != "" {
		t.Fatalf("process table after decoding (-) and after skipping (+):\n%s", diff)
	}
	if full.procs.len() > DefaultMaxProcs {
		t.Fatalf("table holds %d processes", full.procs.len())
	}
}

func tableOf(t *bounded[procKey, proc]) map[procKey]proc {
	m := make(map[procKey]proc, len(t.m))
	for k, v := range t.m {
		m[k] = v.v
	}
	return m
}

func seed(f *testing.F, names ...string) {
	for _, n := range names {
		for l := range bytes.Lines(fixture(f, n)) {
			f.Add(bytes.TrimSpace(l))
		}
		f.Add(fixture(f, n))
	}
}

func FuzzEslogger(f *testing.F) {
	seed(f, "eslogger-v9-macos15-exec.json", "eslogger-v10-macos26-fork.json",
		"SYNTHETIC-eslogger-v9-exec-socketfilterfw-off.json", "SYNTHETIC-eslogger-v10-exec-defaults-alf-off.json",
		"SYNTHETIC-eslogger-file-events.ndjson")
	f.Add([]byte(session + execLine(97391, 58916, "/usr/bin/sudo", "/sbin/pfctl") + exitLine(58916, 938, "/bin/zsh")))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzRead(t, data, Eslogger) })
}

func FuzzOsquery(f *testing.F) {
	seed(f, "SYNTHETIC-osquery-es_process_events.ndjson")
	f.Fuzz(func(t *testing.T, data []byte) { fuzzRead(t, data, Osquery) })
}

func FuzzUnifiedLog(f *testing.F) {
	seed(f, "unifiedlog-ndjson-fixture.ndjson", "SYNTHETIC-unifiedlog-eslogger-oslog.ndjson")
	f.Fuzz(func(t *testing.T, data []byte) { fuzzRead(t, data, UnifiedLog) })
}

func FuzzSanta(f *testing.F) {
	seed(f, "santa-exec-lines.log", "SYNTHETIC-santa-actions.log")
	f.Fuzz(func(t *testing.T, data []byte) { fuzzRead(t, data, Santa) })
}

func FuzzECS(f *testing.F) {
	f.Add(compactFixture(f, "elastic-endpoint-7.10-macos-defaults-write-exec.json"))
	f.Add(compactFixture(f, "elastic-endpoint-7.10-macos-systemsetup-exec-with-parent.json"))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzRead(t, data, ECS) })
}

func FuzzAuto(f *testing.F) {
	f.Add(mixed(f))
	seed(f, "SYNTHETIC-osquery-es_process_events.ndjson", "SYNTHETIC-santa-actions.log", "SYNTHETIC-eslogger-file-events.ndjson")
	f.Add([]byte("not telemetry\n"))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzRead(t, data, Auto) })
}
