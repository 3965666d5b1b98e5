package guard

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v4"

	"github.com/firewarden/firewarden/internal/authwatch"
	"github.com/firewarden/firewarden/internal/block"
	"github.com/firewarden/firewarden/internal/yamlnode"
)

// Default values of Config. Each says where it comes from; the facts are in the shared
// reference (adaptive.md), cited by section.
const (
	// DefaultFailures is afctl's: a block "if a user or an IP address generates 10 consecutive
	// failed login attempts" (§1.3).
	DefaultFailures = 10
	// DefaultWindow is SSHGuard's detection_time, 1800 s (§4). afctl counted "consecutive"
	// failures with no window at all (§1.3), which a guard cannot do without remembering every
	// address forever; fail2ban's findtime is 10m, but with maxretry 5 (§3.1). Of the windows the
	// reference documents, 30 minutes is the longest, so it keeps slow guessers in view: with
	// 10 failures it bans anything faster than one failure every 3 minutes, where a 10m window
	// lets through one a minute. A user's occasional typos stay far below 10 in 30 minutes.
	DefaultWindow = 30 * time.Minute
	// DefaultInvalidUserFactor multiplies the weight of a line that names a user sshd does not
	// know: guessing user names is what scanners do, not people who mistype a password.
	DefaultInvalidUserFactor = 1.5
	// DefaultBanRate and DefaultBanRatePer: at most 60 new bans a minute (a token bucket that
	// holds a minute's worth), so that forged or spoofed lines cannot ban a whole network before
	// anyone notices; real brute-force waves ban far fewer addresses than that.
	DefaultBanRate    = 60
	DefaultBanRatePer = time.Minute
	// DefaultMaxTracked caps the addresses whose failures are being counted. A flood of lines
	// with forged addresses then costs a fixed amount of memory (about 170 bytes an address, its map slot included);
	// the least recently seen address is forgotten first.
	DefaultMaxTracked = 65536
	// DefaultMaxSessions caps the sshd processes whose lines are correlated (authwatch.Sessions):
	// their address, for the lines that name none, and their failures, to forgive them when the
	// process logs in. sshd's MaxStartups (10:30:100 by default) allows at most 100 connections
	// that have not authenticated yet, and only those can still fail or log in; ten times that
	// leaves room for a raised MaxStartups and for processes whose end sshd does not log.
	DefaultMaxSessions = 1024
)

// Limits a config is checked against.
const (
	maxWeight     = 100   // failures a single line may count for
	maxFailures   = 10000 // threshold
	maxTracked    = 10_000_000
	maxSessions   = 1_000_000
	maxBans       = 1_000_000
	minWindow     = time.Second
	maxWindow     = 7 * 24 * time.Hour
	maxBanTimeCap = 3650 * 24 * time.Hour
)

// Config is the guard's configuration: the guard section of firewarden's configuration file.
// Start from Default; ParseSection fills in the keys a file leaves out with the defaults. The
// state directory is not the guard's own: it is firewarden's (the file's top-level state_dir).
type Config struct {
	// Sources are the logs to follow. Empty: the OS default, see DefaultSources.
	Sources []SourceConfig
	// Failures is the weighted count of failures within Window that bans an address
	// (DefaultFailures).
	Failures float64
	// Window is how far back failures count (DefaultWindow).
	Window time.Duration
	// Mode is ModeNormal or ModeAggressive (DefaultMode): which kinds count, by default.
	Mode string
	// Weights is how many failures one line of each kind counts for; every Kind authwatch
	// knows has an entry. 0 ignores the kind. The mode's (ModeWeights), but for those the file
	// sets.
	Weights map[authwatch.Kind]float64
	// InvalidUserFactor multiplies the weight of a line that reports an invalid user
	// (DefaultInvalidUserFactor).
	InvalidUserFactor float64
	// BanTime is the first ban of an address (block.DefaultBanTime, afctl's 15 minutes); each
	// later ban doubles it (fail2ban's bantime.increment), up to MaxBanTime
	// (block.DefaultMaxTime, a week).
	BanTime, MaxBanTime time.Duration
	// MaxBans caps the active bans, the CLI's included (block.DefaultMaxBans); at the cap the
	// guard bans no more and says so.
	MaxBans int
	// BanRate new bans per BanRatePer at most (DefaultBanRate per DefaultBanRatePer).
	BanRate    int
	BanRatePer time.Duration
	// Backend is nft, pf, dry-run or none; empty: the CLI's default for the host (nft on
	// Linux, pf on macOS).
	Backend string
	// Allowlist are prefixes never banned, in addition to block's allowlist (block allow,
	// block autoconfigure).
	Allowlist []netip.Prefix
	// MaxTracked caps the addresses whose failures are counted (DefaultMaxTracked).
	MaxTracked int
	// MaxSessions caps the sshd processes whose lines are correlated (DefaultMaxSessions).
	MaxSessions int
}

