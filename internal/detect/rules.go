package detect

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/firewarden/firewarden/internal/detect/sigma"
)

//go:embed rules/*.yml
var builtinRules embed.FS

// Rule is a Sigma rule with what an alert from it carries. Rules come from Load, which works
// out from the logsource and the fields which events a rule is evaluated on; a Rule made by
// hand is evaluated on none.
type Rule struct {
	*sigma.Rule
	Name       string   // the file's base name without extension: a short, stable handle
	Builtin    bool     // from the embedded pack
	Reason     string   // one line: what the matched command does
	Analytic   string   // the ATT&CK analytic, AN0408 unless the rule's tags name another
	Techniques []string // ATT&CK technique IDs from the tags, e.g. T1686, T1562.004

	applies classes // the events its logsource selects; none when it never applies
	// evaluated is the events the engine evaluates it on: applies, or none when the rule can
	// never match for want of fields firewarden never fills.
	evaluated classes
}

// Applies reports whether the rule's logsource selects any event firewarden produces. A rule
// that never applies is kept (it is listed) but never evaluated.
func (r *Rule) Applies() bool { return r.applies != 0 }

// Ruleset is the rules in force, in a stable order (by name).
type Ruleset struct {
	Rules []*Rule
	// Warnings are what an operator should hear about the rules, one line each: the files
	// passed over, in the order they were read, then the rules that never apply or read fields
	// firewarden never fills, by rule name.
	Warnings []Warning
}

// Warning is one thing about the rules that does not stop them loading.
type Warning struct {
	Kind WarningKind
	File string
	Line int // 1-based; 0 when unknown
	Rule string
	// Fields are the fields the rule reads that firewarden never fills (UnfilledFields,
	// NeverMatches).
	Fields []string
	Msg    string
}

// WarningKind is what a Warning is about.
type WarningKind int

const (
	// FileSkipped is a rule file in a folder that could not be read or parsed: its rules were left
	// out and the folder's other rules loaded.
	FileSkipped WarningKind = iota
	// NeverApplies is a rule whose logsource selects no event firewarden produces (product
	// windows, category network_connection …): it is not evaluated.
	NeverApplies
	// NeverMatches is a rule that cannot match because its condition needs fields firewarden
	// never fills.
	NeverMatches
	// UnfilledFields is a rule that reads fields firewarden never fills and can still match
	// through the rest of its condition.
	UnfilledFields
)

// String is the warning as one line: FILE:LINE: message.
func (w Warning) String() string { return fmt.Sprintf("%s:%d: %s", w.File, w.Line, w.Msg) }

// LoadOptions says which rules Load reads.
type LoadOptions struct {
	Builtin bool     // the embedded pack
	Paths   []string // rule folders (with their subfolders) and rule files
	// Strict refuses a folder holding a file that does not load, as a file given by itself is
	// refused; otherwise the file is passed over with a FileSkipped warning.
	Strict bool
}

// LoadRules reads the embedded pack (when builtin) and the rules of paths, as Load does without
// Strict.
func LoadRules(builtin bool, paths ...string) (*Ruleset, error) {
	return Load(LoadOptions{Builtin: builtin, Paths: paths})
}

