package sigma

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"go.yaml.in/yaml/v4"
)

// Parse reads the rules of one YAML file, one rule per document ("---" between them; empty
// documents are skipped). file names the file in errors and in Rule.File. A rule needs a title
// and a detection with a condition; logsource is optional. Beyond the specification, Parse refuses
// what is almost always a mistake: duplicate keys, a search identifier the condition never uses,
// and a CIDR with host bits set. The first problem is returned as an *Error, with no rules.
func Parse(data []byte, file string, opts ...Option) ([]*Rule, error) {
	p := &parser{file: file, opts: options{keywordFields: []string{"CommandLine"}}}
	for _, o := range opts {
		o(&p.opts)
	}
	l, err := yaml.NewLoader(bytes.NewReader(data))
	if err != nil {
		return nil, &Error{File: file, Msg: err.Error()}
	}
	var rules []*Rule
	for {
		var doc yaml.Node
		err := l.Load(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, p.yamlError(err)
		}
		if len(doc.Content) == 0 {
			continue
		}
		root := resolve(doc.Content[0])
		if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
			continue // an empty document, as after a trailing "---"
		}
		r, err := p.rule(root)
		if err != nil {
			return nil, err
		}
		rules = append(rules, r)
	}
	if len(rules) == 0 {
		return nil, &Error{File: file, Line: 1, Msg: "no rule in file"}
	}
	return rules, nil
}

type parser struct {
	file string
	opts options
}

func (p *parser) errorf(n *yaml.Node, format string, args ...any) error {
	return &Error{File: p.file, Line: n.Line, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) unsupported(n *yaml.Node, format string, args ...any) error {
	return &Error{File: p.file, Line: n.Line, Msg: fmt.Sprintf(format, args...), unsupported: true}
}

// yamlError turns a YAML syntax error into an *Error at its line.
func (p *parser) yamlError(err error) error {
	var le *yaml.LoadError
	if errors.As(err, &le) {
		return &Error{File: p.file, Line: le.Mark.Line, Msg: "yaml: " + le.Message}
	}
	return &Error{File: p.file, Msg: err.Error()}
}

// resolve follows aliases to the node they name.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	return n
}

// pairs calls fn for each key and (resolved) value of a mapping, refusing duplicate keys: YAML
// would keep the last silently, and in a selection that drops a condition.
func (p *parser) pairs(m *yaml.Node, fn func(k, v *yaml.Node) error) error {
	seen := make(map[string]bool, len(m.Content)/2)
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := resolve(m.Content[i]), resolve(m.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			return p.errorf(k, "a key must be a plain string")
		}
		if seen[k.Value] {
			return p.errorf(k, "duplicate key %q", k.Value)
		}
		seen[k.Value] = true
		if err := fn(k, v); err != nil {
			return err
		}
	}
	return nil
}

