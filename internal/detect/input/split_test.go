package input

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var splitTests = []struct {
	in      string
	want    []string
	wantErr bool
}{
	{"", nil, false},
	{" \t\n ", nil, false},
	{"a b  c", []string{"a", "b", "c"}, false},
	{"\ta\nb\t", []string{"a", "b"}, false},
	{`'a b' c`, []string{"a b", "c"}, false},
	{`sh -c 'pfctl -d; echo ok'`, []string{"sh", "-c", "pfctl -d; echo ok"}, false},
	{`"a \"b\" \$x \\ \n \` + "`" + `"`, []string{`a "b" $x \ \n ` + "`"}, false},
	{`a\ b \'c\'`, []string{"a b", "'c'"}, false},
	{`'' ""`, []string{"", ""}, false},
	{`a''b"c"'d'`, []string{"abcd"}, false},
	{`'it'\''s'`, []string{"it's"}, false},
	{"a\\\nb", []string{"ab"}, false},
	{"\"a\\\nb\"", []string{"ab"}, false},
	{`'a\nb'`, []string{`a\nb`}, false},
	{`a\`, []string{`a\`}, false},
	{`$HOME * a;b #c`, []string{"$HOME", "*", "a;b", "#c"}, false},
	{`/usr/libexec/ApplicationFirewall/socketfilterfw --setglobalstate off`,
		[]string{"/usr/libexec/ApplicationFirewall/socketfilterfw", "--setglobalstate", "off"}, false},
	{`a 'b c`, []string{"a"}, true},
	{`a "b c`, []string{"a"}, true},
	{`a "b\"`, []string{"a"}, true},
}

func TestSplitCommandLine(t *testing.T) {
	for _, tt := range splitTests {
		got, err := SplitCommandLine(tt.in)
		if (err != nil) != tt.wantErr || err != nil && !errors.Is(err, ErrQuote) {
			t.Errorf("SplitCommandLine(%q) error = %v, want error %v (ErrQuote)", tt.in, err, tt.wantErr)
		}
		if tt.wantErr {
			continue // the words before the quote are returned, but not promised
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("SplitCommandLine(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}

func TestJoinCommandLine(t *testing.T) {
	for _, tt := range []struct {
		in   []string
		want string
	}{
		{nil, ""},
		{[]string{"a"}, "a"},
		{[]string{""}, "''"},
		{[]string{"a b", "c"}, "'a b' c"},
		{[]string{"it's"}, `'it'\''s'`},
		{[]string{"/usr/libexec/ApplicationFirewall/socketfilterfw", "--setglobalstate", "off"},
			"/usr/libexec/ApplicationFirewall/socketfilterfw --setglobalstate off"},
		{[]string{"a=b,c:d@e%f+g_h.i-j"}, "a=b,c:d@e%f+g_h.i-j"},
		{[]string{"$HOME", "*", "a\nb", "é"}, "'$HOME' '*' 'a\nb' 'é'"},
	} {
		if got := JoinCommandLine(tt.in); got != tt.want {
			t.Errorf("JoinCommandLine(%q) = %q, want %q", tt.in, got, tt.want)
		}
		back, err := SplitCommandLine(tt.want)
		if err != nil || !cmp.Equal(back, tt.in) && len(tt.in) > 0 {
			t.Errorf("SplitCommandLine(%q) = %q, %v, want %q", tt.want, back, err, tt.in)
		}
	}
}

// quoteOsquery writes argv as osquery's es_process_events cmdline (appendQuotedString in
// osquery/events/darwin/es_utils.cpp, reference §1b): std::quoted for elements holding a space
// or a double quote, each element followed by a space.
func quoteOsquery(argv []string) string {
	var b strings.Builder
	for _, a := range argv {
		if strings.ContainsAny(a, ` "`) {
			b.WriteByte('"')
			for i := 0; i < len(a); i++ {
				if a[i] == '"' || a[i] == '\\' {
					b.WriteByte('\\')
				}
				b.WriteByte(a[i])
			}
			b.WriteByte('"')
		} else {
			b.WriteString(a)
		}
		b.WriteByte(' ')
	}
	return b.String()
}

var osquerySplitTests = []struct {
	in     string
	want   []string
	wantOK bool
}{
	{"", nil, true},
	{"a b c ", []string{"a", "b", "c"}, true},
	{"a b c", []string{"a", "b", "c"}, true},
	{`"a b" c `, []string{"a b", "c"}, true},
	{`echo "say \"hi\"" `, []string{"echo", `say "hi"`}, true},
	{`a\b "c\\d e" `, []string{`a\b`, `c\d e`}, true},
	{"a  b ", []string{"a", "", "b"}, true},
	{`" " `, []string{" "}, true},
	{`"\"" `, []string{`"`}, true},
	{`"a b`, nil, false},
	{`"a"b `, []string{"a"}, false},
}

func TestSplitOsquery(t *testing.T) {
	for _, tt := range osquerySplitTests {
		got, ok := splitOsquery(tt.in)
		if ok != tt.wantOK {
			t.Errorf("splitOsquery(%q) ok = %v, want %v", tt.in, ok, tt.wantOK)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("splitOsquery(%q) (-want +got):\n%s", tt.in, diff)
		}
		if !tt.wantOK {
			continue
		}
		if back := quoteOsquery(got); strings.TrimSuffix(back, " ") != strings.TrimSuffix(tt.in, " ") {
			t.Errorf("quoteOsquery(%q) = %q, want %q back", got, back, tt.in)
		}
	}
}

func FuzzSplitCommandLine(f *testing.F) {
	for _, tt := range splitTests {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		words, err := SplitCommandLine(s)
		if err != nil {
			if !errors.Is(err, ErrQuote) {
				t.Fatalf("SplitCommandLine(%q) error %v does not wrap ErrQuote", s, err)
			}
			return
		}
		joined := JoinCommandLine(words)
		again, err := SplitCommandLine(joined)
		if err != nil || !cmp.Equal(words, again) {
			t.Fatalf("SplitCommandLine(%q) = %q; JoinCommandLine gives %q, which splits to %q, %v", s, words, joined, again, err)
		}
	})
}

// FuzzJoinCommandLine: any argv (elements separated by NUL in the input) survives joining and
// splitting.
func FuzzJoinCommandLine(f *testing.F) {
	f.Add("a\x00b c\x00it's\x00\x00$x")
	f.Add("/usr/libexec/ApplicationFirewall/socketfilterfw\x00--setglobalstate\x00off")
	f.Fuzz(func(t *testing.T, s string) {
		argv := strings.Split(s, "\x00")
		joined := JoinCommandLine(argv)
		got, err := SplitCommandLine(joined)
		if err != nil || !cmp.Equal(argv, got) {
			t.Fatalf("SplitCommandLine(JoinCommandLine(%q)) = %q, %v (joined %q)", argv, got, err, joined)
		}
	})
}

// FuzzSplitOsquery: splitOsquery never panics, and undoes osquery's quoting of any argv
// (elements separated by NUL in the input).
func FuzzSplitOsquery(f *testing.F) {
	for _, tt := range osquerySplitTests {
		f.Add(tt.in)
	}
	f.Add("a\x00b c\x00say \"hi\"\x00\x00back\\slash")
	f.Fuzz(func(t *testing.T, s string) {
		splitOsquery(s)
		argv := strings.Split(s, "\x00")
		q := quoteOsquery(argv)
		got, ok := splitOsquery(q)
		if !ok || !cmp.Equal(argv, got) {
			t.Fatalf("splitOsquery(%q) = %q, %v, want %q", q, got, ok, argv)
		}
	})
}
