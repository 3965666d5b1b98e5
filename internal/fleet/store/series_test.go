package store

import (
	"testing"
	"time"
)

func TestPrefixEnd(t *testing.T) {
	for _, tt := range []struct {
		in, want string
		ok       bool
	}{
		{"web", "wec", true},
		{"a\xff", "b", true},
		{"\xff\xff", "", false},
		{"", "", false},
	} {
		got, ok := PrefixEnd(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("PrefixEnd(%q) = %q, %v, want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestLowerASCII(t *testing.T) {
	for in, want := range map[string]string{"Web-01.LOCAL": "web-01.local", "ÄB": "Äb", "": ""} {
		if got := LowerASCII(in); got != want {
			t.Errorf("LowerASCII(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSeriesInstants(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
	for _, tt := range []struct {
		name string
		q    SeriesQuery
		want int // instants; -1: an error
	}{
		{"one", SeriesQuery{From: t0, To: t0, Step: time.Hour}, 1},
		{"to on an instant", SeriesQuery{From: t0, To: t0.Add(48 * time.Hour), Step: 24 * time.Hour}, 3},
		{"to between instants", SeriesQuery{From: t0, To: t0.Add(47 * time.Hour), Step: 24 * time.Hour}, 2},
		{"no step", SeriesQuery{From: t0, To: t0, Step: 0}, -1},
		{"backwards", SeriesQuery{From: t0, To: t0.Add(-time.Second), Step: time.Hour}, -1},
		{"too many", SeriesQuery{From: t0, To: t0.Add(90 * 24 * time.Hour), Step: time.Minute}, -1},
	} {
		got, err := SeriesInstants(tt.q)
		if n := len(got); err != nil && tt.want != -1 || err == nil && n != tt.want {
			t.Errorf("%s: SeriesInstants(%+v) = %d instants, %v; want %d", tt.name, tt.q, n, err, tt.want)
		}
	}
}
