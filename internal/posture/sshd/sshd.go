// Package sshd holds the Linux SSH daemon checks, linux.ssh.password_auth and
// linux.ssh.root_login. It is a posture.Provider.
//
// The verdict rests on `sshd -T`, sshd's own dump of its effective configuration after every
// Include and drop-in, never on a grep of sshd_config. sshd -T without -C shows the global
// values only, so the configuration files are also scanned (Scan) for Match blocks that set the
// same keys for some connections; the result names them with file:line.
//
// A fix writes one drop-in, /etc/ssh/sshd_config.d/00-firewarden.conf. sshd keeps the first value
// it reads for a keyword, and Debian's and Ubuntu's sshd_config Include sshd_config.d/*.conf at
// their top, where cloud-init writes 50-cloud-init.conf (with PasswordAuthentication yes on many
// images): the drop-in's name sorts before it. The file is written atomically without following
// links, validated with `sshd -t` (put back when sshd refuses it), verified with `sshd -T`, and
// the daemon reloaded with systemctl.
package sshd

import (
	"context"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"

	"github.com/firewarden/firewarden/internal/host"
	"github.com/firewarden/firewarden/internal/posture"
	"github.com/firewarden/firewarden/internal/posture/baseline"
)

// Check IDs, in report order.
const (
	PasswordAuth = "linux.ssh.password_auth"
	RootLogin    = "linux.ssh.root_login"
)

// System paths.
const (
	sshdPath   = "/usr/sbin/sshd"
	mainConfig = "/etc/ssh/sshd_config"
	// DropIn is the one file a fix writes (and the Key of its Change).
	DropIn    = "/etc/ssh/sshd_config.d/00-firewarden.conf"
	dropInDir = "/etc/ssh/sshd_config.d"
	// includeLine is the line sshd_config needs for DropIn to be read, as Debian ships it.
	includeLine = "Include /etc/ssh/sshd_config.d/*.conf"
)

// absent is the Change value of a drop-in that did not exist. Present contents are kept
// strconv.Quote'd (one line in fix and rollback tables, and exact), so a quoted value can never
// be mistaken for it.
const absent = "absent"

// absentDir is absent where sshd_config.d did not exist either (RHEL 8 ships none): a rollback
// removes the directory the fix made, when nothing else is in it.
const absentDir = "absent, and so was /etc/ssh/sshd_config.d"

// header starts every drop-in firewarden writes; Apply verifies with sshd -T only such content.
const header = "# Written by firewarden fix for linux.ssh.* (rollback restores the previous file).\n"

// Provider evaluates and fixes the SSH daemon checks. It serves one run and is not safe for
// concurrent use: it keeps one sshd -T reading for both checks and Plan, and drops it on Apply.
type Provider struct {
	root host.Root
	os   host.OS
	run  host.Runner

	read  *reading
	notes []string // what Apply could not do (reload the daemon), shown in later Details
}

// reading is one look at the daemon: sshd -T and a scan of the configuration files.
type reading struct {
	installed bool
	failure   string // non-empty: sshd -T could not be run or understood
	eff       Effective
	scan      Scanned
	evidence  []posture.Evidence
}

// New returns a Provider reading the host at root, described by osinfo, running programs through
// run.
func New(root host.Root, osinfo host.OS, run host.Runner) *Provider {
	return &Provider{root: root, os: osinfo, run: run}
}

// IDs implements posture.Provider.
func (p *Provider) IDs() []string { return []string{PasswordAuth, RootLogin} }

// look returns the reading of this run, taking it on first use.
func (p *Provider) look(ctx context.Context) *reading {
	if p.read == nil {
		p.read = p.readNow(ctx)
	}
	return p.read
}

