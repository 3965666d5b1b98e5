package sshd

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/firewarden/firewarden/internal/host"
)

// Bounds of Scan. OpenSSH itself stops at 16 nested Includes (READCONF_MAX_DEPTH in readconf.h);
// the size and count caps keep a hostile or broken configuration tree from costing more than a
// few megabytes.
const (
	maxIncludeDepth = 16
	maxConfigBytes  = 1 << 20
	maxConfigFiles  = 256
)

// Setting is one line of an sshd configuration file that sets a key the checks rest on.
type Setting struct {
	File  string // system path
	Line  int
	Key   string // as written ("PasswordAuthentication")
	Value string // first argument, unquoted
	// Match is the criteria of the Match block the line sits in ("User bob"), "" outside one.
	Match string
}

// Where is "file:line".
func (s Setting) Where() string { return fmt.Sprintf("%s:%d", s.File, s.Line) }

// ScannedFile is one configuration file Scan read (or failed to read), for evidence.
type ScannedFile struct {
	Path string // system path
	Data []byte
	Err  error
}

// Scanned is what Scan found in sshd_config and the files it Includes, in the order sshd reads
// them (an Include is read where it stands, its glob matches in lexical order).
type Scanned struct {
	Files []ScannedFile
	// Global are the watched keys set outside any Match block, in reading order: sshd keeps the
	// first value it reads, so the first of a key is the one in force.
	Global []Setting
	// Conditional are the watched keys set inside Match blocks: sshd -T without -C does not
	// apply them, so a verdict on the global values holds only where no Match applies.
	Conditional []Setting
	// Problems are parts of the tree Scan did not read (too deep, too big, too many files,
	// unreadable), each naming file:line; a verdict about Match blocks is incomplete with them.
	Problems []string
}

// watched are the keywords (lower case) the checks rest on.
var watched = map[string]bool{
	"passwordauthentication":          true,
	"kbdinteractiveauthentication":    true,
	"challengeresponseauthentication": true,
	"permitrootlogin":                 true,
	"usepam":                          true,
	"permitemptypasswords":            true,
	"authenticationmethods":           true,
}

// Scan reads the sshd configuration at the system path main under root and the files it Includes.
// It is not a second opinion on the effective values (that is sshd -T); it finds the Match blocks
// sshd -T does not show, and where a value is set, so that a failed fix can say which line to
// change. Include paths are system paths resolved under the root; relative ones are relative to
// /etc/ssh, as sshd takes them. A path that already lies under the root directory is taken as it
// is: a test's wrapper sshd reads its configuration from there by the host path.
func Scan(root host.Root, main string) Scanned {
	s := &scanner{root: root}
	s.file(main, 0, "", "")
	if s.more > 0 {
		s.out.Problems = append(s.out.Problems, fmt.Sprintf("and %d more", s.more))
	}
	return s.out
}

type scanner struct {
	root host.Root
	out  Scanned
	full bool // the file cap was reached: nothing more is read
	more int  // problems beyond maxProblems, counted only
}

// maxProblems caps Scanned.Problems: a configuration that Includes itself a thousand times per
// line must not cost a thousand messages per file.
const maxProblems = 20

func (s *scanner) problem(format string, args ...any) {
	if len(s.out.Problems) < maxProblems {
		s.out.Problems = append(s.out.Problems, fmt.Sprintf(format, args...))
		return
	}
	s.more++
}