// Load reads the embedded pack (when asked) and every *.yml / *.yaml file in each path: a file,
// or a folder and its subfolders. A file given by itself that does not load is an error naming
// it; one in a folder is passed over with a FileSkipped warning (an error under Strict), and a folder
// from which no rule loads is an error. A second rule with the same name or id is an error.
// Every rule that loads is checked against what firewarden produces: its logsource and the
// fields it reads (Warnings).
func Load(opt LoadOptions) (*Ruleset, error) {
	rs := &Ruleset{}
	if opt.Builtin {
		if err := rs.addFS(builtinRules, "rules", true); err != nil {
			return nil, err
		}
	}
	for _, d := range opt.Paths {
		st, err := os.Stat(d)
		if err != nil {
			return nil, fmt.Errorf("rules: %w", err)
		}
		if !st.IsDir() {
			data, err := os.ReadFile(d)
			if err != nil {
				return nil, fmt.Errorf("rules: %w", err)
			}
			if err := rs.add(data, d, false); err != nil {
				return nil, err
			}
			continue
		}
		before, skipped := len(rs.Rules), len(rs.Warnings)
		if err := rs.addTree(d, opt.Strict); err != nil {
			return nil, err
		}
		if len(rs.Rules) == before {
			if n := len(rs.Warnings) - skipped; n > 0 {
				w := rs.Warnings[skipped]
				return nil, fmt.Errorf("rules: no rule in %s loads (%d file(s) skipped); the first: %s:%d: %s", d, n, w.File, w.Line, strings.TrimSuffix(w.Msg, skippedNote))
			}
			return nil, fmt.Errorf("rules: %s holds no .yml or .yaml rule, in it or in its subfolders", d)
		}
	}
	slices.SortFunc(rs.Rules, func(a, b *Rule) int { return strings.Compare(a.Name, b.Name) })
	names, ids := map[string]string{}, map[string]string{}
	for _, r := range rs.Rules {
		if prev, ok := names[r.Name]; ok {
			return nil, fmt.Errorf("rules: %s and %s have the same name %q: rename one", prev, r.File, r.Name)
		}
		names[r.Name] = r.File
		if r.ID != "" {
			if prev, ok := ids[r.ID]; ok {
				return nil, fmt.Errorf("rules: %s and %s have the same id %s: give one a new id", prev, r.File, r.ID)
			}
			ids[r.ID] = r.File
		}
	}
	for _, r := range rs.Rules {
		rs.check(r)
	}
	return rs, nil
}

// check adds the warnings about what r can see: a logsource firewarden never produces, fields
// it never fills.
func (rs *Ruleset) check(r *Rule) {
	var why string
	r.applies, why = logsourceClasses(r.Logsource)
	r.evaluated = r.applies
	if r.applies == 0 {
		rs.Warnings = append(rs.Warnings, Warning{Kind: NeverApplies, File: r.File, Line: r.Line, Rule: r.Name,
			Msg: fmt.Sprintf("rule %s never applies and is not evaluated: its logsource %s", r.Name, why)})
		return
	}
	var unfilled []string
	for _, f := range r.Fields() {
		if !KnownField(f) {
			unfilled = append(unfilled, f)
		}
	}
	if len(unfilled) == 0 {
		return
	}
	w := Warning{Kind: UnfilledFields, File: r.File, Line: r.Line, Rule: r.Name, Fields: unfilled}
	list := strings.Join(unfilled, ", ")
	if r.CanMatch(KnownField) {
		w.Msg = fmt.Sprintf("rule %s reads %s, which firewarden never fills: conditions on them never hold (a filter on them excludes nothing), and the rule matches only through the rest of its condition", r.Name, list)
	} else {
		w.Kind = NeverMatches
		r.evaluated = 0
		w.Msg = fmt.Sprintf("rule %s reads %s, which firewarden never fills, so it can never match (`firewarden detect rules list --fields` lists the fields)", r.Name, list)
	}
	rs.Warnings = append(rs.Warnings, w)
}

// skippedNote ends the message of a FileSkipped warning.
const skippedNote = "; file skipped"

