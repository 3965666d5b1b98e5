package rules

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// packetFlagsTests are TCP packet specs and the flags, Setup and Established they mean.
var packetFlagsTests = []struct {
	in                 string
	flags              uint8
	setup, established bool
}{
	{"tcp 203.0.113.5:51234 -> 192.0.2.10:22 in via en0", TCPACK, false, true},
	{"tcp 203.0.113.5:51234 -> 192.0.2.10:22 in via en0 setup", TCPSYN, true, false},
	{"tcp 203.0.113.5:51234 -> 192.0.2.10:22 in via en0 established", TCPACK, false, true},
	{"tcp 203.0.113.5:51234 -> 192.0.2.10:22 in via en0 flags S", TCPSYN, true, false},
	{"tcp 203.0.113.5:51234 -> 192.0.2.10:22 in via en0 flags SA", TCPSYN | TCPACK, false, true},
	{"tcp 203.0.113.5:51234 -> 192.0.2.10:22 in via en0 flags FPU", TCPFIN | TCPPSH | TCPURG, false, false},
	{"tcp 203.0.113.5:51234 -> 192.0.2.10:22 in via en0 flags R", TCPRST, false, true},
	{"tcp 203.0.113.5:51234 -> 192.0.2.10:22 in via en0 flags SF", TCPSYN | TCPFIN, true, false},
	{"tcp 203.0.113.5:51234 -> 192.0.2.10:22 in via en0 flags none", 0, false, false},
	{"tcp 203.0.113.5:51234 -> 192.0.2.10:22 in via en0 flags FSRPAUEW", 0xff, false, true},
	{"tcp 203.0.113.5:51234 -> 192.0.2.10:22 in via en0 setup flags A", TCPACK, false, true},
	{"tcp 203.0.113.5:51234 -> 192.0.2.10:22 in via en0 flags A setup", TCPSYN, true, false},
	{"tcp 192.0.2.10:22 -> 203.0.113.5:51234 out via en0 reply", TCPACK, false, true},
	{"tcp 192.0.2.10:22 -> 203.0.113.5:51234 out via en0 reply flags FA", TCPFIN | TCPACK, false, true},
}

func TestParsePacketFlags(t *testing.T) {
	type got struct {
		Flags              uint8
		Setup, Established bool
	}
	for _, tt := range packetFlagsTests {
		t.Run(tt.in, func(t *testing.T) {
			p, err := ParsePacket(tt.in)
			if err != nil {
				t.Fatalf("ParsePacket(%q) error = %v", tt.in, err)
			}
			if d := cmp.Diff(got{tt.flags, tt.setup, tt.established}, got{p.Flags, p.Setup, p.Established}); d != "" {
				t.Errorf("ParsePacket(%q) flags (-want +got):\n%s", tt.in, d)
			}
			if q, err := ParsePacket(p.String()); err != nil || !q.Equal(p) {
				t.Errorf("ParsePacket(%q.String() = %q) = %+v, %v, want %+v", tt.in, p.String(), q, err, p)
			}
		})
	}
}

func TestParsePacketFlagsRefused(t *testing.T) {
	for _, in := range []string{
		"tcp 203.0.113.5:51234 -> 192.0.2.10:22 in flags",
		"tcp 203.0.113.5:51234 -> 192.0.2.10:22 in flags SX",
		"tcp 203.0.113.5:51234 -> 192.0.2.10:22 in flags s",
		"tcp 203.0.113.5:51234 -> 192.0.2.10:22 in flags S/SA",
		"udp 203.0.113.5:51234 -> 192.0.2.10:53 in flags S",
		"tcp 192.0.2.10:22 -> 203.0.113.5:51234 out reply flags S",
	} {
		t.Run(in, func(t *testing.T) {
			if p, err := ParsePacket(in); err == nil {
				t.Errorf("ParsePacket(%q) = %+v, want an error", in, p)
			}
		})
	}
}

func TestTCPFlagsFromState(t *testing.T) {
	for _, tt := range []struct {
		p    Packet
		want uint8
	}{
		{Packet{Proto: ProtoTCP, Setup: true}, TCPSYN},
		{Packet{Proto: ProtoTCP, Established: true}, TCPACK},
		{Packet{Proto: ProtoTCP}, 0},
		{Packet{Proto: ProtoTCP, Established: true, Flags: TCPRST}, TCPRST},
	} {
		if got := tt.p.TCPFlags(); got != tt.want {
			t.Errorf("%+v.TCPFlags() = %#x, want %#x", tt.p, got, tt.want)
		}
	}
}