// readNow runs sshd -T and scans the configuration files.
func (p *Provider) readNow(ctx context.Context) *reading {
	rd := &reading{}
	if !p.root.Exists(sshdPath) {
		return rd
	}
	rd.installed = true
	cmd := host.Cmd{Path: sshdPath, Args: []string{"-T"}}
	res, err := p.run.Run(ctx, cmd)
	if len(res.Argv) == 0 {
		res.Argv = cmd.Argv()
	}
	rd.evidence = append(rd.evidence, posture.ExecEvidence(res))
	rd.scan = Scan(p.root, mainConfig)
	for _, f := range rd.scan.Files {
		rd.evidence = append(rd.evidence, posture.FileEvidence(f.Path, f.Data, f.Err))
	}
	switch {
	case err != nil:
		_, unit := p.systemd()
		rd.failure = fmt.Sprintf("%v; %s", err, failureHint(string(res.Stderr), unit))
	case res.Truncated:
		rd.failure = fmt.Sprintf("%s printed more than the output cap; its configuration dump was not read", cmd)
	default:
		eff, perr := ParseEffective(res.Stdout)
		if perr != nil {
			rd.failure = perr.Error()
		}
		rd.eff = eff
	}
	return rd
}

// failureHint says what to do about a failed sshd -T, from what sshd printed on stderr (OpenSSH
// 9.2's wording). The status stays error whatever the hint: it only names the way out.
// unit is the SSH service's systemd unit ("" when none was found).
func failureHint(stderr, unit string) string {
	const privsep = "Missing privilege separation directory: "
	if _, dir, ok := strings.Cut(stderr, privsep); ok {
		dir, _, _ = strings.Cut(dir, "\n")
		dir = strings.TrimSpace(dir)
		// sshd checks this directory only when run as root, and ssh.service creates it
		// (RuntimeDirectory=sshd) when it starts: its absence means the daemon is not running.
		start := "start the SSH service"
		if unit != "" {
			start += " (systemctl start " + strings.TrimSuffix(unit, ".service") + ")"
		}
		return fmt.Sprintf("sshd is not running, and as root sshd -T refuses to run without %s, which the SSH service creates when it starts: %s, or create the directory (mkdir -m 0755 %s), then check again", clip(dir), start, clip(dir))
	}
	if strings.Contains(stderr, "no hostkeys available") {
		return "sshd -T reads the host keys, which only root can: run firewarden as root (sudo firewarden check); if root gets this too, the host has no host keys (ssh-keygen -A makes them)"
	}
	return "sshd -T needs root, the host keys (ssh-keygen -A makes missing ones) and a configuration sshd accepts: run firewarden as root, or run `sshd -T` yourself to see what it lacks"
}

// Evaluate implements posture.Provider: one Result per SSH check the baseline names and the
// request selects. Not applicable on anything but Linux and where no SSH server is installed.
func (p *Provider) Evaluate(ctx context.Context, req posture.Request) []posture.Result {
	if req.Baseline == nil {
		return nil
	}
	want := req.Baseline.Linux.SSH
	var out []posture.Result
	for _, id := range p.IDs() {
		if !req.Wants(id) || (id == PasswordAuth && want.PasswordAuth == nil) || (id == RootLogin && want.RootLogin == "") {
			continue
		}
		r := posture.Result{ID: id, Source: "sshd -T", Controls: p.controls(id, want), Fixable: true}
		switch id {
		case PasswordAuth:
			r.Title = "SSH password authentication"
			r.Expected = onOff(*want.PasswordAuth)
			r.FixHint = "set PasswordAuthentication no and KbdInteractiveAuthentication no at the top of " + mainConfig + " or in " + DropIn
		case RootLogin:
			r.Title = "SSH root login"
			r.Expected = want.RootLogin
			if want.RootLogin != "no" {
				r.Expected = want.RootLogin + " or stricter"
			}
			r.FixHint = "set PermitRootLogin " + want.RootLogin + " at the top of " + mainConfig + " or in " + DropIn
		}
		p.judge(ctx, &r, want)
		req.Exempt(&r)
		out = append(out, r)
	}
	return out
}

