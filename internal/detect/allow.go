package detect

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"

	"go.yaml.in/yaml/v4"

	"github.com/firewarden/firewarden/internal/detect/event"
)

// Allow is the tuning list: known management agents and administrators whose firewall changes
// are expected. An entry matches an alert when every condition it names holds; an allowed alert
// is dropped (and counted).
type Allow struct {
	Entries []AllowEntry
}

// AllowEntry is one allowed actor. Paths are globs (path.Match, * within a path segment, and a
// trailing /** for everything below a directory).
type AllowEntry struct {
	Name      string   `yaml:"name"`       // a label for reports
	SigningID string   `yaml:"signing_id"` // the program's signing identifier
	TeamID    string   `yaml:"team_id"`    // the program's signing team
	Path      string   `yaml:"path"`       // the program's image
	Parent    string   `yaml:"parent"`     // the parent's image
	Ancestry  string   `yaml:"ancestry"`   // any ancestor's image, or the responsible process's: management agents are often grandparents (jamf → sh → pfctl)
	User      string   `yaml:"user"`       // the user name, or a uid
	Rules     []string `yaml:"rules"`      // only these rules (names or ids); all when empty
	Reason    string   `yaml:"reason"`     // why this is allowed
	Line      int      `yaml:"-"`
}

// ParseAllow reads an allow file: `allow:` followed by a list of entries.
func ParseAllow(data []byte, file string) (*Allow, error) {
	var doc struct {
		Allow []yaml.Node `yaml:"allow"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: %v", file, err)
	}
	a := &Allow{}
	for _, n := range doc.Allow {
		var e AllowEntry
		d := yaml.NewDecoder(bytes.NewReader(mustMarshal(&n)))
		d.KnownFields(true)
		if err := d.Decode(&e); err != nil {
			return nil, fmt.Errorf("%s:%d: %v", file, n.Line, err)
		}
		e.Line = n.Line
		if e.SigningID == "" && e.TeamID == "" && e.Path == "" && e.Parent == "" && e.Ancestry == "" && e.User == "" {
			return nil, fmt.Errorf("%s:%d: allow entry names no condition: give signing_id, team_id, path, parent, ancestry or user", file, n.Line)
		}
		for _, g := range []string{e.Path, e.Parent, e.Ancestry} {
			if _, err := path.Match(strings.TrimSuffix(g, "/**"), ""); err != nil {
				return nil, fmt.Errorf("%s:%d: bad pattern %q: %v", file, n.Line, g, err)
			}
		}
		a.Entries = append(a.Entries, e)
	}
	return a, nil
}

func mustMarshal(n *yaml.Node) []byte {
	b, err := yaml.Marshal(n)
	if err != nil {
		return nil
	}
	return b
}

func globMatch(pattern, s string) bool {
	if s == "" {
		return false
	}
	if dir, ok := strings.CutSuffix(pattern, "/**"); ok {
		return s == dir || strings.HasPrefix(s, dir+"/")
	}
	ok, _ := path.Match(pattern, s)
	return ok
}

// Match returns the first entry that allows rule r firing on ev, or nil.
func (a *Allow) Match(r *Rule, ev *event.Event) *AllowEntry {
	if a == nil {
		return nil
	}
	for i := range a.Entries {
		e := &a.Entries[i]
		if len(e.Rules) > 0 && !slices.Contains(e.Rules, r.Name) && !slices.Contains(e.Rules, r.ID) {
			continue
		}
		if e.SigningID != "" && !strings.EqualFold(e.SigningID, ev.SigningID) {
			continue
		}
		if e.TeamID != "" && e.TeamID != ev.TeamID {
			continue
		}
		if e.Path != "" && !globMatch(e.Path, ev.Path) {
			continue
		}
		if e.Parent != "" && !globMatch(e.Parent, ev.ParentPath) {
			continue
		}
		if e.Ancestry != "" && !slices.ContainsFunc(append(slices.Clip(ev.Ancestry), ev.ParentPath, ev.ResponsiblePath), func(p string) bool { return globMatch(e.Ancestry, p) }) {
			continue
		}
		if e.User != "" && e.User != ev.User && (ev.UID == event.Unknown || e.User != fmt.Sprint(ev.UID)) {
			continue
		}
		return e
	}
	return nil
}
