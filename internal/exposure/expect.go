package exposure

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v4"

	"github.com/firewarden/firewarden/internal/yamlnode"
)

// MaxExpectations bounds the entries of an expectation file.
const MaxExpectations = 10000

// Expectation is one intended listener of an expectation file: a process, a port or both, an
// optional protocol, and the widest reach it may have.
type Expectation struct {
	// Line is the entry's line in the file.
	Line int `json:"line"`
	// Process is the process name ("" matches any); it is compared with the name the system
	// reports and with the base name of the executable's path, and for a container's published
	// port with the container's (or compose service's) name, never with its proxy's.
	Process string `json:"process,omitempty"`
	// Container is a container's or compose service's name ("" matches any); it matches only
	// published container ports.
	Container string `json:"container,omitempty"`
	// Port is the port (0 matches any).
	Port uint16 `json:"port,omitempty"`
	// Proto is "tcp" or "udp" ("" matches both).
	Proto string `json:"proto,omitempty"`
	// Scope is the widest reach allowed.
	Scope Reach `json:"-"`
}

// ExpectError is a problem in an expectation file, at a line (0 when there is none to name).
type ExpectError struct {
	File string
	Line int
	Msg  string
}

func (e *ExpectError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// ParseExpect reads an expectation file: a YAML list of mappings with the keys process (or
// container), port, proto and scope, for example
//
//   - {process: postgres, port: 5432, scope: loopback}
//   - {process: node, port: 3030, scope: any}
//   - {port: 53, proto: udp, scope: lan}
//   - {container: mattermost, port: 8065, scope: loopback}
//
// Each entry needs a process, a container or a port, and a scope (loopback, lan or any). Unknown keys, wrong
// values and repeated keys are errors naming file:line. An empty file is an empty list.
func ParseExpect(data []byte, file string) ([]Expectation, error) {
	errf := func(n *yaml.Node, format string, args ...any) error {
		e := &ExpectError{File: file, Msg: fmt.Sprintf(format, args...)}
		if n != nil {
			e.Line = n.Line
		}
		return e
	}
	l, err := yaml.NewLoader(bytes.NewReader(data))
	if err != nil {
		return nil, yamlError(file, err)
	}
	var doc yaml.Node
	switch err := l.Load(&doc); {
	case errors.Is(err, io.EOF):
		return nil, nil
	case err != nil:
		return nil, yamlError(file, err)
	}
	var extra yaml.Node
	if err := l.Load(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, yamlError(file, err)
		}
		return nil, errf(&extra, "a second YAML document (after ---); keep the list in one")
	}
	return ExpectFromNode(&doc, file)
}