// judge fills in the status, actual value and detail of r.
func (p *Provider) judge(ctx context.Context, r *posture.Result, want baseline.LinuxSSH) {
	if p.os.Kind != host.Linux {
		r.Status, r.Actual, r.Source, r.Fixable, r.FixHint = posture.NotApplicable, "-", "-", false, ""
		r.Detail = "applies to Linux only; this host runs " + p.os.String()
		return
	}
	rd := p.look(ctx)
	if !rd.installed {
		r.Status, r.Actual, r.Fixable, r.FixHint = posture.NotApplicable, "not installed", false, ""
		r.Source = sshdPath
		r.Detail = "no SSH server is installed (" + sshdPath + " is absent)"
		return
	}
	r.Evidence = rd.evidence
	if rd.failure != "" {
		r.Status, r.Actual, r.Fixable = posture.Error, "unknown", false
		r.Detail = rd.failure
		return
	}
	var details []string
	var keys []string // watched keys whose Match blocks matter to this check
	switch r.ID {
	case PasswordAuth:
		var ways []string
		for _, w := range passwordWays(rd.eff) {
			ways = append(ways, w.String(rd.scan))
		}
		// AuthenticationMethods lists the method sequences a login must complete; sshd refuses
		// a method no sequence names before it looks at the password.
		switch am, _ := rd.eff.Get("authenticationmethods"); {
		case am == "" || am == "any" || len(ways) == 0:
		case !offersPassword(am):
			details = append(details, fmt.Sprintf("AuthenticationMethods %s offers no password method, so %s is never used", am, strings.Join(ways, " and ")))
			ways = nil
		default:
			details = append(details, fmt.Sprintf("AuthenticationMethods %s: a password is asked only within these sequences", am))
		}
		if v, _ := rd.eff.Get("permitemptypasswords"); v == "yes" && len(ways) > 0 {
			details = append(details, "PermitEmptyPasswords yes: an account with an empty password logs in without one (CIS 5.1.19 wants no; "+setAt(rd.scan, "permitemptypasswords")+")")
		}
		r.Actual = onOff(len(ways) > 0)
		switch {
		case *want.PasswordAuth || len(ways) == 0:
			r.Status = posture.Pass
		default:
			r.Status = posture.Fail
		}
		if len(ways) > 0 {
			details = append([]string{"passwords can be tried: " + strings.Join(ways, "; ")}, details...)
		}
		keys = []string{"passwordauthentication", "kbdinteractiveauthentication", "challengeresponseauthentication", "authenticationmethods"}
	case RootLogin:
		v, ok := rd.eff.Get("permitrootlogin")
		if !ok {
			r.Status, r.Actual, r.Fixable = posture.Error, "unknown", false
			r.Detail = "sshd -T printed no permitrootlogin line; this sshd is not one firewarden knows"
			return
		}
		found := normalRootLogin(v)
		r.Actual = found
		rank := slices.Index(baseline.RootLoginValues(), found)
		if rank < 0 {
			r.Status, r.Fixable = posture.Error, false
			r.Detail = fmt.Sprintf("sshd -T printed permitrootlogin %q, which is not a value firewarden knows (%s)", v, strings.Join(baseline.RootLoginValues(), ", "))
			return
		}
		r.Status = posture.Pass
		if rank > slices.Index(baseline.RootLoginValues(), want.RootLogin) {
			r.Status = posture.Fail
			details = append(details, "PermitRootLogin "+found+" is looser than the baseline's "+want.RootLogin+" ("+setAt(rd.scan, "permitrootlogin")+")")
		}
		keys = []string{"permitrootlogin"}
	}
	var cond []string
	for _, c := range rd.scan.Conditional {
		if slices.Contains(keys, strings.ToLower(c.Key)) {
			cond = append(cond, fmt.Sprintf("%s (Match %s) %s %s", c.Where(), c.Match, c.Key, c.Value))
		}
	}
	if len(cond) > 0 {
		details = append(details, "the verdict is for connections no Match block applies to (sshd -T shows the global values); Match blocks set: "+strings.Join(cond, ", "))
	}
	if len(rd.scan.Problems) > 0 {
		details = append(details, "configuration not read, so Match blocks there are unknown: "+strings.Join(rd.scan.Problems, "; "))
	}
	if len(p.notes) > 0 {
		// fix prints only the table of results afterwards: say it where it is seen.
		r.Actual += " (restart sshd)"
		details = append(details, p.notes...)
	}
	r.Detail = strings.Join(details, "; ")
}

// way is one setting that lets passwords in.
type way struct {
	key, name string // "passwordauthentication", "PasswordAuthentication"
	pam       bool   // through PAM's keyboard-interactive conversation
}

// String says the setting and where it is set.
func (w way) String(s Scanned) string {
	msg := w.name + " yes"
	if w.pam {
		msg += " with UsePAM yes (PAM asks for the password)"
	}
	return msg + " (" + setAt(s, w.key) + ")"
}

