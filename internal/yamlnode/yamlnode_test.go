package yamlnode

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v4"
)

// nodeError is the error a caller's Errorf makes: the line and the message.
type nodeError struct {
	line int
	msg  string
}

func (e *nodeError) Error() string { return fmt.Sprintf("%d: %s", e.line, e.msg) }

func errorf(n *yaml.Node, format string, args ...any) error {
	line := 0
	if n != nil {
		line = n.Line
	}
	return &nodeError{line: line, msg: fmt.Sprintf(format, args...)}
}

// walk reads in as the mapping of walkTests: the keys a (anything), m (a mapping with the key
// x) and moved (which Unknown refuses with a hint); it returns the keys seen, each with its
// line, in order.
func walk(in string) ([]string, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(in), &doc); err != nil {
		return nil, err
	}
	var n *yaml.Node
	if doc.Kind == yaml.DocumentNode && len(doc.Content) > 0 {
		n = doc.Content[0]
	}
	if n == nil {
		return nil, nil
	}
	var seen []string
	record := func(k *yaml.Node) { seen = append(seen, fmt.Sprintf("%s:%d", k.Value, k.Line)) }
	inner := &Mapping{Where: "m", Errorf: errorf, Seen: record, Keys: map[string]func(*yaml.Node) error{
		"x": func(*yaml.Node) error { return nil },
	}}
	top := &Mapping{Where: "the file", Errorf: errorf, Seen: record, Keys: map[string]func(*yaml.Node) error{
		"a":     func(*yaml.Node) error { return nil },
		"m":     inner.Walk,
		"moved": func(*yaml.Node) error { return nil },
	}}
	top.Unknown = func(k *yaml.Node, known []string) error {
		if k.Value == "old" {
			return errorf(k, "old is now moved; the keys are %s", strings.Join(known, ", "))
		}
		return nil
	}
	err := top.Walk(n)
	return seen, err
}

var walkTests = []struct {
	name string
	in   string
	seen []string
	err  string // "" for none
}{
	{"keys", "a: 1\nm:\n  x: 2\n", []string{"a:1", "m:2", "x:3"}, ""},
	{"null mapping", "m:\na: 1\n", []string{"m:1", "a:2"}, ""},
	{"null top", "~\n", nil, ""},
	{"alias value", "a: &x {x: 1}\nm: *x\n", []string{"a:1", "m:2", "x:1"}, ""},
	{"alias key", "a: &k x\nm: {*k : 1}\n", []string{"a:1", "m:2", "x:1"}, ""},
	{"not a mapping", "[1, 2]\n", nil, "1: the file should be a mapping of keys, not a list"},
	{"scalar", "m: 3\n", []string{"m:1"}, `1: m should be a mapping of keys, not "3"`},
	{"inner list", "m:\n  - x\n", []string{"m:1"}, "2: m should be a mapping of keys, not a list"},
	{"key a list", "[a]: 1\n", nil, "1: the file: keys are names, not a list"},
	{"key a mapping", "m:\n  {x: 1}: 2\n", []string{"m:1"}, "2: m: keys are names, not a mapping"},
	{"unknown", "a: 1\nb: 2\n", []string{"a:1"}, `2: unknown key "b" under the file; the keys are a, m, moved`},
	{"unknown inner", "m:\n  y: 1\n", []string{"m:1"}, `2: unknown key "y" under m; the keys are x`},
	{"hint", "a: 1\nold: 2\n", []string{"a:1"}, "2: old is now moved; the keys are a, m, moved"},
	{"twice", "a: 1\nm: {}\na: 2\n", []string{"a:1", "m:2"}, `3: "a" is given twice; keep one`},
	// An alias key is reported at the line of the key it names (its anchor).
	{"twice through an alias", "a: &k a\n*k : 1\n", []string{"a:1"}, `1: "a" is given twice; keep one`},
}