// ExpectFromNode reads a list of expectations from a YAML node (a document or the list itself),
// so that other files (a posture baseline) can hold the same list. Lines are the node's, and
// errors name file.
func ExpectFromNode(root *yaml.Node, file string) ([]Expectation, error) {
	errf := func(n *yaml.Node, format string, args ...any) error {
		e := &ExpectError{File: file, Msg: fmt.Sprintf(format, args...)}
		if n != nil {
			e.Line = n.Line
		}
		return e
	}
	if root == nil {
		return nil, nil
	}
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return nil, nil
		}
		root = root.Content[0]
	}
	root = yamlnode.Deref(root)
	if root == nil || root.Kind == 0 || yamlnode.IsNull(root) {
		return nil, nil
	}
	if root.Kind != yaml.SequenceNode {
		return nil, errf(root, "the file should be a list of listeners (- {process: NAME, port: N, scope: loopback|lan|any}), not %s", yamlnode.KindName(root))
	}
	if len(root.Content) > MaxExpectations {
		return nil, errf(root, "more than %d entries", MaxExpectations)
	}
	var out []Expectation
	for _, item := range root.Content {
		item = yamlnode.Deref(item)
		if item == nil {
			continue
		}
		e := Expectation{Line: item.Line}
		scopeSet := false
		m := yamlnode.Mapping{
			Where:  "a listener",
			Errorf: errf,
			Keys: map[string]func(v *yaml.Node) error{
				"process": func(v *yaml.Node) error {
					if v.Kind != yaml.ScalarNode || yamlnode.IsNull(v) || strings.TrimSpace(v.Value) == "" {
						return errf(v, "process should be a process name, not %s", yamlnode.KindName(v))
					}
					if e.Container != "" {
						return errf(v, "a listener is a process or a container, not both; keep one")
					}
					e.Process = v.Value
					return nil
				},
				"container": func(v *yaml.Node) error {
					if v.Kind != yaml.ScalarNode || yamlnode.IsNull(v) || strings.TrimSpace(v.Value) == "" {
						return errf(v, "container should be a container's or compose service's name, not %s", yamlnode.KindName(v))
					}
					if e.Process != "" {
						return errf(v, "a listener is a process or a container, not both; keep one")
					}
					e.Container = v.Value
					return nil
				},
				"port": func(v *yaml.Node) error {
					p, err := strconv.ParseUint(v.Value, 10, 16)
					if v.Kind != yaml.ScalarNode || err != nil || p == 0 {
						return errf(v, "port should be a number from 1 to 65535, not %s", yamlnode.KindName(v))
					}
					e.Port = uint16(p)
					return nil
				},
				"proto": func(v *yaml.Node) error {
					if v.Kind != yaml.ScalarNode || (v.Value != "tcp" && v.Value != "udp") {
						return errf(v, "proto should be tcp or udp, not %s", yamlnode.KindName(v))
					}
					e.Proto = v.Value
					return nil
				},
				"scope": func(v *yaml.Node) error {
					r, ok := ParseReach(v.Value)
					if v.Kind != yaml.ScalarNode || !ok {
						return errf(v, "scope should be loopback, lan or any, not %s", yamlnode.KindName(v))
					}
					e.Scope, scopeSet = r, true
					return nil
				},
			},
		}
		if err := m.Walk(item); err != nil {
			return nil, err
		}
		if yamlnode.IsNull(item) {
			return nil, errf(item, "an empty entry; give a listener: {process: NAME, port: N, scope: loopback|lan|any}")
		}
		if e.Process == "" && e.Container == "" && e.Port == 0 {
			return nil, errf(item, "a listener needs a process or a container, a port, or both")
		}
		if !scopeSet {
			return nil, errf(item, "a listener needs a scope: the widest it may listen on, loopback, lan or any")
		}
		out = append(out, e)
	}
	return out, nil
}

func yamlError(file string, err error) error {
	if line, msg, ok := yamlnode.SyntaxError(err); ok {
		return &ExpectError{File: file, Line: line, Msg: "not valid YAML: " + msg}
	}
	return &ExpectError{File: file, Msg: "not valid YAML"}
}

// String prints e as an entry of an expectation file.
func (e Expectation) String() string {
	var parts []string
	if e.Process != "" {
		parts = append(parts, "process: "+e.Process)
	}
	if e.Container != "" {
		parts = append(parts, "container: "+e.Container)
	}
	if e.Port != 0 {
		parts = append(parts, "port: "+strconv.Itoa(int(e.Port)))
	}
	if e.Proto != "" {
		parts = append(parts, "proto: "+e.Proto)
	}
	parts = append(parts, "scope: "+e.Scope.String())
	return "{" + strings.Join(parts, ", ") + "}"
}

// matches reports whether e names l. A process name is compared with l's name and with the base
// name of its executable; Linux cuts a process's name (comm) at 15 bytes, so a 15-byte name
// also matches an expected name it begins.
func (e Expectation) matches(l Listener) bool {
	if e.Port != 0 && e.Port != l.Addr.Port() {
		return false
	}
	if e.Proto != "" && e.Proto != l.Proto {
		return false
	}
	if l.Container != nil || e.Container != "" {
		return e.matchesContainer(l)
	}
	if e.Process == "" {
		return true
	}
	switch {
	case l.Process != "" && l.Process == e.Process,
		l.Path != "" && path.Base(l.Path) == e.Process,
		len(l.Process) == 15 && strings.HasPrefix(e.Process, l.Process):
		return true
	}
	return false
}

// Verdict is what a listener is, judged against the expectations.
type Verdict string

