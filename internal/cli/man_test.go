package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestManPages(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "man1")
	out, errs, code := runCLI(t, nil, "man", "--dir", dir)
	if code != 0 || out != "" || errs != "" {
		t.Fatalf("man --dir = exit %d, stdout %q, stderr %q", code, out, errs)
	}
	want := []string{"firewarden.1"}
	for _, c := range visibleCommands() {
		want = append(want, "firewarden-"+c.name+".1")
	}
	for _, name := range want {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("man --dir did not write %s: %v", name, err)
			continue
		}
		page := string(data)
		// In man-pages(7) order.
		sections := []string{".TH ", ".SH NAME", ".SH SYNOPSIS", ".SH DESCRIPTION", ".SH EXIT STATUS", ".SH EXAMPLES", ".SH SEE ALSO"}
		if name == "firewarden.1" {
			sections = []string{".TH ", ".SH NAME", ".SH SYNOPSIS", ".SH DESCRIPTION", ".SH COMMANDS", ".SH GLOBAL FLAGS", ".SH EXIT STATUS",
				".SH ENVIRONMENT", "FIREWARDEN_ROOT", ".SH FILES", "/etc/firewarden/firewarden.yaml", ".SH SEE ALSO"}
		}
		last := -1
		for _, s := range sections {
			i := strings.Index(page, s)
			if i < 0 {
				t.Errorf("%s lacks %q", name, s)
			}
			if strings.HasPrefix(s, ".") && i < last {
				t.Errorf("%s: %q is out of order", name, s)
			}
			if strings.HasPrefix(s, ".") {
				last = i
			}
		}
		for i, l := range strings.Split(page, "\n") {
			if regexp.MustCompile(`[^\x00-\x7f]`).MatchString(l) {
				t.Errorf("%s:%d is not ASCII: %q", name, i+1, l)
			}
			// An unescaped "-" renders as a hyphen, which a reader cannot paste as an option.
			if !strings.HasPrefix(l, ".TH") && regexp.MustCompile(`(^|[^\\])-`).MatchString(l) {
				t.Errorf("%s:%d has an unescaped minus: %q", name, i+1, l)
			}
		}
	}
	// Every verb and every one of its flags is in its command's page.
	for _, path := range allPaths() {
		page, _ := os.ReadFile(filepath.Join(dir, "firewarden-"+path[0]+".1"))
		if len(path) > 1 && !strings.Contains(string(page), ".SS \""+roffText(strings.Join(path, " "))) {
			t.Errorf("firewarden-%s.1 lacks the verb %q", path[0], strings.Join(path, " "))
		}
		for _, f := range ownFlags(flagsOf(path)) {
			syntax, _ := flagSyntax(f)
			name, _, _ := strings.Cut(syntax, " ")
			if !strings.Contains(string(page), roffText(name)) {
				t.Errorf("firewarden-%s.1 lacks --%s of %s", path[0], f.Name, strings.Join(path, " "))
			}
		}
	}
	lintMan(t, dir, want)
}

// lintMan runs mandoc -T lint, or groff with every warning, on the pages when either exists.
func lintMan(t *testing.T, dir string, names []string) {
	if mandoc, err := exec.LookPath("mandoc"); err == nil {
		for _, n := range names {
			out, err := exec.Command(mandoc, "-T", "lint", "-W", "warning", filepath.Join(dir, n)).CombinedOutput()
			if err != nil || len(out) > 0 {
				t.Errorf("mandoc -T lint %s: %v\n%s", n, err, out)
			}
		}
		return
	}
	groff, err := exec.LookPath("groff")
	if err != nil {
		t.Log("neither mandoc nor groff is installed (apt-get install groff-base); the pages were not linted")
		return
	}
	for _, n := range names {
		cmd := exec.Command(groff, "-man", "-Tutf8", "-ww", "-z", filepath.Join(dir, n))
		out, err := cmd.CombinedOutput()
		if err != nil || len(out) > 0 {
			t.Errorf("groff -man -ww %s: %v\n%s", n, err, out)
		}
	}
}

func TestManNeedsDir(t *testing.T) {
	_, errs, code := runCLI(t, nil, "man")
	if code != 2 || errs != "firewarden: man needs --dir DIR, the directory to write the pages into\n" {
		t.Errorf("man = exit %d, stderr %q", code, errs)
	}
}

func TestRoffText(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"--format FORMAT", `\-\-format FORMAT`},
		{`a\b`, `a\eb`},
		{".hidden", `\&.hidden`},
		{"'quoted", `\&'quoted`},
		{"run `block sync` now", `run \fBblock sync\fR now`},
		{"FILE…", "FILE..."},
	} {
		if got := roffText(tt.in); got != tt.want {
			t.Errorf("roffText(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
