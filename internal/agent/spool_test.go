package agent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/firewarden/firewarden/internal/fleet/wire"
	"github.com/firewarden/firewarden/internal/statedir"
)

var t0 = time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)

// rec is a valid record of kind (seq left for the spool to assign).
func rec(kind string) wire.Record {
	r := wire.Record{Kind: kind, Time: t0}
	switch kind {
	case wire.KindRun:
		r.Run = &wire.Run{RunID: "0193a5b0-0000-7000-8000-000000000001", Mode: wire.ModeReport, Results: []wire.Result{{Check: "alf.enabled", Status: wire.StatusPass, Controls: []string{}}}}
	case wire.KindDrift:
		r.Drift = &wire.Drift{Check: "alf.enabled", From: wire.StatusPass, To: wire.StatusFail, Actual: "off", Cause: wire.CauseObserved}
	case wire.KindAlert:
		r.Alert = &wire.Alert{Rule: "alf_disabled", Severity: "high"}
	}
	return r
}

func recs(kinds ...string) []wire.Record {
	var out []wire.Record
	for _, k := range kinds {
		out = append(out, rec(k))
	}
	return out
}

func openState(t testing.TB, dir string) *statedir.Dir {
	t.Helper()
	d, err := statedir.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func openSpool(t *testing.T, dir string) *Spool {
	t.Helper()
	s, err := OpenSpool(openState(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	s.Now = func() time.Time { return t0 }
	return s
}

// spooled lists the spool's records as "seq:kind", read back from disk.
func spooled(t *testing.T, s *Spool) string {
	t.Helper()
	got, err := s.Batch(1<<30, 1<<40)
	if err != nil {
		t.Fatal(err)
	}
	return kinds(got)
}

func TestSpoolOrderAckReopen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	s := openSpool(t, dir)
	if _, err := s.Add(recs("run", "drift", "run", "alert", "run")...); err != nil {
		t.Fatal(err)
	}
	batch, err := s.Batch(3, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := kinds(batch), "1:run 2:drift 3:run"; got != want {
		t.Errorf("Batch(3) = %s, want %s", got, want)
	}
	if n, err := s.Ack(2); err != nil || n != 2 {
		t.Fatalf("Ack(2) = %d, %v, want 2, nil", n, err)
	}
	s = openSpool(t, dir)
	if got, want := spooled(t, s), "3:run 4:alert 5:run"; got != want {
		t.Errorf("after reopening: %s, want %s", got, want)
	}
	if got := s.Next(); got != 6 {
		t.Errorf("Next() after reopening = %d, want 6", got)
	}
	if _, err := s.Ack(5); err != nil {
		t.Fatal(err)
	}
	s = openSpool(t, dir)
	if n, _ := s.Depth(); n != 0 || s.Next() != 6 {
		t.Errorf("emptied spool: depth %d, next %d, want 0, 6 (seqs are never reused)", n, s.Next())
	}
}

// A batch never exceeds its byte budget, except that one record always goes.
func TestSpoolBatchBudget(t *testing.T) {
	s := openSpool(t, t.TempDir()+"/state")
	s.Add(recs("run", "run", "run")...)
	_, size := s.Depth()
	per := size / 3
	for _, tt := range []struct {
		budget int64
		want   string
	}{
		{1, "1:run"},
		{per, "1:run"},
		{2 * per, "1:run 2:run"},
		{size, "1:run 2:run 3:run"},
	} {
		got, err := s.Batch(10, tt.budget)
		if err != nil {
			t.Fatal(err)
		}
		if kinds(got) != tt.want {
			t.Errorf("Batch(10, %d) = %s, want %s", tt.budget, kinds(got), tt.want)
		}
	}
}

// The states a kill can leave the spool in, built on disk, and what reopening must make of them.
func TestSpoolCrashStates(t *testing.T) {
	for _, tt := range []struct {
		name string
		// do leaves the state directory as a kill would, after two records were spooled.
		do       func(t *testing.T, state, spool string)
		want     string
		wantNext uint64
	}{
		{"clean", func(*testing.T, string, string) {}, "1:run 2:drift", 3},
		{"seq file written, record not yet", func(t *testing.T, state, _ string) {
			os.WriteFile(filepath.Join(state, SeqFile), []byte("4\n"), 0o600)
		}, "1:run 2:drift", 4},
		{"record written, killed in its rename (temporary file left)", func(t *testing.T, _, spool string) {
			os.WriteFile(filepath.Join(spool, statedir.TempPrefix+"0123-"+fileName(3, "run")), []byte("{"), 0o600)
		}, "1:run 2:drift", 3},
		{"seq file lost", func(t *testing.T, state, _ string) {
			os.Remove(filepath.Join(state, SeqFile))
		}, "1:run 2:drift", 3},
		{"seq file behind the spool", func(t *testing.T, state, _ string) {
			os.WriteFile(filepath.Join(state, SeqFile), []byte("1\n"), 0o600)
		}, "1:run 2:drift", 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "state")
			s := openSpool(t, dir)
			if _, err := s.Add(recs("run", "drift")...); err != nil {
				t.Fatal(err)
			}
			tt.do(t, dir, filepath.Join(dir, SpoolDir))
			s = openSpool(t, dir)
			if got := spooled(t, s); got != tt.want {
				t.Errorf("spool after reopening = %s, want %s", got, tt.want)
			}
			if got := s.Next(); got != tt.wantNext {
				t.Errorf("Next() = %d, want %d", got, tt.wantNext)
			}
			left, _ := filepath.Glob(filepath.Join(dir, SpoolDir, statedir.TempPrefix+"*"))
			if len(left) > 0 {
				t.Errorf("temporary files left: %v", left)
			}
		})
	}
}

func TestSpoolTrim(t *testing.T) {
	for _, tt := range []struct {
		name     string
		max      int
		maxBytes int64
		kinds    []string
		want     string
		drops    []wire.SpoolDrop
	}{
		{"within caps", 10, 1 << 20, []string{"run", "drift", "run"}, "1:run 2:drift 3:run", nil},
		{"exactly at the cap", 3, 1 << 20, []string{"run", "drift", "run"}, "1:run 2:drift 3:run", nil},
		{
			"oldest runs first", 5, 1 << 20, []string{"run", "drift", "run", "alert", "run", "run", "drift"},
			"2:drift 4:alert 6:run 7:drift 8:spool_drop",
			[]wire.SpoolDrop{{FromSeq: 1, ToSeq: 5, Count: 3, Reason: DropReasonRuns}},
		},
		{
			"drifts only when no run is left", 3, 1 << 20, []string{"drift", "run", "drift", "alert", "drift"},
			// spool_drop records count towards the cap but are never dropped themselves.
			"5:drift 6:spool_drop 7:spool_drop",
			[]wire.SpoolDrop{{FromSeq: 2, ToSeq: 2, Count: 1, Reason: DropReasonRuns}, {FromSeq: 1, ToSeq: 4, Count: 3, Reason: DropReasonAll}},
		},
		{
			"byte cap", 100, 1500, []string{"run", "run", "drift", "run", "run"},
			"3:drift 4:run 5:run 6:spool_drop",
			[]wire.SpoolDrop{{FromSeq: 1, ToSeq: 2, Count: 2, Reason: DropReasonRuns}},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := openSpool(t, filepath.Join(t.TempDir(), "state"))
			s.MaxRecords, s.MaxBytes = tt.max, tt.maxBytes
			if _, err := s.Add(recs(tt.kinds...)...); err != nil {
				t.Fatal(err)
			}
			if err := s.Trim(); err != nil {
				t.Fatal(err)
			}
			got, err := s.Batch(1000, 1<<30)
			if err != nil {
				t.Fatal(err)
			}
			if kinds(got) != tt.want {
				t.Errorf("after Trim: %s, want %s", kinds(got), tt.want)
			}
			var drops []wire.SpoolDrop
			for _, r := range got {
				if r.SpoolDrop != nil {
					drops = append(drops, *r.SpoolDrop)
				}
			}
			if diff := cmp.Diff(tt.drops, drops); diff != "" {
				t.Errorf("spool_drop records (-want +got):\n%s", diff)
			}
			if n, size := s.Depth(); n > s.MaxRecords || size > s.MaxBytes {
				t.Errorf("after Trim: %d records, %d bytes; caps %d, %d", n, size, s.MaxRecords, s.MaxBytes)
			}
		})
	}
}

