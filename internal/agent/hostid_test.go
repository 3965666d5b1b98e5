package agent

import (
	"strings"
	"testing"
)

// ioregSample is the layout of `ioreg -rd1 -c IOPlatformExpertDevice` (hosttest's emulator prints
// the same; see internal/host/hosttest/ioreg.go for what is abridged).
const ioregSample = `+-o J314sAP  <class IOPlatformExpertDevice, id 0x100000110, registered, matched, active, busy 0 (48213 ms), retain 37>
    {
      "IOPolledInterface" = "AppleARMWatchdogTimerHibernateHandler is not serializable"
      "IOPlatformSerialNumber" = "C02XK0AAJG5J"
      "model" = <"MacBookPro18,3">
      "IOPlatformUUID" = "3f1c2b7a-9d4e-5a61-8c2f-0b7e4d19a6c3"
      "platform-name" = <"t6000">
    }
    
`

func TestParseIOReg(t *testing.T) {
	for _, tt := range []struct {
		name, out, want string
	}{
		{"apple silicon", ioregSample, "3F1C2B7A-9D4E-5A61-8C2F-0B7E4D19A6C3"},
		{"none", strings.Replace(ioregSample, "IOPlatformUUID", "IOPlatformUUIX", 1), ""},
		{"two", ioregSample + `      "IOPlatformUUID" = "00000000-0000-0000-0000-000000000001"` + "\n", ""},
		{"short", strings.Replace(ioregSample, "-0b7e4d19a6c3", "-0b7e", 1), ""},
		{"inside another value", `      "note" = "x "IOPlatformUUID" = "3F1C2B7A-9D4E-5A61-8C2F-0B7E4D19A6C3""` + "\n", ""},
		{"empty", "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseIOReg([]byte(tt.out))
			if got != tt.want || (err == nil) != (tt.want != "") {
				t.Errorf("ParseIOReg = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func FuzzParseIOReg(f *testing.F) {
	f.Add([]byte(ioregSample))
	f.Add([]byte(`"IOPlatformUUID" = "3F1C2B7A-9D4E-5A61-8C2F-0B7E4D19A6C3"`))
	f.Fuzz(func(t *testing.T, out []byte) {
		id, err := ParseIOReg(out)
		if err == nil && (len(id) != 36 || strings.ToUpper(id) != id || !strings.Contains(strings.ToUpper(string(out)), id)) {
			t.Fatalf("ParseIOReg(%q) = %q", out, id)
		}
	})
}

func TestParseMachineID(t *testing.T) {
	for _, tt := range []struct {
		in, want string
	}{
		{"4c4c4544003957108052b4c04f384b32\n", "4c4c4544003957108052b4c04f384b32"},
		{"4c4c4544003957108052b4c04f384b32", "4c4c4544003957108052b4c04f384b32"},
		{"4C4C4544003957108052B4C04F384B32\n", ""},
		{"uninitialized\n", ""},
		{"00000000000000000000000000000000\n", ""},
		{"4c4c4544-0039-5710-8052-b4c04f384b32\n", ""},
		{"", ""},
	} {
		got, err := ParseMachineID([]byte(tt.in))
		if got != tt.want || (err == nil) != (tt.want != "") {
			t.Errorf("ParseMachineID(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func FuzzParseMachineID(f *testing.F) {
	f.Add([]byte("4c4c4544003957108052b4c04f384b32\n"))
	f.Add([]byte("uninitialized\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		id, err := ParseMachineID(data)
		if err == nil && (len(id) != 32 || !strings.Contains(string(data), id)) {
			t.Fatalf("ParseMachineID(%q) = %q", data, id)
		}
	})
}
