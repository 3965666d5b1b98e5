// Package config reads firewarden's configuration file: one YAML file with the top-level keys
// baseline and state_dir and a section per subsystem (guard, detect.live). It records the line
// every value came from, so that `firewarden config print` can say where each one was set.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v4"

	"github.com/firewarden/firewarden/internal/guard"
	"github.com/firewarden/firewarden/internal/yamlnode"
)

// DefaultPath is the configuration file read when --config is not given, a system path under
// the root (the same on macOS and Linux). A missing default file means the defaults.
const DefaultPath = "/etc/firewarden/firewarden.yaml"

// DefaultPoll is how often detect --live reads the firewall state unless told otherwise.
const DefaultPoll = time.Minute

// maxPoll bounds detect.live.poll: a state poll a day apart is no longer a poll.
const maxPoll = 24 * time.Hour

// File is firewarden's configuration. Paths in it are system paths of the host it configures:
// the CLI resolves them under --root.
type File struct {
	// Baseline is the baseline file check, fix and evidence use; "": the built-in one.
	Baseline string
	// StateDir is firewarden's state directory (backups, evidence, block.json, the guard's
	// write-ahead log); "": the OS default.
	StateDir string
	// Guard is the guard section.
	Guard *guard.Config
	// Live is detect.live: the defaults of detect --live's flags.
	Live Live
	// Lines maps the dotted key of every value the file set ("state_dir",
	// "guard.threshold.failures", "detect.live.poll") to its line; a key that is not there
	// kept its default.
	Lines map[string]int
}

// Live is the detect.live section: where detect --live sends alerts and how often it polls.
type Live struct {
	Out                 string        // also append alerts to this file
	Syslog              string        // local, udp://host:port or tcp://host:port
	Webhook             string        // an https:// URL (http:// with WebhookInsecureHTTP)
	WebhookInsecureHTTP bool          // let Webhook be a plain http:// URL
	Poll                time.Duration // firewall state poll; 0 turns it off
}

// Default is the configuration of a host without a file.
func Default() *File {
	return &File{Guard: guard.Default(), Live: Live{Poll: DefaultPoll}, Lines: map[string]int{}}
}

// Error is a configuration file that cannot be used: "FILE:LINE: what is wrong; what to do".
type Error struct {
	File string
	Line int // 1-based; 0 when the error is about the whole file
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return e.File + ": " + e.Msg
}

// sectionOf names the section a key belongs in when an old guard.yaml (or a slip of
// indentation) puts it at the top level; "" for a key of no section.
func sectionOf(key string) string {
	switch key {
	case "sources", "threshold", "weights", "invalid_user_factor", "ban", "backend", "allowlist", "max_tracked":
		return "guard"
	case "out", "syslog", "webhook", "webhook_insecure_http", "poll", "live":
		return "detect"
	}
	return ""
}

// Parse reads a configuration file; name is the file's name for messages. Keys left out keep
// their default. Every problem is an *Error naming the file and line, one line long.
func Parse(name string, data []byte) (*File, error) {
	f := Default()
	p := &parser{file: name, f: f}
	root, err := p.load(data)
	if err != nil || root == nil {
		return f, err
	}
	err = p.mapping(root, "", map[string]func(v *yaml.Node) error{
		"baseline":  func(v *yaml.Node) error { return p.path(v, "baseline", &f.Baseline) },
		"state_dir": func(v *yaml.Node) error { return p.path(v, "state_dir", &f.StateDir) },
		"guard": func(v *yaml.Node) error {
			g, lines, err := guard.ParseSection(name, v)
			var ce *guard.ConfigError
			if errors.As(err, &ce) {
				return &Error{File: name, Line: ce.Line, Msg: ce.Msg}
			}
			if err != nil {
				return err
			}
			f.Guard = g
			for k, l := range lines {
				f.Lines["guard."+k] = l
			}
			return nil
		},
		"detect": func(v *yaml.Node) error {
			return p.mapping(v, "detect", map[string]func(v *yaml.Node) error{
				"live": func(v *yaml.Node) error { return p.live(v) },
			})
		},
	})
	if err != nil {
		return nil, err
	}
	return f, nil
}

type parser struct {
	file string
	f    *File
}

func (p *parser) errf(n *yaml.Node, format string, args ...any) error {
	line := 0
	if n != nil {
		line = n.Line
	}
	return &Error{File: p.file, Line: line, Msg: fmt.Sprintf(format, args...)}
}

// load parses data as one YAML document and returns its top node; nil when there is none (an
// empty file, comments only, or a null document): the defaults.
func (p *parser) load(data []byte) (*yaml.Node, error) {
	l, err := yaml.NewLoader(bytes.NewReader(data))
	if err != nil {
		return nil, p.yamlError(err)
	}
	var doc yaml.Node
	switch err := l.Load(&doc); {
	case errors.Is(err, io.EOF):
		return nil, nil
	case err != nil:
		return nil, p.yamlError(err)
	}
	var extra yaml.Node
	if err := l.Load(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, p.yamlError(err)
		}
		return nil, &Error{File: p.file, Line: extra.Line, Msg: "a second YAML document (after ---); keep the configuration in one"}
	}
	root := &doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return nil, nil
		}
		root = root.Content[0]
	}
	if root.Kind == 0 || yamlnode.IsNull(root) {
		return nil, nil
	}
	return root, nil
}