// setAt names the file:line whose global value of key sshd keeps (the first it reads), or says
// the value is sshd's default.
func setAt(s Scanned, key string) string {
	if g, ok := s.first(key); ok {
		return "set at " + g.Where()
	}
	return "sshd's default: no line sets it"
}

// passwordWays lists the settings through which a password can be tried: PasswordAuthentication,
// and keyboard-interactive authentication when PAM serves it (PAM's conversation asks for the
// password). sshd before 8.7 calls the latter ChallengeResponseAuthentication; 8.7 and later
// print kbdinteractiveauthentication only. Without UsePAM, keyboard-interactive on Linux has no
// device that asks for a password.
func passwordWays(e Effective) []way {
	var ways []way
	if v, _ := e.Get("passwordauthentication"); v == "yes" {
		ways = append(ways, way{key: "passwordauthentication", name: "PasswordAuthentication"})
	}
	if pam, _ := e.Get("usepam"); pam == "yes" {
		for _, w := range []way{
			{key: "kbdinteractiveauthentication", name: "KbdInteractiveAuthentication", pam: true},
			{key: "challengeresponseauthentication", name: "ChallengeResponseAuthentication", pam: true},
		} {
			if v, _ := e.Get(w.key); v == "yes" {
				ways = append(ways, w)
			}
		}
	}
	return ways
}

// offersPassword reports whether an AuthenticationMethods value (space-separated lists of
// comma-separated methods) names password or keyboard-interactive in any list. A device suffix
// ("keyboard-interactive:bsdauth") still counts: which devices ask for a password is not modelled,
// so the check errs towards fail.
func offersPassword(am string) bool {
	for _, list := range strings.Fields(am) {
		for _, m := range strings.Split(list, ",") {
			m, _, _ = strings.Cut(m, ":")
			if m == "password" || m == "keyboard-interactive" {
				return true
			}
		}
	}
	return false
}

// normalRootLogin maps sshd's spellings to the baseline's: sshd -T before 9.x and after print
// "without-password", the old name of prohibit-password.
func normalRootLogin(v string) string {
	v = strings.ToLower(strings.TrimSpace(v))
	if v == "without-password" {
		return "prohibit-password"
	}
	return v
}

func onOff(on bool) string {
	if on {
		return "on"
	}
	return "off"
}

// controls lists the benchmark items and 800-53r5 controls of a check.
//
// CIS: "Ensure sshd PermitRootLogin is disabled" is 5.1.20 in CIS Debian Linux 12 (v1.x), CIS
// Ubuntu Linux 22.04 LTS v2.0.0 and CIS Ubuntu Linux 24.04 LTS v1.0.0, and it requires
// PermitRootLogin no, so it is cited only when the baseline wants no. CIS does not require
// PasswordAuthentication no; its item on passwords is 5.1.19 "Ensure sshd PermitEmptyPasswords is
// disabled", which linux.ssh.password_auth off implies but does not test, so no CIS item is
// cited for it. Sources: https://github.com/ansible-lockdown/DEBIAN12-CIS/blob/main/tasks/section_5/cis_5.1.x.yml,
// https://github.com/ansible-lockdown/UBUNTU24-CIS-Audit/blob/main/section_5/cis_5.1/cis_5.1.20.yml
// (and cis_5.1.19.yml), the Ubuntu 22.04 2.0.0 item list in
// https://www.tenable.com/audits/items/CIS_Debian_Linux_11_v2.0.0_L1_Server.audit:c0dcccef65f0eb6a4c4ae4b585ad5226
// for the wording ("set it above any Include and Match entries").
//
// 800-53r5: the CIS item maps PermitRootLogin to AC-6 (least privilege); remote access is AC-17;
// who authenticates and how is IA-2 and IA-5 (authenticator management: no guessable password
// over the network).
func (p *Provider) controls(id string, want baseline.LinuxSSH) []string {
	switch id {
	case PasswordAuth:
		return []string{"800-53r5 AC-17", "800-53r5 IA-2", "800-53r5 IA-5"}
	case RootLogin:
		var out []string
		if want.RootLogin == "no" && p.cisOS() {
			out = append(out, "CIS 5.1.20")
		}
		return append(out, "800-53r5 AC-6", "800-53r5 AC-17", "800-53r5 IA-2")
	}
	return nil
}

