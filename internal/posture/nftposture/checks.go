package nftposture

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/firewarden/firewarden/internal/host"
	"github.com/firewarden/firewarden/internal/posture"
	"github.com/firewarden/firewarden/internal/posture/baseline"
	"github.com/firewarden/firewarden/internal/posture/nftposture/fwtable"
	"github.com/firewarden/firewarden/internal/posture/nftposture/ruleset"
)

// expected says what the baseline wants of check id, readably.
func expected(req posture.Request, id string) string {
	f := req.Baseline.Linux.Firewall
	switch id {
	case IDEnabled:
		if !*f.Enabled {
			return "not required"
		}
		return "unmatched inbound dropped or rejected (IPv4 and IPv6, TCP and UDP)"
	case IDStealth:
		ping := "ping not answered"
		if echoAllowed(f) {
			ping = "ping may be answered"
		}
		if !*f.Stealth {
			return "unmatched inbound rejected (stealth off)"
		}
		return "unmatched inbound dropped, not rejected; " + ping
	case IDLogging:
		if !*f.Logging {
			return "not required"
		}
		return "unmatched inbound drops logged, rate-limited"
	case IDAllowed:
		if len(f.Allowed) == 0 {
			return "nothing open"
		}
		ss := make([]string, len(f.Allowed))
		for i, s := range f.Allowed {
			ss[i] = s.String()
		}
		return "only " + strings.Join(ss, "; ")
	}
	return ""
}

func echoAllowed(f baseline.LinuxFirewall) bool { return f.ICMPEcho != nil && *f.ICMPEcho }

// controls are the benchmark items and 800-53r5 controls a check maps to on a host running osinfo.
//
// "Ensure nftables default deny firewall policy" is 4.2.8 in CIS Ubuntu Linux 22.04 LTS v2.0.0,
// mapped to 800-53 CA-9, SC-7, SC-7(5): https://tenable.com/audits/items/CIS_Ubuntu_Linux_22.04_LTS_v2.0.0_L1_Server.audit:eb455413124f0b50629ce279b901bc46
// (3.5.2.8 in the v1.x numbering, https://moisesmsf.github.io/hdcb/3-Network-Configuration/3.5-Firewall-Configuration/3.5.2-Configure-nftables/3.5.2.8-Ensure-nftables-default-deny-firewall-policy),
// and 4.3.8 in CIS Debian Linux 12 v1.1.0 and CIS Ubuntu Linux 24.04 LTS v1.0.0, where section 4.2
// is ufw and 4.3 nftables: https://github.com/ansible-lockdown/DEBIAN12-CIS/blob/main/defaults/main.yml
// (benchmark_version 1.1.0; tasks/section_4/cis_4.3.x.yml) and
// https://github.com/ansible-lockdown/UBUNTU24-CIS/blob/main/tasks/section_4/cis_4.3.x.yml, which tags
// 4.3.8 NIST800-53R5_CA-9 and SC-7. Other systems get the Ubuntu 22.04 number, named as such. No
// CIS nftables item covers logging or the open-port list. 800-53r5: SC-7 boundary protection,
// SC-7(5) deny by default, CM-7(1) least functionality (ports and services), AU-12 audit record
// generation.
func controls(id string, osinfo host.OS) []string {
	switch id {
	case IDEnabled:
		return []string{defaultDenyItem(osinfo), "800-53r5 CA-9", "800-53r5 SC-7", "800-53r5 SC-7(5)"}
	case IDStealth:
		return []string{defaultDenyItem(osinfo), "800-53r5 SC-7", "800-53r5 SC-7(5)", "800-53r5 CM-7"}
	case IDLogging:
		return []string{"800-53r5 AU-12", "800-53r5 SC-7"}
	case IDAllowed:
		return []string{"800-53r5 CM-7", "800-53r5 CM-7(1)", "800-53r5 SC-7(5)"}
	}
	return nil
}

// defaultDenyItem is the CIS item "Ensure nftables default deny firewall policy" in the
// benchmark of the host's release (see controls for the sources).
func defaultDenyItem(osinfo host.OS) string {
	name := strings.ToLower(osinfo.Name)
	switch {
	case osinfo.Kind != host.Linux:
	case strings.HasPrefix(name, "debian") && osinfo.Major == 12:
		return "CIS Debian 12 4.3.8"
	case strings.HasPrefix(name, "ubuntu") && osinfo.Major == 24 && osinfo.Minor == 4:
		return "CIS Ubuntu 24.04 4.3.8"
	}
	return "CIS Ubuntu 22.04 4.2.8"
}