// SourceConfig is one log to follow.
type SourceConfig struct {
	// Type is "journal" (the systemd journal), "file" (a plain log file, followed across
	// rotation) or "unifiedlog" (macOS `log stream`).
	Type string
	// Path is the file of a "file" source: an absolute system path, under --root.
	Path string
	// Units are systemd units (ssh.service, sshd.service) whose journal entries a "journal"
	// source reads as well as those of the sshd, sshd-session and sshd-auth processes.
	Units []string
}

// Source types.
const (
	SourceJournal    = "journal"
	SourceFile       = "file"
	SourceUnifiedLog = "unifiedlog"
)

// Kinds lists every failure kind authwatch reports, in its order.
func Kinds() []authwatch.Kind {
	var ks []authwatch.Kind
	for k := authwatch.KindNone + 1; !strings.HasPrefix(k.String(), "kind("); k++ {
		ks = append(ks, k)
	}
	return ks
}

// Modes: which lines count, after fail2ban's sshd filter modes (its filter.d/sshd.conf: normal,
// ddos, extra, aggressive). Weights given in the file override the mode's.
const (
	// ModeNormal counts what fail2ban's normal mode counts: failed logins, invalid and refused
	// users, PAM failures, too many attempts, TCP wrappers' refusals, and sshd's own
	// PerSourcePenalties verdict. Connections that end before authentication (the pre-auth and
	// scanner kinds) count nothing: they are what load balancers, monitoring and people whose
	// client gave up write too.
	ModeNormal = "normal"
	// ModeAggressive also counts the pre-auth and scanner kinds, lightly: what fail2ban's ddos
	// and extra modes (together its aggressive mode) add. These were the guard's defaults before
	// modes existed.
	ModeAggressive = "aggressive"
	// DefaultMode is fail2ban's default too.
	DefaultMode = ModeNormal
)

// Modes lists the modes, for messages.
func Modes() []string { return []string{ModeNormal, ModeAggressive} }

// DefaultWeights are the weights of DefaultMode.
func DefaultWeights() map[authwatch.Kind]float64 { return ModeWeights(DefaultMode) }

// ModeWeights are the failures one line of each kind counts for in mode (DefaultMode when mode
// is not one of Modes). SSHGuard's scale (§4): most attacks score 10, a connection closed before
// authentication 2, a login timeout 1; here 1, 0.2 and 0.1. Lines that are failed logins count
// 1. A PAM failure and the "Failed" line of the same attempt count once between them (see
// Engine). "maximum authentication attempts exceeded" and sshd's own PerSourcePenalties verdict
// count 2: sshd has judged the client already.
//
// A valid user's failed key (failed-key) counts 0.2: an agent offers its keys in turn, so a
// person or a CI job whose right key is not the first writes one such line per key before
// logging in, every time; fail2ban's default (publickey = nofail) does not count them at all.
// 0.2 keeps a key-only scanner of a real account in view (50 keys in the window ban it) while
// ten logins offering three keys each score 6 even before Engine.Forgive takes them back. For an
// invalid user the invalid-user factor applies (0.3), on top of the "Invalid user" line sshd
// writes first, which counts 1.5: a name that does not exist is guessing.
//
// In aggressive mode only: a connection closed before authentication (preauth) 0.2; a wrong
// protocol banner or no common key exchange (scanners) half; a login timeout 0.1; no
// identification string at all 0 in both modes, because load balancers' TCP health checks write
// exactly that line every few seconds (fail2ban's ddos mode counts it: allowlist your
// balancers and raise weights.no-ident to follow it). A kind this version does not name counts
// 1 in both modes.
func ModeWeights(mode string) map[authwatch.Kind]float64 {
	w := map[authwatch.Kind]float64{}
	for _, k := range Kinds() {
		w[k] = 1
	}
	w[authwatch.KindMaxAttempts] = 2
	w[authwatch.KindPenalty] = 2
	w[authwatch.KindFailedKey] = 0.2
	w[authwatch.KindNoIdent] = 0
	if mode == ModeAggressive {
		w[authwatch.KindPreauth] = 0.2
		w[authwatch.KindTimeout] = 0.1
		w[authwatch.KindBadBanner] = 0.5
		w[authwatch.KindNoKex] = 0.5
	} else {
		w[authwatch.KindPreauth] = 0
		w[authwatch.KindTimeout] = 0
		w[authwatch.KindBadBanner] = 0
		w[authwatch.KindNoKex] = 0
	}
	return w
}