// cisOS reports whether the host runs a release whose CIS benchmark numbers controls cites.
func (p *Provider) cisOS() bool {
	if p.os.Kind != host.Linux {
		return false
	}
	name := strings.ToLower(p.os.Name)
	switch {
	case strings.HasPrefix(name, "debian"):
		return p.os.Major == 12
	case strings.HasPrefix(name, "ubuntu"):
		return (p.os.Major == 22 || p.os.Major == 24) && p.os.Minor == 4
	}
	return false
}

// Plan implements posture.Provider. However many SSH checks fail, the plan is one Change: the
// drop-in's new content (From is its content now, or absent).
func (p *Provider) Plan(ctx context.Context, req posture.Request, failing []posture.Result) ([]posture.Change, error) {
	if req.Baseline == nil || len(failing) == 0 {
		return nil, nil
	}
	rd := p.look(ctx)
	if rd.failure != "" {
		return nil, fmt.Errorf("plan %s: %s", failing[0].ID, rd.failure)
	}
	prev, had, err := readDropIn(p.root)
	if err != nil {
		return nil, fmt.Errorf("plan %s: %w", failing[0].ID, err)
	}
	from := absent
	if !p.root.Exists(dropInDir) {
		from = absentDir
	}
	if had {
		from = strconv.Quote(string(prev))
	}
	return []posture.Change{{
		Check:    failing[0].ID,
		Key:      DropIn,
		From:     from,
		To:       strconv.Quote(dropInContent(req.Baseline.Linux.SSH, rd.eff, req.Wants, string(prev))),
		Commands: p.commands(),
	}}, nil
}

// Keywords each check writes to the drop-in (lower case).
var checkKeys = map[string][]string{
	PasswordAuth: {"passwordauthentication", "kbdinteractiveauthentication", "challengeresponseauthentication"},
	RootLogin:    {"permitrootlogin"},
}

// dropInContent is what the drop-in holds for baseline want, given the effective configuration
// now and the drop-in's previous content prev. A check that wants selects (--only) and the
// baseline holds strict writes its lines: password_auth off both names of keyboard-interactive
// this sshd knows, root_login a PermitRootLogin no looser than the baseline's and never looser
// than what is in force. Every other check keeps the lines prev had for its keys, so that a fix
// of one check never drops what an earlier fix wrote for another.
func dropInContent(want baseline.LinuxSSH, eff Effective, wants func(string) bool, prev string) string {
	var b strings.Builder
	b.WriteString(header)
	carry := func(id string) {
		for line := range strings.Lines(prev) {
			if key, _ := splitLine(line); key != "" && slices.Contains(checkKeys[id], strings.ToLower(key)) {
				b.WriteString(strings.TrimRight(line, "\r\n") + "\n")
			}
		}
	}
	if wants(PasswordAuth) && want.PasswordAuth != nil && !*want.PasswordAuth {
		b.WriteString("PasswordAuthentication no\n")
		kbd, cr := eff.Has("kbdinteractiveauthentication"), eff.Has("challengeresponseauthentication")
		if kbd || !cr {
			b.WriteString("KbdInteractiveAuthentication no\n")
		}
		if cr {
			b.WriteString("ChallengeResponseAuthentication no\n")
		}
	} else {
		carry(PasswordAuth)
	}
	if wants(RootLogin) && want.RootLogin != "" && want.RootLogin != "yes" {
		v := want.RootLogin
		if cur, ok := eff.Get("permitrootlogin"); ok {
			values := baseline.RootLoginValues()
			if c := slices.Index(values, normalRootLogin(cur)); c >= 0 && c < slices.Index(values, v) {
				v = values[c] // stricter already: keep it
			}
		}
		b.WriteString("PermitRootLogin " + v + "\n")
	} else {
		carry(RootLogin)
	}
	return b.String()
}

// commands lists what Apply runs after writing, for --dry-run.
func (p *Provider) commands() []host.Cmd {
	cmds := []host.Cmd{{Path: sshdPath, Args: []string{"-t"}}, {Path: sshdPath, Args: []string{"-T"}}}
	if ctl, unit := p.systemd(); ctl != "" && unit != "" {
		cmds = append(cmds, host.Cmd{Path: ctl, Args: []string{"reload", unit}})
	}
	return cmds
}

