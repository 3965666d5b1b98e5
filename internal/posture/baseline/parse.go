package baseline

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v4"

	"github.com/firewarden/firewarden/internal/yamlnode"
)

// CheckIDs lists every check ID firewarden knows (DESIGN.md), sorted, so that an exemption or an
// --only naming a check that does not exist is caught.
func CheckIDs() []string {
	return []string{
		"alf.allow_downloaded_signed", "alf.allow_signed", "alf.apps", "alf.block_all", "alf.enabled",
		"alf.logging", "alf.stealth",
		"exposure.too_wide", "exposure.unexpected",
		"linux.firewall.allowed", "linux.firewall.enabled", "linux.firewall.logging", "linux.firewall.stealth",
		"linux.ssh.password_auth", "linux.ssh.root_login",
		"macos.bluetooth", "macos.file_sharing", "macos.remote_apple_events", "macos.remote_login",
		"macos.screen_sharing", "macos.sip",
	}
}

// IsCheckID reports whether id names a check firewarden knows.
func IsCheckID(id string) bool { return slices.Contains(CheckIDs(), id) }

// Error is a baseline problem at a line of the file (Line 0 when the position is unknown).
type Error struct {
	Line int
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	return e.Msg
}

// Parse reads a baseline from YAML. Unknown keys, wrong types, duplicate keys and unknown check
// IDs are errors naming the line.
func Parse(data []byte) (*Baseline, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, &Error{Msg: "not valid YAML: " + yamlMessage(err)}
	}
	b := &Baseline{Hash: hashOf(data)}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, &Error{Msg: "the baseline is empty"}
	}
	root := doc.Content[0]
	err := mapping(root, "the baseline", map[string]func(*yaml.Node) error{
		"name":     func(n *yaml.Node) error { return str(n, "name", &b.Name) },
		"version":  func(n *yaml.Node) error { var v int; return integer(n, "version", &v) },
		"firewall": func(n *yaml.Node) error { return b.Firewall.decode(n) },
		"services": func(n *yaml.Node) error { return b.Services.decode(n) },
		"sip":      func(n *yaml.Node) error { return boolean(n, "sip", &b.SIP) },
		"linux":    func(n *yaml.Node) error { return b.Linux.decode(n) },
		"exposure": func(n *yaml.Node) error {
			b.Exposure = &Exposure{}
			return b.Exposure.decode(n)
		},
		"exemptions": func(n *yaml.Node) error { return b.decodeExemptions(n) },
	})
	if err != nil {
		return nil, err
	}
	return b, nil
}

func (f *Firewall) decode(n *yaml.Node) error {
	return mapping(n, "firewall", map[string]func(*yaml.Node) error{
		"enabled":      func(n *yaml.Node) error { return boolean(n, "firewall.enabled", &f.Enabled) },
		"block_all":    func(n *yaml.Node) error { return boolean(n, "firewall.block_all", &f.BlockAll) },
		"stealth":      func(n *yaml.Node) error { return boolean(n, "firewall.stealth", &f.Stealth) },
		"logging":      func(n *yaml.Node) error { return boolean(n, "firewall.logging", &f.Logging) },
		"allow_signed": func(n *yaml.Node) error { return boolean(n, "firewall.allow_signed", &f.AllowSigned) },
		"allow_downloaded_signed": func(n *yaml.Node) error {
			return boolean(n, "firewall.allow_downloaded_signed", &f.AllowDownloadedSigned)
		},
		"apps": func(n *yaml.Node) error {
			f.Apps = &Apps{}
			return f.Apps.decode(n)
		},
	})
}

func (a *Apps) decode(n *yaml.Node) error {
	err := mapping(n, "firewall.apps", map[string]func(*yaml.Node) error{
		"allow": func(n *yaml.Node) error { return apps(n, "firewall.apps.allow", &a.Allow) },
		"block": func(n *yaml.Node) error { return apps(n, "firewall.apps.block", &a.Block) },
		"exclusive": func(n *yaml.Node) error {
			var p *bool
			err := boolean(n, "firewall.apps.exclusive", &p)
			a.Exclusive = p != nil && *p
			return err
		},
	})
	if err != nil {
		return err
	}
	seen := map[string]string{}
	for _, list := range []struct {
		name string
		apps []App
	}{{"allow", a.Allow}, {"block", a.Block}} {
		for _, app := range list.apps {
			if prev, dup := seen[app.Path]; dup {
				return &Error{Line: n.Line, Msg: fmt.Sprintf("firewall.apps: %s is listed twice (in %s and %s); keep one", app.Path, prev, list.name)}
			}
			seen[app.Path] = list.name
		}
	}
	return nil
}

func apps(n *yaml.Node, key string, out *[]App) error {
	if n.Kind != yaml.SequenceNode {
		return typeErr(n, key, "a list of application paths")
	}
	for _, item := range n.Content {
		var app App
		switch item.Kind {
		case yaml.ScalarNode:
			app.Path = item.Value
		case yaml.MappingNode:
			err := mapping(item, key+" entry", map[string]func(*yaml.Node) error{
				"path":      func(n *yaml.Node) error { return str(n, key+".path", &app.Path) },
				"bundle_id": func(n *yaml.Node) error { return str(n, key+".bundle_id", &app.BundleID) },
			})
			if err != nil {
				return err
			}
		default:
			return typeErr(item, key+" entry", "a path or a mapping with path and bundle_id")
		}
		if !strings.HasPrefix(app.Path, "/") {
			return &Error{Line: item.Line, Msg: fmt.Sprintf("%s: %q is not an absolute path; socketfilterfw needs the full path of the application", key, app.Path)}
		}
		*out = append(*out, app)
	}
	return nil
}

