package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// `rules lint` on rule sets from the wild (issue 15), through the binary: scan rules with TCP
// flags and runtime tables are no findings, and the ipfw default is said to be assumed unless it
// was given.
func TestRulesLintWild(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		args    []string
		code    int
		want    []string // substrings of stdout
		wantNot []string
	}{
		{
			// pf.conf(5): flags F/F matches TCP packets with FIN set; a persist table is filled
			// with pfctl -t bruteforce -T add while pf runs.
			name: "pf scan rules and a persist table",
			file: "table <bruteforce> persist\nblock in all\nblock in quick proto tcp flags F/F\nblock in quick proto tcp flags FUP/FUP\nblock in quick from <bruteforce>\npass in proto tcp to port 22\n",
			code: 0,
			want: []string{"no findings"},
		},
		{
			// pf.conf(5): antispoof expands into block rules at its place; the simulator does
			// not model it, so a finding across it is conditional.
			name: "pf finding across antispoof",
			file: "block in all\npass in proto tcp to port 22 no state\nantispoof for en0\npass in proto tcp no state\n",
			code: 1,
			want: []string{"[redundant]", "provided", ":3 (antispoof for en0), which the simulator does not model"},
		},
		{
			name:    "ipfw default assumed",
			file:    "00100 allow tcp from any to me 22 setup\n00200 allow tcp from any to any established\n00300 allow tcp from me to any setup\n00400 allow ip from any to any via lo0\n",
			args:    []string{"--format", "ipfw"},
			code:    1,
			want:    []string{"[no-final-deny]", "assumed allow", "--default deny"},
			wantNot: []string{"allows it: every port"},
		},
		{
			name: "ipfw default given",
			file: "00100 allow tcp from any to me 22 setup\n00200 allow tcp from any to any established\n00300 allow tcp from me to any setup\n00400 allow ip from any to any via lo0\n",
			args: []string{"--format", "ipfw", "--default", "allow"},
			code: 1,
			want: []string{"[no-final-deny]", "given with --default allow", "every port and protocol not listed is open"},
		},
		{
			name: "ipfw FreeBSD default deny",
			file: "00100 allow tcp from any to me 22 setup\n00200 allow tcp from any to any established\n00300 allow tcp from me to any setup\n00400 allow ip from any to any via lo0\n",
			args: []string{"--format", "ipfw", "--default", "deny"},
			code: 0,
			want: []string{"no findings"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "rules.conf")
			if err := os.WriteFile(path, []byte(tt.file), 0o644); err != nil {
				t.Fatal(err)
			}
			args := append([]string{"rules", "lint"}, tt.args...)
			r := firewardenRaw(t, append(args, path)...)
			if r.code != tt.code {
				t.Errorf("rules lint %q = exit %d, want %d; stdout %q stderr %q", tt.file, r.code, tt.code, r.stdout, r.stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("rules lint %q stdout = %q, want it to contain %q", tt.file, r.stdout, w)
				}
			}
			for _, w := range tt.wantNot {
				if strings.Contains(r.stdout, w) {
					t.Errorf("rules lint %q stdout = %q, want no %q", tt.file, r.stdout, w)
				}
			}
		})
	}
}