// Default is the configuration a host gets without a file.
func Default() *Config {
	return &Config{
		Failures:          DefaultFailures,
		Window:            DefaultWindow,
		Mode:              DefaultMode,
		Weights:           DefaultWeights(),
		InvalidUserFactor: DefaultInvalidUserFactor,
		BanTime:           block.DefaultBanTime,
		MaxBanTime:        block.DefaultMaxTime,
		MaxBans:           block.DefaultMaxBans,
		BanRate:           DefaultBanRate,
		BanRatePer:        DefaultBanRatePer,
		MaxTracked:        DefaultMaxTracked,
		MaxSessions:       DefaultMaxSessions,
	}
}

// Policy is the block.Policy the config asks for.
func (c *Config) Policy() block.Policy {
	return block.Policy{BanTime: c.BanTime, MaxTime: c.MaxBanTime, MaxBans: c.MaxBans}
}

// Summary is one line describing c, for `guard --check-config` and the start-up log.
func (c *Config) Summary() string {
	src := "the OS default sources"
	if len(c.Sources) > 0 {
		var names []string
		for _, s := range c.Sources {
			names = append(names, s.String())
		}
		src = strings.Join(names, ", ")
	}
	backend := c.Backend
	if backend == "" {
		backend = "the default backend"
	}
	mode := c.Mode
	if mode == "" {
		mode = DefaultMode
	}
	return fmt.Sprintf("ban after %s failures (mode %s) in %s for %s (doubling up to %s); at most %d bans, %d per %s; %d extra allowlist entries; %s; %s",
		formatFloat(c.Failures), mode, formatDuration(c.Window), formatDuration(c.BanTime), formatDuration(c.MaxBanTime),
		c.MaxBans, c.BanRate, formatDuration(c.BanRatePer), len(c.Allowlist), src, backend)
}

// String names a source as messages show it: "journal", "journal (ssh.service)",
// "file /var/log/auth.log", "unifiedlog".
func (s SourceConfig) String() string {
	switch {
	case s.Type == SourceFile:
		return "file " + s.Path
	case len(s.Units) > 0:
		return s.Type + " (" + strings.Join(s.Units, ", ") + ")"
	}
	return s.Type
}

// ConfigError is a config file that cannot be used: where and why. Its message is one line,
// "FILE:LINE: what is wrong; what to do".
type ConfigError struct {
	File string // as given; "" for a config from memory
	Line int    // 1-based; 0 when the error is about the whole file
	Msg  string
}

func (e *ConfigError) Error() string {
	name := e.File
	if name == "" {
		name = "guard config"
	}
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", name, e.Line, e.Msg)
	}
	return name + ": " + e.Msg
}

// Lines maps the dotted key of every value a file set ("threshold.failures", "sources") to its
// line in the file; a key that is not there kept its default.
type Lines map[string]int

