// Package pf is the macOS pf Backend of the adaptive firewall. It keeps firewarden's blocked
// prefixes in one pf table inside an anchor of its own below com.apple/, and changes pf only
// through pfctl run by the host Runner, so it builds and is tested on any system.
//
// Why an anchor under com.apple/: the stock /etc/pf.conf holds `anchor "com.apple/*"`, which
// evaluates every anchor directly below com.apple, including ones loaded at runtime; Apple's
// Adaptive Firewall used com.apple/400.AdaptiveFirewall the same way (adaptive reference §1.3,
// §5.1). So nothing has to edit /etc/pf.conf or /etc/pf.anchors/com.apple, which OS updates
// overwrite. The main ruleset is never loaded, flushed or disabled: pfctl -d would stop pf for
// every other user (XNU DIOCSTOP zeroes the enable reference count), so pf is enabled with
// pfctl -E, whose token is kept in a file, and released with pfctl -X TOKEN (§5.2).
//
// Why one table for both families: a pf table holds IPv4 and IPv6 entries in separate radix
// heads of the same pfr_ktable (XNU bsd/net/pfvar.h, §5.3), so one rule
// "block drop in quick from <firewarden> to any" covers both.
//
// Why the table is not defined in the anchor's rules: loading a ruleset that defines a table
// replaces the table's contents with the definition's (how a pfSense reload flushed 56019
// addresses, §2.4). The table is created persistent by pfctl -T add instead, so enabling and
// disabling (loading and flushing the anchor's rules) keep its entries.
package pf

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/firewarden/firewarden/internal/block"
	"github.com/firewarden/firewarden/internal/host"
	"github.com/firewarden/firewarden/internal/statedir"
)

// Defaults of Config.
const (
	// DefaultAnchor follows the numbering of Apple's own anchors (200.AirDrop,
	// 250.ApplicationFirewall, 400.AdaptiveFirewall); the wildcard evaluates them in name order.
	DefaultAnchor = "com.apple/400.firewarden"
	DefaultTable  = "firewarden"
	// DefaultChunk bounds the addresses handed to one pfctl run, so that no single run (and no
	// scratch file) grows with the size of a change.
	DefaultChunk = 10000
	// DefaultTableEntriesLimit is assumed when pfctl -s memory shows no table-entries line:
	// PFR_KENTRY_HIWAT in XNU bsd/net/pfvar.h, the OpenBSD default (§5.3).
	DefaultTableEntriesLimit = 200000
)

// PfctlPath is the system path of pfctl on macOS.
const PfctlPath = "/sbin/pfctl"

// ErrTableFull is returned (wrapped) when a Sync asks for more entries than pf's table-entries
// hard limit allows. The limit counts every table on the host together, so a Sync below it can
// still be refused by the kernel ("Cannot allocate memory"), which surfaces as *host.ExitError.
var ErrTableFull = errors.New("more prefixes than pf's table-entries hard limit")

// ErrNotEvaluated is returned (wrapped) by SetEnabled(true) when the main ruleset has no
// `anchor "com.apple/*"` (someone replaced /etc/pf.conf, or flushed the main ruleset), so that
// rules in the Backend's anchor would never be evaluated. Reloading the stock /etc/pf.conf
// (pfctl -f /etc/pf.conf, an administrator's decision) restores it.
var ErrNotEvaluated = errors.New(`the main pf ruleset has no anchor "com.apple/*"`)

// Config says where the Backend works. Runner and StateDir are required.
type Config struct {
	Runner host.Runner
	// Root resolves StateDir; the zero Root is the real system root. Files handed to pfctl with
	// -f are named by their system path, as pfctl sees the system. (The Runner has no stdin, so
	// rules and address lists go through files rather than "-f -".)
	Root host.Root
	// StateDir is the system path of the directory the Backend owns files in: the enable token
	// (pf.token) and scratch files for pfctl (pf-anchor.conf, pf-addresses).
	StateDir string
	// Anchor is the anchor for the rules and the table, directly below com.apple/;
	// DefaultAnchor when empty.
	Anchor string
	// Table names the table; DefaultTable when empty.
	Table string
	// Chunk is the largest number of addresses one pfctl run adds or deletes; DefaultChunk when
	// zero.
	Chunk int
}

