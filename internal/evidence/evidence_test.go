package evidence

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/firewarden/firewarden/internal/posture"
)

func record(id string) Record {
	return Record{RunID: id, Host: "mac", OS: "macos", OSVersion: "15.1", Tool: "firewarden", ToolVersion: "test",
		Started: time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC), Finished: time.Date(2026, 11, 22, 10, 0, 1, 0, time.UTC),
		Results: []posture.Result{{ID: "alf.enabled", Status: posture.Fail, Expected: "on", Actual: "off (State = 0)",
			Controls: []string{"CIS 2.2.1", "800-53r5 SC-7"}, Evidence: []posture.Evidence{{Kind: "exec", SHA256: "abc"}}}}}
}

func TestChainAppendVerify(t *testing.T) {
	dir := t.TempDir()
	for i, id := range []string{"a", "b", "c"} {
		e, err := Append(dir, record(id))
		if err != nil {
			t.Fatal(err)
		}
		if e.Seq != i+1 {
			t.Errorf("Append #%d seq = %d, want %d", i+1, e.Seq, i+1)
		}
	}
	n, err := Verify(dir)
	if err != nil || n != 3 {
		t.Fatalf("Verify() = %d, %v; want 3, nil", n, err)
	}
}

func TestChainTamper(t *testing.T) {
	// middle: the break is before the last entry. Open checks only the end of the chain (so that
	// its cost does not grow with the chain), so such a chain is extended, and the break stays
	// where Verify finds it; a break at the end is refused.
	tests := []struct {
		name   string
		tamper func(lines []string) []string
		line   int
		middle bool
	}{
		{"edit a record", func(l []string) []string { l[1] = strings.Replace(l[1], `"fail"`, `"pass"`, 1); return l }, 2, true},
		{"drop an entry", func(l []string) []string { return append(l[:1], l[2:]...) }, 2, true},
		{"swap entries", func(l []string) []string { l[0], l[1] = l[1], l[0]; return l }, 1, true},
		{"garbage line", func(l []string) []string { l[2] = "{"; return l }, 3, false},
		{"drop the last entry", func(l []string) []string { return l[:2] }, 3, false},
		{"drop the last two", func(l []string) []string { return l[:1] }, 2, false},
		{"empty the log", func(l []string) []string { return nil }, 1, false},
		{"replace the last entry", func(l []string) []string { return append(l[:2], forge(t, l[:2], "x")) }, 3, false},
		{"edit the last record", func(l []string) []string { l[2] = strings.Replace(l[2], `"fail"`, `"pass"`, 1); return l }, 3, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, id := range []string{"a", "b", "c"} {
				if _, err := Append(dir, record(id)); err != nil {
					t.Fatal(err)
				}
			}
			path := filepath.Join(dir, ChainFile)
			data, _ := os.ReadFile(path)
			lines := tt.tamper(strings.Split(strings.TrimSuffix(string(data), "\n"), "\n"))
			out := strings.Join(lines, "\n") + "\n"
			if len(lines) == 0 {
				out = ""
			}
			os.WriteFile(path, []byte(out), 0o600)
			_, err := Verify(dir)
			var ce *ChainError
			if !errors.As(err, &ce) || ce.Line != tt.line {
				t.Fatalf("Verify() = %v, want a ChainError at line %d", err, tt.line)
			}
			_, err = Append(dir, record("d"))
			if !tt.middle {
				if err == nil {
					t.Error("Append() to a chain broken at its end succeeded, want refusal")
				}
				return
			}
			if err != nil {
				t.Fatalf("Append() to a chain broken before its end = %v, want it appended", err)
			}
			if _, err := Verify(dir); !errors.As(err, &ce) || ce.Line != tt.line {
				t.Errorf("Verify() after an append = %v, want the ChainError at line %d still", err, tt.line)
			}
		})
	}
}

// forge returns the entry an attacker who knows the hash function would append to lines: it
// verifies against the log alone.
func forge(t *testing.T, lines []string, id string) string {
	t.Helper()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, ChainFile), []byte(strings.Join(lines, "\n")+"\n"), 0o600)
	c, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	e, err := c.Next(record(id))
	if err != nil {
		t.Fatal(err)
	}
	line, _ := json.Marshal(e)
	return string(line)
}

