package alf

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestParseFixtures(t *testing.T) {
	tests := []struct {
		file string
		want Reading
	}{
		{"socketfilterfw-get-combined-kolide-2024-08-01.txt", Reading{
			GlobalState: ptr(1), BlockAll: ptr(false), AllowSigned: ptr(true), AllowSignedApp: ptr(true),
			Stealth: ptr(false), Logging: ptr(true), LoggingOpt: "throttled", Dialect: Modern,
		}},
		{"socketfilterfw-get-combined-kolide-2024-08-20.txt", Reading{
			GlobalState: ptr(2), BlockAll: ptr(false), AllowSigned: ptr(true), AllowSignedApp: ptr(true),
			Stealth: ptr(true), Logging: ptr(true), LoggingOpt: "throttled", Dialect: Modern,
		}},
		{"socketfilterfw-get-combined-pareto139-2023.txt", Reading{
			GlobalState: ptr(1), BlockAll: ptr(false), AllowSigned: ptr(true), AllowSignedApp: ptr(true),
			Dialect:   Legacy,
			ToolError: []string{"ALF: Error, kStealthEnableKey does not return the correct type."},
		}},
		{"socketfilterfw-getglobalstate-state2-2025.txt", Reading{GlobalState: ptr(2), Dialect: Modern}},
		{"socketfilterfw-listapps-newfmt-2026.txt", Reading{AppsListed: true, Dialect: Modern, Apps: []App{
			{"/usr/libexec/sshd-session", false}, {"/usr/libexec/sshd-auth", false}, {"/usr/libexec/remoted", true},
			{"/usr/bin/python3", true}, {"/usr/bin/ruby", true}, {"/usr/sbin/cupsd", true},
			{"/usr/libexec/sharingd", true}, {"/usr/libexec/sshd-keygen-wrapper", true}, {"/usr/sbin/smbd", true},
		}}},
		{"socketfilterfw-listapps-oldfmt-2016.txt", Reading{AppsListed: true, Dialect: Legacy, Apps: []App{
			{"/Users/abanks/Library/Application Support/Dropbox/Dropbox.app", true},
			{"/System/Library/CoreServices/RemoteManagement/ARDAgent.app", true},
			{"/Library/Application Support/Citrix/NetScaler Gateway.app", true},
		}}},
		{"socketfilterfw-listapps-kolide-statefmt-2024.txt", Reading{AppsListed: true, AppsByName: true, Dialect: Modern, Apps: []App{
			{"replicatord", true}, {"Pop Helper.app", false}, {"Google Chrome", false},
			{"rtadvd", true}, {"com.docker.backend", true}, {"sshd-keygen-wrapper", true},
		}}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got := Parse(readTestdata(t, tt.file))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Parse(%s) mismatch (-want +got):\n%s", tt.file, diff)
			}
		})
	}
}