// named is one kind of unmatched inbound packet and what happens to it.
type named struct {
	name    string // "ipv4 tcp"
	outcome ruleset.Outcome
}

// unmatched lists the unmatched TCP and UDP outcomes of both families.
func unmatched(a ruleset.Analysis) []named {
	var out []named
	for _, f := range a.Families {
		out = append(out, named{f.Family + " tcp", f.Unmatched}, named{f.Family + " udp", f.UnmatchedUDP})
	}
	return out
}

// by names the rule or policy that decided: "policy of inet filter input, owner ufw".
func by(w ruleset.Where) string {
	if w.Table == "" {
		return "no table filters the input hook"
	}
	s := fmt.Sprintf("rule %s %s %s handle %d", w.Family, w.Table, w.Chain, w.Handle)
	if w.Handle == 0 {
		s = fmt.Sprintf("policy of %s %s %s", w.Family, w.Table, w.Chain)
	}
	if w.Owner != "" {
		s += ", owner " + w.Owner
	}
	return s
}

// summarise groups the outcomes by their phrase: "drop (policy of inet filter input, owner nft)"
// when all agree, else "drop (…) for ipv4 tcp, ipv4 udp; accept (…) for ipv6 tcp, ipv6 udp".
func summarise(ns []named, phrase func(ruleset.Outcome) string) string {
	var order []string
	who := map[string][]string{}
	for _, n := range ns {
		ph := phrase(n.outcome)
		if _, ok := who[ph]; !ok {
			order = append(order, ph)
		}
		who[ph] = append(who[ph], n.name)
	}
	if len(order) == 1 {
		return order[0]
	}
	parts := make([]string, len(order))
	for i, ph := range order {
		parts[i] = ph + " for " + strings.Join(who[ph], ", ")
	}
	return strings.Join(parts, "; ")
}

func verdictPhrase(o ruleset.Outcome) string {
	return fmt.Sprintf("%s (%s)", o.Verdict, by(o.By))
}

// judge evaluates one check over what was read.
func (p *Provider) judge(req posture.Request, id string, rd *reading) posture.Result {
	if rd.err != nil {
		r := readError(rd.err)
		r.Expected = expected(req, id)
		return r
	}
	f := req.Baseline.Linux.Firewall
	a := rd.analysis
	var r posture.Result
	var problems, notes []string
	switch id {
	case IDEnabled:
		r.Actual, problems = judgeEnabled(a)
		if !*f.Enabled {
			problems = nil
		}
		if *f.Enabled && len(problems) == 0 {
			problem, note := p.heldProblem(rd)
			p.unheld = problem
			if problem != "" {
				problems = append(problems, problem)
			}
			if note != "" {
				notes = append(notes, note)
			}
		}
		if *f.Enabled && len(problems) > 0 {
			if note := p.heldAway(a); note != "" {
				notes = append(notes, note)
			}
		}
	case IDStealth:
		r.Actual, problems = judgeStealth(a, *f.Stealth, echoAllowed(f))
	case IDLogging:
		r.Actual, problems = judgeLogging(a)
		if !*f.Logging {
			problems = nil
		}
	case IDAllowed:
		r.Actual, problems = judgeAllowed(a, f.Allowed, rd.keeps)
	}
	r.Expected = expected(req, id)
	var detail []string
	if len(problems) > 0 {
		detail = append(detail, strings.Join(problems, "; "))
	}
	detail = append(detail, notes...)
	if len(a.Notes) > 0 {
		var ns []string
		for _, n := range a.Notes {
			ns = append(ns, fmt.Sprintf("%s (%s)", n.What, n.Where))
		}
		detail = append(detail, "this verdict is conditional: the ruleset holds what firewarden does not model: "+strings.Join(ns, "; "))
	}
	if len(rd.legacy.notes) > 0 {
		detail = append(detail, "this verdict is conditional: "+strings.Join(rd.legacy.notes, "; "))
	}
	owner := rd.owners.manager
	switch {
	case owner != "" && takenOver(a):
		// fix --take-over put firewarden's table beside the other tool's: what these checks
		// judge is then firewarden's to hold (its drop comes first, at filter - 1), not the
		// other tool's, so they are not "managed"; fix rewrites only firewarden's table.
		detail = append(detail, rd.owners.why+", and firewarden's table inet "+fwtable.Table+" stands beside it (fix --take-over): these checks are firewarden's, and fix changes only its own table")
		if len(problems) == 0 {
			r.Status = posture.Pass
		} else {
			r.Status, r.Fixable = posture.Fail, true
		}
	case owner != "":
		// Another tool's firewall, as a configuration profile on a Mac: compliant is managed;
		// failing is that tool's to change, or firewarden's own table's with --take-over.
		r.Managed = true
		detail = append(detail, rd.owners.why)
		switch {
		case len(problems) == 0:
			r.Status = posture.Managed
		case p.opts.TakeOver:
			r.Status, r.Fixable = posture.Fail, true
			detail = append(detail, "--take-over: firewarden writes its own table beside it")
		default:
			r.Status = posture.Fail
			r.FixHint = fmt.Sprintf("%s owns this host's firewall: change it with %s (%s), or let firewarden add its own table beside it with `firewarden fix --take-over`", owner, owner, hints[owner][id])
			detail = append(detail, "fix with "+owner+" or `firewarden fix --take-over`")
		}
	case len(problems) == 0:
		r.Status = posture.Pass
	default:
		r.Status, r.Fixable = posture.Fail, true
	}
	if r.Fixable && rd.suspended != "" {
		r.Fixable, r.FixHint = false, rd.suspended
		detail = append(detail, rd.suspended)
	}
	r.Detail = strings.Join(detail, "; ")
	return r
}