// Backend holds firewarden's bans in a pf table. It is safe for concurrent use within one
// process; the block state's file lock serialises processes.
type Backend struct {
	cfg Config

	mu     sync.Mutex
	cached map[netip.Prefix]struct{} // what the table holds, as last read or written; nil: unknown
	limit  int                       // table-entries hard limit; 0: not read yet, -1: unlimited
	dir    *statedir.Dir             // the checked state directory; nil: not opened yet
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// New validates c (no side effects) and returns a Backend.
func New(c Config) (*Backend, error) {
	if c.Runner == nil {
		return nil, errors.New("pf backend: no runner")
	}
	if !strings.HasPrefix(c.StateDir, "/") {
		return nil, fmt.Errorf("pf backend: state directory %q is not an absolute system path", c.StateDir)
	}
	if c.Anchor == "" {
		c.Anchor = DefaultAnchor
	}
	if c.Table == "" {
		c.Table = DefaultTable
	}
	if c.Chunk == 0 {
		c.Chunk = DefaultChunk
	}
	sub, below := strings.CutPrefix(c.Anchor, "com.apple/")
	if !below || !nameRE.MatchString(sub) {
		// anchor "com.apple/*" evaluates only the anchors one level below com.apple.
		return nil, fmt.Errorf("pf backend: anchor %q: want com.apple/NAME, which the stock pf.conf evaluates", c.Anchor)
	}
	if !nameRE.MatchString(c.Table) || len(c.Table) >= 32 { // PF_TABLE_NAME_SIZE
		return nil, fmt.Errorf("pf backend: table name %q: want up to 31 letters, digits, '.', '_' or '-'", c.Table)
	}
	if c.Chunk < 0 {
		return nil, fmt.Errorf("pf backend: chunk %d: want a positive number of addresses", c.Chunk)
	}
	return &Backend{cfg: c}, nil
}

// Name implements block.Backend.
func (b *Backend) Name() string { return "pf" }

// Anchor is the anchor the Backend loads its rules and table into.
func (b *Backend) Anchor() string { return b.cfg.Anchor }

// Table is the name of the Backend's table.
func (b *Backend) Table() string { return b.cfg.Table }

func (b *Backend) tokenFile() string   { return path.Join(b.cfg.StateDir, "pf.token") }
func (b *Backend) rulesFile() string   { return path.Join(b.cfg.StateDir, "pf-anchor.conf") }
func (b *Backend) scratchFile() string { return path.Join(b.cfg.StateDir, "pf-addresses") }

// Sync implements block.Backend. pf tables have no per-entry timeout, so now and the bans'
// Expires are not used: firewarden's sweep removes expired bans. Deletions run before additions
// (they free room under the table-entries limit), each in chunks of Config.Chunk addresses; when
// a chunk fails the chunks already applied are undone, best effort, and the next Sync re-reads
// the table.
func (b *Backend) Sync(ctx context.Context, want []block.Ban, now time.Time) (block.SyncResult, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sync(ctx, want)
}

// Reconcile implements block.Backend: it reads the table, then applies the difference.
func (b *Backend) Reconcile(ctx context.Context, want []block.Ban, now time.Time) (block.SyncResult, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.cached = nil
	return b.sync(ctx, want)
}

func (b *Backend) sync(ctx context.Context, want []block.Ban) (block.SyncResult, error) {
	var res block.SyncResult
	wantSet := make(map[netip.Prefix]struct{}, len(want))
	for _, ban := range want {
		p, err := normalise(ban.Prefix)
		if err != nil {
			return res, err
		}
		wantSet[p] = struct{}{}
	}
	if err := b.checkLimit(ctx, len(wantSet)); err != nil {
		return res, err
	}
	if b.cached == nil {
		held, err := b.read(ctx)
		if err != nil {
			return res, err
		}
		b.cached = held
	}
	var add, del []netip.Prefix
	for p := range wantSet {
		if _, ok := b.cached[p]; ok {
			res.Kept++
		} else {
			add = append(add, p)
		}
	}
	for p := range b.cached {
		if _, ok := wantSet[p]; !ok {
			del = append(del, p)
		}
	}
	// Sorted, so runs and scratch files are reproducible.
	slices.SortFunc(add, comparePrefix)
	slices.SortFunc(del, comparePrefix)

	type step struct {
		verb string
		ps   []netip.Prefix
	}
	var done []step
	undo := func() {
		for _, s := range slices.Backward(done) {
			back := "add"
			if s.verb == "add" {
				back = "delete"
			}
			b.table(ctx, back, s.ps) // best effort; the next Sync re-reads
		}
		b.cached = nil
	}
	for _, s := range []step{{"delete", del}, {"add", add}} {
		for chunk := range slices.Chunk(s.ps, b.cfg.Chunk) {
			n, err := b.table(ctx, s.verb, chunk)
			if err != nil {
				undo()
				return block.SyncResult{}, err
			}
			done = append(done, step{s.verb, chunk})
			if s.verb == "add" {
				res.Added += n
			} else {
				res.Removed += n
			}
		}
	}
	b.cached = wantSet
	return res, nil
}

// Apply implements block.Backend. pf tables have no per-entry timeouts, so expiries are not
// used and no entry is renewed. The change goes to pfctl as arguments (no scratch file):
// deletions first, then additions, each in chunks of Config.Chunk addresses, as in Sync; when a
// run fails, the runs already made are undone, best effort, and the next change re-reads the
// table. An Apply that adds nothing new and deletes nothing runs no pfctl.
func (b *Backend) Apply(ctx context.Context, add []block.Ban, remove []netip.Prefix, now time.Time) (block.SyncResult, error) {
	adds := make([]block.Ban, 0, len(add))
	for _, ban := range add {
		p, err := normalise(ban.Prefix)
		if err != nil {
			return block.SyncResult{}, err
		}
		adds = append(adds, block.Ban{Prefix: p, Expires: ban.Expires})
	}
	rms := make([]netip.Prefix, 0, len(remove))
	for _, p := range remove {
		q, err := normalise(p)
		if err != nil {
			return block.SyncResult{}, err
		}
		rms = append(rms, q)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cached == nil {
		held, err := b.read(ctx)
		if err != nil {
			return block.SyncResult{}, err
		}
		b.cached = held
	}
	d, err := block.PlanApply[struct{}](b.cached, nil, adds, rms)
	if err != nil {
		return block.SyncResult{}, fmt.Errorf("pf backend: %w", err)
	}
	if d.Empty() {
		return d.Result, nil
	}
	if len(d.Add) > len(d.Remove) {
		if err := b.checkLimit(ctx, len(b.cached)-len(d.Remove)+len(d.Add)); err != nil {
			return block.SyncResult{}, err
		}
	}
	addPs := make([]netip.Prefix, len(d.Add))
	for i, ban := range d.Add {
		addPs[i] = ban.Prefix
	}
	type step struct {
		verb string
		ps   []netip.Prefix
	}
	var done []step
	for _, s := range []step{{"delete", d.Remove}, {"add", addPs}} {
		for chunk := range slices.Chunk(s.ps, b.cfg.Chunk) {
			if err := b.tableArgs(ctx, s.verb, chunk); err != nil {
				for _, s := range slices.Backward(done) {
					back := "add"
					if s.verb == "add" {
						back = "delete"
					}
					b.tableArgs(ctx, back, s.ps) // best effort; the next change re-reads
				}
				b.cached = nil
				return block.SyncResult{}, err
			}
			done = append(done, step{s.verb, chunk})
		}
	}
	for _, p := range d.Remove {
		delete(b.cached, p)
	}
	for _, p := range addPs {
		b.cached[p] = struct{}{}
	}
	return d.Result, nil
}

// normalise masks p and unmaps an IPv4-mapped IPv6 prefix, the form pf prints it back in.
func normalise(p netip.Prefix) (netip.Prefix, error) {
	if !p.IsValid() {
		return netip.Prefix{}, fmt.Errorf("pf backend: invalid prefix %v", p)
	}
	a := p.Addr()
	if a.Zone() != "" {
		a = a.WithZone("")
	}
	if a.Is4In6() {
		if p.Bits() < 96 {
			return netip.Prefix{}, fmt.Errorf("pf backend: IPv4-mapped prefix %v is shorter than /96", p)
		}
		return netip.PrefixFrom(a.Unmap(), p.Bits()-96).Masked(), nil
	}
	return netip.PrefixFrom(a, p.Bits()).Masked(), nil
}

func comparePrefix(x, y netip.Prefix) int {
	if c := x.Addr().Compare(y.Addr()); c != 0 {
		return c
	}
	return x.Bits() - y.Bits()
}

// checkLimit refuses n entries beyond the table-entries hard limit, read once from pfctl -s
// memory.
func (b *Backend) checkLimit(ctx context.Context, n int) error {
	if b.limit == 0 {
		res, err := b.pfctl(ctx, "read pf memory limits", "-s", "memory")
		if err != nil {
			return err
		}
		limit, ok := parseLimit(res.Stdout)
		if !ok {
			limit = DefaultTableEntriesLimit
		}
		b.limit = limit
	}
	if b.limit >= 0 && n > b.limit {
		return fmt.Errorf("pf backend: %d prefixes, table-entries hard limit %d (raise it with \"set limit table-entries\" or ban fewer): %w", n, b.limit, ErrTableFull)
	}
	return nil
}

// read returns what the table holds; a table that does not exist holds nothing.
func (b *Backend) read(ctx context.Context) (map[netip.Prefix]struct{}, error) {
	exists, err := b.tableExists(ctx)
	if err != nil || !exists {
		return map[netip.Prefix]struct{}{}, err
	}
	res, err := b.pfctl(ctx, "read the table", "-a", b.cfg.Anchor, "-t", b.cfg.Table, "-T", "show")
	if err != nil {
		return nil, err
	}
	ps, err := parseEntries(res.Stdout)
	if err != nil {
		return nil, fmt.Errorf("pf backend: %w", err)
	}
	held := make(map[netip.Prefix]struct{}, len(ps))
	for _, p := range ps {
		held[p] = struct{}{}
	}
	return held, nil
}

// tableExists asks pfctl -s Tables rather than reading -T show's failure, so that no decision
// rests on the wording of an error.
func (b *Backend) tableExists(ctx context.Context) (bool, error) {
	res, err := b.pfctl(ctx, "list the anchor's tables", "-a", b.cfg.Anchor, "-s", "Tables")
	if err != nil {
		return false, err
	}
	return slices.Contains(parseTables(res.Stdout), b.cfg.Table), nil
}

// table adds or deletes ps (one chunk) through a scratch file, and returns how many entries pf
// says it changed (fewer than len(ps) when some were already there, or already gone).
func (b *Backend) table(ctx context.Context, verb string, ps []netip.Prefix) (int, error) {
	var sb strings.Builder
	for _, p := range ps {
		sb.WriteString(block.FormatPrefix(p))
		sb.WriteByte('\n')
	}
	if err := b.writeFile(b.scratchFile(), sb.String()); err != nil {
		return 0, err
	}
	past := map[string]string{"add": "added", "delete": "deleted"}[verb]
	what := fmt.Sprintf("%s %d addresses (%s … %s)", verb, len(ps), block.FormatPrefix(ps[0]), block.FormatPrefix(ps[len(ps)-1]))
	res, err := b.pfctl(ctx, what, "-a", b.cfg.Anchor, "-t", b.cfg.Table, "-T", verb, "-f", b.scratchFile())
	if err != nil {
		return 0, err
	}
	n, _, ok := parseCount(res.Stderr, past)
	if !ok {
		// pfctl -q, or a pfctl that words it otherwise: count what was asked.
		n = len(ps)
	}
	return n, nil
}

// tableArgs adds or deletes ps (one chunk) named on pfctl's command line. What pf says it
// changed is not used: Apply reports what it planned against the table it read.
func (b *Backend) tableArgs(ctx context.Context, verb string, ps []netip.Prefix) error {
	args := make([]string, 0, 6+len(ps))
	args = append(args, "-a", b.cfg.Anchor, "-t", b.cfg.Table, "-T", verb)
	for _, p := range ps {
		args = append(args, block.FormatPrefix(p))
	}
	what := fmt.Sprintf("%s %d addresses (%s … %s)", verb, len(ps), block.FormatPrefix(ps[0]), block.FormatPrefix(ps[len(ps)-1]))
	_, err := b.pfctl(ctx, what, args...)
	return err
}

// SetEnabled implements block.Backend. On, it makes sure the table exists and is persistent,
// loads the drop rule into the anchor and takes a pf enable reference unless it holds a live one.
// Off, it flushes the anchor's rules only (the table and its entries stay) and releases the
// reference it took.
func (b *Backend) SetEnabled(ctx context.Context, on bool) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if on {
		return b.enable(ctx)
	}
	return b.disable(ctx)
}

func (b *Backend) enable(ctx context.Context) error {
	main, err := b.pfctl(ctx, "read the main ruleset", "-s", "rules")
	if err != nil {
		return err
	}
	if !hasComAppleAnchor(main.Stdout) {
		return fmt.Errorf("pf backend: %w, so rules in %s would never apply; reload the stock /etc/pf.conf or add that anchor to yours", ErrNotEvaluated, b.cfg.Anchor)
	}
	exists, err := b.tableExists(ctx)
	if err != nil {
		return err
	}
	if !exists {
		// A rule referring to a missing table makes pf create a table that is not persistent,
		// which flushing the rules would destroy together with its entries.
		if _, err := b.pfctl(ctx, "create the table", "-a", b.cfg.Anchor, "-t", b.cfg.Table, "-T", "add"); err != nil {
			return err
		}
	}
	rules := fmt.Sprintf("# firewarden: drop everything from the addresses it blocks. Loaded by firewarden; do not edit.\nblock drop in quick from <%s> to any\n", b.cfg.Table)
	if err := b.writeFile(b.rulesFile(), rules); err != nil {
		return err
	}
	if _, err := b.pfctl(ctx, "load the anchor's rules", "-a", b.cfg.Anchor, "-f", b.rulesFile()); err != nil {
		return err
	}
	if tok, err := b.readToken(); err != nil {
		return err
	} else if tok != "" {
		running, err := b.running(ctx)
		if err != nil {
			return err
		}
		if running {
			return nil // our reference is still held: pf stops only when every reference is released
		}
		// pf is off, so every token was invalidated (pfctl -d) or released: ours is stale.
	}
	res, err := b.pfctl(ctx, "enable pf", "-E")
	if err != nil {
		return err
	}
	tok, ok := parseToken(append(slices.Clone(res.Stdout), res.Stderr...))
	if !ok {
		return fmt.Errorf("pf backend: %s printed no token (\"Token : N\"); pf is enabled without a reference firewarden can release: %q",
			host.QuoteArgv(res.Argv), trimBanner(string(res.Stderr)))
	}
	return b.writeFile(b.tokenFile(), tok+"\n")
}

func (b *Backend) disable(ctx context.Context) error {
	if _, err := b.pfctl(ctx, "flush the anchor's rules", "-a", b.cfg.Anchor, "-F", "rules"); err != nil {
		return err
	}
	tok, err := b.readToken()
	if err != nil || tok == "" {
		return err
	}
	if _, xerr := b.pfctl(ctx, "release the pf enable reference", "-X", tok); xerr != nil {
		running, err := b.running(ctx)
		if err != nil || running {
			return fmt.Errorf("%w (token kept in %s)", xerr, b.tokenFile())
		}
		// pf is off: the token was invalidated (pfctl -d) and there is nothing to release.
	}
	d, err := b.stateDir()
	if err != nil {
		return err
	}
	if err := d.Remove(path.Base(b.tokenFile())); err != nil {
		return fmt.Errorf("pf backend: forget the released token: %w", err)
	}
	return nil
}

// Status implements block.Backend. Enabled means the drop rule is loaded and pf is running.
func (b *Backend) Status(ctx context.Context) (block.Status, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var st block.Status
	res, err := b.pfctl(ctx, "read the anchor's rules", "-a", b.cfg.Anchor, "-s", "rules")
	if err != nil {
		return st, err
	}
	running, err := b.running(ctx)
	if err != nil {
		return st, err
	}
	st.Enabled = running && hasDropRule(res.Stdout, b.cfg.Table)
	held, err := b.read(ctx)
	if err != nil {
		return st, err
	}
	b.cached = held
	st.Entries = len(held)
	return st, nil
}

// Token is the pf enable reference the Backend holds, "" when none.
func (b *Backend) Token() (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.readToken()
}

func (b *Backend) running(ctx context.Context) (bool, error) {
	res, err := b.pfctl(ctx, "read pf status", "-s", "info")
	if err != nil {
		return false, err
	}
	running, ok := parseRunning(res.Stdout)
	if !ok {
		return false, fmt.Errorf("pf backend: %s printed no \"Status:\" line", host.QuoteArgv(res.Argv))
	}
	return running, nil
}

func (b *Backend) readToken() (string, error) {
	d, err := b.stateDir()
	if err != nil {
		return "", err
	}
	data, err := d.ReadFile(path.Base(b.tokenFile()))
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("pf backend: read the enable token: %w", err)
	}
	tok := strings.TrimSpace(string(data))
	if _, err := strconv.ParseUint(tok, 10, 64); err != nil {
		return "", fmt.Errorf("pf backend: %s holds %q, not a pf enable token", b.tokenFile(), tok)
	}
	return tok, nil
}