// Validate implements posture.Validator: the drop-in and a content that can be written.
func (p *Provider) Validate(c posture.Change) error {
	if c.Check != PasswordAuth && c.Check != RootLogin {
		return fmt.Errorf("%s is not an SSH daemon check", c.Check)
	}
	if c.Key != DropIn {
		return fmt.Errorf("%s: firewarden changes only %s", c.Key, DropIn)
	}
	_, _, _, err := decodeContent(c.To)
	return err
}

// Maximum drop-in content a change may carry.
const maxDropIn = 64 << 10

// decodeContent reads a Change value: absent (noDir: absentDir), or a quoted file content.
func decodeContent(v string) (content string, present, noDir bool, err error) {
	switch v {
	case absent:
		return "", false, false, nil
	case absentDir:
		return "", false, true, nil
	}
	s, err := strconv.Unquote(v)
	if err != nil {
		return "", false, false, fmt.Errorf("%s: the saved content %q is neither %q nor a quoted file content", DropIn, clip(v), absent)
	}
	if len(s) > maxDropIn || strings.ContainsRune(s, 0) {
		return "", false, false, fmt.Errorf("%s: the saved content is not an sshd configuration (over %d bytes or binary)", DropIn, maxDropIn)
	}
	return s, true, false, nil
}

// Apply implements posture.Provider; it serves fix and rollback alike. It writes (or, for
// absent, removes) the drop-in, has sshd -t validate the whole configuration and puts the
// previous file back when sshd refuses it, verifies with sshd -T that firewarden's own content is
// in force (a value read earlier wins in sshd), and reloads the daemon. A reload that cannot run
// does not fail the change: the file is right and the next start reads it; the later results say
// the running daemon needs a restart.
func (p *Provider) Apply(ctx context.Context, c posture.Change) ([]posture.Evidence, error) {
	if err := p.Validate(c); err != nil {
		return nil, fmt.Errorf("apply: %w", err)
	}
	if p.os.Kind != host.Linux {
		return nil, fmt.Errorf("apply %s: applies to Linux only; this host runs %s", c.Key, p.os)
	}
	if !p.root.Exists(sshdPath) {
		return nil, fmt.Errorf("apply %s: no SSH server is installed (%s is absent)", c.Key, sshdPath)
	}
	content, present, noDir, _ := decodeContent(c.To)
	prev, had, err := readDropIn(p.root)
	if err != nil {
		return nil, fmt.Errorf("apply %s: %w", c.Key, err)
	}
	p.read = nil // whatever happens, the next look reads again
	var ev []posture.Evidence
	dirExisted := p.root.Exists(dropInDir)
	restore := func() error {
		if had {
			return writeDropIn(p.root, prev)
		}
		if err := removeDropIn(p.root); err != nil {
			return err
		}
		if !dirExisted {
			// writeDropIn made the directory (RHEL 8 ships none): leave nothing behind.
			return removeEmptyDropInDir(p.root)
		}
		return nil
	}
	// Unchanged: the engine reverting a change that Apply already put back, or content in place
	// but not in force. Nothing is written and the daemon is not reloaded; sshd -t and sshd -T
	// still judge it.
	unchanged := present == had && content == string(prev)
	switch {
	case unchanged:
	case present:
		err = writeDropIn(p.root, []byte(content))
	default:
		if err = removeDropIn(p.root); err == nil && noDir {
			err = removeEmptyDropInDir(p.root)
		}
	}
	if err != nil {
		return ev, fmt.Errorf("apply %s: %w", c.Key, err)
	}
	if present {
		ev = append(ev, posture.FileEvidence(DropIn, []byte(content), nil))
	} else {
		ev = append(ev, posture.FileEvidence(DropIn, nil, fs.ErrNotExist))
	}

	test := host.Cmd{Path: sshdPath, Args: []string{"-t"}}
	res, err := p.run.Run(ctx, test)
	ev = append(ev, execEvidence(res, test))
	if err != nil {
		return ev, p.undo(restore, fmt.Sprintf("sshd -t refused the configuration with the new %s: %v", DropIn, err))
	}
	if present && strings.HasPrefix(content, header) {
		rd := p.readNow(ctx)
		ev = append(ev, rd.evidence...)
		if rd.failure != "" {
			return ev, p.undo(restore, "re-reading with sshd -T: "+rd.failure)
		}
		if msg := notInForce(content, rd); msg != "" {
			return ev, p.undo(restore, msg)
		}
	}
	if !unchanged {
		ev = append(ev, p.reload(ctx)...)
	}
	return ev, nil
}

