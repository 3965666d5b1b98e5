package rules

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// randomGrammarRuleset builds a rule set from the constructs of ipfw_opts.go with few distinct
// values, so that rules, flows and packets collide often: families, protocol blocks, ports with
// ip, negated and OR-ed options, tables, named keep-state and check-state, record-state, limit,
// skipto and count parents, call/return, pipe, reass.
func randomGrammarRuleset(r *rand.Rand, n int) string {
	addrs := []string{"any", "any", "any", "me", "10.0.0.0/8", "192.0.2.1", "not 10.0.0.0/8", "{ 192.0.2.1 or 10.1.2.0/24 }", "2001:db8::/32", "'table(1)'", "'table(2)'", "10.0.0.1,192.0.2.0/24"}
	protos := []string{"ip", "tcp", "udp", "icmp", "ip4", "ip6", "{ tcp or udp }", "not tcp"}
	acts := []string{"allow", "deny", "reject", "count", "pipe 1", "reass"}
	opts := []string{"in", "out", "via en0", "not via lo0", "{ via en0 or recv en1 }", "frag", "dst-port 22,53", "src-port 53",
		"ip4", "not ip6", "tcpflags syn,!ack", "established", "setup", "icmptypes 0,8", "uid root", "not antispoof",
		"proto udp", "layer2", "not frag", "{ dst-port 22 or dst-port 80 }", "dst-ip 10.0.0.0/8", "not src-ip 192.0.2.1"}
	states := []string{"keep-state", "keep-state :a", "keep-state :b", "record-state", "limit src-addr 3", "keep-state :default"}
	var b strings.Builder
	b.WriteString("ipfw table 1 add 10.1.0.0/16\n")
	if r.IntN(3) == 0 {
		b.WriteString("ipfw disable one_pass\n")
	}
	// call and return make Eval run the reference interpreter: a quarter of the sets have them.
	withCall := r.IntN(4) == 0
	for i := range n {
		num := 100 + i*10
		switch r.IntN(12) {
		case 0:
			fmt.Fprintf(&b, "ipfw add %d skipto %d ip from %s to any\n", num, num+10*(1+r.IntN(5)), addrs[r.IntN(len(addrs))])
			continue
		case 1:
			fmt.Fprintf(&b, "ipfw add %d check-state%s\n", num, []string{"", " :a", " :b", " :any", " :default"}[r.IntN(5)])
			continue
		case 2:
			fmt.Fprintf(&b, "ipfw add %d skipto %d %s from %s to any %s\n", num, num+10*(1+r.IntN(5)), protos[r.IntN(len(protos))], addrs[r.IntN(len(addrs))], states[r.IntN(len(states))])
			continue
		case 3:
			if withCall {
				fmt.Fprintf(&b, "ipfw add %d %s ip from any to any\n", num, []string{"call 1000", "return"}[r.IntN(2)])
				continue
			}
		}
		proto := protos[r.IntN(len(protos))]
		fmt.Fprintf(&b, "ipfw add %d %s %s from %s", num, acts[r.IntN(len(acts))], proto, addrs[r.IntN(len(addrs))])
		if r.IntN(3) == 0 {
			b.WriteString(" " + []string{"22", "53", "1000-2000"}[r.IntN(3)])
		}
		fmt.Fprintf(&b, " to %s", addrs[r.IntN(len(addrs))])
		if r.IntN(3) == 0 {
			b.WriteString(" " + []string{"22", "53", "80,443"}[r.IntN(3)])
		}
		for range r.IntN(3) {
			b.WriteString(" " + opts[r.IntN(len(opts))])
		}
		if r.IntN(3) == 0 {
			b.WriteString(" " + states[r.IntN(len(states))])
		}
		b.WriteString("\n")
	}
	if withCall {
		b.WriteString("ipfw add 1000 count ip from any to any\nipfw add 1010 return ip from any to any\n")
	}
	return b.String()
}

// randomGrammarPacket is randomPacket with replies (any protocol) and IPv6 ICMP.
func randomGrammarPacket(r *rand.Rand) Packet {
	p := randomPacket(r)
	if r.IntN(3) == 0 {
		p.Reply = true
		if p.Proto == ProtoTCP {
			p.Setup, p.Established = false, true
		}
	}
	return p
}

// FuzzIPFWGrammarEval checks the compiled evaluator against the reference interpreter on rule
// sets of the whole grammar, in one classifier block and in blocks of a few rules, with reply
// packets that look up dynamic rules.
func FuzzIPFWGrammarEval(f *testing.F) {
	for _, seed := range []uint64{1, 2, 3, 42, 99} {
		f.Add(seed, uint8(25))
	}
	f.Fuzz(func(t *testing.T, seed uint64, n uint8) {
		r := rand.New(rand.NewPCG(seed, 11))
		text := randomGrammarRuleset(r, int(n%60)+1)
		rs, err := ParseIPFW([]byte(text), "fuzz", builtinServices)
		if err != nil {
			t.Fatalf("generated rule set does not parse: %v\n%s", err, text)
		}
		size := 1 + int(seed%7)
		small := *rs
		small.comp, err = rs.compile(context.Background(), size)
		if err != nil {
			t.Fatal(err)
		}
		for range 60 {
			p := randomGrammarPacket(r)
			want := rs.evalReference(&p, nil, 0)
			if got := rs.Eval(&p); got != want {
				t.Fatalf("Eval(%s) = %+v, reference %+v\nrules:\n%s", p, got, want, text)
			}
			if got := small.Eval(&p); got != want {
				t.Fatalf("Eval(%s) in blocks of %d = %+v, reference %+v\nrules:\n%s", p, size, got, want, text)
			}
			if got, _ := rs.Explain(&p); got != want {
				t.Fatalf("Explain(%s) = %+v, reference %+v", p, got, want)
			}
		}
	})
}

func TestIPFWGrammarEvalMatchesReference(t *testing.T) {
	for seed := range uint64(200) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 11))
			text := randomGrammarRuleset(r, int(seed%60)+1)
			rs, err := ParseIPFW([]byte(text), "fuzz", builtinServices)
			if err != nil {
				t.Fatalf("generated rule set does not parse: %v\n%s", err, text)
			}
			small := *rs
			if small.comp, err = rs.compile(context.Background(), 1+int(seed%7)); err != nil {
				t.Fatal(err)
			}
			for range 60 {
				p := randomGrammarPacket(r)
				want := rs.evalReference(&p, nil, 0)
				if got := rs.Eval(&p); got != want {
					t.Fatalf("Eval(%s) = %+v, reference %+v\nrules:\n%s", p, got, want, text)
				}
				if got := small.Eval(&p); got != want {
					t.Fatalf("Eval(%s) in small blocks = %+v, reference %+v\nrules:\n%s", p, got, want, text)
				}
			}
			if diff := cmp.Diff(rs.lintReference(LintOptions{}), small.Lint(LintOptions{})); diff != "" {
				t.Fatalf("Lint in small blocks differs from the reference (-want +got):\n%s\nrules:\n%s", diff, text)
			}
		})
	}
}
