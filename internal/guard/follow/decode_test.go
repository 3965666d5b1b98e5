package follow

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
)

var decodeTests = []struct {
	name    string
	raw     string
	want    string
	ok, bad bool
}{
	{"banner", `Filtering the log data using "process == "sshd""`, "", false, false},
	{"empty", ``, "", false, false},
	{"record", `{"eventMessage":"Invalid user  from 64.62.197.6 port 62565","eventType":"logEvent","processImagePath":"/usr/sbin/sshd","processID":4564,"timestamp":"2023-08-08 15:07:29.432797+0000"}`,
		"2023-08-08 15:07:29.432797+0000 localhost sshd[4564]: Invalid user  from 64.62.197.6 port 62565", true, false},
	{"sshd-session", `{"timestamp":"2026-09-13 12:31:09.292032-0700","processImagePath":"/usr/libexec/sshd-session","processID":16472,"eventMessage":"Failed password for root from 192.0.2.1 port 56502 ssh2"}`,
		"2026-09-13 12:31:09.292032-0700 localhost sshd-session[16472]: Failed password for root from 192.0.2.1 port 56502 ssh2", true, false},
	{"zone with colon", `{"timestamp":"2026-09-13 12:31:09+07:00","processImagePath":"/usr/sbin/sshd","processID":1,"eventMessage":"m"}`,
		"2026-09-13 12:31:09+07:00 localhost sshd[1]: m", true, false},
	{"UTC without zone", `{"timestamp":"2026-09-13 12:31:09.5","processImagePath":"sshd","processID":1,"eventMessage":"m"}`,
		"2026-09-13 12:31:09.5 localhost sshd[1]: m", true, false},
	{"odd timestamp left out", `{"timestamp":"2026-09-13T12:31:09Z x","processImagePath":"/usr/sbin/sshd","processID":1,"eventMessage":"m"}`,
		"sshd[1]: m", true, false},
	{"no pid", `{"timestamp":"2026-09-13 12:31:09Z","processImagePath":"/usr/sbin/sshd","eventMessage":"m"}`,
		"2026-09-13 12:31:09Z localhost sshd: m", true, false},
	{"negative pid", `{"processImagePath":"/usr/sbin/sshd","processID":-1,"eventMessage":"m"}`, "sshd: m", true, false},
	{"control characters", "{\"processImagePath\":\"/usr/sbin/sshd\",\"processID\":2,\"eventMessage\":\"a\\nb\\r\\u0000c\\u007f\\td\"}",
		"sshd[2]: a b  c  d", true, false},
	{"activity", `{"eventType":"activityCreateEvent","eventMessage":"x","processImagePath":"/usr/sbin/sshd"}`, "", false, false},
	{"no message", `{"eventType":"logEvent","processImagePath":"/usr/sbin/sshd","eventMessage":null}`, "", false, false},
	{"log show summary", `{"count":4,"finished":1}`, "", false, false},
	{"process with space", `{"processImagePath":"/tmp/ss hd","eventMessage":"m"}`, "", false, true},
	{"process with bracket", `{"processImagePath":"/tmp/sshd[1]:","eventMessage":"m"}`, "", false, true},
	{"no process", `{"processImagePath":"/usr/sbin/","eventMessage":"m"}`, "", false, true},
	{"broken JSON", `{"eventMessage":"m","processImagePath":`, "", false, true},
	{"pid as text", `{"processImagePath":"/usr/sbin/sshd","processID":"12","eventMessage":"m"}`, "", false, true},
}

func TestDecodeRecord(t *testing.T) {
	for _, tt := range decodeTests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, bad := decodeRecord([]byte("junk"), []byte(tt.raw))
			if !ok {
				got = got[len("junk"):]
			} else if !bytes.HasPrefix(got, []byte("junk")) {
				t.Fatalf("decodeRecord(%q) = %q: did not append to dst", tt.raw, got)
			} else {
				got = got[len("junk"):]
			}
			if string(got) != tt.want || ok != tt.ok || bad != tt.bad {
				t.Errorf("decodeRecord(%q) = %q, %v, %v; want %q, %v, %v", tt.raw, got, ok, bad, tt.want, tt.ok, tt.bad)
			}
		})
	}
}

// checkDecoded holds for every line decodeRecord builds: exactly one line of printable bytes.
func checkDecoded(t *testing.T, raw, line []byte) {
	t.Helper()
	for _, c := range line {
		if c < ' ' || c == 0x7f {
			t.Fatalf("decodeRecord(%q) = %q: a control character in the line", raw, line)
		}
	}
	if !bytes.Contains(line, []byte(": ")) {
		t.Fatalf("decodeRecord(%q) = %q: no tag", raw, line)
	}
}

func FuzzDecodeRecord(f *testing.F) {
	for _, tt := range decodeTests {
		f.Add([]byte(tt.raw))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		line, ok, bad := decodeRecord(nil, raw)
		if ok && bad {
			t.Fatalf("decodeRecord(%q): ok and bad", raw)
		}
		if ok {
			checkDecoded(t, raw, line)
		}
	})
}

