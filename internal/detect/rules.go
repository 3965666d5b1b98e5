package detect

import (
	"embed"
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

// Rule is a Sigma rule with what an alert from it carries.
type Rule struct {
	*sigma.Rule
	Name       string   // the file's base name without extension: a short, stable handle
	Builtin    bool     // from the embedded pack
	Reason     string   // one line: what the matched command does
	Analytic   string   // the ATT&CK analytic, AN0408 unless the rule's tags name another
	Techniques []string // ATT&CK technique IDs from the tags, e.g. T1686, T1562.004
}

// Ruleset is the rules in force, in a stable order (by name).
type Ruleset struct {
	Rules []*Rule
}

// LoadRules reads the embedded pack (when builtin) and every *.yml / *.yaml file in dirs. A
// broken file is an error naming it; so is a second rule with the same name or id.
func LoadRules(builtin bool, dirs ...string) (*Ruleset, error) {
	rs := &Ruleset{}
	if builtin {
		if err := rs.addFS(builtinRules, "rules", true); err != nil {
			return nil, err
		}
	}
	for _, d := range dirs {
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
		before := len(rs.Rules)
		if err := rs.addTree(d); err != nil {
			return nil, err
		}
		if len(rs.Rules) == before {
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
	return rs, nil
}

// addTree adds the rules of every .yml and .yaml file under dir, subfolders included, as
// SigmaHQ lays its repository out (rules/macos/process_creation/…); hidden folders (.git,
// .github) are skipped.
func (rs *Ruleset) addTree(dir string) error {
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
		if err != nil {
			return fmt.Errorf("rules: %w", err)
		}
		return rs.add(data, name, false)
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
			r.Reason = strings.TrimSpace(s)
		}
		if r.Reason == "" {
			r.Reason = strings.TrimSpace(strings.TrimSuffix(sr.Description, "."))
		}
		if r.Reason == "" {
			r.Reason = sr.Title
		}
		r.Analytic, r.Techniques = ruleAttack(sr)
		rs.Rules = append(rs.Rules, r)
	}
	return nil
}

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