// takenOver reports whether firewarden's posture table is in the ruleset: beside another tool's
// tables, only fix --take-over puts it there.
func takenOver(a ruleset.Analysis) bool {
	return slices.ContainsFunc(a.Tables, func(t ruleset.Table) bool {
		return t.Family == "inet" && t.Name == fwtable.Table
	})
}

// notHeld starts what linux.firewall.enabled says of a table that a reboot would lose.
const notHeld = "firewarden's table is not restored at boot: "

// heldProblem says, when firewarden's table is what drops unmatched inbound traffic, why a
// reboot would lose it (a problem: the check fails), or, where firewarden cannot tell, how it
// comes back (a note).
//
// A fail, not a pass with a note: a firewall that is gone after the next reboot is not the
// firewall the baseline promised, and CIS scores it as an item of its own, "Ensure nftables
// rules are permanent" (4.3.10 in CIS Debian Linux 12 v1.1.0, level 1:
// https://github.com/ansible-lockdown/DEBIAN12-CIS/blob/main/tasks/section_4/cis_4.3.x.yml).
// That item is not added to the check's controls: the check judges permanence only where
// firewarden's own table decides, not the rules of nftables.service, ufw or firewalld. The
// fail is fixable (fix writes the table again, which holds it and installs the boot service),
// and a fix that waits for confirmation passes with a note until `fix --confirm` holds it.
func (p *Provider) heldProblem(rd *reading) (problem, note string) {
	if p.opts.Persistence == nil || !decides(rd.analysis) {
		return "", ""
	}
	ps := p.opts.Persistence()
	switch {
	case ps.Pending:
		return "", "firewarden's table waits for confirmation: `firewarden fix --confirm` holds it for boot"
	case ps.Err != nil:
		return notHeld + ps.Err.Error(), ""
	case ps.Held == nil:
		return notHeld + "nothing is held in " + ps.Path + " (`firewarden fix` holds it)", ""
	}
	cur, err := p.kernel.Take()
	if err != nil {
		return notHeld + "compare it with the held table: " + err.Error(), ""
	}
	same, err := p.kernel.Same(ps.Held.Table, cur)
	switch {
	case err != nil:
		return notHeld + "compare it with the held table: " + err.Error(), ""
	case !same:
		return notHeld + fmt.Sprintf("the table held in %s (%s, %s) is another one: it changed since (`firewarden fix` holds the table the baseline asks for)",
			ps.Path, ps.Held.By, ps.Held.At.Format(time.RFC3339)), ""
	case ps.Boot != "":
		return notHeld + ps.Boot, ""
	}
	return "", ps.Note
}

