package server

import (
	"testing"
	"time"

	"github.com/firewarden/firewarden/internal/fleet/store"
)

var cursorTests = []struct {
	in      string
	at      time.Time
	id      int64
	wantErr bool
}{
	{"2026-12-01T09:00:00Z_42", t0, 42, false},
	{"2026-12-01T09:00:00.123456789Z_1", t0.Add(123456789), 1, false},
	{"2026-12-01T10:00:00+01:00_7", t0, 7, false},
	{"", time.Time{}, 0, true},
	{"42", time.Time{}, 0, true},
	{"2026-12-01T09:00:00Z", time.Time{}, 0, true},
	{"2026-12-01T09:00:00Z_", time.Time{}, 0, true},
	{"2026-12-01T09:00:00Z_0", time.Time{}, 0, true},
	{"2026-12-01T09:00:00Z_-3", time.Time{}, 0, true},
	{"yesterday_3", time.Time{}, 0, true},
	{"2026-12-01T09:00:00Z_3_4", time.Time{}, 0, true},
}

func TestParseHistoryCursor(t *testing.T) {
	for _, tt := range cursorTests {
		at, id, err := parseHistoryCursor(tt.in)
		if (err != nil) != tt.wantErr || !at.Equal(tt.at) || id != tt.id {
			t.Errorf("parseHistoryCursor(%q) = %v, %d, %v, want %v, %d, error %v", tt.in, at, id, err, tt.at, tt.id, tt.wantErr)
		}
	}
}

// FuzzParseHistoryCursor: any ?before= is refused or read as a cursor that historyCursor writes
// back to one that reads the same.
func FuzzParseHistoryCursor(f *testing.F) {
	for _, tt := range cursorTests {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		at, id, err := parseHistoryCursor(in)
		if err != nil {
			return
		}
		if id <= 0 {
			t.Fatalf("parseHistoryCursor(%q) = id %d, want > 0", in, id)
		}
		again := historyCursor(store.CheckTransition{ID: id, Transition: store.Transition{Time: at}})
		at2, id2, err := parseHistoryCursor(again)
		if err != nil || !at2.Equal(at) || id2 != id {
			t.Fatalf("parseHistoryCursor(%q) = %v, %d; written %q reads %v, %d, %v", in, at, id, again, at2, id2, err)
		}
	})
}
