package ruleset

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// nh is "@nh,off*8,len*8 [& mask] op data": a network header load as nft merges adjacent
// header matches into one (issue 17, bug C).
func nh(off, n uint32, mask []byte, op uint32, data []byte) []Expr {
	out := []Expr{Payload{Base: 1, Offset: off, Len: n, DReg: 1}}
	if mask != nil {
		out = append(out, Bitwise{SReg: 1, DReg: 1, Len: n, Mask: mask, Xor: make([]byte, n)})
	}
	return append(out, Cmp{Op: op, SReg: 1, Data: data})
}

func icmpType(t byte) []Expr {
	return []Expr{Payload{Base: 2, Offset: 0, Len: 1, DReg: 1}, Cmp{Op: 0, SReg: 1, Data: []byte{t}}}
}

// TestAnalyseMergedLoads: a load over the protocol byte and the sender's TTL or hop limit
// decides the protocol part and leaves the rest to the sender.
func TestAnalyseMergedLoads(t *testing.T) {
	tests := []struct {
		name string
		rs   *Ruleset
		keep []string
		want []string
	}{
		{
			name: "ip6 nexthdr icmpv6 ip6 hoplimit 255 accept",
			rs: &Ruleset{Tables: []*TableDef{inet("t", base("input", "input", 0, "drop",
				rule(2, nfproto(true), nh(6, 2, nil, 0, []byte{0x3a, 0xff}), accept()),
			))}},
			keep: []string{"ipv6", "note"},
			want: []string{
				"ipv6 tcp drop by t/input#policy", "ipv6 udp drop by t/input#policy", "ipv6 echo accept by t/input#2",
			},
		},
		{
			name: "with icmpv6 type nd-router-advert",
			rs: &Ruleset{Tables: []*TableDef{inet("t", base("input", "input", 0, "drop",
				rule(2, nfproto(true), nh(6, 2, nil, 0, []byte{0x3a, 0xff}), icmpType(134), accept()),
			))}},
			keep: []string{"ipv6", "note"},
			want: []string{
				"ipv6 tcp drop by t/input#policy", "ipv6 udp drop by t/input#policy", "ipv6 echo drop by t/input#policy",
			},
		},
		{
			name: "neq drops what is not icmpv6 with hop limit 255",
			rs: &Ruleset{Tables: []*TableDef{inet("t", base("input", "input", 0, "accept",
				rule(2, nfproto(true), nh(6, 2, nil, 1, []byte{0x3a, 0xff}), drop()),
			))}},
			keep: []string{"ipv6", "note"},
			want: []string{
				"ipv6 tcp drop by t/input#2", "ipv6 udp drop by t/input#2", "ipv6 echo accept by t/input#policy",
			},
		},
		{
			name: "masked to the protocol byte",
			rs: &Ruleset{Tables: []*TableDef{inet("t", base("input", "input", 0, "drop",
				rule(2, nfproto(true), nh(6, 2, []byte{0xff, 0x00}, 0, []byte{0x3a, 0x00}), accept()),
			))}},
			keep: []string{"ipv6", "note"},
			want: []string{
				"ipv6 tcp drop by t/input#policy", "ipv6 udp drop by t/input#policy", "ipv6 echo accept by t/input#2",
			},
		},
		{
			// The high bits of the next header: tcp (0x06), not udp (0x11), but also a
			// hop-by-hop header (0) the sender may put before UDP or ICMPv6.
			name: "masked to the high bits of the next header: tcp (0x06), hop-by-hop (0)",
			rs: &Ruleset{Tables: []*TableDef{inet("t", base("input", "input", 0, "drop",
				rule(2, nfproto(true), nh(6, 2, []byte{0xf0, 0xff}, 0, []byte{0x00, 0x40}), accept()),
			))}},
			keep: []string{"ipv6", "note"},
			want: []string{
				"ipv6 tcp accept by t/input#2", "ipv6 udp accept by t/input#2", "ipv6 echo accept by t/input#2",
				"ipv6 open tcp 0-65535 by t/input#2", "ipv6 open udp 0-65535 by t/input#2",
			},
		},
		{
			name: "ip ttl 255 ip protocol icmp accept",
			rs: &Ruleset{Tables: []*TableDef{{Family: "ip", Name: "t", Chains: []*Chain{base("input", "input", 0, "drop",
				rule(2, nh(8, 2, nil, 0, []byte{0xff, 0x01}), accept()),
			)}}}},
			keep: []string{"ipv4", "note"},
			want: []string{
				"ipv4 tcp drop by t/input#policy", "ipv4 udp drop by t/input#policy", "ipv4 echo accept by t/input#2",
			},
		},
		{
			name: "several sender bytes: noted",
			rs: &Ruleset{Tables: []*TableDef{inet("t", base("input", "input", 0, "drop",
				rule(2, nfproto(true), nh(4, 4, nil, 0, []byte{0, 0, 6, 64}), accept()),
			))}},
			keep: []string{"ipv6 tcp", "note"},
			want: []string{
				"ipv6 tcp accept by t/input#2",
				"note t/input#2: @nh,32,32 0.0.6.64: depends on a load over a field the analysis fixes and several bytes the sender chooses, which the analysis does not know",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := only(summary(Analyse(tt.rs)), tt.keep...)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Analyse(%s) mismatch (-want +got):\n%s", tt.name, diff)
			}
		})
	}
}