// heldAway says how to get firewarden's table back when one is held but the kernel has none
// (after a reboot the boot service did not run, or a flush): "" otherwise.
func (p *Provider) heldAway(a ruleset.Analysis) string {
	if p.opts.Persistence == nil || takenOver(a) {
		return ""
	}
	ps := p.opts.Persistence()
	if ps.Held == nil {
		return ""
	}
	return fmt.Sprintf("firewarden holds a table in %s (%s, %s) that the kernel does not have: `sudo firewarden fix --boot` puts it back",
		ps.Path, ps.Held.By, ps.Held.At.Format(time.RFC3339))
}

// decides reports whether firewarden's table is what drops (or rejects) some unmatched inbound
// traffic.
func decides(a ruleset.Analysis) bool {
	for _, n := range unmatched(a) {
		if n.outcome.Verdict != ruleset.Accept && n.outcome.By.Family == "inet" && n.outcome.By.Table == fwtable.Table {
			return true
		}
	}
	return false
}

// hints say how to change what a check judges with the tool that owns the firewall, per check.
// ufw answers ping and opens the DHCP client ports from its before.rules and before6.rules,
// which no ufw command changes (ufw 0.36, Debian 12).
var hints = map[string]map[string]string{
	"ufw": {
		IDEnabled: "ufw default deny incoming",
		IDStealth: "ufw default deny incoming, not reject; ping is answered by the echo-request ACCEPT lines of /etc/ufw/before.rules and before6.rules: delete them, or allow ping in the baseline with icmp_echo: true",
		IDLogging: "ufw logging on",
		IDAllowed: "ufw status numbered, ufw delete N, ufw allow PORT/PROTO; ufw's before.rules open 68/udp and before6.rules 546/udp (DHCP clients): list them in the baseline or delete those lines",
	},
	"firewalld": {
		IDEnabled: "firewall-cmd --set-default-zone=drop, with the services the baseline allows added by --permanent --add-service, then firewall-cmd --reload",
		IDStealth: "firewall-cmd --permanent --set-target=DROP (not REJECT) and --add-icmp-block=echo-request, then firewall-cmd --reload",
		IDLogging: "firewall-cmd --set-log-denied=all",
		IDAllowed: "firewall-cmd --list-all, then --permanent --remove-service or --remove-port, and firewall-cmd --reload",
	},
}

func judgeEnabled(a ruleset.Analysis) (string, []string) {
	if !a.Filtering {
		return "accept (no table filters the input hook)", []string{"no nftables chain filters inbound traffic: every port that listens is reachable"}
	}
	ns := unmatched(a)
	var problems problemList
	for _, n := range ns {
		if n.outcome.Verdict == ruleset.Accept {
			problems.add("unmatched inbound ", n.name, fmt.Sprintf(" is accepted (%s)", by(n.outcome.By)))
		}
	}
	return summarise(ns, verdictPhrase), problems.list()
}

func judgeStealth(a ruleset.Analysis, stealth, echo bool) (string, []string) {
	ns := unmatched(a)
	var problems problemList
	for _, n := range ns {
		v := n.outcome.Verdict
		switch {
		case stealth && v == ruleset.Reject:
			problems.add("unmatched inbound ", n.name, fmt.Sprintf(" is rejected (%s): the host answers and shows it is there", by(n.outcome.By)))
		case v == ruleset.Accept:
			problems.add("unmatched inbound ", n.name, fmt.Sprintf(" is accepted (%s)", by(n.outcome.By)))
		case !stealth && v == ruleset.Drop:
			problems.add("unmatched inbound ", n.name, fmt.Sprintf(" is dropped (%s); the baseline asks for reject (stealth off)", by(n.outcome.By)))
		}
	}
	var pings []named
	for _, f := range a.Families {
		pings = append(pings, named{f.Family + " ping", f.Echo})
		if stealth && !echo && f.Echo.Verdict == ruleset.Accept {
			problems.add("ping is answered over ", f.Family, " ("+by(f.Echo.By)+")")
		}
	}
	if !a.Filtering {
		return "accept (no table filters the input hook)", problems.list()
	}
	return "unmatched " + summarise(ns, verdictPhrase) + "; ping " + summarise(pings, verdictPhrase), problems.list()
}