// undo puts the previous drop-in back after a failed step and returns the step's error, saying
// whether the previous file is back.
func (p *Provider) undo(restore func() error, msg string) error {
	if err := restore(); err != nil {
		return fmt.Errorf("apply %s: %s; putting the previous file back failed too: %v", DropIn, msg, err)
	}
	return fmt.Errorf("apply %s: %s; the previous file is back", DropIn, msg)
}

// notInForce compares the drop-in's settings with what sshd -T prints and, where sshd still
// uses another value, says which line of which file to change.
func notInForce(content string, rd *reading) string {
	for line := range strings.Lines(content) {
		key, args := splitLine(line)
		if key == "" || len(args) == 0 {
			continue
		}
		lk := strings.ToLower(key)
		got, ok := rd.eff.Get(lk)
		if !ok {
			continue // a name this sshd prints under another keyword; sshd -t accepted it
		}
		wantV := strings.ToLower(args[0])
		if lk == "permitrootlogin" {
			got, wantV = normalRootLogin(got), normalRootLogin(wantV)
		}
		if got == wantV {
			continue
		}
		if !rd.scan.covers(DropIn) {
			return fmt.Sprintf("sshd does not read %s, so sshd -T still shows %s %s: %s has no Include of it; add the line `%s` at the top of %s, then run the fix again",
				DropIn, lk, got, mainConfig, includeLine, mainConfig)
		}
		if first, ok := rd.scan.first(key); ok && first.File != DropIn {
			return fmt.Sprintf("sshd -T still shows %s %s: sshd keeps the first value it reads, and %s sets %s %s before %s is read; delete that line, or move the `%s` line above it in %s, then run the fix again",
				lk, got, first.Where(), first.Key, first.Value, DropIn, includeLine, mainConfig)
		}
		return fmt.Sprintf("sshd -T still shows %s %s after %s was written with %s %s", lk, got, DropIn, key, args[0])
	}
	return ""
}

// execEvidence is ExecEvidence with the argv filled in where the Runner did not run the program.
func execEvidence(res host.Result, c host.Cmd) posture.Evidence {
	if len(res.Argv) == 0 {
		res.Argv = c.Argv()
	}
	return posture.ExecEvidence(res)
}

// Unit file directories, in systemd's order of precedence.
var unitDirs = []string{"/etc/systemd/system", "/run/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system"}

// systemd returns the systemctl path and the SSH daemon's unit under the root: ssh.service on
// Debian and Ubuntu (where sshd.service is only an alias), sshd.service on RHEL and its kin; ""
// for what is missing.
func (p *Provider) systemd() (ctl, unit string) {
	for _, c := range []string{"/usr/bin/systemctl", "/bin/systemctl"} {
		if p.root.Exists(c) {
			ctl = c
			break
		}
	}
	for _, u := range []string{"ssh.service", "sshd.service"} {
		for _, d := range unitDirs {
			if p.root.Exists(d + "/" + u) {
				return ctl, u
			}
		}
	}
	return ctl, ""
}

// reload asks systemd to reload the daemon. What it cannot do is remembered as a note for the
// results that follow, never an error: the configuration on disk is right either way.
func (p *Provider) reload(ctx context.Context) []posture.Evidence {
	ctl, unit := p.systemd()
	switch {
	case ctl == "":
		p.notes = append(p.notes, "the running sshd was not reloaded (no systemctl on this host): restart it for "+DropIn+" to take effect")
		return nil
	case unit == "":
		p.notes = append(p.notes, "the running sshd was not reloaded (no ssh.service or sshd.service unit): restart it for "+DropIn+" to take effect")
		return nil
	}
	cmd := host.Cmd{Path: ctl, Args: []string{"reload", unit}}
	res, err := p.run.Run(ctx, cmd)
	if err != nil {
		p.notes = append(p.notes, fmt.Sprintf("the running sshd was not reloaded (%v): restart it for %s to take effect", err, DropIn))
	}
	return []posture.Evidence{execEvidence(res, cmd)}
}

var (
	_ posture.Provider  = (*Provider)(nil)
	_ posture.Validator = (*Provider)(nil)
)