func ifkey(n string) []byte { b := make([]byte, 16); copy(b, n); return b }

func vmapTable(fam string, s *Set, chains ...*Chain) *Ruleset {
	return &Ruleset{Tables: []*TableDef{{Family: fam, Name: "t", Sets: []*Set{s}, Chains: chains}}}
}

func vm(code int32, chain string) *Jump { return &Jump{Code: code, Chain: chain} }

// TestAnalyseKeyedVmaps: verdict maps on interfaces, sources and concatenations (issue 17,
// bugs A and B) decide per packet class, as the lookups in concatenated sets do.
func TestAnalyseKeyedVmaps(t *testing.T) {
	lookup := func(sreg uint32) Expr { return Lookup{Set: "__map0", SReg: sreg, HasDReg: true} }
	protoDport := func(l4key bool) []Expr {
		first := Expr(Payload{Base: 1, Offset: 9, Len: 1, DReg: 1})
		if l4key {
			first = Meta{Key: metaL4Proto, DReg: 1}
		}
		return []Expr{first, Payload{Base: 2, Offset: 2, Len: 2, DReg: 9}, lookup(1)}
	}
	concatMap := &Set{Name: "__map0", Anonymous: true, Map: true, Verdicts: true, Elements: []Element{
		{Key: []byte{6, 0, 0, 0, 0, 22, 0, 0}, Verdict: vm(VerdictAccept, "")},
		{Key: []byte{17, 0, 0, 0, 0, 53, 0, 0}, Verdict: vm(VerdictAccept, "")},
	}}
	tests := []struct {
		name string
		rs   *Ruleset
		keep []string
		want []string
	}{
		{
			name: "iifname vmap with a jump",
			rs: vmapTable("ip", &Set{Name: "__map0", Anonymous: true, Map: true, Verdicts: true, Elements: []Element{
				{Key: ifkey("lo"), Verdict: vm(VerdictAccept, "")},
				{Key: ifkey("br0"), Verdict: vm(VerdictJump, "in_wired")},
			}},
				base("input", "input", 0, "drop", rule(4, []Expr{Meta{Key: metaIIFName, DReg: 1}, lookup(1)})),
				regular("in_wired", rule(5, tcpDport(22), accept())),
			),
			keep: []string{"ipv4"},
			want: []string{
				"ipv4 tcp drop by t/input#policy", "ipv4 udp drop by t/input#policy", "ipv4 echo drop by t/input#policy",
				"ipv4 open tcp 22-22 iif br0 by t/in_wired#5",
			},
		},
		{
			name: "ip saddr vmap on one address",
			rs: vmapTable("ip", &Set{Name: "__map0", Anonymous: true, Map: true, Verdicts: true, Elements: []Element{
				{Key: []byte{10, 0, 0, 1}, Verdict: vm(VerdictAccept, "")},
			}},
				base("input", "input", 0, "drop", rule(3, []Expr{Payload{Base: 1, Offset: 12, Len: 4, DReg: 1}, lookup(1)})),
			),
			keep: []string{"ipv4 open"},
			want: []string{"ipv4 open tcp 0-65535 from 10.0.0.1/32 by t/input#3", "ipv4 open udp 0-65535 from 10.0.0.1/32 by t/input#3"},
		},
		{
			name: "ip saddr vmap on an interval (end elements without a verdict)",
			rs: vmapTable("ip", &Set{Name: "__map0", Anonymous: true, Map: true, Verdicts: true, Interval: true, Elements: []Element{
				{Key: []byte{0, 0, 0, 0}, IntervalEnd: true},
				{Key: []byte{10, 0, 0, 0}, Verdict: vm(VerdictJump, "lan")},
				{Key: []byte{11, 0, 0, 0}, IntervalEnd: true},
			}},
				base("input", "input", 0, "drop", rule(3, []Expr{Payload{Base: 1, Offset: 12, Len: 4, DReg: 1}, lookup(1)})),
				regular("lan", rule(5, tcpDport(22), accept())),
			),
			keep: []string{"ipv4 open"},
			want: []string{"ipv4 open tcp 22-22 from 10.0.0.0/8 by t/lan#5"},
		},
		{
			name: "ip protocol . th dport vmap",
			rs: vmapTable("ip", concatMap,
				base("input", "input", 0, "drop", rule(3, protoDport(false))),
			),
			keep: []string{"ipv4"},
			want: []string{
				"ipv4 tcp drop by t/input#policy", "ipv4 udp drop by t/input#policy", "ipv4 echo drop by t/input#policy",
				"ipv4 open tcp 22-22 by t/input#3", "ipv4 open udp 53-53 by t/input#3",
			},
		},
		{
			name: "meta l4proto . th dport vmap, concatenation flag set",
			rs: vmapTable("inet", &Set{Name: "__map0", Anonymous: true, Map: true, Verdicts: true, Concat: true, Elements: concatMap.Elements},
				base("input", "input", 0, "drop", rule(3, protoDport(true))),
			),
			keep: []string{"ipv6 open"},
			want: []string{"ipv6 open tcp 22-22 by t/input#3", "ipv6 open udp 53-53 by t/input#3"},
		},
		{
			name: "a concatenation that cannot be followed: every verdict may apply",
			rs: vmapTable("ip", concatMap,
				base("input", "input", 0, "drop", rule(3, []Expr{Payload{Base: 1, Offset: 9, Len: 1, DReg: 1}, lookup(1)})),
			),
			keep: []string{"ipv4 tcp", "ipv4 open", "note"},
			want: []string{
				"ipv4 tcp drop by t/input#policy", "ipv4 open tcp 0-65535 by t/input#3", "ipv4 open udp 0-65535 by t/input#3",
				"note t/input#3: verdict map __map0 on a concatenation whose fields could not be followed: each of its verdicts may apply",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := only(summary(Analyse(tt.rs)), tt.keep...)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Analyse(%s) mismatch (-want +got):\n%s", tt.name, diff)
			}
		})
	}
}

func TestFormatConcatVmap(t *testing.T) {
	rs := vmapTable("ip", &Set{Name: "__map0", Anonymous: true, Map: true, Verdicts: true, Elements: []Element{
		{Key: []byte{6, 0, 0, 0, 0, 22, 0, 0}, Verdict: vm(VerdictAccept, "")},
		{Key: []byte{17, 0, 0, 0, 0, 53, 0, 0}, Verdict: vm(VerdictJump, "dns")},
	}}, base("input", "input", 0, "drop", rule(3, []Expr{
		Payload{Base: 1, Offset: 9, Len: 1, DReg: 1}, Payload{Base: 2, Offset: 2, Len: 2, DReg: 9},
		Lookup{Set: "__map0", SReg: 1, HasDReg: true},
	})), regular("dns"))
	want := "ip protocol . th dport vmap { tcp . 22 : accept, udp . 53 : jump dns } # handle 3"
	if got := Format(rs); !strings.Contains(got, want) {
		t.Errorf("Format(ip protocol . th dport vmap) = %s, want a line %q", got, want)
	}
}