func judgeLogging(a ruleset.Analysis) (string, []string) {
	ns := unmatched(a)
	var problems problemList
	phrase := func(o ruleset.Outcome) string {
		switch {
		case o.Verdict == ruleset.Accept:
			return "nothing dropped"
		case !o.Logged:
			return "not logged"
		case !o.LogLimited:
			return "logged without a rate limit" + logAt(o)
		}
		return "logged, rate-limited" + logAt(o)
	}
	for _, n := range ns {
		o := n.outcome
		switch {
		case o.Verdict == ruleset.Accept:
			problems.add("unmatched inbound ", n.name, " is accepted, so no drop is logged")
		case !o.Logged:
			problems.add("unmatched inbound ", n.name, fmt.Sprintf(" is %s unlogged (%s)", past(o.Verdict), by(o.By)))
		case !o.LogLimited:
			problems.add("the log of unmatched inbound ", n.name, fmt.Sprintf(" has no rate limit%s: a flood fills the log", logAt(o)))
		}
	}
	if !a.Filtering {
		return "nothing dropped (no table filters the input hook)", problems.list()
	}
	return summarise(ns, phrase), problems.list()
}

func logAt(o ruleset.Outcome) string {
	if o.LogAt == nil {
		return ""
	}
	return " (" + by(*o.LogAt) + ")"
}

// judgeAllowed compares what is open with the baseline exactly: anything open beyond it fails,
// naming it and the rule that opens it; so does an allowed service that does not answer.
func judgeAllowed(a ruleset.Analysis, allowed []baseline.Service, keeps []fwtable.Keep) (string, []string) {
	if !a.Filtering {
		return "everything (no table filters the input hook)", []string{"no nftables chain filters inbound traffic: every port that listens is open from anywhere"}
	}
	var problems problemList
	var kept []string
	var open []string
	seen := map[string]bool{}
	for _, f := range a.Families {
		for _, o := range mergeOpen(f.Open) {
			if desc := openString(o); !seen[desc] {
				seen[desc] = true
				open = append(open, desc)
			}
		}
		for _, o := range f.Open {
			if k, ok := isKeep(o, keeps); ok {
				if d := fmt.Sprintf("%s from %s (%s)", portString(k.Proto, k.Port, k.Port), k.Source, k.Why); !slices.Contains(kept, d) {
					kept = append(kept, d)
				}
				continue
			}
			for _, gap := range uncovered(o, allowed, f.Family) {
				problems.add(gap+" is open beyond the baseline over ", f.Family, " ("+by(o.By)+")")
			}
		}
	}
	for _, s := range allowed {
		for _, f := range a.Families {
			if !familyWanted(s, f.Family) {
				continue
			}
			if !reachable(s, f) {
				problems.add(fmt.Sprintf("allowed %s does not answer over ", s), f.Family, fmt.Sprintf(": new connections are %s (%s)", past(unmatchedFor(s, f).Verdict), by(unmatchedFor(s, f).By)))
			}
		}
	}
	actual := "nothing open"
	if len(open) > 0 {
		actual = strings.Join(open, "; ")
	}
	out := problems.list()
	if len(out) > 0 && len(kept) > 0 {
		// Said only beside a failure: a passing check needs no footnote.
		out = append(out, "kept open by firewarden's table beyond the baseline, as warned at the fix: "+strings.Join(kept, "; "))
	}
	return actual, out
}

// mergeOpen joins, for the report, the entries of one family that open the same ports on the
// same interface to complementary sources (a kept session from 192.0.2.9 and the same port from
// "anywhere but 192.0.2.9"): together they are open from anywhere. The comparison with the
// baseline keeps working on the exact entries.
func mergeOpen(opens []ruleset.Open) []ruleset.Open {
	type key struct {
		proto    string
		from, to uint16
		iif      string
	}
	var out []ruleset.Open
	idx := map[key]int{}
	for _, o := range opens {
		k := key{o.Proto, o.From, o.To, o.IIF}
		i, ok := idx[k]
		if !ok {
			idx[k] = len(out)
			out = append(out, o)
			continue
		}
		if m, ok := union(out[i], o); ok {
			out[i] = m
		} else {
			out = append(out, o)
		}
	}
	return out
}