func (p *parser) rule(root *yaml.Node) (*Rule, error) {
	if root.Kind != yaml.MappingNode {
		return nil, p.errorf(root, "a rule must be a mapping of keys to values")
	}
	r := &Rule{File: p.file, Line: root.Line}
	var detKey, detection *yaml.Node
	err := p.pairs(root, func(k, v *yaml.Node) error {
		var err error
		switch k.Value {
		case "title":
			r.Title, err = p.str(k, v)
		case "id":
			r.ID, err = p.str(k, v)
		case "status":
			r.Status, err = p.str(k, v)
		case "description":
			r.Description, err = p.str(k, v)
		case "date":
			r.Date, err = p.str(k, v)
		case "modified":
			r.Modified, err = p.str(k, v)
		case "level":
			r.Level, err = p.str(k, v)
			if err == nil && !slices.Contains([]string{"", "informational", "low", "medium", "high", "critical"}, r.Level) {
				err = p.errorf(v, "level %q is not one of informational, low, medium, high, critical", r.Level)
			}
		case "author":
			// A string by the specification; a list is read as the names joined.
			var names []string
			names, err = p.strs(k, v)
			r.Author = strings.Join(names, ", ")
		case "tags":
			r.Tags, err = p.strs(k, v)
		case "references":
			r.References, err = p.strs(k, v)
		case "falsepositives":
			r.FalsePositives, err = p.strs(k, v)
		case "logsource":
			r.Logsource, err = p.logsource(k, v)
		case "detection":
			detKey, detection = k, v
		case "name", "related", "taxonomy", "license", "fields", "scope":
			// Defined by Sigma; not used here.
		case "action":
			err = p.unsupported(k, "rule collections (action: %s) are not supported: write each rule as a whole document", v.Value)
		case "correlation":
			err = p.unsupported(k, "correlation rules are not supported")
		case "filter":
			err = p.unsupported(k, "Sigma filters are not supported")
		default:
			var x any
			if err = v.Decode(&x); err != nil {
				return p.errorf(v, "%s: %v", k.Value, err)
			}
			if r.Custom == nil {
				r.Custom = make(map[string]any)
			}
			r.Custom[k.Value] = x
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if r.Title == "" {
		return nil, p.errorf(root, "rule has no title")
	}
	if detection == nil {
		return nil, p.errorf(root, "rule %q has no detection", r.Title)
	}
	if err := p.detection(r, detKey, detection); err != nil {
		return nil, err
	}
	return r, nil
}

// str reads a scalar as its text. A null is "".
func (p *parser) str(k, v *yaml.Node) (string, error) {
	if v.Kind != yaml.ScalarNode {
		return "", p.errorf(v, "%s must be a string", k.Value)
	}
	if v.Tag == "!!null" {
		return "", nil
	}
	return v.Value, nil
}

// strs reads a list of scalars; a single scalar is a list of one.
func (p *parser) strs(k, v *yaml.Node) ([]string, error) {
	switch v.Kind {
	case yaml.ScalarNode:
		s, err := p.str(k, v)
		if s == "" {
			return nil, err
		}
		return []string{s}, err
	case yaml.SequenceNode:
		out := make([]string, 0, len(v.Content))
		for _, e := range v.Content {
			e = resolve(e)
			if e.Kind != yaml.ScalarNode {
				return nil, p.errorf(e, "%s must be a list of strings", k.Value)
			}
			out = append(out, e.Value)
		}
		return out, nil
	}
	return nil, p.errorf(v, "%s must be a list of strings", k.Value)
}

func (p *parser) logsource(k, v *yaml.Node) (Logsource, error) {
	var ls Logsource
	if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
		return ls, nil
	}
	if v.Kind != yaml.MappingNode {
		return ls, p.errorf(v, "logsource must be a mapping")
	}
	err := p.pairs(v, func(k, v *yaml.Node) error {
		var err error
		switch k.Value {
		case "category":
			ls.Category, err = p.str(k, v)
		case "product":
			ls.Product, err = p.str(k, v)
		case "service":
			ls.Service, err = p.str(k, v)
		case "definition":
			ls.Definition, err = p.str(k, v)
		}
		return err
	})
	return ls, err
}

// detection compiles the detection section into r.
func (p *parser) detection(r *Rule, key, det *yaml.Node) error {
	if det.Kind != yaml.MappingNode {
		return p.errorf(det, "detection must be a mapping of search identifiers and a condition")
	}
	byName := map[string]*search{}
	var condNode *yaml.Node
	err := p.pairs(det, func(k, v *yaml.Node) error {
		switch name := k.Value; {
		case name == "condition":
			condNode = v
			return nil
		case name == "timeframe":
			return p.unsupported(k, "timeframe: aggregations are not supported")
		case strings.Contains(name, "|"):
			return p.errorf(k, "detection key %q is not a search identifier (field conditions go inside one, such as selection)", name)
		case !isIdentifier(name):
			return p.errorf(k, "detection key %q is not a search identifier: use letters, digits, '_', '.' and '-'", name)
		case isKeyword(name):
			return p.errorf(k, "detection key %q is a condition keyword and cannot name a search identifier", name)
		default:
			s, err := p.search(k, v)
			if err != nil {
				return err
			}
			byName[name] = s
			r.searches = append(r.searches, s)
			return nil
		}
	})
	if err != nil {
		return err
	}
	if len(r.searches) == 0 {
		return p.errorf(det, "detection defines no search identifiers")
	}
	if condNode == nil {
		return p.errorf(key, "detection has no condition")
	}
	used := map[*search]bool{}
	var condNodes []*yaml.Node
	switch condNode.Kind {
	case yaml.ScalarNode:
		condNodes = []*yaml.Node{condNode}
	case yaml.SequenceNode:
		if len(condNode.Content) == 0 {
			return p.errorf(condNode, "condition is an empty list")
		}
		for _, c := range condNode.Content {
			condNodes = append(condNodes, resolve(c))
		}
	default:
		return p.errorf(condNode, "condition must be a string or a list of strings")
	}
	for _, c := range condNodes {
		if c.Kind != yaml.ScalarNode || c.Tag == "!!null" {
			return p.errorf(c, "condition must be a string or a list of strings")
		}
		e, err := parseCondition(c.Value, r.searches, byName, used)
		if err != nil {
			var ce *conditionError
			if errors.As(err, &ce) && ce.unsupported {
				return p.unsupported(c, "condition %q: %s", c.Value, ce.msg)
			}
			return p.errorf(c, "condition %q: %v", c.Value, err)
		}
		r.conds = append(r.conds, e)
	}
	for _, s := range r.searches {
		if !used[s] {
			return &Error{File: p.file, Line: s.line, Msg: fmt.Sprintf("search identifier %q is not used by the condition", s.name)}
		}
	}
	r.fields = ruleFields(r.searches)
	r.needles = ruleNeedles(r.conds, everyField)
	return nil
}

func isIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(isLetter(c) || '0' <= c && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// search compiles one search identifier.
func (p *parser) search(k, v *yaml.Node) (*search, error) {
	s := &search{name: k.Value, line: k.Line}
	switch v.Kind {
	case yaml.MappingNode:
		conds, err := p.selection(k.Value, v)
		if err != nil {
			return nil, err
		}
		s.alts = append(s.alts, conds)
	case yaml.SequenceNode:
		var keywords []*yaml.Node
		for _, e := range v.Content {
			e = resolve(e)
			switch e.Kind {
			case yaml.MappingNode:
				conds, err := p.selection(k.Value, e)
				if err != nil {
					return nil, err
				}
				s.alts = append(s.alts, conds)
			case yaml.ScalarNode:
				keywords = append(keywords, e)
			default:
				return nil, p.errorf(e, "%s: a list may hold maps and keywords, not lists", k.Value)
			}
		}
		if len(keywords) > 0 {
			c, err := p.cond(k.Value, nil, k.Line, keywords)
			if err != nil {
				return nil, err
			}
			s.alts = append(s.alts, []*cond{c})
		}
	case yaml.ScalarNode:
		if v.Tag != "!!null" {
			c, err := p.cond(k.Value, nil, k.Line, []*yaml.Node{v})
			if err != nil {
				return nil, err
			}
			s.alts = append(s.alts, []*cond{c})
		}
	}
	if len(s.alts) == 0 {
		return nil, p.errorf(k, "search identifier %q is empty", k.Value)
	}
	return s, nil
}

// selection compiles a map of field conditions, cheapest first.
func (p *parser) selection(name string, m *yaml.Node) ([]*cond, error) {
	if len(m.Content) == 0 {
		return nil, p.errorf(m, "%s: empty map", name)
	}
	var conds []*cond
	err := p.pairs(m, func(k, v *yaml.Node) error {
		var vals []*yaml.Node
		switch v.Kind {
		case yaml.ScalarNode:
			vals = []*yaml.Node{v}
		case yaml.SequenceNode:
			if len(v.Content) == 0 {
				return p.errorf(v, "%s: %s: empty list of values", name, k.Value)
			}
			for _, e := range v.Content {
				e = resolve(e)
				if e.Kind != yaml.ScalarNode {
					return p.errorf(e, "%s: %s: a value must be a string, number, boolean or null", name, k.Value)
				}
				vals = append(vals, e)
			}
		default:
			return p.errorf(v, "%s: %s: a value must be a string, number, boolean or null, or a list of them", name, k.Value)
		}
		c, err := p.cond(name, k, k.Line, vals)
		if err != nil {
			return err
		}
		conds = append(conds, c)
		return nil
	})
	slices.SortStableFunc(conds, func(a, b *cond) int { return a.cost - b.cost })
	return conds, err
}

// ruleFields lists the fields the searches read, sorted and without repeats.
func ruleFields(searches []*search) []string {
	var out []string
	for _, s := range searches {
		for _, alt := range s.alts {
			for _, c := range alt {
				if c.name != "" {
					out = append(out, c.name)
				}
				out = append(out, c.names...)
				for _, m := range c.any {
					if m.kind == matchFieldRef {
						out = append(out, m.ref)
					}
				}
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
