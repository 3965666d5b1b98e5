package server

import (
	"regexp"
	"testing"
	"time"
)

func TestBearer(t *testing.T) {
	for in, want := range map[string]string{
		"Bearer fwa_x":  "fwa_x",
		"bearer fwa_x ": "fwa_x",
		"Basic abc":     "",
		"Bearer ":       "",
		"fwa_x":         "",
		"":              "",
	} {
		if got := bearer(in); got != want {
			t.Errorf("bearer(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNewUUIDv7(t *testing.T) {
	re := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	a, b := NewUUIDv7(t0), NewUUIDv7(t0.Add(time.Millisecond))
	for _, u := range []string{a, b} {
		if !re.MatchString(u) {
			t.Errorf("NewUUIDv7() = %q, not a UUIDv7", u)
		}
	}
	if !(a < b) {
		t.Errorf("NewUUIDv7 ids do not sort by time: %s then %s", a, b)
	}
	if got, want := a[:13], "01a230d5-1280"; got != want { // 2026-12-01T09:00:00Z in Unix milliseconds
		t.Errorf("NewUUIDv7(t0) time bits = %s, want %s", got, want)
	}
}

func TestLimiter(t *testing.T) {
	l := newLimiter(Rate{PerSecond: 1, Burst: 2})
	steps := []struct {
		key  string
		at   time.Duration
		want bool
	}{
		{"a", 0, true}, {"a", 0, true}, {"a", 0, false}, // burst spent
		{"b", 0, true},                                                          // its own bucket
		{"a", 500 * time.Millisecond, false},                                    // half a token
		{"a", time.Second, true},                                                // one token back
		{"a", time.Hour, true}, {"a", time.Hour, true}, {"a", time.Hour, false}, // refilled to the burst, not beyond
	}
	for i, s := range steps {
		if got := l.allow(s.key, t0.Add(s.at)); got != s.want {
			t.Errorf("step %d: allow(%s, +%v) = %v, want %v", i, s.key, s.at, got, s.want)
		}
	}
}

func TestLoopback(t *testing.T) {
	for in, want := range map[string]bool{
		"127.0.0.1:8080": true, "[::1]:80": true, "localhost:1": true, "127.1.2.3:9": true,
		":8080": false, "0.0.0.0:80": false, "192.0.2.1:80": false, "example.com:80": false, "127.0.0.1": false,
	} {
		if got := loopback(in); got != want {
			t.Errorf("loopback(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://fleet:s3cret@db.example:5432/fleet": "postgres://fleet:xxxxx@db.example:5432/fleet",
		"postgres://fleet@db/fleet":                     "postgres://fleet@db/fleet",
		"postgres://db/fleet":                           "postgres://db/fleet",
	} {
		if got := redact(in); got != want {
			t.Errorf("redact(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDBTarget(t *testing.T) {
	for _, tt := range []struct{ db, want string }{
		{"", "/d/fleet.db"},
		{"postgres://h/db", "postgres://h/db"},
		{"sqlite:other.db", "/d/other.db"},
		{"/abs/x.db", "/abs/x.db"},
	} {
		if got := dbTarget("/d", tt.db); got != tt.want {
			t.Errorf("dbTarget(/d, %q) = %q, want %q", tt.db, got, tt.want)
		}
	}
}
