package ruleset

import (
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
			name: "masked to the high bits of the protocol: tcp (0x06), not udp (0x11)",
			rs: &Ruleset{Tables: []*TableDef{inet("t", base("input", "input", 0, "drop",
				rule(2, nfproto(true), nh(6, 2, []byte{0xf0, 0xff}, 0, []byte{0x00, 0x40}), accept()),
			))}},
			keep: []string{"ipv6", "note"},
			want: []string{
				"ipv6 tcp accept by t/input#2", "ipv6 udp drop by t/input#policy", "ipv6 echo drop by t/input#policy",
				"ipv6 open tcp 0-65535 by t/input#2",
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
