package firewall

import (
	"fmt"
	"slices"
	"strings"

	"github.com/firewarden/firewarden/internal/exposure"
	"github.com/firewarden/firewarden/internal/posture/nftposture/ruleset"
)

// ReachLinux says whether the host's nftables ruleset, as the posture analysis reads it (a), lets
// a new inbound connection from another host reach l: allowed when the analysis lists l's
// protocol and port among the open services of its address family (IPv4 for an IPv4 or
// IPv4-mapped address; IPv6 for an IPv6 one; both for "::", which on Linux also takes IPv4
// unless the socket is IPv6-only, which /proc does not tell), blocked otherwise. The analysis
// lists those services exactly, so blocked means no rule accepts them; where the ruleset holds
// what the analysis does not model, every verdict carries a caveat.
func ReachLinux(a *ruleset.Analysis, l exposure.Listener) exposure.Reachability {
	if l.Scope == exposure.ScopeLoopback {
		return loopbackOnly()
	}
	r := reachLinux(a, l)
	if len(a.Notes) > 0 {
		var ns []string
		for _, n := range a.Notes {
			ns = append(ns, fmt.Sprintf("%s (%s)", n.What, n.Where))
		}
		r.Caveats = append(r.Caveats, "conditional: the nftables ruleset holds what firewarden does not model: "+strings.Join(ns, "; "))
	}
	return r
}

func reachLinux(a *ruleset.Analysis, l exposure.Listener) exposure.Reachability {
	if !a.Filtering {
		return exposure.Reachability{Verdict: exposure.FirewallAllowed, Why: "no nftables chain filters inbound traffic"}
	}
	addr := l.Addr.Addr()
	families := []string{"ipv6"}
	switch {
	case addr.Unmap().Is4():
		families = []string{"ipv4"}
	case addr.IsUnspecified():
		families = []string{"ipv4", "ipv6"}
	}
	port := l.Addr.Port()
	var open []string
	for _, f := range a.Families {
		if !slices.Contains(families, f.Family) {
			continue
		}
		for _, o := range f.Open {
			if o.Proto != l.Proto || port < o.From || port > o.To {
				continue
			}
			what := "from anywhere"
			switch {
			case len(o.Sources) > 0:
				what = "from " + joinPrefixes(o.Sources) + " only"
			case len(o.Except) > 0:
				what = "from anywhere but " + joinPrefixes(o.Except)
			}
			if o.IIF != "" {
				what += " on " + o.IIF
			}
			if len(families) > 1 {
				what = "over " + f.Family + " " + what
			}
			open = append(open, fmt.Sprintf("%s (%s)", what, o.By))
		}
	}
	if len(open) > 0 {
		return exposure.Reachability{Verdict: exposure.FirewallAllowed,
			Why: fmt.Sprintf("nftables accepts new %s connections to port %d %s", l.Proto, port, strings.Join(open, "; "))}
	}
	return exposure.Reachability{Verdict: exposure.FirewallBlocked,
		Why: fmt.Sprintf("no nftables rule accepts new %s connections to port %d over %s", l.Proto, port, strings.Join(families, " or "))}
}

// AddLinux fills every listener's Firewall from the nftables analysis a, or, when the ruleset
// could not be read (readErr), makes every verdict but loopback's unknown and adds a warning.
// legacy says what legacy iptables holds beside the ruleset (nftposture.LegacyNotes): every
// verdict from a is then conditional.
func AddLinux(a ruleset.Analysis, readErr error, legacy []string, rep *exposure.Report) {
	if readErr != nil {
		rep.Warnings = append(rep.Warnings, "the nftables ruleset could not be read ("+readErr.Error()+"), so every FIREWALL verdict is unknown; run it as root")
	}
	for i, l := range rep.Listeners {
		if l.Container != nil {
			// A published container port passes the forward hook after Docker's DNAT, not the
			// input hook the analysis reads: no verdict rather than a wrong one.
			continue
		}
		var r exposure.Reachability
		switch {
		case l.Scope == exposure.ScopeLoopback:
			r = loopbackOnly()
		case readErr != nil:
			r = exposure.Reachability{Verdict: exposure.FirewallUnknown, Why: "the nftables ruleset could not be read: " + readErr.Error()}
		default:
			r = ReachLinux(&a, l)
			if len(legacy) > 0 {
				r.Caveats = append(r.Caveats, "conditional: "+strings.Join(legacy, "; "))
			}
		}
		rep.Listeners[i].Firewall = &r
	}
}

func loopbackOnly() exposure.Reachability {
	return exposure.Reachability{Verdict: exposure.FirewallLoopbackOnly, Why: "bound to loopback: no other host can connect, whatever the firewall says"}
}

func joinPrefixes[T fmt.Stringer](ps []T) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ", ")
}