// A kill after the spool_drop record was spooled and before the records it accounts for were
// deleted: reopening deletes them, and only them.
func TestSpoolTrimCrashBeforeDelete(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	s := openSpool(t, dir)
	s.Add(recs("run", "drift", "run", "run")...)
	drop := rec(wire.KindSpoolDrop)
	drop.SpoolDrop = &wire.SpoolDrop{FromSeq: 1, ToSeq: 3, Count: 2, Reason: DropReasonRuns}
	if _, err := s.Add(drop); err != nil {
		t.Fatal(err)
	}
	s = openSpool(t, dir)
	if got, want := spooled(t, s), "2:drift 4:run 5:spool_drop"; got != want {
		t.Errorf("after reopening: %s, want %s", got, want)
	}
}

// A damaged file is moved aside and accounted for; the records after it still go.
func TestSpoolDamagedFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	s := openSpool(t, dir)
	s.Add(recs("run", "drift", "run")...)
	name := filepath.Join(dir, SpoolDir, fileName(2, "drift"))
	if err := os.WriteFile(name, []byte(`{"seq":2,"kind":"drift"`), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := s.Batch(100, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if want := "1:run 3:run 4:spool_drop"; kinds(got) != want {
		t.Errorf("Batch with a damaged file = %s, want %s", kinds(got), want)
	}
	if d := got[2].SpoolDrop; d.FromSeq != 2 || d.ToSeq != 2 || !strings.Contains(d.Reason, "damaged") {
		t.Errorf("spool_drop = %+v, want seq 2 reported damaged", d)
	}
	if _, err := os.Stat(name + ".bad"); err != nil {
		t.Errorf("damaged file not kept aside: %v", err)
	}
}

func TestReadRecord(t *testing.T) {
	good, _ := marshal(&wire.Record{Seq: 7, Kind: wire.KindDrift, Time: t0, Drift: rec("drift").Drift})
	for _, tt := range []struct {
		name, file string
		data       string
		ok         bool
	}{
		{"good", fileName(7, "drift"), string(good), true},
		{"seq differs from name", fileName(8, "drift"), string(good), false},
		{"kind differs from name", fileName(7, "run"), string(good), false},
		{"unknown field", fileName(7, "drift"), strings.Replace(string(good), `"seq"`, `"extra":1,"seq"`, 1), false},
		{"trailing data", fileName(7, "drift"), string(good) + "{}", false},
		{"truncated", fileName(7, "drift"), string(good[:len(good)/2]), false},
		{"invalid record", fileName(7, "drift"), `{"seq":7,"kind":"drift","time":"2026-12-06T12:00:00Z"}`, false},
		{"bad name", "7.json", string(good), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadRecord(tt.file, []byte(tt.data))
			if (err == nil) != tt.ok {
				t.Errorf("ReadRecord(%s) = %v, want ok %v", tt.file, err, tt.ok)
			}
		})
	}
}

func FuzzReadRecord(f *testing.F) {
	for _, k := range []string{"run", "drift", "alert"} {
		r := rec(k)
		r.Seq = 3
		b, _ := marshal(&r)
		f.Add(fileName(3, k), b)
	}
	f.Add(fileName(1, "spool_drop"), []byte(`{"seq":1,"kind":"spool_drop","time":"2026-12-06T12:00:00Z","spool_drop":{"from_seq":1,"to_seq":1,"count":1,"reason":"x"}}`))
	f.Add("00000000000000000001-run.json", []byte(`{"seq":1}`))
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		r, err := ReadRecord(name, data)
		if err != nil {
			return
		}
		// What it accepts is a valid record matching its name that encodes and reads back the same.
		seq, kind, ok := parseFileName(name)
		if !ok || r.Seq != seq || r.Kind != kind || r.Validate() != nil {
			t.Fatalf("ReadRecord(%q) accepted %+v", name, r)
		}
		b, err := marshal(&r)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ReadRecord(name, b)
		if err != nil {
			t.Fatalf("re-encoded record does not read back: %v", err)
		}
		if diff := cmp.Diff(r, back); diff != "" {
			t.Fatalf("round trip (-first +second):\n%s", diff)
		}
	})
}
