package ruleset

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// decodeTable holds rules of every expression kind the decoder knows, as hand-built models.
func decodeTable() []*Rule {
	lvl, grp, dir := uint32(4), uint16(7), uint8(0)
	return []*Rule{
		rule(1, tcpDport(22), accept()),
		rule(2, ctStateIn(6), counter(), accept()),
		rule(3, iifLo(), accept()),
		rule(4, saddr("10.0.0.0/12"), drop()),
		rule(5, dportRange(1000, 2000), verdict(VerdictJump, "sub")),
		rule(6, lookup("web", true), verdict(VerdictGoto, "other")),
		rule(7, limit(10), []Expr{Log{Prefix: "drop: ", Level: &lvl}}, drop()),
		rule(8, []Expr{Log{Group: &grp, Flags: 3}}, reject(2)),
		rule(9, []Expr{Fib{DReg: 1, Result: 3, Flags: 2}, Cmp{Op: 1, SReg: 1, Data: u32n(2)}}, ret()),
		rule(10, []Expr{Ct{Key: ctProtoDst, DReg: 1, Dir: &dir}, Cmp{SReg: 1, Data: be16(53)}}, accept()),
		rule(11, []Expr{Xt{Name: "conntrack", Rev: 3, Info: make([]byte, 168)}, Xt{Target: true, Name: "LOG", Info: make([]byte, 32)}}),
		rule(12, []Expr{Nat{Kind: "dnat"}}),
		rule(13, []Expr{Nat{Kind: "masquerade"}}),
		rule(14, []Expr{Nat{Kind: "redirect"}}),
		rule(15, other("notrack")),
		rule(16, []Expr{Limit{Rate: 100, Unit: 1, Bytes: true, Invert: true}}, drop()),
		rule(17, []Expr{Immediate{DReg: 1, Data: []byte{1, 2, 3, 4}}, Payload{Base: 1, Offset: 16, Len: 4, SReg: 1}}),
		rule(18, []Expr{Meta{Key: metaMark, SReg: 1}, Ct{Key: ctMark, SReg: 1}}),
		rule(19, []Expr{Bitwise{SReg: 1, DReg: 1, Len: 4, Op: 1, Data: u32n(8)}}),
		{Handle: 20, Comment: "allow ssh", Exprs: append(tcpDport(22), accept()...)},
		rule(21, []Expr{Payload{Base: 2, Offset: 2, Len: 2, DReg: 1}, Lookup{Set: "__map0", SReg: 1, HasDReg: true}}),
		rule(22, nfproto(false), []Expr{Payload{Base: 1, Offset: 12, Len: 4, DReg: 1}, Payload{Base: 2, Offset: 2, Len: 2, DReg: 9}, Lookup{Set: "pairs", SReg: 1}}, accept()),
	}
}

func TestDecodeRuleMessageRoundTrip(t *testing.T) {
	for _, r := range decodeTable() {
		b := encodeRule(1, "filter", "input", r)
		fam, table, chain, got, err := DecodeRuleMessage(b)
		if err != nil {
			t.Errorf("DecodeRuleMessage(rule %d) error: %v", r.Handle, err)
			continue
		}
		if fam != 1 || table != "filter" || chain != "input" {
			t.Errorf("DecodeRuleMessage(rule %d) = %d %q %q, want 1 filter input", r.Handle, fam, table, chain)
		}
		if diff := cmp.Diff(r, got); diff != "" {
			t.Errorf("DecodeRuleMessage(rule %d) mismatch (-want +got):\n%s", r.Handle, diff)
		}
	}
}

func TestDecodeRuleMessageErrors(t *testing.T) {
	tests := map[string][]byte{
		"short header":         {1, 0},
		"truncated attribute":  {1, 0, 0, 0, 8, 0},
		"length beyond buffer": {1, 0, 0, 0, 40, 0, 1, 0, 'x', 0, 0, 0},
		"length below header":  {1, 0, 0, 0, 2, 0, 1, 0},
		"bad handle":           encodeBadHandle(),
	}
	for name, b := range tests {
		if _, _, _, _, err := DecodeRuleMessage(b); err == nil {
			t.Errorf("DecodeRuleMessage(%s) = nil error, want one", name)
		}
	}
}

func encodeBadHandle() []byte {
	var e enc
	e.attr(ruleHandle, []byte{1, 2, 3})
	return append([]byte{1, 0, 0, 0}, e.b...)
}

// FuzzDecodeRuleMessage decodes arbitrary rule messages, then compiles, analyses and formats
// what decodes: none of it may panic.
func FuzzDecodeRuleMessage(f *testing.F) {
	for _, r := range decodeTable() {
		f.Add(encodeRule(1, "filter", "input", r))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _, _, r, err := DecodeRuleMessage(b)
		if err != nil {
			return
		}
		rs := &Ruleset{Tables: []*TableDef{{
			Family: "inet", Name: "filter",
			Sets: []*Set{
				{Name: "web", KeyLen: 2, Elements: []Element{{Key: be16(80)}}},
				{Name: "__map0", Anonymous: true, Map: true, Verdicts: true, KeyLen: 2, Elements: []Element{{Key: be16(22), Verdict: &Jump{Code: VerdictAccept}}}},
				{Name: "pairs", Concat: true, KeyLen: 8, Elements: []Element{{Key: []byte{10, 0, 0, 1, 0, 22, 0, 0}}, {Key: []byte{10, 0, 0, 0, 0, 80, 0, 0}, KeyEnd: []byte{10, 0, 0, 255, 0, 81, 0, 0}}}},
			},
			Chains: []*Chain{
				base("input", "input", 0, "drop", r),
				regular("sub", r),
			},
		}}}
		_ = Analyse(rs)
		_ = Format(rs)
	})
}

type chainCase struct {
	family  byte
	hooknum uint32
	c       *Chain
}

func chainCases() []chainCase {
	return []chainCase{
		{1, 1, &Chain{Name: "input", Hook: "input", Type: "filter", Priority: -5, Policy: "drop"}},
		{2, 0, &Chain{Name: "PREROUTING", Hook: "prerouting", Type: "nat", Priority: -100, Policy: "accept"}},
		{5, 0, &Chain{Name: "ingress", Hook: "ingress", Type: "filter", Priority: -500, Policy: "accept", Device: "eth0"}},
		{1, 0, &Chain{Name: "regular"}},
	}
}

func TestDecodeChainMessageRoundTrip(t *testing.T) {
	for _, tc := range chainCases() {
		fam, table, got, err := DecodeChainMessage(encodeChain(tc.family, "t", tc.c, tc.hooknum))
		if err != nil {
			t.Errorf("DecodeChainMessage(%s) error: %v", tc.c.Name, err)
			continue
		}
		if fam != tc.family || table != "t" {
			t.Errorf("DecodeChainMessage(%s) = family %d table %q, want %d t", tc.c.Name, fam, table, tc.family)
		}
		if diff := cmp.Diff(tc.c, got); diff != "" {
			t.Errorf("DecodeChainMessage(%s) mismatch (-want +got):\n%s", tc.c.Name, diff)
		}
	}
}

// FuzzDecodeChainMessage decodes arbitrary chain messages: no panic.
func FuzzDecodeChainMessage(f *testing.F) {
	for _, tc := range chainCases() {
		f.Add(encodeChain(tc.family, "t", tc.c, tc.hooknum))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _, c, err := DecodeChainMessage(b)
		if err == nil && c == nil {
			t.Fatal("DecodeChainMessage returned neither a chain nor an error")
		}
	})
}