// file reads one configuration file. match is the Match criteria in force at the Include that
// named it ("" for the main file or a global Include); from is that Include's file:line.
func (s *scanner) file(sys string, depth int, match, from string) {
	if s.full {
		return
	}
	if depth > maxIncludeDepth {
		s.problem("%s: not read, Includes nest deeper than %d (from %s)", sys, maxIncludeDepth, from)
		return
	}
	if len(s.out.Files) >= maxConfigFiles {
		s.problem("%s and any later file: not read, more than %d configuration files (from %s)", sys, maxConfigFiles, from)
		s.full = true
		return
	}
	data, err := readCapped(s.root.Path(sys), maxConfigBytes)
	s.out.Files = append(s.out.Files, ScannedFile{Path: sys, Data: data, Err: err})
	if err != nil {
		where := sys
		if from != "" {
			where += " (included from " + from + ")"
		}
		s.problem("%s: not read: %v", where, err)
		return
	}
	n := 0
	for len(data) > 0 && !s.full {
		var line []byte
		line, data, _ = bytes.Cut(data, []byte{'\n'})
		n++
		key, args := splitLine(string(line))
		if key == "" {
			continue
		}
		lk := strings.ToLower(key)
		switch {
		case lk == "match":
			// A Match block runs to the next Match line or the end of the file. "Match all" is
			// still a Match: sshd -T without -C does not show what follows it.
			match = strings.Join(args, " ")
			if match == "" {
				match = "(no criteria)"
			}
		case lk == "include":
			if depth+1 > maxIncludeDepth {
				s.problem("%s:%d: Include not followed, Includes nest deeper than %d", sys, n, maxIncludeDepth)
				continue
			}
			for _, pat := range args {
				s.include(pat, depth, match, fmt.Sprintf("%s:%d", sys, n))
			}
		case watched[lk]:
			v := ""
			if len(args) > 0 {
				v = args[0]
			}
			set := Setting{File: sys, Line: n, Key: key, Value: v, Match: match}
			if match == "" {
				s.out.Global = append(s.out.Global, set)
			} else {
				s.out.Conditional = append(s.out.Conditional, set)
			}
		}
	}
}

// include expands one Include argument and reads each match in lexical order (glob(3) order,
// which is what sshd uses). A pattern that matches nothing is not an error, for sshd either.
func (s *scanner) include(pat string, depth int, match, from string) {
	if pat == "" {
		return
	}
	hostPat := ""
	switch {
	case !s.root.IsSystem() && strings.HasPrefix(pat, s.root.Dir()+"/"):
		hostPat = filepath.Clean(pat)
	case strings.HasPrefix(pat, "/"):
		hostPat = s.root.Path(pat)
	default:
		hostPat = s.root.Path("/etc/ssh/" + pat)
	}
	matches, err := filepath.Glob(hostPat)
	if err != nil {
		s.problem("%s: Include %q is not a valid pattern: %v", from, pat, err)
		return
	}
	for _, m := range matches {
		if s.full {
			return
		}
		if fi, err := os.Stat(m); err == nil && fi.IsDir() {
			continue
		}
		s.file(s.root.Rel(m), depth+1, match, from)
	}
}

// splitLine returns a configuration line's keyword and arguments: sshd_config separates them by
// white space or one "=", quotes arguments with double quotes, and starts comments with "#".
func splitLine(line string) (string, []string) {
	line = strings.TrimSpace(strings.TrimRight(line, "\r"))
	if line == "" || line[0] == '#' {
		return "", nil
	}
	i := strings.IndexAny(line, " \t=")
	if i < 0 {
		return line, nil
	}
	key, rest := line[:i], strings.TrimLeft(line[i:], " \t")
	if strings.HasPrefix(rest, "=") {
		rest = strings.TrimLeft(rest[1:], " \t")
	}
	var args []string
	for rest != "" {
		if rest[0] == '#' {
			break
		}
		var arg string
		if rest[0] == '"' {
			end := strings.IndexByte(rest[1:], '"')
			if end < 0 {
				arg, rest = rest[1:], ""
			} else {
				arg, rest = rest[1:1+end], rest[2+end:]
			}
		} else {
			j := strings.IndexAny(rest, " \t")
			if j < 0 {
				arg, rest = rest, ""
			} else {
				arg, rest = rest[:j], rest[j:]
			}
		}
		args = append(args, arg)
		rest = strings.TrimLeft(rest, " \t")
	}
	return key, args
}

// errTooBig marks a configuration file over maxConfigBytes.
var errTooBig = errors.New("larger than the cap")

// readCapped reads at most max bytes of path; a larger file is an error (with its first max
// bytes, so that the evidence shows what it starts with).
func readCapped(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("not a regular file (%s)", fi.Mode().Type())
	}
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return data[:max], fmt.Errorf("%w of %d bytes", errTooBig, max)
	}
	return data, nil
}

// covers reports whether the scan read the system path p.
func (s Scanned) covers(p string) bool {
	for _, f := range s.Files {
		if f.Path == p && f.Err == nil {
			return true
		}
	}
	return false
}

// first returns the first global setting of key (case-insensitive), the one sshd keeps.
func (s Scanned) first(key string) (Setting, bool) {
	for _, g := range s.Global {
		if strings.EqualFold(g.Key, key) {
			return g, true
		}
	}
	return Setting{}, false
}
