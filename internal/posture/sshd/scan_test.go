package sshd

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/firewarden/firewarden/internal/host"
)

// parseEffectiveTests is TestParseEffective's table; it seeds FuzzParseEffective too.
var parseEffectiveTests = []struct {
	name    string
	in      string
	get     map[string]string // keyword -> first value ("-" absent)
	wantErr string
}{
	{"debian", "port 22\nusepam yes\npermitrootlogin without-password\nlistenaddress [::]:22\nlistenaddress 0.0.0.0:22\n",
		map[string]string{"permitrootlogin": "without-password", "listenaddress": "[::]:22", "usepam": "yes", "passwordauthentication": "-"}, ""},
	{"crlf and blank lines", "usepam yes\r\n\r\n\nbanner none\r\n", map[string]string{"usepam": "yes", "banner": "none"}, ""},
	{"keyword without value", "authorizedkeyscommand\nport 22\n", map[string]string{"authorizedkeyscommand": "", "port": "22"}, ""},
	{"value with spaces", "subsystem sftp /usr/lib/openssh/sftp-server -l INFO\n", map[string]string{"subsystem": "sftp /usr/lib/openssh/sftp-server -l INFO"}, ""},
	{"empty", "", nil, "printed no settings"},
	{"usage text", "usage: sshd [-46DdeGiqTtV]\n", nil, `line 1 is not a "keyword value" setting`},
	{"upper case", "PasswordAuthentication yes\n", nil, "line 1"},
	{"error on line 3", "port 22\nusepam yes\n/etc/ssh/sshd_config: line 3: Bad configuration option\n", nil, "line 3"},
}

