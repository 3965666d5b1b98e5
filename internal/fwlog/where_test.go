package fwlog

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Lines that cannot be read are reported with their file and line number, across files and
// across the chunks a large file is cut into.
func TestExamplesWhere(t *testing.T) {
	const good = "Feb 20 09:13:50 fw1 filterlog: 5,,,1000000103,igb0,match,block,in,4,0x0,,64,0,0,DF,6,tcp,60,203.0.113.9,192.0.2.10,51234,22,0,S,1,,64240,,mss\n"
	var big bytes.Buffer
	bad := map[int]bool{1: true, 7000: true, 20000: true, 29999: true}
	for i := 1; i <= 30000; i++ { // about 4 MB: several chunks
		if bad[i] {
			fmt.Fprintf(&big, "Feb 20 09:13:50 fw1 filterlog: broken line %d\n", i)
		} else {
			big.WriteString(good)
		}
	}
	small := "hello\n" + "\n" + "IN=eth0 OUT= SRC=192.0.2.1\n"
	// A line longer than MaxLine is cut and counted as one line not read.
	long := string(bytes.Repeat([]byte("x"), MaxLine+10)) + "\nhello\n"
	sources := []Source{{Name: "big.log", Reader: bytes.NewReader(big.Bytes())}, {Name: "small.log", Reader: bytes.NewReader([]byte(small))},
		{Name: "long.log", Reader: bytes.NewReader([]byte(long))}}
	s, _, err := Summarize(context.Background(), sources, Options{Examples: 10}, ModeFull)
	if err != nil {
		t.Fatal(err)
	}
	r := s.Report(0, BuiltinServices())
	var got []string
	for _, e := range r.Examples {
		got = append(got, fmt.Sprintf("%s:%d %s", e.File, e.LineNo, e.Why))
	}
	want := []string{
		"big.log:1 malformed filterlog", "big.log:7000 malformed filterlog", "big.log:20000 malformed filterlog", "big.log:29999 malformed filterlog",
		"small.log:1 unrecognised", "small.log:3 malformed netfilter", "long.log:1 unrecognised", "long.log:2 unrecognised",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("examples (-want +got):\n%s", d)
	}
	var text bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(text.Bytes(), []byte("  small.log:3: malformed netfilter: IN=eth0 OUT= SRC=192.0.2.1\n")) {
		t.Errorf("WriteText does not name small.log:3:\n%s", text.Bytes())
	}
}
