package rules

import "testing"

// TestIPFWTCPFlagsOfPacket checks that ipfw's tcpflags option tests the packet's own TCP flags
// (`flags FPU` in --packet), as pf's flags do, and that the verdict then rests on nothing.
func TestIPFWTCPFlagsOfPacket(t *testing.T) {
	const set = "100 deny tcp from any to any tcpflags fin,psh,urg\n200 deny tcp from any to any tcpflags syn,!ack\n300 allow ip from any to any\n"
	for _, tt := range []struct {
		packet string
		want   string // the deciding rule
	}{
		{"tcp 192.0.2.1:5000 -> 192.0.2.2:80 in flags FPU", "00100"},
		{"tcp 192.0.2.1:5000 -> 192.0.2.2:80 in flags FP", "00300"},
		{"tcp 192.0.2.1:5000 -> 192.0.2.2:80 in flags S", "00200"},
		{"tcp 192.0.2.1:5000 -> 192.0.2.2:80 in flags SA", "00300"},
		{"tcp 192.0.2.1:5000 -> 192.0.2.2:80 in setup", "00200"},
		{"tcp 192.0.2.1:5000 -> 192.0.2.2:80 in established", "00300"},
	} {
		t.Run(tt.packet, func(t *testing.T) {
			rs, err := ParseIPFW([]byte(set), "rules", builtinServices)
			if err != nil {
				t.Fatalf("ParseIPFW: %v", err)
			}
			p, err := ParsePacket(tt.packet)
			if err != nil {
				t.Fatalf("ParsePacket(%q): %v", tt.packet, err)
			}
			want := rs.evalReference(&p, nil, 0)
			if want.Where != tt.want || want.Unsure != "" {
				t.Errorf("evalReference(%s) = rule %s resting on %q, want rule %s resting on nothing", tt.packet, want.Where, want.Unsure, tt.want)
			}
			if got := rs.Eval(&p); got != want {
				t.Errorf("Eval(%s) = %+v, want %+v", tt.packet, got, want)
			}
		})
	}
}