func TestParseLines(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Reading
	}{
		{"state 0", "Firewall is disabled. (State = 0)\n", Reading{GlobalState: ptr(0)}},
		{"state 1 trailing space (openradar 47981615)", "Firewall is enabled. (State = 1) \n", Reading{GlobalState: ptr(1)}},
		{"legacy state 2 (m-cli 2021)", "Firewall is enabled. (State = 2)", Reading{GlobalState: ptr(2)}},
		{"state 3 is not a state", "Firewall is enabled. (State = 3)", Reading{Unknown: []string{"Firewall is enabled. (State = 3)"}}},
		{"word enabled without state is not parsed as on", "Firewall is enabled.", Reading{Unknown: []string{"Firewall is enabled."}}},
		{"legacy block all with trailing space", "Block all DISABLED! \n", Reading{BlockAll: ptr(false), Dialect: Legacy}},
		{"legacy block all enabled", "Block all ENABLED!", Reading{BlockAll: ptr(true), Dialect: Legacy}},
		{"modern block all enabled", "Firewall has block all state set to enabled.", Reading{BlockAll: ptr(true), Dialect: Modern}},
		{"getblockall blocking wording", "Firewall is blocking all non-essential incoming connections.", Reading{BlockAll: ptr(true)}},
		{"setblockall on", "Firewall is set to block all non-essential incoming connections", Reading{BlockAll: ptr(true)}},
		{"stealth legacy", "Stealth mode enabled\n", Reading{Stealth: ptr(true), Dialect: Legacy}},
		{"stealth legacy off", "Stealth mode disabled", Reading{Stealth: ptr(false), Dialect: Legacy}},
		{"stealth modern", "Firewall stealth mode is on", Reading{Stealth: ptr(true), Dialect: Modern}},
		{"signed legacy disabled", "Automatically allow signed built-in software DISABLED\nAutomatically allow downloaded signed software DISABLED",
			Reading{AllowSigned: ptr(false), AllowSignedApp: ptr(false)}},
		{"setallowsigned off (drduh 2018)", "Disabled allow signed built-in applications automatically", Reading{AllowSigned: ptr(false)}},
		{"setallowsignedapp off (drduh 2018)", "Disabled allow signed downloaded applications automatically", Reading{AllowSignedApp: ptr(false)}},
		{"log option detail", "Log Option is detail \n", Reading{LoggingOpt: "detail"}},
		{"log option unknown", "Log Option is loud", Reading{Unknown: []string{"Log Option is loud"}}},
		{"15.1 logging failure", "Turning on log mode \nFailed to set log mode (err: 1 - failed to read key from preference file)\n",
			Reading{Logging: ptr(true), ToolError: []string{"Failed to set log mode (err: 1 - failed to read key from preference file)"}}},
		{"managed refusal", RefusalText + "\n", Reading{Refused: RefusalText}},
		{"crlf", "Firewall stealth mode is off\r\n", Reading{Stealth: ptr(false), Dialect: Modern}},
		{"empty apps", "Total number of apps = 0\n", Reading{AppsListed: true, Dialect: Modern}},
		{"apps then getter", "Total number of apps = 1\n1 : /usr/bin/ruby\n             (Block incoming connections)\nFirewall stealth mode is on\n",
			Reading{AppsListed: true, Dialect: Modern, Apps: []App{{"/usr/bin/ruby", false}}, Stealth: ptr(true)}},
		{"garbage", "Segmentation fault\n", Reading{Unknown: []string{"Segmentation fault"}}},
		{"contradicting states", "Firewall is enabled. (State = 1)\nFirewall is disabled. (State = 0)\n",
			Reading{GlobalState: ptr(1), Conflicts: []string{"Firewall is disabled. (State = 0)"}}},
		{"contradicting stealth across dialects", "Firewall stealth mode is on\nStealth mode disabled\n",
			Reading{Stealth: ptr(true), Dialect: Modern, Conflicts: []string{"Stealth mode disabled"}}},
		{"repeated agreement is fine", "Firewall stealth mode is on\nFirewall stealth mode is on\n", Reading{Stealth: ptr(true), Dialect: Modern}},
		{"empty", "", Reading{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Parse([]byte(tt.in))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Parse(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{
		"socketfilterfw-get-combined-kolide-2024-08-01.txt", "socketfilterfw-get-combined-pareto139-2023.txt",
		"socketfilterfw-listapps-newfmt-2026.txt", "socketfilterfw-listapps-oldfmt-2016.txt",
		"socketfilterfw-listapps-kolide-statefmt-2024.txt",
	} {
		f.Add(readTestdata(f, name))
	}
	f.Add([]byte("Total number of apps = 99\n1 : /x\n"))
	f.Add([]byte("ALF: total number of apps = 2 \n1 :  /a b \n     ( Block incoming connections ) \n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := Parse(data)
		if r.GlobalState != nil && (*r.GlobalState < 0 || *r.GlobalState > 2) {
			t.Errorf("Parse(%q): global state %d out of range", data, *r.GlobalState)
		}
		if !r.AppsListed && len(r.Apps) > 0 {
			t.Errorf("Parse(%q): apps without a list header", data)
		}
	})
}

func BenchmarkParseCombined(b *testing.B) {
	data := append(readTestdata(b, "socketfilterfw-get-combined-kolide-2024-08-01.txt"), readTestdata(b, "socketfilterfw-listapps-newfmt-2026.txt")...)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		Parse(data)
	}
}