// A run killed between appending and writing the head leaves the head one record behind: not
// tampering. The next Open brings the head up to date, so a second kill cannot widen the gap.
func TestChainHeadLagsByOne(t *testing.T) {
	dir := t.TempDir()
	for _, id := range []string{"a", "b"} {
		if _, err := Append(dir, record(id)); err != nil {
			t.Fatal(err)
		}
	}
	headPath := filepath.Join(dir, HeadFile)
	behind, err := os.ReadFile(headPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Append(dir, record("c")); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(headPath, behind, 0o600) // as if killed before the head was written
	if n, err := Verify(dir); err != nil || n != 3 {
		t.Fatalf("Verify() with the head one behind = %d, %v; want 3, nil", n, err)
	}
	c, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	now, _ := os.ReadFile(headPath)
	if !strings.Contains(string(now), `"records":3`) {
		t.Errorf("head after Open = %s, want 3 records", now)
	}
}

func TestVerifyWithoutAChain(t *testing.T) {
	for _, tt := range []struct {
		name string
		prep func(dir string) string
	}{
		{"missing directory", func(dir string) string { return filepath.Join(dir, "nope") }},
		{"empty directory", func(dir string) string { return dir }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := tt.prep(t.TempDir())
			if n, err := Verify(dir); !errors.Is(err, ErrNoChain) {
				t.Errorf("Verify(%s) = %d, %v; want ErrNoChain", tt.name, n, err)
			}
		})
	}
	// A log without a head (removed, or from before heads were kept) cannot show truncation.
	dir := t.TempDir()
	Append(dir, record("a"))
	os.Remove(filepath.Join(dir, HeadFile))
	var ce *ChainError
	if _, err := Verify(dir); !errors.As(err, &ce) {
		t.Errorf("Verify() without a head = %v, want a ChainError", err)
	}
	if _, err := Append(dir, record("b")); err != nil {
		t.Errorf("Append() to a chain without a head = %v, want it to start one", err)
	}
	if n, err := Verify(dir); err != nil || n != 2 {
		t.Errorf("Verify() after the head was started = %d, %v; want 2, nil", n, err)
	}
}

func TestNewRunID(t *testing.T) {
	at := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	id := NewRunID(at)
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(id) {
		t.Errorf("NewRunID() = %q, not a UUIDv7", id)
	}
	if later := NewRunID(at.Add(time.Millisecond)); later <= id {
		t.Errorf("NewRunID(later) = %q sorts before %q", later, id)
	}
}

func TestWriteCSV(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteCSV(&buf, record("r1")); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || strings.Join(rows[0][:5], ",") != "rule,status,result,expected,exemption" {
		t.Fatalf("WriteCSV rows = %q, want header with mSCP columns and one row", rows)
	}
	if got := strings.Join(rows[1][:4], ","); got != "alf.enabled,fail,off (State = 0),on" {
		t.Errorf("WriteCSV row = %q, want alf.enabled,fail,off (State = 0),on", got)
	}
}

// FuzzVerify feeds arbitrary chain and head files to the checks Verify makes: they never panic,
// and what they accept is a chain whose head is its last or second-to-last entry.
func FuzzVerify(f *testing.F) {
	dir := f.TempDir()
	for _, id := range []string{"a", "b"} {
		if _, err := Append(dir, record(id)); err != nil {
			f.Fatal(err)
		}
	}
	chain, _ := os.ReadFile(filepath.Join(dir, ChainFile))
	head, _ := os.ReadFile(filepath.Join(dir, HeadFile))
	f.Add(chain, head)
	f.Add(chain[:len(chain)/2], head)
	f.Add([]byte{}, head)
	f.Add(chain, []byte(`{"version":1,"records":-1,"last_hash":""}`))
	f.Add([]byte("{}\n"), []byte("{"))
	f.Fuzz(func(t *testing.T, chain, headData []byte) {
		entries, err := parseChain(chain)
		if err != nil {
			return
		}
		h, err := parseHead(headData)
		if err != nil {
			return
		}
		if checkHead(entries, *h) != nil {
			return
		}
		if n := len(entries); n != h.Records && n != h.Records+1 {
			t.Errorf("checkHead accepted %d entries for a head of %d records (%q)", n, h.Records, headData)
		}
	})
}