// yamlError turns the YAML library's error into one line with the line of the first problem
// and what to do; the library's own wording of the problem is kept, its Go types never shown.
func (p *parser) yamlError(err error) error {
	const fix = "; check the indentation and quoting there (sections are mappings: `guard:` then keys indented under it)"
	if line, msg, ok := yamlnode.SyntaxError(err); ok {
		return &Error{File: p.file, Line: line, Msg: "not valid YAML: " + msg + fix}
	}
	return &Error{File: p.file, Msg: "not valid YAML" + fix}
}

// mapping calls the handler of each key of n, refusing unknown and repeated keys, and records
// the line of each. path is the enclosing key ("" at the top, "detect", "detect.live").
func (p *parser) mapping(n *yaml.Node, path string, keys map[string]func(v *yaml.Node) error) error {
	m := yamlnode.Mapping{Where: path, Keys: keys, Errorf: p.errf, Seen: func(k *yaml.Node) {
		key := k.Value
		if path != "" {
			key = path + "." + key
		}
		p.f.Lines[key] = k.Line
	}}
	if path == "" {
		m.Where = "the file"
		m.Unknown = func(k *yaml.Node, known []string) error {
			switch sectionOf(k.Value) {
			case "guard":
				return p.errf(k, "%s is a guard setting: put it under `guard:`, indented (every key of an old guard.yaml goes under guard:)", k.Value)
			case "detect":
				return p.errf(k, "%s is a detect --live setting: put it under `detect:` then `live:`, indented", k.Value)
			}
			return p.errf(k, "unknown key %q; the keys are %s", k.Value, strings.Join(known, ", "))
		}
	}
	return m.Walk(n)
}

func (p *parser) str(n *yaml.Node, key string, out *string) error {
	if yamlnode.IsNull(n) {
		*out = ""
		return nil
	}
	if n.Kind != yaml.ScalarNode {
		return p.errf(n, "%s should be a single value, not %s", key, yamlnode.KindName(n))
	}
	*out = n.Value
	return nil
}

// path reads an absolute system path (or nothing: the default).
func (p *parser) path(n *yaml.Node, key string, out *string) error {
	if err := p.str(n, key, out); err != nil {
		return err
	}
	if *out != "" && !filepath.IsAbs(*out) {
		return p.errf(n, "%s %q: give an absolute path (firewarden reads it under --root)", key, *out)
	}
	return nil
}

func (p *parser) live(n *yaml.Node) error {
	l := &p.f.Live
	var webhookNode *yaml.Node
	err := p.mapping(n, "detect.live", map[string]func(v *yaml.Node) error{
		"out": func(v *yaml.Node) error { return p.path(v, "detect.live.out", &l.Out) },
		"syslog": func(v *yaml.Node) error {
			if err := p.str(v, "detect.live.syslog", &l.Syslog); err != nil {
				return err
			}
			if msg := checkSyslog(l.Syslog); msg != "" {
				return p.errf(v, "detect.live.syslog %q: %s", l.Syslog, msg)
			}
			return nil
		},
		"webhook": func(v *yaml.Node) error {
			webhookNode = v
			return p.str(v, "detect.live.webhook", &l.Webhook)
		},
		"webhook_insecure_http": func(v *yaml.Node) error {
			if v.Kind != yaml.ScalarNode || v.Tag != "!!bool" {
				return p.errf(v, "detect.live.webhook_insecure_http should be true or false, not %s", yamlnode.KindName(v))
			}
			l.WebhookInsecureHTTP = v.Value == "true" || v.Value == "True" || v.Value == "TRUE"
			return nil
		},
		"poll": func(v *yaml.Node) error {
			var s string
			if err := p.str(v, "detect.live.poll", &s); err != nil {
				return err
			}
			d, err := guard.ParseDuration(s)
			if err != nil || (d != 0 && d < time.Second) || d > maxPoll {
				return p.errf(v, "detect.live.poll %q: give a duration from 1s to 24h, such as 1m, or 0s to turn the state poll off", s)
			}
			l.Poll = d
			return nil
		},
	})
	if err != nil {
		return err
	}
	// The URL is not echoed: it may hold a token.
	if l.Webhook != "" {
		u, err := url.Parse(l.Webhook)
		switch {
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			return p.errf(webhookNode, "detect.live.webhook: give an https:// URL")
		case u.Scheme == "http" && !l.WebhookInsecureHTTP:
			return p.errf(webhookNode, "detect.live.webhook: a plain http:// URL sends alerts unencrypted; use https://, or set webhook_insecure_http: true to accept that")
		}
	}
	return nil
}

// checkSyslog is what detect --live's --syslog accepts (live.NewSyslog checks it again when it
// connects): "" when spec is good, else what to give.
func checkSyslog(spec string) string {
	if spec == "" || spec == "local" {
		return ""
	}
	u, err := url.Parse(spec)
	if err != nil || (u.Scheme != "udp" && u.Scheme != "tcp") || u.Host == "" || u.Path != "" || u.RawQuery != "" {
		return "give local, udp://host:port or tcp://host:port"
	}
	h, port, err := net.SplitHostPort(u.Host)
	if n, perr := strconv.Atoi(port); err != nil || h == "" || perr != nil || n < 1 || n > 65535 {
		return "give host:port (port 1-65535) after " + u.Scheme + "://"
	}
	return ""
}
