package fwlog

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func classicOf(t *testing.T, files ...string) string {
	t.Helper()
	c := NewClassic()
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join("testdata", f))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			c.Add(sc.Bytes())
		}
	}
	var buf bytes.Buffer
	c.WriteTo(&buf)
	return buf.String()
}

// The classic report must match the article's Perl script byte for byte (its outputs on the same
// files were recorded in shared/fixtures/logs/expected/).
func TestClassicMatchesThePerlScript(t *testing.T) {
	tests := []struct {
		files []string
		want  string
	}{
		{[]string{"ipfw/ipfw-freebsd-syslog.log", "ipfw/ipfw-macosx.log"}, "expected/hickman-perl-on-ipfw-freebsd-syslog+ipfw-macosx.txt"},
		{[]string{"ipfw/synthetic-ipfw-edge-cases.log"}, "expected/hickman-perl-on-synthetic-ipfw-edge-cases.txt"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			want, err := os.ReadFile(filepath.Join("testdata", tt.want))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(want), classicOf(t, tt.files...)); diff != "" {
				t.Errorf("classic report differs from the Perl script's (-perl +firewarden):\n%s", diff)
			}
		})
	}
}

func TestPerlAddress(t *testing.T) {
	for in, want := range map[string]bool{
		"192.0.2.1:80": true, "192.168.xx.xx:5353": true, "0.0.0.0:1": true, "255.255.255.255:65535": true,
		"192.0.2.1:0": false, "192.0.2.1:65536": false, "192.0.2.256:80": false, "192.0.2.1": false,
		"[2001:db8::1]:80": false, "1.2.3:80": false, "1.2.3.4.5:80": false, "TCP": false, "-1.2.3.4:80": false,
		"1.2.3.4:80:81": false, "1.2.3.4:8x": true,
	} {
		if got := perlAddress([]byte(in)); got != want {
			t.Errorf("perlAddress(%q) = %v, want %v", in, got, want)
		}
	}
}

func FuzzClassic(f *testing.F) {
	f.Add([]byte("Nov  9 21:12:18 host kernel: ipfw: 2060 Accept TCP 192.0.2.1:119 198.51.100.2:54609 in via en0"))
	f.Add([]byte(" ipfw: 1 a b 1.2.3.4:5 6.7.8.9:10"))
	f.Fuzz(func(t *testing.T, line []byte) {
		c := NewClassic()
		c.Add(line)
		var buf bytes.Buffer
		c.WriteTo(&buf)
		if c.Rows() > 1 {
			t.Errorf("one line made %d rows", c.Rows())
		}
	})
}