// writeFile writes one of the Backend's files atomically (statedir: an exclusively created
// temporary file under a random name, fsync, rename), refusing a link or FIFO planted at its name.
func (b *Backend) writeFile(sys, content string) error {
	d, err := b.stateDir()
	if err != nil {
		return err
	}
	if err := d.WriteFile(path.Base(sys), []byte(content)); err != nil {
		return fmt.Errorf("pf backend: %w", err)
	}
	return nil
}

// stateDir opens (creating and checking) the state directory once; b.mu is held.
func (b *Backend) stateDir() (*statedir.Dir, error) {
	if b.dir == nil {
		d, err := statedir.Open(b.cfg.Root.Path(b.cfg.StateDir))
		if err != nil {
			return nil, fmt.Errorf("pf backend: %w", err)
		}
		b.dir = d
	}
	return b.dir, nil
}

// pfctl runs pfctl with args. A non-zero exit comes back as *host.ExitError with macOS's ALTQ
// banner trimmed from its stderr, wrapped with what the run was for.
func (b *Backend) pfctl(ctx context.Context, what string, args ...string) (host.Result, error) {
	res, err := b.cfg.Runner.Run(ctx, host.Cmd{Path: PfctlPath, Args: args})
	if err == nil {
		return res, nil
	}
	var ee *host.ExitError
	if errors.As(err, &ee) {
		err = &host.ExitError{Argv: ee.Argv, Code: ee.Code, Stderr: trimBanner(ee.Stderr)}
	}
	return res, fmt.Errorf("pf backend: %s: %w", what, err)
}

var _ block.Backend = (*Backend)(nil)
