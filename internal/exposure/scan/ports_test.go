package scan

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// portsCases is the table of TestParsePorts, and the seeds of FuzzParsePorts.
var portsCases = []struct {
	spec    string
	want    []uint16
	wantErr string // a part of the error, "" when none is wanted
}{
	{spec: "22", want: []uint16{22}},
	{spec: "22,80,443", want: []uint16{22, 80, 443}},
	{spec: "443, 80 ,22,22", want: []uint16{22, 80, 443}},
	{spec: "8000-8003", want: []uint16{8000, 8001, 8002, 8003}},
	{spec: "65533-", want: []uint16{65533, 65534, 65535}},
	{spec: "-3", want: []uint16{1, 2, 3}},
	{spec: "ssh,http,https,postgresql", want: []uint16{22, 80, 443, 5432}},
	{spec: "ftp-data,http-alt,ms-wbt-server", want: []uint16{20, 3389, 8080}},
	{spec: "5-7,6,ssh,1", want: []uint16{1, 5, 6, 7, 22}},
	{spec: "65535", want: []uint16{65535}},
	{spec: "", wantErr: "empty port specification"},
	{spec: "  ", wantErr: "empty port specification"},
	{spec: "22,,80", wantErr: "empty item"},
	{spec: "22,", wantErr: "empty item"},
	{spec: "0", wantErr: "out of range"},
	{spec: "0-10", wantErr: "out of range"},
	{spec: "65536", wantErr: "out of range"},
	{spec: "100000", wantErr: "out of range"},
	{spec: "000000022", wantErr: "out of range"},
	{spec: "90-80", wantErr: "runs backwards: write 80-90"},
	{spec: "postgres", wantErr: `unknown service name "postgres"`},
	{spec: "SSH", wantErr: `bad port "SSH"`},
	{spec: "22/tcp", wantErr: `bad port "22/tcp"`},
	{spec: "+22", wantErr: `bad port "+22"`},
	{spec: "1-2-3", wantErr: `bad port "2-3"`},
	{spec: "ssh-http", wantErr: `unknown service name "ssh"`},
	{spec: "--", wantErr: `bad port "-"`},
	{spec: "0x16", wantErr: `bad port "0x16"`},
}

func TestParsePorts(t *testing.T) {
	for _, c := range portsCases {
		t.Run(c.spec, func(t *testing.T) {
			got, err := ParsePorts(c.spec)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("ParsePorts(%q) = %v, %v, want an error with %q", c.spec, got, err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParsePorts(%q): %v", c.spec, err)
			}
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("ParsePorts(%q) (-want +got):\n%s", c.spec, diff)
			}
		})
	}
}

func TestParsePortsAll(t *testing.T) {
	for _, spec := range []string{"-", "1-65535", "-65535", "1-", "1-100,50-65535"} {
		got, err := ParsePorts(spec)
		if err != nil {
			t.Fatalf("ParsePorts(%q): %v", spec, err)
		}
		if len(got) != 65535 || got[0] != 1 || got[65534] != 65535 {
			t.Errorf("ParsePorts(%q) = %d ports from %d to %d, want 65535 from 1 to 65535", spec, len(got), got[0], got[len(got)-1])
		}
	}
}

func TestServiceNames(t *testing.T) {
	for name, port := range services {
		if got := ServiceName(port); got != name {
			t.Errorf("ServiceName(%d) = %q, want %q (one name per port in the table)", port, got, name)
		}
		if got, ok := ServicePort(name); !ok || got != port {
			t.Errorf("ServicePort(%q) = %d, %v, want %d, true", name, got, ok, port)
		}
	}
	if got := ServiceName(1); got != "" {
		t.Errorf("ServiceName(1) = %q, want none", got)
	}
}

func TestFormatPorts(t *testing.T) {
	for _, c := range []struct {
		in   []uint16
		want string
	}{
		{nil, ""},
		{[]uint16{22}, "22"},
		{[]uint16{22, 80, 81, 82, 443, 65535}, "22,80-82,443,65535"},
		{[]uint16{1, 2}, "1-2"},
	} {
		if got := FormatPorts(c.in); got != c.want {
			t.Errorf("FormatPorts(%v) = %q, want %q", c.in, got, c.want)
		}
	}
}

func FuzzParsePorts(f *testing.F) {
	for _, c := range portsCases {
		f.Add(c.spec)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		got, err := ParsePorts(spec)
		if err != nil {
			if got != nil {
				t.Fatalf("ParsePorts(%q) = %v with error %v, want nil", spec, got, err)
			}
			return
		}
		if len(got) == 0 {
			t.Fatalf("ParsePorts(%q) = no ports and no error", spec)
		}
		if !slices.IsSorted(got) || slices.Contains(got, 0) || len(slices.Compact(slices.Clone(got))) != len(got) {
			t.Fatalf("ParsePorts(%q) = %v, not sorted, unique and nonzero", spec, got)
		}
		back, err := ParsePorts(FormatPorts(got))
		if err != nil || !slices.Equal(back, got) {
			t.Fatalf("ParsePorts(FormatPorts(ParsePorts(%q))) = %v, %v, want %v", spec, back, err, got)
		}
	})
}
