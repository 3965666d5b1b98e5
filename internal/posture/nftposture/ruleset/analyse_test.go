package ruleset

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func short(w Where) string {
	if w.Chain == "" {
		return "-"
	}
	if w.Handle == 0 {
		return w.Table + "/" + w.Chain + "#policy"
	}
	return fmt.Sprintf("%s/%s#%d", w.Table, w.Chain, w.Handle)
}

func outcomeText(o Outcome) string {
	s := string(o.Verdict) + " by " + short(o.By)
	if o.Logged {
		s += " logged at " + short(*o.LogAt)
		if o.LogLimited {
			s += " limited"
		}
	}
	return s
}

// summary is the analysis in short lines, for readable comparisons.
func summary(a Analysis) []string {
	out := []string{fmt.Sprintf("filtering %v", a.Filtering)}
	for _, f := range a.Families {
		out = append(out,
			f.Family+" tcp "+outcomeText(f.Unmatched),
			f.Family+" udp "+outcomeText(f.UnmatchedUDP),
			f.Family+" echo "+outcomeText(f.Echo))
		for _, o := range f.Open {
			s := fmt.Sprintf("%s open %s %d-%d", f.Family, o.Proto, o.From, o.To)
			if o.Sources != nil {
				var ps []string
				for _, p := range o.Sources {
					ps = append(ps, p.String())
				}
				s += " from " + strings.Join(ps, ",")
			}
			if o.Except != nil {
				var ps []string
				for _, p := range o.Except {
					ps = append(ps, p.String())
				}
				s += " except " + strings.Join(ps, ",")
			}
			if o.IIF != "" {
				s += " iif " + o.IIF
			}
			out = append(out, s+" by "+short(o.By))
		}
	}
	for _, n := range a.Notes {
		out = append(out, "note "+short(n.Where)+": "+n.What)
	}
	return out
}

// only keeps the lines of a summary that start with one of the prefixes.
func only(lines []string, prefixes ...string) []string {
	var out []string
	for _, l := range lines {
		for _, p := range prefixes {
			if strings.HasPrefix(l, p) {
				out = append(out, l)
				break
			}
		}
	}
	return out
}