// ParseSection reads the guard section of a configuration file: n is the node under the
// section's key (nil when the file has no guard section). name is the file's name for messages.
// Keys left out keep their default; unknown keys, wrong types, durations that do not parse,
// thresholds and caps out of range are errors (*ConfigError) naming the file and line.
func ParseSection(name string, n *yaml.Node) (*Config, Lines, error) {
	c := Default()
	p := &configParser{file: name, lines: Lines{}, setWeights: map[authwatch.Kind]float64{}}
	n = yamlnode.Deref(n)
	if n == nil || yamlnode.IsNull(n) {
		return c, p.lines, nil
	}
	err := p.mapping(n, "", map[string]func(*yaml.Node) error{
		"sources":   func(n *yaml.Node) error { return p.sources(n, c) },
		"threshold": func(n *yaml.Node) error { return p.threshold(n, c) },
		"mode": func(n *yaml.Node) error {
			if err := p.str(n, "mode", &c.Mode); err != nil {
				return err
			}
			for _, m := range Modes() {
				if c.Mode == m {
					return nil
				}
			}
			return p.errf(n, "mode %q: use %s", c.Mode, strings.Join(Modes(), " or "))
		},
		"weights":             func(n *yaml.Node) error { return p.weights(n) },
		"invalid_user_factor": func(n *yaml.Node) error { return p.number(n, "invalid_user_factor", 0.01, 10, &c.InvalidUserFactor) },
		"ban":                 func(n *yaml.Node) error { return p.ban(n, c) },
		"backend": func(n *yaml.Node) error {
			if err := p.str(n, "backend", &c.Backend); err != nil {
				return err
			}
			switch c.Backend {
			case "", "nft", "pf", "dry-run", "none":
				return nil
			}
			return p.errf(n, "backend %q: use nft, pf, dry-run or none (or leave it out for the host's default)", c.Backend)
		},
		"allowlist": func(n *yaml.Node) error { return p.allowlist(n, c) },
		"max_tracked": func(n *yaml.Node) error {
			return p.integer(n, "max_tracked", 16, maxTracked, &c.MaxTracked)
		},
		"max_sessions": func(n *yaml.Node) error {
			return p.integer(n, "max_sessions", 16, maxSessions, &c.MaxSessions)
		},
	})
	if err != nil {
		return nil, nil, err
	}
	// The mode's weights, then the file's: in whatever order the file gives the two keys.
	c.Weights = ModeWeights(c.Mode)
	maps.Copy(c.Weights, p.setWeights)
	if c.BanTime > c.MaxBanTime {
		return nil, nil, &ConfigError{File: name, Line: p.banLine, Msg: fmt.Sprintf("ban: time %s is longer than max_time %s; raise max_time or shorten time", formatDuration(c.BanTime), formatDuration(c.MaxBanTime))}
	}
	return c, p.lines, nil
}

// movedKeys are keys the guard's own file (guard.yaml) held that now live elsewhere in
// firewarden's configuration file, with what to do.
var movedKeys = map[string]string{
	"state_dir": "state_dir is firewarden's state directory, shared by every command: move it from guard: to the top level of the file",
}

// configParser walks the YAML tree, so that every error can name its line.
type configParser struct {
	file       string
	banLine    int
	lines      Lines                      // where each key was set, for provenance
	setWeights map[authwatch.Kind]float64 // the file's weights, over the mode's
}

func (p *configParser) errf(n *yaml.Node, format string, args ...any) error {
	line := 0
	if n != nil {
		line = n.Line
	}
	return &ConfigError{File: p.file, Line: line, Msg: fmt.Sprintf(format, args...)}
}

// mapping calls the handler of each key of n, refusing unknown and repeated keys. path is the
// enclosing key ("" at the top of the guard section), for messages and for Lines: the keys of
// the section, of its mappings and of weights are recorded; a source's keys (path "a source")
// belong to the sources entry and are not.
func (p *configParser) mapping(n *yaml.Node, path string, keys map[string]func(*yaml.Node) error) error {
	m := yamlnode.Mapping{Where: path, Keys: keys, Errorf: p.errf}
	if path == "" {
		m.Where = "guard"
		m.Unknown = func(k *yaml.Node, _ []string) error {
			if msg, moved := movedKeys[k.Value]; moved {
				return p.errf(k, "%s", msg)
			}
			return nil
		}
	}
	if !strings.Contains(path, " ") {
		m.Seen = func(k *yaml.Node) {
			key := k.Value
			if path != "" {
				key = path + "." + key
			}
			p.lines[key] = k.Line
		}
	}
	return m.Walk(n)
}

