package detect

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v4"

	"github.com/firewarden/firewarden/internal/detect/sigma"
)

// portableRules holds, for each built-in rule, its detection in the fields of Sigma's taxonomy
// (portable/NAME.yml: id, logsource, detection and a note on what the translation gives up).
// They are written by hand: firewarden's own fields (Tool, Action, PlistSet …) come from parsing
// each tool's arguments, which no Sigma modifier can express, so each translation is a choice
// that the note documents and TestExportAgreement measures against the built-in rule.
//
//go:embed portable/*.yml
var portableRules embed.FS

// Export formats.
const (
	// FormatSigma is portable Sigma: standard fields only, current ATT&CK tags, for sigma-cli and
	// pySigma backends (Splunk, Elastic …).
	FormatSigma = "sigma"
	// FormatFirewarden is the rule files as firewarden reads them, firewarden's own fields included.
	FormatFirewarden = "firewarden"
)

// ExportFormats are the formats Export writes, the default first.
var ExportFormats = []string{FormatSigma, FormatFirewarden}

// ExportedRule is one rule file as `detect rules export` writes it.
type ExportedRule struct {
	Name string // the rule's name (its file's base name)
	File string // the file name to write it under (no directory)
	Data []byte // one YAML document, ending in a newline
}

// NotExported is a built-in rule Export leaves out of FormatSigma, and why.
type NotExported struct {
	Name, Reason string
}

// ErrNotPortable is wrapped by Export's error for a rule that reads fields outside Sigma's
// taxonomy and has no standard-field form.
var ErrNotPortable = errors.New("no standard-field form")

// Export returns the rules of rs as files in format, in rs's order. In FormatSigma a built-in
// rule is written in its standard-field form (portable/NAME.yml) under a new id related to the
// original as "derived", with status test (the translation is not the rule that was tested), the
// ATT&CK tags of ATT&CK v19 and the analytic as a custom attribute; a built-in rule whose
// logsource category Sigma's taxonomy lacks (a configuration profile removed) is left out and
// listed in skipped. A rule of one's own is written as it is, its tags brought up to date, when
// it reads only fields of Sigma's taxonomy for its logsource category, and is an error wrapping
// ErrNotPortable otherwise. Every document is checked with ValidateSigma before it is returned:
// Export returns all the rules or an error, never part of them.
func Export(rs *Ruleset, format string) (out []ExportedRule, skipped []NotExported, err error) {
	seen := map[string]bool{}
	files := map[string]string{} // file name → the rule file it holds
	for _, r := range rs.Rules {
		switch format {
		case FormatFirewarden:
			e, err := exportNative(r)
			if err != nil {
				return nil, nil, err
			}
			if prev, ok := files[e.File]; ok {
				if prev == r.File { // a file with several rules is written once
					continue
				}
				return nil, nil, fmt.Errorf("rules export: %s and %s would both be written as %s: rename one", prev, r.File, e.File)
			}
			files[e.File] = r.File
			out = append(out, e)
		case FormatSigma:
			if _, ok := taxonomyFields[r.Logsource.Category]; r.Builtin && !ok {
				skipped = append(skipped, NotExported{r.Name, fmt.Sprintf("its logsource category %s has no counterpart in Sigma's taxonomy", r.Logsource.Category)})
				continue
			}
			e, err := exportSigma(r)
			if err != nil {
				return nil, nil, err
			}
			if seen[e.File] {
				return nil, nil, fmt.Errorf("rules export: two rules would be written to %s: rename one", e.File)
			}
			seen[e.File] = true
			if err := ValidateSigma(e.Data, e.File); err != nil {
				return nil, nil, fmt.Errorf("rules export: %s: the exported rule is not valid Sigma: %w", r.Name, err)
			}
			out = append(out, e)
		default:
			return nil, nil, fmt.Errorf("rules export: unknown format %q: want %s", format, strings.Join(ExportFormats, " or "))
		}
	}
	return out, skipped, nil
}

// ruleSource is the text of the file r was read from.
func ruleSource(r *Rule) ([]byte, error) {
	if r.Builtin {
		return builtinRules.ReadFile(path.Join("rules", r.File))
	}
	return os.ReadFile(r.File)
}

