package rules

import (
	"context"
	"testing"
)

// TestPFICMPErrorState checks that an ICMP error about a flow a keep-state rule passed passes on
// that state, and that the rules decide the others.
func TestPFICMPErrorState(t *testing.T) {
	conf := "block all\npass out proto { tcp udp } to port { 443 33434 } keep state\npass in proto tcp to port 22 keep state\npass out proto tcp to port 25 no state\n"
	for _, tt := range []struct {
		name, spec, where string
	}{
		{"unreachable about an outbound connection",
			`icmp 198.51.100.1 -> 192.0.2.10 in via en0 type 3 code 4 about "tcp 192.0.2.10:51000 -> 203.0.113.5:443 out via en0"`, "pf.conf:2"},
		{"time exceeded about an outbound UDP probe",
			`icmp 198.51.100.1 -> 192.0.2.10 in via en0 type 11 code 0 about "udp 192.0.2.10:51000 -> 203.0.113.5:33434 out via en0"`, "pf.conf:2"},
		{"unreachable about a reply of an inbound connection",
			`icmp 198.51.100.1 -> 192.0.2.10 in via en0 type 3 code 1 about "tcp 192.0.2.10:22 -> 203.0.113.5:51000 out via en0"`, "pf.conf:3"},
		{"no state: the flow was passed without state",
			`icmp 198.51.100.1 -> 192.0.2.10 in via en0 type 3 code 1 about "tcp 192.0.2.10:51000 -> 203.0.113.5:25 out via en0"`, "pf.conf:1"},
		{"no state: the flow was blocked",
			`icmp 198.51.100.1 -> 192.0.2.10 in via en0 type 3 code 1 about "icmp 192.0.2.10 -> 203.0.113.5 out type 8"`, "pf.conf:1"},
		{"an error without its quoted packet: the rules decide",
			`icmp 198.51.100.1 -> 192.0.2.10 in via en0 type 3 code 4`, "pf.conf:1"},
		{"icmp6 packet too big",
			`icmp6 2001:db8::1 -> 2001:db8::10 in via en0 type 2 about "tcp [2001:db8::10]:51000 -> [2001:db8::5]:443 out via en0"`, "pf.conf:2"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, size := range []int{pfBlockRules, 1} {
				rs, err := parsePFWith(context.Background(), []byte(conf), "pf.conf", nil, size, PFOptions{})
				if err != nil {
					t.Fatal(err)
				}
				p := pkt(t, tt.spec)
				ex, steps := rs.Explain(&p)
				for name, v := range map[string]Verdict{"Eval": rs.Eval(&p), "reference": rs.pfEvalReference(&p), "Explain": ex} {
					if v.Where != tt.where {
						t.Errorf("%s(%s) in blocks of %d = %s, want %s", name, tt.spec, size, v.Where, tt.where)
					}
				}
				if p.About != nil && (len(steps) == 0 || steps[0].Where != tt.where && steps[0].Where != "state") {
					t.Errorf("Explain(%s) steps = %+v, want the state step first", tt.spec, steps)
				}
			}
		})
	}
}

// TestIPFWICMPErrorNoState checks that ipfw gives an ICMP error no state: its rules decide.
func TestIPFWICMPErrorNoState(t *testing.T) {
	rs, err := ParseIPFW([]byte("00100 check-state\n00200 allow tcp from me to any setup keep-state\n00300 deny ip from any to any\n"), "rules.list", nil)
	if err != nil {
		t.Fatal(err)
	}
	p := pkt(t, `icmp 198.51.100.1 -> 192.0.2.10 in via en0 type 3 code 4 about "tcp 192.0.2.10:51000 -> 203.0.113.5:443 out via en0"`)
	if v := rs.Eval(&p); v.Where != "00300" {
		t.Errorf("Eval(%s) = %+v, want denied by 00300", &p, v)
	}
}
