package cli

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// otherProgramsFlags are flags of programs firewarden runs or tells the user to run, which
// string literals may name without being firewarden's, each with the program it belongs to.
var otherProgramsFlags = map[string]string{
	// socketfilterfw, the macOS Application Firewall's command line, which posture drives and
	// detect recognises in telemetry ("--get" is the prefix of its getters).
	"add": "socketfilterfw", "remove": "socketfilterfw", "blockapp": "socketfilterfw", "unblockapp": "socketfilterfw",
	"listapps": "socketfilterfw", "get": "socketfilterfw", "getappblocked": "socketfilterfw",
	"getglobalstate": "socketfilterfw", "setglobalstate": "socketfilterfw",
	"getstealthmode": "socketfilterfw", "setstealthmode": "socketfilterfw",
	"getblockall": "socketfilterfw", "setblockall": "socketfilterfw",
	"getloggingmode": "socketfilterfw", "setloggingmode": "socketfilterfw",
	"getloggingopt": "socketfilterfw", "setloggingopt": "socketfilterfw",
	"getallowsigned": "socketfilterfw", "setallowsigned": "socketfilterfw", "setallowsignedapp": "socketfilterfw",
	// initdb, which internal/fleet/pgtest runs to start a throwaway PostgreSQL for tests
	"auth": "initdb", "encoding": "initdb", "no-sync": "initdb", "no-locale": "initdb", "no-instructions": "initdb",
	// sudo, whose options detect skips to find the command a telemetry record ran
	"user": "sudo", "group": "sudo", "prompt": "sudo", "close-from": "sudo", "chdir": "sudo", "host": "sudo",
	"other-user": "sudo", "role": "sudo", "type": "sudo, and log stream --type", "unset": "env --unset (before sudo's command)",
	// kill, in detect's command-line reading
	"signal": "kill --signal",
	// journalctl, which guard follows on Linux
	"follow": "journalctl", "lines": "journalctl", "output": "journalctl", "all": "journalctl", "quiet": "journalctl",
	"no-pager": "journalctl", "since": "journalctl",
	// log, macOS's unified log tool, which guard and detect --live stream
	"style": "log stream", "predicate": "log stream", "level": "log stream",
	// eslogger, Endpoint Security's logger
	"list-events": "eslogger", "oslog": "eslogger",
	// zstd, named in the hint for files with a large window
	"long": "zstd",
	// firewall-cmd, in the hint of a linux.firewall check that firewalld manages
	"set-default-zone": "firewall-cmd", "add-service": "firewall-cmd", "set-log-denied": "firewall-cmd",
	"permanent": "firewall-cmd", "reload": "firewall-cmd", "set-target": "firewall-cmd", "add-icmp-block": "firewall-cmd",
	"list-all": "firewall-cmd", "remove-service": "firewall-cmd", "remove-port": "firewall-cmd",
	// systemctl, in the hint block autoconfigure prints
	"now": "systemctl enable --now",
	// firewarden service --init: the service command's flag, which completion already knows;
	// drop this entry once that command is in the table.
}

// Every string in firewarden's Go source that names a flag (--word) names one that exists: a
// flag of some firewarden command, or one of another program's listed above.
func TestMessagesNameRealFlags(t *testing.T) {
	known := map[string]bool{"help": true}
	add := func(names ...string) {
		for _, n := range names {
			known[n] = true
		}
	}
	for _, n := range globalNames() {
		add(n)
	}
	add("version")
	for _, path := range allPaths() {
		for _, f := range ownFlags(flagsOf(path)) {
			add(f.Name)
		}
	}
	flagRef := regexp.MustCompile(`(?:^|[^-\w])--([a-z][a-z0-9-]*[a-z0-9])`)
	var bad []string
	files := 0
	for _, top := range []string{"../../internal", "../../cmd"} {
		err := filepath.WalkDir(top, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && d.Name() == "testdata" {
				return filepath.SkipDir
			}
			// firewarden-server's code names firewarden-server's flags; its own test checks them.
			if d.IsDir() && (path == filepath.Join("..", "..", "internal", "fleet", "server") || path == filepath.Join("..", "..", "cmd", "firewarden-server")) {
				return filepath.SkipDir
			}
			if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return nil
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
					if !known[m[1]] && otherProgramsFlags[m[1]] == "" {
						bad = append(bad, fset.Position(lit.Pos()).String()+": --"+m[1])
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
	if files < 50 {
		t.Fatalf("read %d Go files; the walk missed the tree", files)
	}
	sort.Strings(bad)
	for _, b := range bad {
		t.Errorf("%s names no firewarden flag and is not in otherProgramsFlags", b)
	}
}