func (s *Services) decode(n *yaml.Node) error {
	return mapping(n, "services", map[string]func(*yaml.Node) error{
		"remote_login":        func(n *yaml.Node) error { return boolean(n, "services.remote_login", &s.RemoteLogin) },
		"screen_sharing":      func(n *yaml.Node) error { return boolean(n, "services.screen_sharing", &s.ScreenSharing) },
		"file_sharing":        func(n *yaml.Node) error { return boolean(n, "services.file_sharing", &s.FileSharing) },
		"remote_apple_events": func(n *yaml.Node) error { return boolean(n, "services.remote_apple_events", &s.RemoteAppleEvents) },
		"bluetooth":           func(n *yaml.Node) error { return boolean(n, "services.bluetooth", &s.Bluetooth) },
	})
}

func (b *Baseline) decodeExemptions(n *yaml.Node) error {
	if n.Kind != yaml.SequenceNode {
		return typeErr(n, "exemptions", "a list of exemptions")
	}
	for _, item := range n.Content {
		var e Exemption
		var expires string
		err := mapping(item, "exemption", map[string]func(*yaml.Node) error{
			"check":       func(n *yaml.Node) error { return str(n, "exemption check", &e.Check) },
			"reason":      func(n *yaml.Node) error { return str(n, "exemption reason", &e.Reason) },
			"approved_by": func(n *yaml.Node) error { return str(n, "exemption approved_by", &e.ApprovedBy) },
			"expires":     func(n *yaml.Node) error { return str(n, "exemption expires", &expires) },
		})
		if err != nil {
			return err
		}
		switch {
		case e.Check == "":
			return &Error{Line: item.Line, Msg: "exemption: check is required (a check ID such as macos.remote_login)"}
		case !IsCheckID(e.Check):
			return &Error{Line: item.Line, Msg: fmt.Sprintf("exemption: unknown check %q; known checks: %s", e.Check, strings.Join(CheckIDs(), ", "))}
		case strings.TrimSpace(e.Reason) == "":
			return &Error{Line: item.Line, Msg: fmt.Sprintf("exemption for %s: reason is required; auditors need to know why", e.Check)}
		case expires == "":
			return &Error{Line: item.Line, Msg: fmt.Sprintf("exemption for %s: expires is required (YYYY-MM-DD)", e.Check)}
		}
		t, err := time.Parse(time.DateOnly, expires)
		if err != nil {
			return &Error{Line: item.Line, Msg: fmt.Sprintf("exemption for %s: expires %q is not a date; write YYYY-MM-DD", e.Check, expires)}
		}
		e.Expires = t
		b.Exemptions = append(b.Exemptions, e)
	}
	return nil
}

// mapping walks a YAML mapping, calling the handler for each known key. Unknown and duplicate keys
// are errors.
func mapping(n *yaml.Node, what string, handlers map[string]func(*yaml.Node) error) error {
	if n.Kind != yaml.MappingNode {
		return typeErr(n, what, "a mapping of keys")
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		h, ok := handlers[k.Value]
		if !ok {
			known := make([]string, 0, len(handlers))
			for name := range handlers {
				known = append(known, name)
			}
			sort.Strings(known)
			return &Error{Line: k.Line, Msg: fmt.Sprintf("unknown key %q in %s; known keys: %s", k.Value, what, strings.Join(known, ", "))}
		}
		if seen[k.Value] {
			return &Error{Line: k.Line, Msg: fmt.Sprintf("key %q appears twice in %s", k.Value, what)}
		}
		seen[k.Value] = true
		if err := h(v); err != nil {
			return err
		}
	}
	return nil
}

func boolean(n *yaml.Node, key string, out **bool) error {
	if n.Kind == yaml.ScalarNode && (n.Tag == "!!bool" || n.Tag == "!!str") {
		switch strings.ToLower(n.Value) {
		case "true", "on", "yes":
			v := true
			*out = &v
			return nil
		case "false", "off", "no":
			v := false
			*out = &v
			return nil
		}
	}
	return typeErr(n, key, "true or false (on or off)")
}

func str(n *yaml.Node, key string, out *string) error {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		return typeErr(n, key, "a string")
	}
	*out = n.Value
	return nil
}

func integer(n *yaml.Node, key string, out *int) error {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
		return typeErr(n, key, "a whole number")
	}
	_, err := fmt.Sscan(n.Value, out)
	return err
}

func typeErr(n *yaml.Node, key, want string) error {
	got := yamlnode.KindName(n)
	switch n.Kind {
	case yaml.ScalarNode:
		got = fmt.Sprintf("%q", n.Value) // a null too: the baseline names what was written
	case yaml.AliasNode:
		got = "an alias (aliases are not supported in baselines)"
	}
	return &Error{Line: n.Line, Msg: fmt.Sprintf("%s must be %s, not %s", key, want, got)}
}

// yamlMessage strips the library's prefixes so the message reads as one line.
func yamlMessage(err error) string {
	var msg string
	for e := err; e != nil; e = errors.Unwrap(e) {
		msg = e.Error()
	}
	msg = strings.TrimPrefix(msg, "yaml: ")
	return strings.ReplaceAll(msg, "\n", " ")
}