func TestWalk(t *testing.T) {
	for _, tt := range walkTests {
		t.Run(tt.name, func(t *testing.T) {
			seen, err := walk(tt.in)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.err {
				t.Errorf("Walk(%q) error = %q, want %q", tt.in, got, tt.err)
			}
			if diff := cmp.Diff(tt.seen, seen); diff != "" {
				t.Errorf("Walk(%q) keys seen (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

// TestWalkHandlerError: a handler's error is returned as it is, and the keys after it are not
// read.
func TestWalkHandlerError(t *testing.T) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte("a: 1\nb: 2\n"), &doc); err != nil {
		t.Fatal(err)
	}
	stop := errors.New("stop")
	m := &Mapping{Where: "x", Errorf: errorf, Keys: map[string]func(*yaml.Node) error{
		"a": func(*yaml.Node) error { return stop },
		"b": func(*yaml.Node) error { t.Error("Walk read b after a's error"); return nil },
	}}
	if err := m.Walk(doc.Content[0]); err != stop {
		t.Errorf("Walk = %v, want the handler's error %v", err, stop)
	}
}

func TestKindName(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{"{a: 1}", "a mapping"},
		{"[1]", "a list"},
		{"~", "nothing"},
		{"null", "nothing"},
		{"x y", `"x y"`},
		{`"3"`, `"3"`},
		{"''", `""`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var doc yaml.Node
			if err := yaml.Unmarshal([]byte(tt.in), &doc); err != nil {
				t.Fatal(err)
			}
			if got := KindName(doc.Content[0]); got != tt.want {
				t.Errorf("KindName(%s) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
	if got := KindName(&yaml.Node{Kind: yaml.AliasNode}); got != "something else" {
		t.Errorf("KindName(an alias) = %s, want something else", got)
	}
}

func TestDeref(t *testing.T) {
	target := &yaml.Node{Kind: yaml.ScalarNode, Value: "v"}
	alias := &yaml.Node{Kind: yaml.AliasNode, Alias: &yaml.Node{Kind: yaml.AliasNode, Alias: target}}
	if got := Deref(alias); got != target {
		t.Errorf("Deref(alias of alias) = %+v, want %+v", got, target)
	}
	if got := Deref(nil); got != nil {
		t.Errorf("Deref(nil) = %+v, want nil", got)
	}
	loop := &yaml.Node{Kind: yaml.AliasNode}
	loop.Alias = loop
	if got := Deref(loop); got != loop {
		t.Errorf("Deref(alias of itself) = %+v, want it back", got)
	}
}

func TestSyntaxError(t *testing.T) {
	tests := []struct {
		name string
		in   string
		line int
		msg  string
		ok   bool
	}{
		{"indentation", "a:\n  b: 1\n c: 2\n", 3, "did not find expected key (while parsing a block mapping)", true},
		{"tab", "a:\n\tb: 1\n", 2, "found character that cannot start any token (while scanning for the next token)", true},
		{"unknown anchor", "a: 1\nb: *x\n", 2, "unknown anchor 'x' referenced", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var doc yaml.Node
			err := yaml.Unmarshal([]byte(tt.in), &doc)
			line, msg, ok := SyntaxError(err)
			if line != tt.line || msg != tt.msg || ok != tt.ok {
				t.Errorf("SyntaxError(%v) = %d, %q, %v, want %d, %q, %v", err, line, msg, ok, tt.line, tt.msg, tt.ok)
			}
		})
	}
	if line, msg, ok := SyntaxError(errors.New("disk on fire")); ok || line != 0 || msg != "" {
		t.Errorf("SyntaxError(another error) = %d, %q, %v, want 0, \"\", false", line, msg, ok)
	}
}

// FuzzWalk: no panic; a YAML syntax error is located on one line; Walk's errors are the
// caller's (from Errorf), one line each, and point into the text.
func FuzzWalk(f *testing.F) {
	for _, tt := range walkTests {
		f.Add(tt.in)
	}
	f.Add("a: &x [*x]\nm: *x\n")
	f.Add("a:\n  b: 1\n c: 2\n")
	f.Fuzz(func(t *testing.T, in string) {
		_, err := walk(in)
		if err == nil {
			return
		}
		var ne *nodeError
		if !errors.As(err, &ne) {
			line, msg, ok := SyntaxError(err)
			if ok && (line < 0 || strings.Contains(msg, "\n")) {
				t.Fatalf("SyntaxError(%v) = %d, %q: want a line and one line of text", err, line, msg)
			}
			return
		}
		// YAML breaks lines at \r as well as \n, and YAML 1.1 at NEL, LS and PS too.
		lines := 1
		for _, r := range in {
			if strings.ContainsRune("\n\r\u0085\u2028\u2029", r) {
				lines++
			}
		}
		if strings.Contains(ne.msg, "\n") || ne.line < 0 || ne.line > lines {
			t.Fatalf("Walk(%q) error %q: want one line about a line of the text", in, err)
		}
	})
}
