package input

import (
	"encoding/json"
	"testing"
	"unicode/utf8"
)

var jsonValues = []string{
	`{}`, `[]`, `{"a":1}`, `[1,"x",{"b":[true,false,null]}]`,
	`{"a":"}","b":"\"]","c":"\\"}`,
	`"plain"`, `"a\/b\\c\"d\u00e9\ud83d\ude00\n\t"`, `"\ud800"`, `"\ud800\u0041"`,
	`-12`, `1.5e3`, `true`, `null`,
	` { "k" : [ 1 , 2 ] } `,
	// long enough (flatMin) for flatEnd: a nested value after a clean stretch, brackets and
	// quotes inside strings, "\/" escapes (harmless) and "\"" escapes (not)
	`{"path":"\/dev\/ttys001","path_truncated":false,"stat":{"st_gid":4,"st_mode":8592},"x":[1]}`,
	`{"a":"a long string holding } and ] and { too","b":{"c":"}}}}"},"d":["\/x\/y","z]"]}`,
	`["PATH=\/usr\/bin:\/bin","HOME=\/Users\/x","A=[x]","Q=\"}\"","B=\\"]`,
	`{"s":"ends with a backslash \\","t":"then a quote \\\"}","u":{"v":1}}`,
}

func TestScanSkip(t *testing.T) {
	for _, in := range jsonValues {
		s := jscan{b: []byte(in)}
		s.skip()
		if !s.done() {
			t.Errorf("skip(%s) stopped at %d, bad %v, want the whole value", in, s.i, s.bad)
		}
	}
	for _, in := range []string{`{"a":1`, `["x]`, `"abc`, `{`, ``, `}`, `,`} {
		s := jscan{b: []byte(in)}
		s.skip()
		if s.done() {
			t.Errorf("skip(%s) accepted a broken value", in)
		}
	}
}

// TestTokenPID: the shortcut agrees with readToken on tokens of both shapes and on objects
// that only look like them.
func TestTokenPID(t *testing.T) {
	for _, in := range []string{
		`{"egid":20,"auid":501,"pidversion":2424,"asid":100013,"euid":501,"pid":938,"ruid":501,"rgid":20}`,
		`{"egid":20,"auid":501,"pidversion":2424,"asid":100013,"euid":501,"ruid":501,"rgid":20,"x":0}`,
		`{"egid":20,"auid":501,"pid":"938","asid":100013,"euid":501,"ruid":501,"rgid":20,"x":0}`,
		`{"egid":20,"auid":501,"pid":1,"asid":100013,"euid":501,"ruid":501,"rgid":20,"pid":2}`,
		`{"egid":20,"auid":501,"pid":1,"asid":100013,"euid":501,"ruid":501,"rgid":20,"s":"pid"}`,
		`{"egid":20,"auid":501,"name":"pid","asid":100013,"euid":501,"ruid":501,"rgid":20,"pid":7}`,
		`{"egid":20,"auid":501,"pid":null,"asid":100013,"euid":501,"ruid":501,"rgid":20,"x":0}`,
		`{"nested":{"pid":5},"egid":20,"auid":501,"asid":100013,"euid":501,"ruid":501,"pid":6}`,
		`[4294967295,0,0,0,0,1,100012,1029]`,
		`{"pid":3}`,
		`null`,
	} {
		fast, slow := jscan{b: []byte(in)}, jscan{b: []byte(in)}
		if got, want := tokenPID(&fast), readToken(&slow).pid; got != want || fast.i != slow.i {
			t.Errorf("tokenPID(%s) = %d ending at %d, readToken: %d ending at %d", in, got, fast.i, want, slow.i)
		}
	}
}

func TestScanString(t *testing.T) {
	for _, in := range jsonValues {
		var want string
		if in[0] != '"' || json.Unmarshal([]byte(in), &want) != nil {
			continue
		}
		s := jscan{b: []byte(in)}
		if got := s.str(); !got.ok || got.String() != want {
			t.Errorf("str(%s) = %q, %v, want %q", in, got.String(), got.ok, want)
		}
	}
}

func TestScanInteger(t *testing.T) {
	for _, tt := range []struct {
		in     string
		want   int64
		wantOK bool
	}{
		{`42`, 42, true},
		{`-7`, -7, true},
		{`"501"`, 501, true}, // osquery writes numbers as strings
		{`4294967295`, 4294967295, true},
		{`1.5`, 0, false},
		{`1e3`, 0, false},
		{`""`, 0, false},
		{`null`, 0, false},
		{`{"a":1}`, 0, false},
		{`1234567890123456789`, 0, false}, // 19 digits could overflow
	} {
		s := jscan{b: []byte(tt.in)}
		got, ok := s.integer()
		if got != tt.want || ok != tt.wantOK || !s.done() {
			t.Errorf("integer(%s) = %d, %v (done %v), want %d, %v", tt.in, got, ok, s.done(), tt.want, tt.wantOK)
		}
	}
}

// TestZeros: only the lowest flagged byte of zeros is promised, and stringEnd uses only that.
func TestZeros(t *testing.T) {
	for _, tt := range []struct {
		x    uint64
		want uint64
	}{
		{0x0000000000000000, highs},
		{0x0101010101010101, 0},
		{0x0100000000000001, 0x0080808080808000},
	} {
		if got := zeros(tt.x); got&-got != tt.want&-tt.want {
			t.Errorf("zeros(%#x) lowest bit %#x, want %#x", tt.x, got&-got, tt.want&-tt.want)
		}
	}
}

// FuzzScan checks the scanner against encoding/json: a valid JSON text is skipped whole, a
// valid string decodes to what encoding/json decodes, and nothing panics on anything.
func FuzzScan(f *testing.F) {
	for _, v := range jsonValues {
		f.Add([]byte(v))
	}
	f.Add(fixture(f, "eslogger-v9-macos15-exec.json"))
	f.Add(fixture(f, "eslogger-v10-macos26-fork.json"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s := jscan{b: data}
		s.skip()
		if json.Valid(data) && !s.done() {
			t.Fatalf("skip(%q) stopped at %d (bad %v); encoding/json says it is valid", data, s.i, s.bad)
		}
		var want string
		if len(data) > 0 && data[0] == '"' && json.Unmarshal(data, &want) == nil && utf8.Valid(data) {
			s := jscan{b: data}
			if got := s.str(); !got.ok || got.String() != want {
				t.Fatalf("str(%q) = %q, want %q", data, got.String(), want)
			}
		}
		if len(data) > 0 && data[0] == '{' && json.Valid(data) {
			fast, slow := jscan{b: data}, jscan{b: data}
			if got, want := tokenPID(&fast), readToken(&slow).pid; got != want || fast.i != slow.i {
				t.Fatalf("tokenPID(%q) = %d ending at %d, readToken: %d ending at %d", data, got, fast.i, want, slow.i)
			}
		}
		// the walkers must end on anything
		var top jtop
		s = jscan{b: data}
		top.walk(&s)
		top.esProcess()
		var d ecsDoc
		d.read(&top)
		var row osqRow
		s = jscan{b: data}
		row.walk(&s)
		stringArray(data)
	})
}