func exportNative(r *Rule) (ExportedRule, error) {
	data, err := ruleSource(r)
	if err != nil {
		return ExportedRule{}, fmt.Errorf("rules export: %w", err)
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		data = append(data[:len(data):len(data)], '\n') // so that a stream of them stays YAML
	}
	return ExportedRule{Name: r.Name, File: filepath.Base(r.File), Data: data}, nil
}

// portableDoc is a portable/NAME.yml file.
type portableDoc struct {
	ID        string    `yaml:"id"`
	Logsource yaml.Node `yaml:"logsource"`
	Detection yaml.Node `yaml:"detection"`
	Note      string    `yaml:"note"`
}

// exportSigma builds the portable document of one rule.
func exportSigma(r *Rule) (ExportedRule, error) {
	var (
		id, note             string
		logsource, detection *yaml.Node
		related              string
		status               = r.Status
	)
	if r.Builtin {
		data, err := portableRules.ReadFile("portable/" + r.Name + ".yml")
		if err != nil {
			return ExportedRule{}, fmt.Errorf("rules export: built-in rule %s: %w", r.Name, ErrNotPortable)
		}
		var p portableDoc
		if err := yaml.Unmarshal(data, &p); err != nil {
			return ExportedRule{}, fmt.Errorf("rules export: portable/%s.yml: %w", r.Name, err)
		}
		id, note, logsource, detection, related = p.ID, p.Note, &p.Logsource, &p.Detection, r.ID
		status = "test"
	} else {
		return exportOwn(r)
	}
	if r.Analytic == "" && r.Custom[AnalyticKey] != nil {
		return ExportedRule{}, fmt.Errorf("rules export: %s: %s: %v is not an ATT&CK analytic ID (AN followed by digits)", r.File, AnalyticKey, r.Custom[AnalyticKey])
	}

	doc := &yaml.Node{Kind: yaml.MappingNode}
	add := func(k string, v *yaml.Node) { doc.Content = append(doc.Content, yamlPlain(k), v) }
	add("title", yamlQuoted(r.Title))
	add("id", yamlPlain(id))
	if related != "" {
		add("related", &yaml.Node{Kind: yaml.SequenceNode, Content: []*yaml.Node{{
			Kind: yaml.MappingNode, Content: []*yaml.Node{yamlPlain("id"), yamlPlain(related), yamlPlain("type"), yamlPlain("derived")},
		}}})
	}
	add("status", yamlPlain(status))
	if r.Description != "" {
		add("description", yamlQuoted(r.Description))
	}
	if len(r.References) > 0 {
		add("references", yamlQuotedList(r.References))
	}
	if r.Author != "" {
		add("author", yamlQuoted(r.Author))
	}
	if r.Date != "" {
		add("date", yamlBare(r.Date))
	}
	if r.Modified != "" {
		add("modified", yamlBare(r.Modified))
	}
	if tags := exportTags(r.Tags); len(tags) > 0 {
		add("tags", yamlPlainList(tags))
	}
	add("logsource", logsource)
	add("detection", detection)
	if len(r.FalsePositives) > 0 {
		add("falsepositives", yamlQuotedList(r.FalsePositives))
	}
	if r.Level != "" {
		add("level", yamlPlain(r.Level))
	}
	// Custom attributes (the specification allows any): the ATT&CK analytic, which has no tag,
	// and where the rule came from.
	if r.Analytic != "" {
		add(AnalyticKey, yamlPlain(r.Analytic))
	}
	if r.Builtin {
		fw := &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{yamlPlain("rule"), yamlPlain(r.Name)}}
		if note != "" {
			fw.Content = append(fw.Content, yamlPlain("note"), &yaml.Node{Kind: yaml.ScalarNode, Value: note, Style: yaml.FoldedStyle})
		}
		add("firewarden", fw)
	}
	return encodeExport(r, doc, logsource)
}