func (p *configParser) scalar(n *yaml.Node, key string) (string, error) {
	if n.Kind != yaml.ScalarNode || yamlnode.IsNull(n) {
		return "", p.errf(n, "%s should be a single value, not %s", key, yamlnode.KindName(n))
	}
	return n.Value, nil
}

func (p *configParser) str(n *yaml.Node, key string, out *string) error {
	if yamlnode.IsNull(n) {
		*out = ""
		return nil
	}
	s, err := p.scalar(n, key)
	if err != nil {
		return err
	}
	*out = s
	return nil
}

func (p *configParser) number(n *yaml.Node, key string, lo, hi float64, out *float64) error {
	s, err := p.scalar(n, key)
	if err != nil {
		return err
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || v < lo || v > hi {
		return p.errf(n, "%s %q: give a number from %s to %s", key, s, formatFloat(lo), formatFloat(hi))
	}
	*out = v
	return nil
}

func (p *configParser) integer(n *yaml.Node, key string, lo, hi int, out *int) error {
	s, err := p.scalar(n, key)
	if err != nil {
		return err
	}
	v, err := strconv.Atoi(strings.ReplaceAll(s, "_", ""))
	if err != nil || v < lo || v > hi {
		return p.errf(n, "%s %q: give a whole number from %d to %d", key, s, lo, hi)
	}
	*out = v
	return nil
}

func (p *configParser) duration(n *yaml.Node, key string, lo, hi time.Duration, out *time.Duration) error {
	s, err := p.scalar(n, key)
	if err != nil {
		return err
	}
	d, err := ParseDuration(s)
	if err != nil {
		return p.errf(n, "%s %q: %v", key, s, err)
	}
	if d < lo || d > hi {
		return p.errf(n, "%s %s: give a duration from %s to %s", key, s, formatDuration(lo), formatDuration(hi))
	}
	*out = d
	return nil
}

func (p *configParser) threshold(n *yaml.Node, c *Config) error {
	return p.mapping(n, "threshold", map[string]func(*yaml.Node) error{
		"failures": func(n *yaml.Node) error {
			s, err := p.scalar(n, "threshold.failures")
			if err != nil {
				return err
			}
			v, err := strconv.ParseFloat(s, 64)
			if err != nil || math.IsNaN(v) || v <= 0 || v > maxFailures {
				return p.errf(n, "threshold.failures %q: give a number of failures above 0 and at most %d, e.g. 10", s, maxFailures)
			}
			if math.Round(v*100) < 1 {
				return p.errf(n, "threshold.failures %q is below the counting unit 0.01; give at least 0.01", s)
			}
			c.Failures = v
			return nil
		},
		"window": func(n *yaml.Node) error { return p.duration(n, "threshold.window", minWindow, maxWindow, &c.Window) },
	})
}

func (p *configParser) weights(n *yaml.Node) error {
	keys := map[string]func(*yaml.Node) error{}
	for _, k := range Kinds() {
		keys[k.String()] = func(n *yaml.Node) error {
			var w float64
			if err := p.number(n, "weights."+k.String(), 0, maxWeight, &w); err != nil {
				return err
			}
			p.setWeights[k] = w
			return nil
		}
	}
	return p.mapping(n, "weights", keys)
}

func (p *configParser) ban(n *yaml.Node, c *Config) error {
	p.banLine = n.Line
	return p.mapping(n, "ban", map[string]func(*yaml.Node) error{
		"time": func(n *yaml.Node) error { return p.duration(n, "ban.time", time.Second, maxBanTimeCap, &c.BanTime) },
		"max_time": func(n *yaml.Node) error {
			return p.duration(n, "ban.max_time", time.Second, maxBanTimeCap, &c.MaxBanTime)
		},
		"max_bans": func(n *yaml.Node) error { return p.integer(n, "ban.max_bans", 1, maxBans, &c.MaxBans) },
		"rate": func(n *yaml.Node) error {
			s, err := p.scalar(n, "ban.rate")
			if err != nil {
				return err
			}
			r, per, err := ParseRate(s)
			if err != nil {
				return p.errf(n, "ban.rate %q: %v", s, err)
			}
			c.BanRate, c.BanRatePer = r, per
			return nil
		},
	})
}

func (p *configParser) allowlist(n *yaml.Node, c *Config) error {
	if yamlnode.IsNull(n) {
		c.Allowlist = nil
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		return p.errf(n, "allowlist should be a list of addresses or CIDR prefixes, not %s", yamlnode.KindName(n))
	}
	c.Allowlist = nil
	for _, e := range n.Content {
		e = yamlnode.Deref(e)
		s, err := p.scalar(e, "an allowlist entry")
		if err != nil {
			return err
		}
		pr, err := block.ParsePrefix(s)
		if err != nil {
			return p.errf(e, "allowlist: %v", err)
		}
		// A wide entry (0.0.0.0/0) would turn the guard off without a word; the file has no
		// --wide, so it is refused, and `block allow --wide` remains for a deliberate one.
		if err := block.CheckAllowWidth(pr); err != nil {
			return p.errf(e, "allowlist: %v, so the guard would never ban; narrow it (or, if it is meant, add it with `firewarden block allow --wide`)", err)
		}
		c.Allowlist = append(c.Allowlist, pr)
	}
	return nil
}

func (p *configParser) sources(n *yaml.Node, c *Config) error {
	if yamlnode.IsNull(n) {
		c.Sources = nil
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		return p.errf(n, "sources should be a list (e.g. `- type: journal`), not %s", yamlnode.KindName(n))
	}
	c.Sources = nil
	for _, e := range n.Content {
		var s SourceConfig
		err := p.mapping(e, "a source", map[string]func(*yaml.Node) error{
			"type": func(n *yaml.Node) error { return p.str(n, "type", &s.Type) },
			"path": func(n *yaml.Node) error { return p.str(n, "path", &s.Path) },
			"units": func(n *yaml.Node) error {
				if n.Kind != yaml.SequenceNode {
					return p.errf(n, "units should be a list of systemd units, not %s", yamlnode.KindName(n))
				}
				for _, u := range n.Content {
					v, err := p.scalar(yamlnode.Deref(u), "a unit")
					if err != nil {
						return err
					}
					if v == "" || strings.ContainsAny(v, " \t\n") {
						return p.errf(u, "unit %q: give a systemd unit name such as ssh.service", v)
					}
					s.Units = append(s.Units, v)
				}
				return nil
			},
		})
		if err != nil {
			return err
		}
		e = yamlnode.Deref(e)
		switch s.Type {
		case SourceFile:
			if s.Path == "" || !filepath.IsAbs(s.Path) {
				return p.errf(e, "a file source needs an absolute path (path: /var/log/auth.log)")
			}
			if len(s.Units) > 0 {
				return p.errf(e, "units are for journal sources; a file source takes a path")
			}
		case SourceJournal:
			if s.Path != "" {
				return p.errf(e, "a journal source takes units, not a path")
			}
		case SourceUnifiedLog:
			if s.Path != "" || len(s.Units) > 0 {
				return p.errf(e, "a unifiedlog source takes no path or units")
			}
		case "":
			return p.errf(e, "a source needs a type: journal, file or unifiedlog")
		default:
			return p.errf(e, "source type %q: use journal, file or unifiedlog", s.Type)
		}
		c.Sources = append(c.Sources, s)
	}
	return nil
}

// ParseDuration reads a Go duration ("90s", "15m", "1h30m") or a whole number of days ("7d").
func ParseDuration(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		if err == nil && n >= 0 && n <= 100000 {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, errors.New("give a duration such as 30s, 15m, 2h or 7d")
	}
	return d, nil
}

// ParseRate reads "N/DURATION" ("60/1m", "10/s"): N events per DURATION.
func ParseRate(s string) (int, time.Duration, error) {
	bad := errors.New("give bans per duration, such as 60/1m or 5/10s")
	ns, ds, ok := strings.Cut(s, "/")
	if !ok {
		return 0, 0, bad
	}
	n, err := strconv.Atoi(strings.TrimSpace(ns))
	if err != nil || n < 1 || n > 1_000_000 {
		return 0, 0, bad
	}
	ds = strings.TrimSpace(ds)
	if ds != "" && ds[0] >= 'a' && ds[0] <= 'z' {
		ds = "1" + ds
	}
	d, err := ParseDuration(ds)
	if err != nil || d < time.Second || d > 24*time.Hour {
		return 0, 0, errors.New("give bans per duration of 1s to 24h, such as 60/1m or 5/10s")
	}
	return n, d, nil
}

// FormatDuration prints a duration as the configuration writes it: 15m, 2h, 1h30m, 7d rather
// than 15m0s.
func FormatDuration(d time.Duration) string { return formatDuration(d) }

// formatDuration prints 15m, 2h, 1h30m, 7d rather than 15m0s.
func formatDuration(d time.Duration) string {
	if d >= 24*time.Hour && d%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// WriteYAML writes c as the body of a guard section, every key present, each line indented by
// indent and each value followed by "  # " and origin(key), key being the dotted name Lines
// uses ("threshold.failures"). ParseSection of the output is c.
func (c *Config) WriteYAML(w io.Writer, indent string, origin func(key string) string) error {
	var b strings.Builder
	val := func(depth int, key, value, dotted string) {
		fmt.Fprintf(&b, "%s%s%s: %s  # %s\n", indent, strings.Repeat("  ", depth), key, value, origin(dotted))
	}
	head := func(key string) { fmt.Fprintf(&b, "%s%s:\n", indent, key) }
	if len(c.Sources) == 0 {
		val(0, "sources", "[]", "sources")
	} else {
		fmt.Fprintf(&b, "%ssources:  # %s\n", indent, origin("sources"))
		for _, s := range c.Sources {
			fmt.Fprintf(&b, "%s  - type: %s\n", indent, YAMLString(s.Type))
			if s.Path != "" {
				fmt.Fprintf(&b, "%s    path: %s\n", indent, YAMLString(s.Path))
			}
			if len(s.Units) > 0 {
				units := make([]string, len(s.Units))
				for i, u := range s.Units {
					units[i] = YAMLString(u)
				}
				fmt.Fprintf(&b, "%s    units: [%s]\n", indent, strings.Join(units, ", "))
			}
		}
	}
	head("threshold")
	val(1, "failures", formatFloat(c.Failures), "threshold.failures")
	val(1, "window", formatDuration(c.Window), "threshold.window")
	head("weights") // a kind the file does not set weighs what the mode says
	for _, k := range Kinds() {
		val(1, k.String(), formatFloat(c.Weights[k]), "weights."+k.String())
	}
	val(0, "mode", c.Mode, "mode")
	val(0, "invalid_user_factor", formatFloat(c.InvalidUserFactor), "invalid_user_factor")
	head("ban")
	val(1, "time", formatDuration(c.BanTime), "ban.time")
	val(1, "max_time", formatDuration(c.MaxBanTime), "ban.max_time")
	val(1, "max_bans", strconv.Itoa(c.MaxBans), "ban.max_bans")
	val(1, "rate", strconv.Itoa(c.BanRate)+"/"+formatDuration(c.BanRatePer), "ban.rate")
	val(0, "backend", YAMLString(c.Backend), "backend")
	allow := make([]string, len(c.Allowlist))
	for i, p := range c.Allowlist {
		allow[i] = p.String()
	}
	val(0, "allowlist", "["+strings.Join(allow, ", ")+"]", "allowlist")
	val(0, "max_tracked", strconv.Itoa(c.MaxTracked), "max_tracked")
	val(0, "max_sessions", strconv.Itoa(c.MaxSessions), "max_sessions")
	_, err := io.WriteString(w, b.String())
	return err
}

// YAMLString is s as a YAML scalar that reads back as the string s: plain where YAML allows,
// quoted where it would read as another type ("yes", "10") or not parse; "" for the empty string.
func YAMLString(s string) string {
	if s == "" {
		return `""`
	}
	out, err := yaml.Dump(s)
	if err != nil {
		return strconv.Quote(s)
	}
	return strings.TrimSuffix(string(out), "\n")
}