// The fields of a record come back in the line: a round trip through the tool's JSON.
func FuzzDecodeRecordRoundTrip(f *testing.F) {
	f.Add("2023-08-08 15:07:29.432797+0000", "/usr/sbin/sshd", int64(4564), "Invalid user  from 64.62.197.6 port 62565")
	f.Add("2026-09-13 12:31:09Z", "/usr/libexec/sshd-session", int64(-1), "a\nb")
	f.Add("garbage", "sshd", int64(0), "")
	f.Fuzz(func(t *testing.T, ts, path string, pid int64, msg string) {
		raw, err := json.Marshal(map[string]any{"timestamp": ts, "processImagePath": path, "processID": pid, "eventMessage": msg, "eventType": "logEvent"})
		if err != nil {
			t.Skip()
		}
		line, ok, _ := decodeRecord(nil, raw)
		// encoding/json replaces invalid UTF-8 with U+FFFD: compare with what was encoded.
		var back struct {
			Timestamp, ProcessImagePath, EventMessage string
		}
		if err := json.Unmarshal(raw, &back); err != nil {
			t.Fatal(err)
		}
		proc := back.ProcessImagePath[strings.LastIndexByte(back.ProcessImagePath, '/')+1:]
		valid := proc != "" && !strings.ContainsFunc(proc, func(c rune) bool { return c <= ' ' || c == 0x7f || c == '[' || c == ']' || c == ':' })
		if ok != valid {
			t.Fatalf("decodeRecord(%s) ok = %v, want %v", raw, ok, valid)
		}
		if !ok {
			return
		}
		checkDecoded(t, raw, line)
		want := ""
		if isLogTimestamp(back.Timestamp) {
			want = back.Timestamp + " localhost "
		}
		want += proc
		if pid >= 0 {
			want += "[" + strconv.FormatInt(pid, 10) + "]"
		}
		want += ": " + strings.Map(func(r rune) rune {
			if r < ' ' || r == 0x7f {
				return ' '
			}
			return r
		}, back.EventMessage)
		if string(line) != want {
			t.Fatalf("decodeRecord(%s) = %q, want %q", raw, line, want)
		}
	})
}

var splitTests = []struct {
	name string
	in   string
	max  int
	want []string
}{
	{"lines", "a\nbb\n", 10, []string{"a", "bb"}},
	{"empty lines skipped", "\n\na\n\n", 10, []string{"a"}},
	{"partial last line on flush", "a\nb", 10, []string{"a", "b"}},
	{"exactly max", "abcd\n", 4, []string{"abcd"}},
	{"over max, then more", "abcdef\nxy\n", 4, []string{"abcd", "xy"}},
	{"over max without newline", "abcdefgh", 4, []string{"abcd"}},
	{"carriage return kept", "a\r\n", 4, []string{"a\r"}},
}

// splitReference is what splitter must produce for in, however it is cut into reads.
func splitReference(in []byte, max int) []string {
	var out []string
	for _, seg := range bytes.Split(in, []byte("\n")) {
		if len(seg) > 0 {
			out = append(out, string(seg[:min(len(seg), max)]))
		}
	}
	return out
}

func TestSplitter(t *testing.T) {
	for _, tt := range splitTests {
		t.Run(tt.name, func(t *testing.T) {
			for seed := range uint64(20) {
				got := splitChunked([]byte(tt.in), tt.max, seed)
				if !slices.Equal(got, tt.want) {
					t.Fatalf("splitter(%q, max %d, seed %d) = %q, want %q", tt.in, tt.max, seed, got, tt.want)
				}
			}
			if ref := splitReference([]byte(tt.in), tt.max); !slices.Equal(ref, tt.want) {
				t.Errorf("splitReference(%q) = %q, want %q", tt.in, ref, tt.want)
			}
		})
	}
}

// splitChunked feeds in to a splitter in reads of random lengths chosen by seed, then flushes.
func splitChunked(in []byte, max int, seed uint64) []string {
	rng := rand.New(rand.NewPCG(seed, seed))
	sp := newSplitter(max)
	var got []string
	line := func(b []byte) { got = append(got, string(b)) }
	for len(in) > 0 {
		k := 1 + rng.IntN(len(in))
		if seed == 0 {
			k = len(in) // one read
		}
		sp.feed(in[:k], line)
		in = in[k:]
	}
	sp.flush(line)
	return got
}

func FuzzSplitter(f *testing.F) {
	for _, tt := range splitTests {
		f.Add([]byte(tt.in), uint8(tt.max), uint64(1))
	}
	f.Fuzz(func(t *testing.T, in []byte, max uint8, seed uint64) {
		m := int(max) + 1
		got := splitChunked(in, m, seed)
		if want := splitReference(in, m); !slices.Equal(got, want) {
			t.Fatalf("splitter(%q, max %d, seed %d) = %q, want %q", in, m, seed, got, want)
		}
	})
}
