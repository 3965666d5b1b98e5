// Package yamlnode holds what firewarden's strict YAML readers share when they walk a
// go.yaml.in/yaml/v4 node tree instead of decoding into structs: following aliases, naming a
// node in a message, reading a mapping whose keys are fixed (unknown and repeated keys are
// errors at their line) and putting the library's syntax errors on one line. Walking nodes is
// what lets every error name the line it is about.
package yamlnode

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v4"
)

// maxAliases bounds the aliases Deref follows, so that an alias of an alias cannot loop.
const maxAliases = 8

// IsNull reports whether n is a null scalar: "~", "null" or a key with nothing after it.
func IsNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// Deref follows an alias to the node it names; any other node, and nil, is returned as it is.
func Deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < maxAliases; i++ {
		n = n.Alias
	}
	return n
}

// KindName names n for a message saying what was found instead of what a key takes: "a
// mapping", "a list", "nothing" (null), a scalar's value quoted, or "something else".
func KindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if IsNull(n) {
			return "nothing"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "something else"
}

// Mapping is a YAML mapping whose keys are known: what Walk needs to read one.
type Mapping struct {
	// Where names the mapping in messages ("guard", "detect.live", "the file").
	Where string
	// Keys holds the handler of each key the mapping may have; it gets the key's value, an
	// alias followed.
	Keys map[string]func(v *yaml.Node) error
	// Errorf makes the errors Walk returns about n (nil when there is no node to point at),
	// so that they carry the caller's error type, file name and line.
	Errorf func(n *yaml.Node, format string, args ...any) error
	// Unknown, if set, is asked first about a key not in Keys, with the names of Keys sorted;
	// a non-nil error (a hint that the key belongs elsewhere) is returned instead of
	// `unknown key "K" under WHERE; the keys are …`.
	Unknown func(k *yaml.Node, known []string) error
	// Seen, if set, is told of each key before its handler runs (to record its line).
	Seen func(k *yaml.Node)
}

// Walk calls the handler of each key of n, in the file's order, and returns the first error. A
// null n (a key with nothing under it) is an empty mapping: every key keeps its default. Any
// other node that is not a mapping, a key that is not a name, an unknown or repeated key and
// a key without a value are errors made by m.Errorf; handlers' errors are returned as they are.
func (m *Mapping) Walk(n *yaml.Node) error {
	n = Deref(n)
	if n == nil || n.Kind != yaml.MappingNode {
		if n != nil && IsNull(n) {
			return nil
		}
		return m.Errorf(n, "%s should be a mapping of keys, not %s", m.Where, KindName(n))
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := Deref(n.Content[i]), Deref(n.Content[i+1])
		if k == nil || k.Kind != yaml.ScalarNode {
			return m.Errorf(n.Content[i], "%s: keys are names, not %s", m.Where, KindName(n.Content[i]))
		}
		h, ok := m.Keys[k.Value]
		if !ok {
			known := make([]string, 0, len(m.Keys))
			for name := range m.Keys {
				known = append(known, name)
			}
			slices.Sort(known)
			if m.Unknown != nil {
				if err := m.Unknown(k, known); err != nil {
					return err
				}
			}
			return m.Errorf(k, "unknown key %q under %s; the keys are %s", k.Value, m.Where, strings.Join(known, ", "))
		}
		if seen[k.Value] {
			return m.Errorf(k, "%q is given twice; keep one", k.Value)
		}
		seen[k.Value] = true
		if v == nil {
			return m.Errorf(k, "%s has no value", k.Value)
		}
		if m.Seen != nil {
			m.Seen(k)
		}
		if err := h(v); err != nil {
			return err
		}
	}
	return nil
}

// SyntaxError reads an error of the YAML library's Loader or Unmarshal: the line of its first
// problem and the library's wording of it (with its context, "while parsing a block mapping")
// on one line. ok is false when err is not a syntax error the library located.
func SyntaxError(err error) (line int, msg string, ok bool) {
	var le *yaml.LoadError
	var les *yaml.LoadErrors
	if errors.As(err, &les) && len(les.Errors) > 0 {
		le = les.Errors[0]
	}
	if le == nil && !errors.As(err, &le) {
		return 0, "", false
	}
	msg = le.Message
	if le.ContextMsg != "" {
		msg += " (" + le.ContextMsg + ")"
	}
	return le.Mark.Line, strings.Join(strings.Fields(msg), " "), true
}
