package fwlog

import (
	"os"
	"testing"
)

func TestParseServices(t *testing.T) {
	data, err := os.ReadFile("testdata/services-debian-netbase-6.4-excerpt.txt")
	if err != nil {
		t.Fatal(err)
	}
	s := ParseServices(data)
	for _, tt := range []struct {
		p    Proto
		port uint16
		want string
	}{{ProtoTCP, 21, "ftp"}, {ProtoTCP, 22, "ssh"}, {ProtoUDP, 53, "domain"}, {ProtoTCP, 80, "http"}, {ProtoTCP, 9, "discard"}, {ProtoTCP, 1, "tcpmux"}} {
		if got := s.Name(tt.p, tt.port); got != tt.want {
			t.Errorf("Name(%v, %d) = %q, want %q", tt.p, tt.port, got, tt.want)
		}
	}
	if got := ParseServices([]byte("# only a comment\nbroken\nx 99999/tcp\ny 5/sctp\n")); len(got) != 0 {
		t.Errorf("ParseServices(junk) = %v, want empty", got)
	}
	if BuiltinServices().Name(ProtoTCP, 445) != "microsoft-ds" {
		t.Error("built-in table lacks tcp/445")
	}
}

func FuzzParseServices(f *testing.F) {
	data, _ := os.ReadFile("testdata/services-debian-netbase-6.4-excerpt.txt")
	f.Add(data)
	f.Fuzz(func(t *testing.T, data []byte) { ParseServices(data) })
}