// The verdicts.
const (
	// Expected: an expectation names it and allows its scope.
	Expected Verdict = "expected"
	// TooWide: an expectation names it, but it listens more widely than allowed.
	TooWide Verdict = "too_wide"
	// Unexpected: no expectation names it.
	Unexpected Verdict = "unexpected"
)

// Judgement is a listener with its verdict.
type Judgement struct {
	Listener
	Verdict Verdict `json:"verdict"`
	// Allowed is the widest reach the matching expectation allows ("" when unexpected).
	Allowed string `json:"allowed,omitempty"`
	// ExpectLine is the line of the matching expectation (0 when unexpected).
	ExpectLine int `json:"expect_line,omitempty"`
	// Fix says what to change when the verdict is not expected.
	Fix string `json:"fix,omitempty"`
}

// Judge gives every listener its verdict. A listener is expected when some expectation names it
// and allows its reach; too wide when expectations name it but all allow less (the widest is
// reported); unexpected otherwise. file names the expectation file in fixes, whose firewall
// advice names no particular firewall (JudgeOn names the platform's).
func Judge(ls []Listener, exps []Expectation, file string) []Judgement {
	return JudgeOn(AnyPlatform, ls, exps, file)
}

// JudgeOn is Judge with fixes that, after the bind address to change, name the firewall rule of
// platform p that would keep other hosts out.
func JudgeOn(p Platform, ls []Listener, exps []Expectation, file string) []Judgement {
	out := make([]Judgement, 0, len(ls))
	for _, l := range ls {
		j := Judgement{Listener: l, Verdict: Unexpected}
		var widest *Expectation
		for i := range exps {
			e := &exps[i]
			if !e.matches(l) {
				continue
			}
			if l.Scope.Reach() <= e.Scope {
				j.Verdict, j.Allowed, j.ExpectLine = Expected, e.Scope.String(), e.Line
				widest = nil
				break
			}
			if widest == nil || e.Scope > widest.Scope {
				widest = e
			}
		}
		switch {
		case widest != nil:
			j.Verdict, j.Allowed, j.ExpectLine = TooWide, widest.Scope.String(), widest.Line
			j.Fix = tooWideFix(p, l, widest.Scope, file, widest.Line)
		case j.Verdict == Unexpected:
			j.Fix = unexpectedFix(p, l, file)
		}
		containerFix(&j, file)
		out = append(out, j)
	}
	return out
}

// who names a listener's process in a fix.
func who(l Listener) string {
	if l.Process == "" {
		return "the process (not found: run as root, or it belongs to another PID namespace such as a container)"
	}
	return fmt.Sprintf("%s (pid %d)", l.Process, l.PID)
}

// loopbackFor is the loopback address of l's family, as a bind address.
func loopbackFor(l Listener) string {
	a := l.Addr.Addr().Unmap()
	if a.Is4() {
		return fmt.Sprintf("127.0.0.1:%d", l.Addr.Port())
	}
	return fmt.Sprintf("[::1]:%d", l.Addr.Port())
}

// tooWideFix says first which address to bind to, then the firewall rule of platform p that
// would do the same from outside.
func tooWideFix(p Platform, l Listener, allowed Reach, file string, line int) string {
	switch allowed {
	case ReachLoopback:
		return fmt.Sprintf("bind %s to %s instead of %s (%s:%d allows loopback only)%s", who(l), loopbackFor(l), l.Addr, file, line, keepOutFix(p, l))
	default:
		return fmt.Sprintf("bind %s to this host's LAN address instead of %s, or %s (%s:%d allows lan only)",
			who(l), l.Addr, lanOnlyFix(p, l), file, line)
	}
}

func unexpectedFix(p Platform, l Listener, file string) string {
	name := l.Process
	if name == "" {
		name = "NAME"
	}
	stop := fmt.Sprintf("stop %s or bind it to %s%s", who(l), loopbackFor(l), keepOutFix(p, l))
	if l.Scope.Reach() == ReachLoopback {
		stop = "stop " + who(l)
	}
	return fmt.Sprintf("%s; if it is meant to listen, add to %s: - {process: %s, port: %d, proto: %s, scope: %s}",
		stop, file, name, l.Addr.Port(), l.Proto, l.Scope.Reach())
}
