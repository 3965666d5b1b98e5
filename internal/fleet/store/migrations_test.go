package store

import (
	"testing"
	"testing/fstest"
)

func TestLoadMigrations(t *testing.T) {
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	ms, err := LoadMigrations(fstest.MapFS{
		"migrations/0002_more.sql":  file("B"),
		"migrations/0001_first.sql": file("A"),
	})
	if err != nil || len(ms) != 2 || ms[0] != (Migration{1, "first", "A"}) || ms[1] != (Migration{2, "more", "B"}) {
		t.Fatalf("LoadMigrations = %+v, %v; want 0001_first then 0002_more", ms, err)
	}
	for name, fsys := range map[string]fstest.MapFS{
		"a gap":      {"migrations/0001_a.sql": file(""), "migrations/0003_c.sql": file("")},
		"no number":  {"migrations/first.sql": file("")},
		"not from 1": {"migrations/0002_b.sql": file("")},
	} {
		if ms, err := LoadMigrations(fsys); err == nil {
			t.Errorf("LoadMigrations(%s) = %+v, want an error", name, ms)
		}
	}
}
