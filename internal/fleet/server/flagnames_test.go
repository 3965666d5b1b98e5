package server

import (
	"flag"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// Every `--word` in a string literal of firewarden-server's code (this package and its main)
// names a flag firewarden-server has, as internal/cli's test checks for firewarden: a message
// that tells the user to run a flag that does not exist is a dead end.
func TestMessagesNameServerFlags(t *testing.T) {
	known := map[string]bool{"help": true, "version": true}
	var walk func(chain []*command)
	walk = func(chain []*command) {
		flagSetOf(chain).VisitAll(func(f *flag.Flag) { known[f.Name] = true })
		for _, v := range chain[len(chain)-1].verbs {
			walk(append(chain[:len(chain):len(chain)], v))
		}
	}
	for _, c := range commands() {
		walk([]*command{c})
	}
	if len(known) < 8 {
		t.Fatalf("found only %d flags; the check would prove nothing", len(known))
	}
	flagRef := regexp.MustCompile(`(?:^|[^-\w])--([a-z][a-z0-9-]*[a-z0-9])`)
	files := 0
	for _, top := range []string{".", "../../../cmd/firewarden-server"} {
		err := filepath.WalkDir(top, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			files++
			fset := token.NewFileSet()
			f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
			if err != nil {
				return err
			}
			ast.Inspect(f, func(n ast.Node) bool {
				lit, ok := n.(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					return true
				}
				s, err := strconv.Unquote(lit.Value)
				if err != nil {
					return true
				}
				for _, m := range flagRef.FindAllStringSubmatch(s, -1) {
					if !known[m[1]] {
						t.Errorf("%s: --%s names no firewarden-server flag", fset.Position(lit.Pos()), m[1])
					}
				}
				return true
			})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if files < 5 {
		t.Fatalf("read %d files; the check would prove nothing", files)
	}
}
