package ruleset

import (
	"encoding/binary"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Info structs as iptables-nft hands them to the kernel (host byte order).

func xtConntrack(rev uint32, match, invert, state uint16) Xt {
	ne := binary.NativeEndian
	b := make([]byte, 168)
	ne.PutUint16(b[146:], match)
	ne.PutUint16(b[148:], invert)
	if rev == 1 {
		b[150] = byte(state)
	} else {
		ne.PutUint16(b[150:], state)
	}
	return Xt{Name: "conntrack", Rev: rev, Info: b}
}

func xtTCP(dlo, dhi uint16, inv byte) Xt {
	ne := binary.NativeEndian
	b := make([]byte, 12)
	ne.PutUint16(b[2:], 65535)
	ne.PutUint16(b[4:], dlo)
	ne.PutUint16(b[6:], dhi)
	b[11] = inv
	return Xt{Name: "tcp", Info: b}
}

func xtMultiport(ports ...uint16) Xt {
	b := make([]byte, 48)
	b[0], b[1] = 1, byte(len(ports))
	for i, p := range ports {
		binary.NativeEndian.PutUint16(b[2+2*i:], p)
	}
	return Xt{Name: "multiport", Rev: 1, Info: b}
}

func xtAddrtype(dst uint16, invDst bool) Xt {
	b := make([]byte, 8)
	binary.NativeEndian.PutUint16(b[2:], dst)
	if invDst {
		binary.NativeEndian.PutUint32(b[4:], 2)
	}
	return Xt{Name: "addrtype", Rev: 1, Info: b}
}

func xtLOG(prefix string) Xt {
	b := make([]byte, 32)
	copy(b[2:], prefix)
	return Xt{Target: true, Name: "LOG", Info: b}
}

func xtReject(with uint32) Xt {
	b := make([]byte, 8)
	binary.NativeEndian.PutUint32(b, with)
	return Xt{Target: true, Name: "REJECT", Info: b}
}

func xtLimit() Xt {
	b := make([]byte, 32)
	binary.NativeEndian.PutUint32(b, 10000*60/3) // 3/minute
	binary.NativeEndian.PutUint32(b[4:], 10)
	return Xt{Name: "limit", Info: b}
}

func xtICMP(typ byte) Xt { return Xt{Name: "icmp", Info: []byte{typ, 0, 255, 0}} }

func xs(x ...Xt) []Expr {
	var out []Expr
	for _, e := range x {
		out = append(out, e)
	}
	return out
}

func xtTable() []*Rule {
	return []*Rule{
		rule(1, iifname("lo"), accept()),
		rule(2, xs(xtConntrack(3, 1, 0, 2|4)), accept()),
		rule(3, xs(xtConntrack(1, 1, 0, 1)), drop()),
		rule(4, xs(xtICMP(8)), accept()),
		rule(5, xs(xtAddrtype(1<<3, false)), drop()), // broadcast: not our packet
		rule(6, xs(xtAddrtype(1<<2, true)), drop()),  // not local: not our packet
		rule(7, l4(6), xs(xtTCP(22, 22, 0), xtConntrack(2, 1, 0, 8)), accept()),
		rule(8, l4(6), xs(xtMultiport(80, 443)), accept()),
		rule(9, l4(6), xs(xtTCP(1000, 1999, 0x02)), drop()), // everything but 1000-1999
		rule(10, xs(xtLimit(), xtLOG("[FW BLOCK] "))),
		rule(11, xs(xtReject(3))),
	}
}

func TestXt(t *testing.T) {
	rs := &Ruleset{Tables: []*TableDef{{Family: "ip", Name: "filter", Chains: []*Chain{base("INPUT", "input", 0, "drop", xtTable()...)}}}}
	got := only(summary(Analyse(rs)), "ipv4", "note")
	want := []string{
		"ipv4 tcp drop by filter/INPUT#9",
		"ipv4 udp reject by filter/INPUT#11 logged at filter/INPUT#10 limited",
		"ipv4 echo accept by filter/INPUT#4",
		"ipv4 open tcp 22-22 by filter/INPUT#7",
		"ipv4 open tcp 80-80 by filter/INPUT#8",
		"ipv4 open tcp 443-443 by filter/INPUT#8",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Analyse(xt rules) mismatch (-want +got):\n%s", diff)
	}
	f := Format(rs)
	for _, s := range []string{"ctstate established,related", "multiport dports 80,443", `log prefix "[FW BLOCK] "`, "reject with icmp-port-unreachable", "tcp dport != 1000-1999"} {
		if !strings.Contains(f, s) {
			t.Errorf("Format(xt rules) lacks %q:\n%s", s, f)
		}
	}
}

func xtTCPFlags(mask, cmp byte) Xt {
	x := xtTCP(0, 65535, 0)
	x.Info[9], x.Info[10] = mask, cmp
	return x
}

// TestXtTCPFlags: iptables' --tcp-flags holds for every new connection only when its mask
// leaves out the flags the sender chooses (PSH, URG; ECE, CWR are outside ALL).
func TestXtTCPFlags(t *testing.T) {
	for _, tt := range []struct {
		name      string
		mask, cmp byte
		want      string
	}{
		{"--syn", 0x17, 0x02, "ipv4 tcp drop by filter/INPUT#2"},
		{"--tcp-flags SYN,ACK SYN", 0x12, 0x02, "ipv4 tcp drop by filter/INPUT#2"},
		{"--tcp-flags ALL SYN: a SYN with PSH gets through", 0x3f, 0x02, "ipv4 tcp accept by filter/INPUT#policy"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rs := &Ruleset{Tables: []*TableDef{{Family: "ip", Name: "filter", Chains: []*Chain{base("INPUT", "input", 0, "accept",
				rule(2, l4(6), xs(xtTCPFlags(tt.mask, tt.cmp)), drop()))}}}}
			got := only(summary(Analyse(rs)), "ipv4 tcp")
			if diff := cmp.Diff([]string{tt.want}, got); diff != "" {
				t.Errorf("Analyse(-p tcp --tcp-flags 0x%02x 0x%02x -j DROP) mismatch (-want +got):\n%s", tt.mask, tt.cmp, diff)
			}
		})
	}
}