func TestParseEffective(t *testing.T) {
	for _, tt := range parseEffectiveTests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := ParseEffective([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("ParseEffective(%q) error = %v, want %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseEffective(%q) = %v", tt.in, err)
			}
			got := map[string]string{}
			for k := range tt.get {
				v, ok := e.Get(k)
				if !ok {
					v = "-"
				}
				got[k] = v
			}
			if diff := cmp.Diff(tt.get, got); diff != "" {
				t.Errorf("ParseEffective(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestParseEffectiveRealOutput(t *testing.T) {
	e, err := ParseEffective([]byte(debian12(t)))
	if err != nil {
		t.Fatal(err)
	}
	if e.Len() < 80 {
		t.Errorf("ParseEffective(real sshd -T) = %d keywords, want the ~90 OpenSSH 9.2 prints", e.Len())
	}
}

func writeTree(t testing.TB, files map[string]string) host.Root {
	t.Helper()
	dir := t.TempDir()
	for p, c := range files {
		full := filepath.Join(dir, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r, err := host.NewRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// scanTests is TestScan's table; its sshd_config and extra.conf seed FuzzScan.
var scanTests = []struct {
	name         string
	files        map[string]string
	global, cond []string // "file:line key value [match]"
	files_       []string
	problems     []string // substrings
}{
	{
		name: "debian with cloud-init",
		files: map[string]string{
			mainConfig: "# comment\nInclude /etc/ssh/sshd_config.d/*.conf\nKbdInteractiveAuthentication no\nUsePAM yes\n",
			"/etc/ssh/sshd_config.d/50-cloud-init.conf": "PasswordAuthentication yes\n",
			"/etc/ssh/sshd_config.d/00-firewarden.conf": "PasswordAuthentication no\n",
			"/etc/ssh/sshd_config.d/README":             "PermitRootLogin yes\n", // not *.conf
		},
		global: []string{
			"/etc/ssh/sshd_config.d/00-firewarden.conf:1 PasswordAuthentication no",
			"/etc/ssh/sshd_config.d/50-cloud-init.conf:1 PasswordAuthentication yes",
			"/etc/ssh/sshd_config:3 KbdInteractiveAuthentication no",
			"/etc/ssh/sshd_config:4 UsePAM yes",
		},
		files_: []string{mainConfig, "/etc/ssh/sshd_config.d/00-firewarden.conf", "/etc/ssh/sshd_config.d/50-cloud-init.conf"},
	},
	{
		name: "match blocks, equals signs, quotes, relative include inside a match",
		files: map[string]string{
			mainConfig:            "PermitRootLogin=no\nMatch User deploy,ops\n  PasswordAuthentication \"yes\"\n  Include extra.conf\nMatch all\nKbdInteractiveAuthentication = yes # trailing\n",
			"/etc/ssh/extra.conf": "PermitRootLogin yes\n",
		},
		global: []string{"/etc/ssh/sshd_config:1 PermitRootLogin no"},
		cond: []string{
			"/etc/ssh/sshd_config:3 PasswordAuthentication yes [User deploy,ops]",
			"/etc/ssh/extra.conf:1 PermitRootLogin yes [User deploy,ops]",
			"/etc/ssh/sshd_config:6 KbdInteractiveAuthentication yes [all]",
		},
		files_: []string{mainConfig, "/etc/ssh/extra.conf"},
	},
	{
		name:     "self include stops at the depth cap",
		files:    map[string]string{mainConfig: "Include /etc/ssh/sshd_config\n"},
		files_:   slices.Repeat([]string{mainConfig}, 1+maxIncludeDepth), // the main file and 16 nested reads
		problems: []string{"/etc/ssh/sshd_config:1: Include not followed, Includes nest deeper than 16"},
	},
	{
		name:     "missing main config",
		files:    map[string]string{"/etc/hostname": "x\n"},
		files_:   []string{mainConfig},
		problems: []string{"/etc/ssh/sshd_config: not read"},
	},
	{
		name:     "too big",
		files:    map[string]string{mainConfig: "Include big.conf\n", "/etc/ssh/big.conf": strings.Repeat("#", maxConfigBytes+1)},
		files_:   []string{mainConfig, "/etc/ssh/big.conf"},
		problems: []string{"/etc/ssh/big.conf (included from /etc/ssh/sshd_config:1): not read: larger than the cap"},
	},
	{
		name:     "bad pattern",
		files:    map[string]string{mainConfig: "Include /etc/ssh/[\n"},
		files_:   []string{mainConfig},
		problems: []string{`/etc/ssh/sshd_config:1: Include "/etc/ssh/[" is not a valid pattern`},
	},
}

func TestScan(t *testing.T) {
	for _, tt := range scanTests {
		t.Run(tt.name, func(t *testing.T) {
			s := Scan(writeTree(t, tt.files), mainConfig)
			show := func(ss []Setting) []string {
				var out []string
				for _, x := range ss {
					line := x.Where() + " " + x.Key + " " + x.Value
					if x.Match != "" {
						line += " [" + x.Match + "]"
					}
					out = append(out, line)
				}
				return out
			}
			var files []string
			for _, f := range s.Files {
				files = append(files, f.Path)
			}
			var problems []string
			for _, want := range tt.problems {
				found := "MISSING: " + want
				for _, p := range s.Problems {
					if strings.Contains(p, want) {
						found = want
					}
				}
				problems = append(problems, found)
			}
			got := [][]string{show(s.Global), show(s.Conditional), files, problems}
			want := [][]string{tt.global, tt.cond, tt.files_, tt.problems}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Scan() [global, conditional, files, problems] mismatch (-want +got):\n%s\nproblems: %q", diff, s.Problems)
			}
		})
	}
}

// A configuration that Includes many files stops at the file cap.
func TestScanFileCap(t *testing.T) {
	files := map[string]string{mainConfig: "Include /etc/ssh/d/*.conf\n"}
	for i := 0; i < maxConfigFiles+5; i++ {
		files[filepath.Join("/etc/ssh/d", strings.Repeat("a", 1+i/26)+string(rune('a'+i%26))+".conf")] = "UsePAM yes\n"
	}
	s := Scan(writeTree(t, files), mainConfig)
	if len(s.Files) != maxConfigFiles || len(s.Problems) != 1 || !strings.Contains(s.Problems[0], "and any later file: not read, more than 256 configuration files") {
		t.Errorf("Scan(%d files) read %d and reported %q, want %d read and one problem", len(files), len(s.Files), s.Problems, maxConfigFiles)
	}
	// Each file Including the main one many times: the problems are capped, not one per Include.
	s = Scan(writeTree(t, map[string]string{mainConfig: "Include" + strings.Repeat(" sshd_config", 1000) + "\n"}), mainConfig)
	if len(s.Files) > maxConfigFiles || len(s.Problems) > maxProblems+1 {
		t.Errorf("Scan(self-including 1000 times) read %d files and reported %d problems, want at most %d and %d", len(s.Files), len(s.Problems), maxConfigFiles, maxProblems+1)
	}
}

func FuzzParseEffective(f *testing.F) {
	for _, tt := range parseEffectiveTests {
		f.Add([]byte(tt.in))
	}
	if data, err := os.ReadFile("testdata/openssh-9.2p1-debian12.txt"); err == nil {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := ParseEffective(data)
		if err != nil {
			return
		}
		// Every keyword read back is a keyword, and its value is on one line of the input.
		for k, vs := range e.values {
			if !isKeyword(k) {
				t.Fatalf("ParseEffective(%q) kept keyword %q", data, k)
			}
			for _, v := range vs {
				if strings.Contains(v, "\n") {
					t.Fatalf("ParseEffective(%q) value %q spans lines", data, v)
				}
			}
		}
		passwordWays(e)
	})
}

func FuzzScan(f *testing.F) {
	for _, tt := range scanTests {
		f.Add(tt.files[mainConfig], tt.files["/etc/ssh/extra.conf"])
	}
	f.Add("Match\nPasswordAuthentication\n\"\n=\n", "PermitRootLogin yes\nInclude sshd_config\n")
	f.Fuzz(func(t *testing.T, main, extra string) {
		r := writeTree(t, map[string]string{mainConfig: main, "/etc/ssh/extra.conf": extra})
		s := Scan(r, mainConfig)
		if len(s.Files) > maxConfigFiles {
			t.Fatalf("Scan read %d files, over the cap %d", len(s.Files), maxConfigFiles)
		}
		for _, set := range append(s.Global, s.Conditional...) {
			if !watched[strings.ToLower(set.Key)] || set.Line < 1 {
				t.Fatalf("Scan kept %+v", set)
			}
		}
	})
}