// addTree adds the rules of every .yml and .yaml file under dir, subfolders included, as
// SigmaHQ lays its repository out (rules/macos/process_creation/…); hidden folders (.git,
// .github) are skipped. A file that does not load is passed over with a FileSkipped warning, or
// ends the walk with its error under strict.
func (rs *Ruleset) addTree(dir string, strict bool) error {
	return fs.WalkDir(os.DirFS(dir), ".", func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("rules: %s: %w", filepath.Join(dir, filepath.FromSlash(p)), err)
		}
		if e.IsDir() {
			if p != "." && strings.HasPrefix(e.Name(), ".") {
				return fs.SkipDir
			}
			return nil
		}
		if ext := path.Ext(p); ext != ".yml" && ext != ".yaml" || !e.Type().IsRegular() {
			return nil
		}
		name := filepath.Join(dir, filepath.FromSlash(p))
		data, err := os.ReadFile(name)
		if err == nil {
			err = rs.add(data, name, false)
		}
		if err == nil || strict {
			return err
		}
		w := Warning{Kind: FileSkipped, File: name, Msg: err.Error()}
		var se *sigma.Error
		if errors.As(err, &se) {
			w.Line, w.Msg = se.Line, se.Msg
		}
		w.Msg += skippedNote
		rs.Warnings = append(rs.Warnings, w)
		return nil
	})
}

func (rs *Ruleset) addFS(fsys fs.FS, dir string, builtin bool) error {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		ext := path.Ext(e.Name())
		if e.IsDir() || (ext != ".yml" && ext != ".yaml") {
			continue
		}
		data, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return err
		}
		name := e.Name()
		if !builtin {
			if d, ok := fsys.(interface{ String() string }); ok {
				name = filepath.Join(d.String(), name)
			}
		}
		if err := rs.add(data, name, builtin); err != nil {
			return err
		}
	}
	return nil
}

func (rs *Ruleset) add(data []byte, file string, builtin bool) error {
	parsed, err := sigma.Parse(data, file)
	if err != nil {
		return err
	}
	stem := strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))
	for i, sr := range parsed {
		r := &Rule{Rule: sr, Name: stem, Builtin: builtin}
		if len(parsed) > 1 {
			r.Name = fmt.Sprintf("%s#%d", stem, i+1)
		}
		if s, ok := sr.Custom["reason"].(string); ok {
			r.Reason = oneLine(s)
		}
		if r.Reason == "" {
			r.Reason = oneLine(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(sr.Description), ".")))
		}
		if r.Reason == "" {
			r.Reason = oneLine(sr.Title)
		}
		r.Analytic, r.Techniques = ruleAttack(sr)
		rs.Rules = append(rs.Rules, r)
	}
	return nil
}

// oneLine folds the line breaks and runs of spaces of a rule's text (SigmaHQ descriptions are
// often block scalars) so that an alert stays one line.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// attackIDs reads the ATT&CK analytic and techniques from Sigma tags (attack.t1686,
// attack.t1562.004, attack.an0408). T1562.004 was renumbered T1686 in ATT&CK v19
// (reference/detect.md §0): a rule naming either carries both, and AN0408.
func attackIDs(tags []string) (string, []string) {
	analytic := ""
	var techs []string
	for _, t := range tags {
		low := strings.ToLower(t)
		switch {
		case strings.HasPrefix(low, "attack.an"):
			analytic = strings.ToUpper(strings.TrimPrefix(low, "attack."))
		case strings.HasPrefix(low, "attack.t") && len(low) > len("attack.t") && low[len("attack.t")] >= '0' && low[len("attack.t")] <= '9':
			techs = append(techs, strings.ToUpper(strings.TrimPrefix(low, "attack.")))
		}
	}
	if slices.Contains(techs, "T1686") || slices.Contains(techs, "T1562.004") {
		for _, want := range []string{"T1686", "T1562.004"} {
			if !slices.Contains(techs, want) {
				techs = append(techs, want)
			}
		}
		if analytic == "" {
			analytic = "AN0408"
		}
	}
	return analytic, techs
}

// tags is the rule's analytic and techniques as an alert line ends with them, " [AN0408
// T1562.004]", leaving out what the rule does not name (and the brackets when it names nothing).
func (r *Rule) tags() string {
	parts := make([]string, 0, 1+len(r.Techniques))
	if r.Analytic != "" {
		parts = append(parts, r.Analytic)
	}
	for _, t := range r.Techniques {
		if t != "" {
			parts = append(parts, t)
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return " [" + strings.Join(parts, " ") + "]"
}