// union returns a and b as one entry when that entry says exactly what both do: either is from
// anywhere, or one is from anywhere but E and the other's sources cover E.
func union(a, b ruleset.Open) (ruleset.Open, bool) {
	anywhere := func(o ruleset.Open) bool { return o.Sources == nil && len(o.Except) == 0 }
	covers := func(but, o ruleset.Open) bool {
		return but.Sources == nil && len(but.Except) > 0 && o.Sources != nil && len(o.Except) == 0 && within(but.Except, o.Sources)
	}
	switch {
	case anywhere(a):
		return a, true
	case anywhere(b):
		return b, true
	case covers(a, b) || covers(b, a):
		m := a
		m.Sources, m.Except = nil, nil
		return m, true
	}
	return a, false
}

// isKeep reports whether o is the rule firewarden's table makes for a kept session.
func isKeep(o ruleset.Open, keeps []fwtable.Keep) (fwtable.Keep, bool) {
	if o.By.Table != fwtable.Table || o.By.Family != "inet" || o.From != o.To || len(o.Sources) != 1 || o.IIF != "" {
		return fwtable.Keep{}, false
	}
	for _, k := range keeps {
		if k.Proto == o.Proto && k.Port == o.From && k.Source.IsValid() && o.Sources[0] == netip.PrefixFrom(k.Source, k.Source.BitLen()) {
			return k, true
		}
	}
	return fwtable.Keep{}, false
}

// problemList gathers problems of the form prefix+subject+suffix and says those that differ only
// in their subject once: "unmatched inbound ipv4 tcp, ipv6 tcp is accepted (…)".
type problemList struct {
	order []string
	subj  map[string][]string
	parts map[string][2]string
}

func (p *problemList) add(prefix, subject, suffix string) {
	key := prefix + "\x00" + suffix
	if p.subj == nil {
		p.subj, p.parts = map[string][]string{}, map[string][2]string{}
	}
	if _, ok := p.subj[key]; !ok {
		p.order = append(p.order, key)
		p.parts[key] = [2]string{prefix, suffix}
	}
	if !slices.Contains(p.subj[key], subject) {
		p.subj[key] = append(p.subj[key], subject)
	}
}

func (p *problemList) list() []string {
	var out []string
	for _, k := range p.order {
		out = append(out, p.parts[k][0]+strings.Join(p.subj[k], ", ")+p.parts[k][1])
	}
	return out
}

// portString is "22/tcp" or "60000-61000/udp".
func portString(proto string, from, to uint16) string {
	p := strconv.Itoa(int(from))
	if to != from {
		p += "-" + strconv.Itoa(int(to))
	}
	return p + "/" + proto
}

// openString is "22/tcp from anywhere", "5432/tcp from 10.0.0.0/8 on eth1" or "22/tcp from
// anywhere but 192.0.2.9/32".
func openString(o ruleset.Open) string {
	return portString(o.Proto, o.From, o.To) + openFrom(o)
}

// openFrom is where an open range is reachable from. "Anywhere but" a ban set counts as
// anywhere in the comparisons with the baseline: banning some sources never opens more, and an
// allowed service behind the guard's ban set still answers.
func openFrom(o ruleset.Open) string {
	from := fromString(o.Sources, o.IIF)
	if o.Sources == nil && len(o.Except) > 0 {
		ps := make([]string, len(o.Except))
		for i, p := range o.Except {
			ps[i] = p.String()
		}
		but := " but " + strings.Join(ps, ", ")
		if len(ps) > 3 {
			but = fmt.Sprintf(" but %d prefixes", len(ps))
		}
		from = strings.Replace(from, " from anywhere", " from anywhere"+but, 1)
	}
	return from
}

func fromString(sources []netip.Prefix, iif string) string {
	s := " from anywhere"
	if len(sources) > 0 {
		ps := make([]string, len(sources))
		for i, p := range sources {
			ps[i] = p.String()
		}
		s = " from " + strings.Join(ps, ", ")
	}
	if iif != "" {
		s += " on " + iif
	}
	return s
}

// within reports whether every prefix of narrow lies inside a prefix of wide; nil is anywhere.
func within(narrow, wide []netip.Prefix) bool {
	if wide == nil {
		return true
	}
	if narrow == nil {
		return false
	}
	for _, n := range narrow {
		if !slices.ContainsFunc(wide, func(w netip.Prefix) bool { return w.Bits() <= n.Bits() && w.Contains(n.Addr()) }) {
			return false
		}
	}
	return true
}