// exportOwn exports a rule of one's own: the document as written, its tags brought up to date
// and its analytic kept as the attribute, when it reads only fields of Sigma's taxonomy.
func exportOwn(r *Rule) (ExportedRule, error) {
	allowed, ok := taxonomyFields[r.Logsource.Category]
	if !ok {
		return ExportedRule{}, fmt.Errorf("rules export: %s: rule %s has logsource category %q: %w; the export knows the taxonomy of %s",
			r.File, r.Name, r.Logsource.Category, ErrNotPortable, strings.Join(slices.Sorted(maps.Keys(taxonomyFields)), " and "))
	}
	var bad []string
	for _, f := range r.Fields() {
		if !slices.Contains(allowed, f) {
			bad = append(bad, f)
		}
	}
	if len(bad) > 0 {
		return ExportedRule{}, fmt.Errorf("rules export: %s: rule %s reads %s, not fields of Sigma's taxonomy for category %q: %w; rewrite it with %s",
			r.File, r.Name, strings.Join(bad, ", "), r.Logsource.Category, ErrNotPortable, strings.Join(allowed, ", "))
	}
	doc, err := ruleNode(r)
	if err != nil {
		return ExportedRule{}, err
	}
	if tags := yamlMapValue(doc, "tags"); tags != nil {
		*tags = *yamlPlainList(exportTags(r.Tags))
	}
	if r.Analytic != "" && yamlMapValue(doc, AnalyticKey) == nil {
		doc.Content = append(doc.Content, yamlPlain(AnalyticKey), yamlPlain(r.Analytic))
	}
	return encodeExport(r, doc, yamlMapValue(doc, "logsource"))
}

// encodeExport writes doc as one YAML document with the specification's four-space indent.
func encodeExport(r *Rule, doc, logsource *yaml.Node) (ExportedRule, error) {
	doc.HeadComment = fmt.Sprintf("Exported by `firewarden detect rules export` from %s.", exportOrigin(r))
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(4)
	if err := enc.Encode(doc); err != nil {
		return ExportedRule{}, fmt.Errorf("rules export: %s: %w", r.Name, err)
	}
	if err := enc.Close(); err != nil {
		return ExportedRule{}, fmt.Errorf("rules export: %s: %w", r.Name, err)
	}
	return ExportedRule{Name: r.Name, File: exportFileName(r, logsource), Data: b.Bytes()}, nil
}

func exportOrigin(r *Rule) string {
	if r.Builtin {
		return "firewarden's built-in rule " + r.Name + " (internal/detect/rules/" + r.File + ")"
	}
	return r.File
}

// exportFileName follows SigmaHQ's file name convention (sigmahq-filename-convention.md:
// lowercase letters, digits and "_", a prefix for the category and product, ".yml"):
// proc_creation_macos_pf_disable.yml.
func exportFileName(r *Rule, logsource *yaml.Node) string {
	prefix := ""
	cat, prod := "", ""
	if v := yamlMapValue(logsource, "category"); v != nil {
		cat = v.Value
	}
	if v := yamlMapValue(logsource, "product"); v != nil {
		prod = v.Value
	}
	switch cat {
	case "process_creation":
		prefix = "proc_creation_"
	case "":
	default:
		prefix = cat + "_"
	}
	if prod != "" {
		prefix += prod + "_"
	}
	name := strings.Map(func(c rune) rune {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			return c
		case c >= 'A' && c <= 'Z':
			return c - 'A' + 'a'
		}
		return '_'
	}, prefix+r.Name)
	return name + ".yml"
}

// ruleNode is the YAML mapping of a rule of one's own, read again from its file (the compiled
// rule keeps no detection text). A file holding several rules names them NAME#N.
func ruleNode(r *Rule) (*yaml.Node, error) {
	data, err := ruleSource(r)
	if err != nil {
		return nil, fmt.Errorf("rules export: %w", err)
	}
	want := 1
	if _, n, ok := strings.Cut(r.Name, "#"); ok {
		fmt.Sscan(n, &want)
	}
	l, err := yaml.NewLoader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("rules export: %s: %w", r.File, err)
	}
	for i := 0; ; {
		var doc yaml.Node
		if err := l.Load(&doc); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, fmt.Errorf("rules export: %s: %w", r.File, err)
		}
		if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
			continue
		}
		if i++; i == want {
			return doc.Content[0], nil
		}
	}
	return nil, fmt.Errorf("rules export: %s: rule %s is no longer in the file", r.File, r.Name)
}

// yamlMapValue is the value of key in mapping m, or nil.
func yamlMapValue(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func yamlPlain(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }

// yamlBare is a scalar written without quotes whatever it looks like: a date, as SigmaHQ writes
// them (date: 2026-11-22), which a YAML 1.1 reader may take for a timestamp and a Sigma reader
// reads as the date.
func yamlBare(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Value: s} }

// yamlQuoted is a string in single quotes, as the specification asks for string values.
func yamlQuoted(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s, Style: yaml.SingleQuotedStyle}
}