func TestAnalyse(t *testing.T) {
	established := ctStateIn(2 | 4)
	tests := []struct {
		name string
		rs   *Ruleset
		keep []string // summary line prefixes compared (all when nil)
		want []string
	}{
		{
			name: "no ruleset",
			rs:   &Ruleset{},
			want: []string{
				"filtering false",
				"ipv4 tcp accept by -", "ipv4 udp accept by -", "ipv4 echo accept by -",
				"ipv4 open tcp 0-65535 by -", "ipv4 open udp 0-65535 by -",
				"ipv6 tcp accept by -", "ipv6 udp accept by -", "ipv6 echo accept by -",
				"ipv6 open tcp 0-65535 by -", "ipv6 open udp 0-65535 by -",
			},
		},
		{
			name: "output chain only is not filtering",
			rs:   &Ruleset{Tables: []*TableDef{inet("t", base("output", "output", 0, "drop"))}},
			keep: []string{"filtering", "ipv4 tcp"},
			want: []string{"filtering false", "ipv4 tcp accept by -"},
		},
		{
			name: "default deny with ssh",
			rs: &Ruleset{Tables: []*TableDef{inet("filter", base("input", "input", 0, "drop",
				rule(1, established, accept()),
				rule(2, iifLo(), accept()),
				rule(3, tcpDport(22), accept()),
			))}},
			want: []string{
				"filtering true",
				"ipv4 tcp drop by filter/input#policy", "ipv4 udp drop by filter/input#policy", "ipv4 echo drop by filter/input#policy",
				"ipv4 open tcp 22-22 by filter/input#3",
				"ipv6 tcp drop by filter/input#policy", "ipv6 udp drop by filter/input#policy", "ipv6 echo drop by filter/input#policy",
				"ipv6 open tcp 22-22 by filter/input#3",
			},
		},
		{
			name: "reject at the end, echo allowed",
			rs: &Ruleset{Tables: []*TableDef{inet("filter", base("input", "input", 0, "accept",
				rule(1, icmpEcho(false), accept()),
				rule(2, udpDport(53), accept()),
				rule(3, reject(2)),
			))}},
			keep: []string{"ipv4"},
			want: []string{
				"ipv4 tcp reject by filter/input#3", "ipv4 udp reject by filter/input#3", "ipv4 echo accept by filter/input#1",
				"ipv4 open udp 53-53 by filter/input#2",
			},
		},
		{
			name: "jump and return",
			rs: &Ruleset{Tables: []*TableDef{inet("f",
				base("input", "input", 0, "drop",
					rule(1, jump("sub")),
					rule(2, tcpDport(80), accept()),
				),
				regular("sub",
					rule(3, tcpDport(80), ret()),
					rule(4, tcpDport(81), accept()),
					rule(5, l4(6), drop()),
				),
			)}},
			keep: []string{"ipv4"},
			want: []string{
				"ipv4 tcp drop by f/sub#5", "ipv4 udp drop by f/input#policy", "ipv4 echo drop by f/input#policy",
				"ipv4 open tcp 80-80 by f/input#2", "ipv4 open tcp 81-81 by f/sub#4",
			},
		},
		{
			name: "goto returns to the caller's caller",
			rs: &Ruleset{Tables: []*TableDef{inet("f",
				base("input", "input", 0, "drop",
					rule(1, gotoC("sub")),
					rule(2, accept()),
				),
				regular("sub", rule(3, tcpDport(22), accept())),
			)}},
			keep: []string{"ipv4 tcp", "ipv4 open"},
			want: []string{"ipv4 tcp drop by f/input#policy", "ipv4 open tcp 22-22 by f/sub#3"},
		},
		{
			name: "an accept goes on to the next base chain, which drops",
			rs: &Ruleset{Tables: []*TableDef{
				inet("first", base("input", "input", 0, "accept", rule(1, tcpDport(22), accept()), rule(2, tcpDport(23), accept()))),
				inet("second", base("input", "input", 10, "drop", rule(3, tcpDport(23), accept()))),
			}},
			keep: []string{"ipv4 tcp", "ipv4 open"},
			want: []string{"ipv4 tcp drop by second/input#policy", "ipv4 open tcp 23-23 by second/input#3"},
		},
		{
			name: "priority orders the chains, not the table order",
			rs: &Ruleset{Tables: []*TableDef{
				inet("late", base("input", "input", 100, "accept", rule(1, drop()))),
				inet("early", base("input", "input", -100, "accept", rule(2, tcpDport(22), reject(1)))),
			}},
			keep: []string{"ipv4 tcp", "ipv4 open"},
			want: []string{"ipv4 tcp drop by late/input#1"},
		},
		{
			name: "prerouting drop comes first",
			rs: &Ruleset{Tables: []*TableDef{
				inet("a", base("input", "input", 0, "accept", rule(1, tcpDport(22), accept()))),
				inet("b", base("pre", "prerouting", 0, "accept", rule(2, tcpDport(22), drop()))),
			}},
			keep: []string{"ipv4 open tcp"},
			want: []string{"ipv4 open tcp 0-21 by a/input#policy", "ipv4 open tcp 23-65535 by a/input#policy"},
		},
		{
			name: "sources are exact prefixes",
			rs: &Ruleset{Tables: []*TableDef{inet("f", base("input", "input", 0, "drop",
				rule(1, saddr("10.1.0.0/16"), drop()),
				rule(2, saddr("10.0.0.0/8"), tcpDport(22), accept()),
				rule(3, saddr("2001:db8::/33"), tcpDport(22), accept()),
			))}},
			keep: []string{"ipv4 open", "ipv6 open"},
			want: []string{
				"ipv4 open tcp 22-22 from 10.0.0.0/16,10.2.0.0/15,10.4.0.0/14,10.8.0.0/13,10.16.0.0/12,10.32.0.0/11,10.64.0.0/10,10.128.0.0/9 by f/input#2",
				"ipv6 open tcp 22-22 from 2001:db8::/33 by f/input#3",
			},
		},
		{
			name: "loopback sources are martians",
			rs: &Ruleset{Tables: []*TableDef{inet("f", base("input", "input", 0, "drop",
				rule(1, saddr("127.0.0.0/8"), drop()),
				rule(2, tcpDport(22), accept()),
			))}},
			keep: []string{"ipv4 open"},
			want: []string{"ipv4 open tcp 22-22 by f/input#2"},
		},
		{
			name: "a named interface opens only there",
			rs: &Ruleset{Tables: []*TableDef{inet("f", base("input", "input", 0, "drop",
				rule(1, iifname("wg0"), udpDport(51820), accept()),
				rule(2, tcpDport(22), accept()),
			))}},
			keep: []string{"ipv4 open"},
			want: []string{"ipv4 open tcp 22-22 by f/input#2", "ipv4 open udp 51820-51820 iif wg0 by f/input#1"},
		},
		{
			name: "rate-limited log before the drop",
			rs: &Ruleset{Tables: []*TableDef{inet("f", base("input", "input", 0, "drop",
				rule(1, limit(10), logp("drop: ")),
				rule(2, counter(), drop()),
			))}},
			keep: []string{"ipv4 tcp"},
			want: []string{"ipv4 tcp drop by f/input#2 logged at f/input#1 limited"},
		},
		{
			name: "a log without a limit is not rate-limited; the policy drops",
			rs: &Ruleset{Tables: []*TableDef{inet("f", base("input", "input", 0, "drop",
				rule(1, logp("in: ")),
			))}},
			keep: []string{"ipv4 tcp"},
			want: []string{"ipv4 tcp drop by f/input#policy logged at f/input#1"},
		},
		{
			name: "a limit on an accept is a note and counts as open",
			rs: &Ruleset{Tables: []*TableDef{inet("f", base("input", "input", 0, "drop",
				rule(1, tcpDport(22), limit(5), accept()),
			))}},
			keep: []string{"ipv4 open", "note"},
			want: []string{
				"ipv4 open tcp 22-22 by f/input#1",
				"note f/input#1: a rate limit on a rule with a verdict: it holds only for packets within the rate (taken if it accepts, skipped if it drops)",
			},
		},
		{
			name: "established-only accepts open nothing; new does",
			rs: &Ruleset{Tables: []*TableDef{inet("f", base("input", "input", 0, "drop",
				rule(1, tcpDport(80), ctStateIn(2), accept()),
				rule(2, tcpDport(443), ctStateIn(8), accept()),
			))}},
			keep: []string{"ipv4 open"},
			want: []string{"ipv4 open tcp 443-443 by f/input#2"},
		},
		{
			name: "an unknown expression is a note; an accept behind it counts",
			rs: &Ruleset{Tables: []*TableDef{inet("f", base("input", "input", 0, "drop",
				rule(1, other("socket"), tcpDport(8080), accept()),
			))}},
			keep: []string{"ipv4 open", "note"},
			want: []string{"ipv4 open tcp 8080-8080 by f/input#1", "note f/input#1: expression socket is not modelled"},
		},
		{
			name: "an unknown condition skips a drop",
			rs: &Ruleset{Tables: []*TableDef{inet("f", base("input", "input", 0, "accept",
				rule(1, []Expr{Meta{Key: 10, DReg: 1}, Cmp{SReg: 1, Data: u32n(0)}}, drop()),
			))}},
			keep: []string{"ipv4 tcp", "note"},
			want: []string{"ipv4 tcp accept by f/input#policy", "note f/input#1: meta skuid 0x00000000: depends on meta skuid, which the analysis does not know"},
		},
		{
			name: "port ranges, sets and inverted sets",
			rs: &Ruleset{Tables: []*TableDef{{
				Family: "inet", Name: "f",
				Sets: []*Set{
					{Name: "web", KeyLen: 2, Elements: []Element{{Key: be16(80)}, {Key: be16(443)}}},
					{Name: "hi", KeyLen: 2, Interval: true, Elements: []Element{{Key: be16(0), IntervalEnd: true}, {Key: be16(6000)}, {Key: be16(6010), IntervalEnd: true}}},
				},
				Chains: []*Chain{base("input", "input", 0, "drop",
					rule(1, l4(6), lookup("web", false), accept()),
					rule(2, l4(17), lookup("hi", true), drop()),
					rule(3, l4(17), accept()),
					rule(4, l4(6), dportRange(1000, 1002), accept()),
				)},
			}}},
			keep: []string{"ipv4 open"},
			want: []string{
				"ipv4 open tcp 80-80 by f/input#1",
				"ipv4 open tcp 443-443 by f/input#1",
				"ipv4 open tcp 1000-1002 by f/input#4",
				"ipv4 open udp 6000-6009 by f/input#3",
			},
		},
		{
			name: "a verdict map on the destination port",
			rs: &Ruleset{Tables: []*TableDef{{
				Family: "inet", Name: "f",
				Sets: []*Set{{Name: "__map0", Anonymous: true, Map: true, Verdicts: true, KeyLen: 2, Elements: []Element{
					{Key: be16(22), Verdict: &Jump{Code: VerdictAccept}},
					{Key: be16(23), Verdict: &Jump{Code: VerdictDrop}},
				}}},
				Chains: []*Chain{base("input", "input", 0, "accept",
					rule(1, l4(6), []Expr{Payload{Base: 2, Offset: 2, Len: 2, DReg: 1}, Lookup{Set: "__map0", SReg: 1, HasDReg: true}}),
					rule(2, l4(6), drop()),
				)},
			}}},
			keep: []string{"ipv4 open tcp"},
			want: []string{"ipv4 open tcp 22-22 by f/input#1"},
		},
		{
			name: "a verdict map on the connection state",
			rs: &Ruleset{Tables: []*TableDef{{
				Family: "inet", Name: "f",
				Sets: []*Set{{Name: "__map1", Anonymous: true, Map: true, Verdicts: true, KeyLen: 4, Elements: []Element{
					{Key: u32n(2), Verdict: &Jump{Code: VerdictAccept}},
					{Key: u32n(4), Verdict: &Jump{Code: VerdictAccept}},
					{Key: u32n(1), Verdict: &Jump{Code: VerdictDrop}},
				}}},
				Chains: []*Chain{base("input", "input", 0, "accept",
					rule(1, []Expr{Ct{Key: ctState, DReg: 1}, Lookup{Set: "__map1", SReg: 1, HasDReg: true}}),
					rule(2, tcpDport(22), accept()),
					rule(3, reject(1)),
				)},
			}}},
			keep: []string{"ipv4 tcp", "ipv4 open"},
			want: []string{"ipv4 tcp reject by f/input#3", "ipv4 open tcp 22-22 by f/input#2"},
		},
		{
			name: "a concatenation of source and port",
			rs: &Ruleset{Tables: []*TableDef{{
				Family: "inet", Name: "f",
				Sets: []*Set{{Name: "pairs", Concat: true, KeyLen: 8, Elements: []Element{
					{Key: []byte{10, 0, 0, 1, 0, 22, 0, 0}},
					{Key: []byte{10, 0, 0, 0, 0, 80, 0, 0}, KeyEnd: []byte{10, 0, 0, 255, 0, 81, 0, 0}},
				}}},
				Chains: []*Chain{base("input", "input", 0, "drop",
					rule(1, nfproto(false), l4(6), []Expr{
						Payload{Base: 1, Offset: 12, Len: 4, DReg: 1},
						Payload{Base: 2, Offset: 2, Len: 2, DReg: 9},
						Lookup{Set: "pairs", SReg: 1},
					}, accept()),
					rule(2, nfproto(false), l4(17), []Expr{
						Payload{Base: 1, Offset: 12, Len: 4, DReg: 1},
						Payload{Base: 2, Offset: 2, Len: 2, DReg: 9},
						Lookup{Set: "pairs", SReg: 1, Invert: true},
					}, drop()),
					rule(3, l4(17), dportRange(80, 81), accept()),
				)},
			}}},
			keep: []string{"ipv4 open"},
			want: []string{
				"ipv4 open tcp 22-22 from 10.0.0.1/32 by f/input#1",
				"ipv4 open tcp 80-81 from 10.0.0.0/24 by f/input#1",
				"ipv4 open udp 80-81 from 10.0.0.0/24 by f/input#3",
			},
		},
		{
			name: "an inbound packet has no output interface",
			rs: &Ruleset{Tables: []*TableDef{inet("f", base("input", "input", 0, "accept",
				rule(1, []Expr{Meta{Key: 7, DReg: 1}, Cmp{Op: 0, SReg: 1, Data: []byte("docker0\x00")}}, drop()),
				rule(2, []Expr{Meta{Key: 5, DReg: 1}, Cmp{Op: 1, SReg: 1, Data: u32n(0)}}, drop()),
			))}},
			keep: []string{"ipv4 tcp", "note"},
			want: []string{"ipv4 tcp accept by f/input#policy"},
		},
		{
			name: "a netdev chain on two devices sees both",
			rs: &Ruleset{Tables: []*TableDef{
				{Family: "netdev", Name: "edge", Chains: []*Chain{{Name: "in", Hook: "ingress", Type: "filter", Priority: -500, Policy: "accept", Device: "eth0,eth1",
					Rules: []*Rule{rule(1, other("osf"))}}}},
				inet("f", base("input", "input", 0, "drop", rule(2, tcpDport(22), accept()))),
			}},
			keep: []string{"ipv4 open", "note"},
			want: []string{"ipv4 open tcp 22-22 by f/input#2", "note edge/in#1: expression osf is not modelled"},
		},
		{
			name: "a netdev drop on two devices closes what an input rule opens on one of them",
			rs: &Ruleset{Tables: []*TableDef{
				{Family: "netdev", Name: "edge", Chains: []*Chain{{Name: "in", Hook: "ingress", Type: "filter", Priority: -500, Policy: "drop", Device: "eth0,eth1"}}},
				inet("f", base("input", "input", 0, "drop",
					rule(2, tcpDport(22), accept()),
					rule(3, iifname("eth0"), udpDport(53), accept()),
					rule(4, iifname("wg0"), udpDport(53), accept()),
				)),
			}},
			keep: []string{"ipv4 open"},
			want: []string{"ipv4 open tcp 22-22 by f/input#2", "ipv4 open udp 53-53 iif wg0 by f/input#4"},
		},
		{
			name: "fib daddr type local holds",
			rs: &Ruleset{Tables: []*TableDef{inet("f", base("input", "input", 0, "accept",
				rule(1, []Expr{Fib{DReg: 1, Result: 3, Flags: 2}, Cmp{Op: 1, SReg: 1, Data: u32n(2)}}, drop()),
			))}},
			keep: []string{"ipv4 tcp"},
			want: []string{"ipv4 tcp accept by f/input#policy"},
		},
		{
			name: "an ip table sees only IPv4",
			rs:   &Ruleset{Tables: []*TableDef{{Family: "ip", Name: "filter", Chains: []*Chain{base("INPUT", "input", 0, "drop")}}}},
			keep: []string{"ipv4 tcp", "ipv6 tcp"},
			want: []string{"ipv4 tcp drop by filter/INPUT#policy", "ipv6 tcp accept by -"},
		},
		{
			name: "a jump loop is cut",
			rs: &Ruleset{Tables: []*TableDef{inet("f",
				base("input", "input", 0, "drop", rule(1, jump("a"))),
				regular("a", rule(2, jump("a"))),
			)}},
			keep: []string{"ipv4 tcp", "note"},
			want: []string{"ipv4 tcp drop by f/input#policy", "note f/a#policy: jumps nested deeper than 64 chains (a loop?): not followed"},
		},
		{
			name: "a jump to a missing chain is a note",
			rs:   &Ruleset{Tables: []*TableDef{inet("f", base("input", "input", 0, "drop", rule(1, jump("gone"))))}},
			keep: []string{"note"},
			want: []string{"note f/input#1: jump to chain gone, which was not read"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := summary(Analyse(tt.rs))
			if tt.keep != nil {
				got = only(got, tt.keep...)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Analyse() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestOwnerOf(t *testing.T) {
	tests := []struct {
		t    *TableDef
		want string
	}{
		{&TableDef{Family: "inet", Name: "firewarden_posture"}, OwnerFirewarden},
		{&TableDef{Family: "inet", Name: "firewarden"}, OwnerFirewarden},
		{&TableDef{Family: "inet", Name: "firewalld"}, OwnerFirewalld},
		{&TableDef{Family: "ip", Name: "filter", Chains: []*Chain{{Name: "INPUT"}, {Name: "ufw-user-input"}}}, OwnerUFW},
		{&TableDef{Family: "ip6", Name: "filter", Chains: []*Chain{{Name: "INPUT"}, {Name: "ufw6-user-input"}}}, OwnerUFW},
		{&TableDef{Family: "ip", Name: "filter", Chains: []*Chain{{Name: "INPUT"}, {Name: "DOCKER-USER"}}}, OwnerDocker},
		{&TableDef{Family: "ip", Name: "filter", Chains: []*Chain{{Name: "INPUT"}}}, OwnerIPTablesNFT},
		{&TableDef{Family: "ip", Name: "filter", Chains: []*Chain{{Name: "input"}}}, OwnerNFT},
		{&TableDef{Family: "inet", Name: "filter", Chains: []*Chain{{Name: "INPUT"}}}, OwnerNFT},
	}
	for _, tt := range tests {
		if got := OwnerOf(tt.t); got != tt.want {
			t.Errorf("OwnerOf(%s %s) = %q, want %q", tt.t.Family, tt.t.Name, got, tt.want)
		}
	}
}