// span is a port range.
type span struct{ from, to uint16 }

// subtract removes the spans cut from [from, to] and returns what is left, in order.
func subtract(from, to uint16, cut []span) []span {
	left := []span{{from, to}}
	for _, c := range cut {
		var next []span
		for _, l := range left {
			if c.to < l.from || c.from > l.to {
				next = append(next, l)
				continue
			}
			if c.from > l.from {
				next = append(next, span{l.from, c.from - 1})
			}
			if c.to < l.to {
				next = append(next, span{c.to + 1, l.to})
			}
		}
		left = next
	}
	return left
}

// uncovered describes the parts of an open range of family ("ipv4", "ipv6") no allowed
// service covers.
func uncovered(o ruleset.Open, allowed []baseline.Service, family string) []string {
	// Open from anywhere is anywhere of its family: a service allowed from 0.0.0.0/0 covers it
	// over IPv4 (firewarden's own table writes "ip saddr 0.0.0.0/0" for such a service).
	sources := o.Sources
	if sources == nil {
		sources = []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}
		if family == "ipv6" {
			sources = []netip.Prefix{netip.MustParsePrefix("::/0")}
		}
	}
	var cut []span
	var narrower []baseline.Service // same ports, but allowed from fewer sources
	for _, s := range allowed {
		if s.Proto != o.Proto {
			continue
		}
		if within(sources, s.Sources) {
			cut = append(cut, span{s.From, s.To})
		} else if s.From <= o.To && s.To >= o.From {
			narrower = append(narrower, s)
		}
	}
	var out []string
	for _, g := range subtract(o.From, o.To, cut) {
		// Split the gap where a service allows the same ports from fewer sources, so that each
		// part says why it is too much.
		var parts []span
		var why []string
		rest := []span{g}
		for _, s := range narrower {
			lo, hi := max(g.from, s.From), min(g.to, s.To)
			if lo > hi {
				continue
			}
			parts = append(parts, span{lo, hi})
			why = append(why, fmt.Sprintf(", wider than the baseline's %s", s))
			var next []span
			for _, r := range rest {
				next = append(next, subtract(r.from, r.to, []span{{lo, hi}})...)
			}
			rest = next
		}
		for _, r := range rest {
			parts = append(parts, r)
			why = append(why, "")
		}
		idx := make([]int, len(parts))
		for i := range idx {
			idx[i] = i
		}
		slices.SortFunc(idx, func(a, b int) int { return int(parts[a].from) - int(parts[b].from) })
		for _, i := range idx {
			out = append(out, portString(o.Proto, parts[i].from, parts[i].to)+openFrom(o)+why[i])
		}
	}
	return out
}

// familySources returns the service's sources of one family ("ipv4", "ipv6"); nil is anywhere.
func familySources(s baseline.Service, family string) []netip.Prefix {
	if s.Sources == nil {
		return nil
	}
	var out []netip.Prefix
	for _, p := range s.Sources {
		if p.Addr().Is4() == (family == "ipv4") {
			out = append(out, p)
		}
	}
	return out
}

// familyWanted reports whether the service is meant to be reachable over family.
func familyWanted(s baseline.Service, family string) bool {
	return s.Sources == nil || len(familySources(s, family)) > 0
}

// reachable reports whether every port of the service accepts new connections from every source
// the baseline names for it, over family.
func reachable(s baseline.Service, f ruleset.Family) bool {
	want := familySources(s, f.Family)
	var cut []span
	for _, o := range f.Open {
		if o.Proto == s.Proto && within(want, o.Sources) {
			cut = append(cut, span{o.From, o.To})
		}
	}
	return len(subtract(s.From, s.To, cut)) == 0
}

func unmatchedFor(s baseline.Service, f ruleset.Family) ruleset.Outcome {
	if s.Proto == "udp" {
		return f.UnmatchedUDP
	}
	return f.Unmatched
}

// past is "dropped", "rejected", "accepted".
func past(v ruleset.Verdict) string {
	switch v {
	case ruleset.Drop:
		return "dropped"
	case ruleset.Reject:
		return "rejected"
	case ruleset.Accept:
		return "accepted"
	}
	return string(v)
}