func yamlQuotedList(ss []string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.SequenceNode}
	for _, s := range ss {
		n.Content = append(n.Content, yamlQuoted(s))
	}
	return n
}

func yamlPlainList(ss []string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.SequenceNode}
	for _, s := range ss {
		n.Content = append(n.Content, yamlPlain(s))
	}
	return n
}

// exportTags brings a rule's tags to what the Sigma specification defines and SigmaHQ uses since
// ATT&CK v19 (SigmaHQ/sigma PR #5966, "Update mitre tags to use attack v19", 2026-04-29):
// attack.an… (an analytic: no such tag; Export writes the analytic attribute instead) is left
// out; attack.t1562.004 becomes attack.t1686, its number since v19; and defense-evasion, which v19
// split into stealth and defense-impairment, becomes defense-impairment when the rule is about
// T1686. Other tags are kept as they are, each once.
func exportTags(tags []string) []string {
	low := make([]string, 0, len(tags))
	for _, t := range tags {
		low = append(low, strings.ToLower(strings.TrimSpace(t)))
	}
	firewall := slices.Contains(low, "attack.t1686") || slices.Contains(low, "attack.t1562.004")
	var out []string
	for _, t := range low {
		switch {
		case strings.HasPrefix(t, "attack.an"):
			continue
		case t == "attack.t1562.004":
			t = "attack.t1686"
		case t == "attack.defense-evasion" && firewall:
			t = "attack.defense-impairment"
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

// taxonomyFields are the fields of Sigma's taxonomy for each logsource category of product
// macos, the only product the built-in rules are for. Source: SigmaHQ/sigma tests/logsource.json
// (version 20251205, "legit" → "macos" → "category"; commit 8eaafff1 of 2026-08-05), the field
// list SigmaHQ's own rule tests check; for process_creation it matches the fields of the Sigma
// specification's taxonomy appendix v2.1.0 ("Process Creation Events") plus OriginalFileName,
// Hashes and ParentUser. The appendix gives the other categories Sysmon's field names.
var taxonomyFields = map[string][]string{
	"process_creation": {
		"ProcessGuid", "ProcessId", "Image", "FileVersion", "Description", "Product", "Company",
		"OriginalFileName", "CommandLine", "CurrentDirectory", "User", "LogonGuid", "LogonId",
		"TerminalSessionId", "IntegrityLevel", "Hashes", "ParentProcessGuid", "ParentProcessId",
		"ParentImage", "ParentCommandLine", "ParentUser",
	},
	"file_event": {"ProcessGuid", "ProcessId", "Image", "TargetFilename", "CreationUtcTime", "User"},
}

// TaxonomyFields returns the fields of Sigma's taxonomy for a logsource category (product macos),
// or nil for a category the exporter does not know.
func TaxonomyFields(category string) []string { return slices.Clone(taxonomyFields[category]) }

var (
	uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	dateRE = regexp.MustCompile(`^\d{4}-(0[1-9]|1[012])-(0[1-9]|[12][0-9]|3[01])$`)
	// tagRE is the specification's tag syntax (JSON schema sigma-detection-rule-schema.json).
	tagRE = regexp.MustCompile(`^[a-z0-9_-]+\.[a-z0-9._-]+$`)
	// attackIDRE: t1234 (.123), g, s, ds, m, a followed by digits (tags appendix v2.1.0).
	attackIDRE = regexp.MustCompile(`^(t[0-9]{4}(\.[0-9]{3})?|g[0-9]{4}|s[0-9]{4}|ds[0-9]{4}|m[0-9]{4}|a[0-9]{4})$`)
)

// attackTactics are the ATT&CK tactic tags SigmaHQ's rules use since ATT&CK v19 (every
// "attack.<word>" tag in SigmaHQ/sigma rules at commit 8eaafff1, 2026-08-05): the tags appendix
// v2.1.0 still lists v18's, whose defense-evasion v19 split into stealth and defense-impairment.
var attackTactics = []string{
	"reconnaissance", "resource-development", "initial-access", "execution", "persistence",
	"privilege-escalation", "stealth", "defense-impairment", "credential-access", "discovery",
	"lateral-movement", "collection", "command-and-control", "exfiltration", "impact",
}

// tagNamespaces are the namespaces of the specification's tags appendix v2.1.0.
var tagNamespaces = []string{"attack", "car", "cve", "d3fend", "detection", "stp", "tlp"}

// ValidateSigma checks one exported document as a consumer of portable Sigma would: it parses
// with firewarden's own Sigma parser as exactly one rule; it has the attributes the
// specification requires (title ≤ 256 characters, logsource, detection with a condition) and
// those a shared rule needs (id a UUID, status, level, a date as YYYY-MM-DD); its logsource has a
// product and a category whose taxonomy fields ValidateSigma knows, and the rule reads no other
// field; its tags follow the specification's syntax and namespaces, with ATT&CK tags that are
// techniques or v19 tactics; its analytic attribute, when it has one, is an analytic ID; its
// related entries have a UUID and a defined type. The error lists
// every problem, separated by "; ".
func ValidateSigma(data []byte, file string) error {
	rules, err := sigma.Parse(data, file)
	if err != nil {
		return err
	}
	if len(rules) != 1 {
		return fmt.Errorf("%s: %d rules in one document", file, len(rules))
	}
	r := rules[0]
	var probs []string
	bad := func(format string, args ...any) { probs = append(probs, fmt.Sprintf(format, args...)) }
	if r.Title == "" || len(r.Title) > 256 {
		bad("title must be 1 to 256 characters, is %d", len(r.Title))
	}
	if !uuidRE.MatchString(r.ID) {
		bad("id %q is not a UUID", r.ID)
	}
	if !slices.Contains([]string{"stable", "test", "experimental", "deprecated", "unsupported"}, r.Status) {
		bad("status %q is not stable, test, experimental, deprecated or unsupported", r.Status)
	}
	if r.Level == "" {
		bad("no level")
	}
	if !dateRE.MatchString(r.Date) {
		bad("date %q is not YYYY-MM-DD", r.Date)
	}
	if r.Modified != "" && !dateRE.MatchString(r.Modified) {
		bad("modified %q is not YYYY-MM-DD", r.Modified)
	}
	if len(r.Description) > 65535 {
		bad("description longer than 65535 characters")
	}
	allowed, ok := taxonomyFields[r.Logsource.Category]
	switch {
	case r.Logsource.Product == "":
		bad("logsource has no product")
	case !ok:
		bad("logsource category %q is not one whose taxonomy fields are known (%s)", r.Logsource.Category, strings.Join(slices.Sorted(maps.Keys(taxonomyFields)), ", "))
	}
	for _, f := range r.Fields() {
		if ok && !slices.Contains(allowed, f) {
			bad("field %s is not in Sigma's taxonomy for %s", f, r.Logsource.Category)
		}
	}
	for _, t := range r.Tags {
		ns, v, _ := strings.Cut(t, ".")
		switch {
		case !tagRE.MatchString(t):
			bad("tag %q does not follow the tag syntax (lowercase namespace.value)", t)
		case !slices.Contains(tagNamespaces, ns):
			bad("tag %q is in no namespace of the tags appendix", t)
		case ns == "attack" && !attackIDRE.MatchString(v) && !slices.Contains(attackTactics, v):
			bad("tag %q is neither an ATT&CK technique, group, software, data source, mitigation or asset nor a current tactic", t)
		}
	}
	if a, ok := r.Custom[AnalyticKey]; ok {
		if s, _ := a.(string); !analyticID.MatchString(s) {
			bad("%s %v is not an ATT&CK analytic ID (AN followed by digits)", AnalyticKey, a)
		}
	}
	var rel struct {
		Related []struct{ ID, Type string } `yaml:"related"`
	}
	if err := yaml.Unmarshal(data, &rel); err != nil {
		bad("related: %v", err)
	}
	for _, x := range rel.Related {
		if !uuidRE.MatchString(x.ID) || !slices.Contains([]string{"derived", "obsolete", "merged", "renamed", "similar"}, x.Type) {
			bad("related entry {id: %s, type: %s} needs a UUID and one of derived, obsolete, merged, renamed, similar", x.ID, x.Type)
		}
	}
	if len(probs) > 0 {
		return fmt.Errorf("%s: %s", file, strings.Join(probs, "; "))
	}
	return nil
}

// portableNames lists the built-in rules that have a standard-field form (for tests).
func portableNames() ([]string, error) {
	entries, err := fs.ReadDir(portableRules, "portable")
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".yml"))
	}
	return names, nil
}
