package rules

import (
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
			if q, err := ParsePacket(p.String()); err != nil || q != p {
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