// TestPFEvalTCPFlags checks that pf's "flags X/Y" tests see the packet's own flags: scan rules
// match the scans they are written for (pf.conf(5): the flags in Y must equal those in X).
func TestPFEvalTCPFlags(t *testing.T) {
	conf := "block in quick proto tcp flags F/F\n" +
		"block in quick proto tcp flags FUP/FUP\n" +
		"block in quick proto tcp flags /SFRA\n" +
		"block all\n" +
		"pass in proto tcp to port 22 flags S/SA no state\n"
	for _, tt := range []struct {
		flags, where string
	}{
		{"flags FA", "pf.conf:1"},
		{"flags FPU", "pf.conf:1"}, // F/F comes first
		{"flags PU", "pf.conf:3"},
		{"flags none", "pf.conf:3"},
		{"flags S", "pf.conf:5"},
		{"setup", "pf.conf:5"},
		{"flags SE", "pf.conf:5"},
		{"flags SA", "pf.conf:4"},
		{"flags R", "pf.conf:4"},
		{"flags A", "pf.conf:4"},
	} {
		spec := "tcp 203.0.113.5:51234 -> 192.0.2.10:22 in via en0 " + tt.flags
		t.Run(tt.flags, func(t *testing.T) {
			for _, size := range []int{pfBlockRules, 1} {
				rs, err := parsePFWith(context.Background(), []byte(conf), "pf.conf", nil, size, PFOptions{})
				if err != nil {
					t.Fatal(err)
				}
				p := pkt(t, spec)
				ex, _ := rs.Explain(&p)
				for name, v := range map[string]Verdict{"Eval": rs.Eval(&p), "reference": rs.pfEvalReference(&p), "Explain": ex} {
					if v.Where != tt.where {
						t.Errorf("%s(%s) in blocks of %d = %s, want %s", name, p, size, v.Where, tt.where)
					}
				}
			}
		})
	}
}

// TestPFStateWithFlags checks the state model with flags: an ACK of a connection whose SYN a
// keep-state rule passes passes on its state, a SYN+ACK answer too; a lone FIN of no connection
// the rules allowed does not.
func TestPFStateWithFlags(t *testing.T) {
	conf := "block all\npass in proto tcp to port 22 keep state\n"
	for _, tt := range []struct {
		spec, where string
	}{
		{"tcp 203.0.113.5:51234 -> 192.0.2.10:22 in via en0 flags A", "pf.conf:2"},
		{"tcp 192.0.2.10:22 -> 203.0.113.5:51234 out via en0 flags SA", "pf.conf:2"},
		{"tcp 192.0.2.10:22 -> 203.0.113.5:51234 out via en0 flags R", "pf.conf:2"},
		{"tcp 203.0.113.5:51234 -> 192.0.2.10:25 in via en0 flags FA", "pf.conf:1"},
	} {
		t.Run(tt.spec, func(t *testing.T) {
			rs, err := ParsePF([]byte(conf), "pf.conf", nil)
			if err != nil {
				t.Fatal(err)
			}
			p := pkt(t, tt.spec)
			if got, want := rs.Eval(&p), rs.pfEvalReference(&p); got != want || got.Where != tt.where {
				t.Errorf("Eval(%s) = %+v, reference %+v, want decided by %s", tt.spec, got, want, tt.where)
			}
		})
	}
}

// packetAboutTests are ICMP error specs with the packet they quote, and whether ParsePacket
// accepts them.
var packetAboutTests = []struct {
	in string
	ok bool
}{
	{`icmp 198.51.100.1 -> 192.0.2.10 in via en0 type 3 code 4 about "tcp 192.0.2.10:51000 -> 203.0.113.5:443 out via en0"`, true},
	{`icmp 198.51.100.1 -> 192.0.2.10 in type 11 code 0 about udp 192.0.2.10:51000 -> 203.0.113.5:33434 out`, true},
	{`icmp6 2001:db8::1 -> 2001:db8::10 in via en0 type 2 about "tcp [2001:db8::10]:51000 -> [2001:db8::5]:443 out via en0"`, true},
	{`icmp 198.51.100.1 -> 192.0.2.10 in type 3 about "icmp 192.0.2.10 -> 203.0.113.5 out type 8 code 0"`, true},
	{`icmp 198.51.100.1 -> 192.0.2.10 in type 8 about "tcp 192.0.2.10:51000 -> 203.0.113.5:443 out"`, false},                             // an echo quotes nothing
	{`icmp 198.51.100.1 -> 192.0.2.10 in type 3 about "tcp 192.0.2.99:51000 -> 203.0.113.5:443 out"`, false},                             // sent to another host
	{`icmp 198.51.100.1 -> 192.0.2.10 in type 3 about "tcp [2001:db8::10]:51000 -> [2001:db8::5]:443 out"`, false},                       // another family
	{`icmp 198.51.100.1 -> 192.0.2.10 in type 3 about "tcp 192.0.2.10:51000 -> 203.0.113.5:443"`, false},                                 // no direction
	{`icmp 198.51.100.1 -> 192.0.2.10 in type 3 about "tcp 192.0.2.10:51000 -> 203.0.113.5:443 out reply"`, false},                       // reply
	{`icmp 198.51.100.1 -> 192.0.2.10 in type 3 about "icmp 192.0.2.10 -> 1.2.3.4 out type 3 about icmp 1.2.3.4 -> 5.6.7.8 out"`, false}, // nested
	{`tcp 198.51.100.1:1 -> 192.0.2.10:2 in about "tcp 192.0.2.10:51000 -> 203.0.113.5:443 out"`, false},                                 // not icmp
}

func TestParsePacketAbout(t *testing.T) {
	for _, tt := range packetAboutTests {
		t.Run(tt.in, func(t *testing.T) {
			p, err := ParsePacket(tt.in)
			if (err == nil) != tt.ok {
				t.Fatalf("ParsePacket(%q) = %+v, %v; want ok %v", tt.in, p, err, tt.ok)
			}
			if err != nil {
				return
			}
			if p.About == nil {
				t.Errorf("ParsePacket(%q).About = %+v, want the quoted packet", tt.in, p.About)
			}
			if q, err := ParsePacket(p.String()); err != nil || !q.Equal(p) {
				t.Errorf("ParsePacket(%q.String() = %q) = %+v, %v, want %+v", tt.in, p.String(), q, err, p)
			}
		})
	}
}