// FuzzXt compiles arbitrary xt infos (what iptables-nft left in the kernel) and analyses them.
func FuzzXt(f *testing.F) {
	for _, r := range xtTable() {
		for _, e := range r.Exprs {
			if x, ok := e.(Xt); ok {
				f.Add(x.Target, x.Name, x.Rev, x.Info)
			}
		}
	}
	f.Fuzz(func(t *testing.T, target bool, name string, rev uint32, info []byte) {
		r := rule(1, l4(6), xs(Xt{Target: target, Name: name, Rev: rev, Info: info}), accept())
		rs := &Ruleset{Tables: []*TableDef{{Family: "ip", Name: "filter", Chains: []*Chain{base("INPUT", "input", 0, "drop", r)}}}}
		_ = Analyse(rs)
		_ = Format(rs)
	})
}

// TestXtNotrack: with -j CT --notrack somewhere, a new connection may be untracked, so
// "--ctstate NEW -j DROP" does not hold for every one.
func TestXtNotrack(t *testing.T) {
	input := &TableDef{Family: "ip", Name: "filter", Chains: []*Chain{base("INPUT", "input", 0, "accept",
		rule(2, xs(xtConntrack(3, 1, 0, 8)), drop()))}}
	raw := &TableDef{Family: "ip", Name: "raw", Chains: []*Chain{base("PREROUTING", "prerouting", -300, "accept",
		rule(3, l4(6), xs(Xt{Target: true, Name: "CT", Rev: 2, Info: make([]byte, 64)})))}}
	for _, tt := range []struct {
		name   string
		tables []*TableDef
		want   string
	}{
		{"no notrack", []*TableDef{input}, "ipv4 tcp drop by filter/INPUT#2"},
		{"notrack in raw", []*TableDef{raw, input}, "ipv4 tcp accept by filter/INPUT#policy"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := only(summary(Analyse(&Ruleset{Tables: tt.tables})), "ipv4 tcp")
			if diff := cmp.Diff([]string{tt.want}, got); diff != "" {
				t.Errorf("Analyse(ctstate NEW drop, %s) mismatch (-want +got):\n%s", tt.name, diff)
			}
		})
	}
}

// TestXtRoutingHeader: ufw's before6.rules drops routing header type 0 ("-m rt --rt-type 0
// -j DROP"); whether a packet carries one is the sender's choice, so the drop is passed over,
// without a note.
func TestXtRoutingHeader(t *testing.T) {
	rs := &Ruleset{Tables: []*TableDef{{Family: "ip6", Name: "filter", Chains: []*Chain{base("INPUT", "input", 0, "accept",
		rule(2, xs(Xt{Name: "rt", Info: make([]byte, 40)}), drop()))}}}}
	got := only(summary(Analyse(rs)), "ipv6 tcp", "note")
	if diff := cmp.Diff([]string{"ipv6 tcp accept by filter/INPUT#policy"}, got); diff != "" {
		t.Errorf("Analyse(-m rt --rt-type 0 -j DROP) mismatch (-want +got):\n%s", diff)
	}
}
