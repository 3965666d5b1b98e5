package macos

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fixture returns a testdata file with the reporter's `$ ` command lines removed, which are
// context and not program output (testdata/README.md).
func fixture(t testing.TB, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var keep []string
	for _, l := range strings.SplitAfter(string(data), "\n") {
		if !strings.HasPrefix(l, "$ ") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "")
}

// rawFixture returns a testdata file as it is.
func rawFixture(t testing.TB, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

type disabledCase struct {
	name    string
	in      string
	want    map[string]bool
	wantErr bool
}

func disabledCases(t testing.TB) []disabledCase {
	return []disabledCase{
		{
			name: "big sur/monterey true-false dialect with login item block",
			in:   rawFixture(t, "launchctl-print-disabled-user-truefalse-2021.txt"),
			want: map[string]bool{
				// The login item block also names com.docker.helper; it must not count.
				"com.docker.helper":                          false,
				"com.apple.ManagedClientAgent.enrollagent":   true,
				"at.obdev.littlesnitch.agent":                false,
				"5A4RE8SF68.com.tencent.xinWeChat.IPCHelper": true,
				"com.citrix.ServiceRecords":                  true,
				"com.apple.Siri.agent":                       true,
				"com.microsoft.update.agent":                 false,
				"io.tailscale.ipn.macos.login-item-helper":   true,
				"com.cisco.anyconnect.notification":          true,
				"com.citrix.ReceiverHelper":                  true,
				"com.apple.FolderActionsDispatcher":          false,
				"com.oray.sunlogin.desktopagent":             true,
				"com.citrix.AuthManager_Mac":                 true,
				"com.apple.appleseed.seedusaged.postinstall": true,
				"com.apple.ScriptMenuApp":                    true,
			},
		},
		{
			name: "ventura+ enabled-disabled dialect (macOS 26.3)",
			in:   rawFixture(t, "launchctl-print-disabled-gui-darwin25.3.txt"),
			want: map[string]bool{
				"com.docker.helper":                false,
				"com.cole.content-brain":           true,
				"com.cole.daily-podcast":           false,
				"com.apple.Siri.agent":             true,
				"com.kipi.fractional-cxo.opp-scan": false,
			},
		},
		{
			// Built in the form mSCP greps for (reference §6), not captured.
			name: "system domain services",
			in:   "disabled services = {\n\t\"com.openssh.sshd\" => disabled\n\t\"com.apple.screensharing\" => enabled\n}\n",
			want: map[string]bool{"com.openssh.sshd": true, "com.apple.screensharing": false},
		},
		{name: "empty block", in: "disabled services = {\n}\n", want: map[string]bool{}},
		{name: "crlf", in: "disabled services = {\r\n\t\"com.apple.smbd\" => true\r\n}\r\n", want: map[string]bool{"com.apple.smbd": true}},
		{name: "nested block skipped", in: "other = {\n\tinner = {\n\t\t\"x\" => true\n\t}\n\t\"y\" => z\n}\ndisabled services = {\n\t\"a\" => false\n}\n", want: map[string]bool{"a": false}},
		{name: "empty output", in: "", wantErr: true},
		{name: "no block", in: "login item associations = {\n\t\"a\" => \"b\"\n}\n", wantErr: true},
		{name: "cut off", in: "disabled services = {\n\t\"com.openssh.sshd\" => disabled\n", wantErr: true},
		{name: "unknown state", in: "disabled services = {\n\t\"com.openssh.sshd\" => maybe\n}\n", wantErr: true},
		{name: "unquoted label", in: "disabled services = {\n\tcom.openssh.sshd => disabled\n}\n", wantErr: true},
		{name: "empty label", in: "disabled services = {\n\t\"\" => disabled\n}\n", wantErr: true},
		{name: "two blocks", in: "disabled services = {\n}\ndisabled services = {\n}\n", wantErr: true},
		{name: "defaults error text", in: rawFixture(t, "defaults-read-missing-key.txt"), wantErr: true},
		{name: "csrutil text", in: rawFixture(t, "csrutil-status-enabled.txt"), wantErr: true},
	}
}

func TestParseDisabled(t *testing.T) {
	for _, tc := range disabledCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseDisabled([]byte(tc.in))
			if tc.wantErr {
				if err == nil {
					t.Fatalf("parseDisabled(%q) = %v, want an error", tc.in, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseDisabled(%q) error: %v", tc.in, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("parseDisabled mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// printDisabled writes labels back in the Ventura dialect.
func printDisabled(m map[string]bool) string {
	labels := make([]string, 0, len(m))
	for l := range m {
		labels = append(labels, l)
	}
	sort.Strings(labels)
	var b strings.Builder
	b.WriteString("disabled services = {\n")
	for _, l := range labels {
		word := "enabled"
		if m[l] {
			word = "disabled"
		}
		fmt.Fprintf(&b, "\t%q => %s\n", l, word)
	}
	b.WriteString("}\n")
	return b.String()
}

func FuzzParseDisabled(f *testing.F) {
	for _, tc := range disabledCases(f) {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := parseDisabled([]byte(in))
		if err != nil {
			return
		}
		for l := range got {
			if l == "" || strings.ContainsAny(l, "\n") {
				t.Fatalf("parseDisabled(%q) gave label %q", in, l)
			}
			if strings.ContainsAny(l, "\"\\") || !isPrintable(l) {
				return // %q would escape it; no round trip
			}
		}
		again, err := parseDisabled([]byte(printDisabled(got)))
		if err != nil {
			t.Fatalf("reparse of %q: %v", printDisabled(got), err)
		}
		if diff := cmp.Diff(got, again); diff != "" {
			t.Fatalf("round trip of %q (-first +second):\n%s", in, diff)
		}
	})
}

func isPrintable(s string) bool {
	return fmt.Sprintf("%q", s) == `"`+s+`"`
}

type csrutilCase struct {
	name    string
	in      string
	want    sipStatus
	wantErr bool
}

func csrutilCases(t testing.TB) []csrutilCase {
	return []csrutilCase{
		{
			name: "enabled",
			in:   fixture(t, "csrutil-status-enabled.txt"),
			want: sipStatus{Enabled: true, Status: "enabled"},
		},
		{
			name: "custom configuration (12.5)",
			in:   fixture(t, "csrutil-status-custom-config-2023.txt"),
			want: sipStatus{Status: "unknown (Custom Configuration)", Disabled: []string{
				"Apple Internal", "Filesystem Protections", "Debugging Restrictions",
				"NVRAM Protections", "Boot-arg Restrictions", "Kernel Integrity Protections",
			}},
		},
		{
			// The disabled wording is not in the samples; built from the enabled line.
			name: "disabled",
			in:   "System Integrity Protection status: disabled.\n",
			want: sipStatus{Status: "disabled"},
		},
		{name: "leading blank line", in: "\nSystem Integrity Protection status: enabled.\n", want: sipStatus{Enabled: true, Status: "enabled"}},
		{name: "enabled without the period is not enabled", in: "System Integrity Protection status: enabled\n", want: sipStatus{Status: "enabled"}},
		{name: "with the prompt line", in: rawFixture(t, "csrutil-status-custom-config-2023.txt"), wantErr: true},
		{name: "empty", in: "", wantErr: true},
		{name: "no value", in: "System Integrity Protection status: \n", wantErr: true},
		{name: "defaults error text", in: rawFixture(t, "defaults-read-missing-key.txt"), wantErr: true},
	}
}

func TestParseCSRUtil(t *testing.T) {
	for _, tc := range csrutilCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseCSRUtil([]byte(tc.in))
			if tc.wantErr {
				if err == nil {
					t.Fatalf("parseCSRUtil(%q) = %+v, want an error", tc.in, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseCSRUtil(%q) error: %v", tc.in, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("parseCSRUtil mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func FuzzParseCSRUtil(f *testing.F) {
	for _, tc := range csrutilCases(f) {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := parseCSRUtil([]byte(in))
		if err != nil {
			return
		}
		if got.Status == "" {
			t.Fatalf("parseCSRUtil(%q) gave an empty status", in)
		}
		if got.Enabled && (got.Status != "enabled" || !strings.Contains(in, sipStatusPrefix+"enabled.")) {
			t.Fatalf("parseCSRUtil(%q) = enabled without %q", in, sipStatusPrefix+"enabled.")
		}
	})
}

type remoteLoginCase struct {
	name    string
	in      string
	want    bool
	wantErr error // a sentinel, or errAny for any error
}

var errAny = errors.New("any error")

func remoteLoginCases(t testing.TB) []remoteLoginCase {
	return []remoteLoginCase{
		{name: "on", in: "Remote Login: On\n", want: true},
		{name: "off", in: "Remote Login: Off\n", want: false},
		{name: "off, no newline", in: "Remote Login: Off", want: false},
		// Reference §6: logicnow/BlueSky#54 (10.15.1) and rapid7/metasploit-framework#2302.
		{name: "no full disk access", in: "setremotelogin: Turning Remote Login on or off requires Full Disk Access privileges.\n", wantErr: errSystemsetupFDA},
		{name: "not admin", in: "You need administrator access to run this tool... exiting!\n", wantErr: errSystemsetupAdmin},
		{name: "unknown value", in: "Remote Login: Maybe\n", wantErr: errAny},
		{name: "both", in: "Remote Login: On\nRemote Login: Off\n", wantErr: errAny},
		{name: "empty", in: "", wantErr: errAny},
		{name: "defaults error text", in: rawFixture(t, "defaults-read-missing-key.txt"), wantErr: errAny},
	}
}

func TestParseRemoteLogin(t *testing.T) {
	for _, tc := range remoteLoginCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseRemoteLogin([]byte(tc.in))
			switch {
			case tc.wantErr == nil && err != nil:
				t.Fatalf("parseRemoteLogin(%q) error: %v", tc.in, err)
			case tc.wantErr == nil && got != tc.want:
				t.Errorf("parseRemoteLogin(%q) = %v, want %v", tc.in, got, tc.want)
			case tc.wantErr == errAny && err == nil:
				t.Errorf("parseRemoteLogin(%q) = %v, want an error", tc.in, got)
			case tc.wantErr != nil && tc.wantErr != errAny && !errors.Is(err, tc.wantErr):
				t.Errorf("parseRemoteLogin(%q) error = %v, want %v", tc.in, err, tc.wantErr)
			}
		})
	}
}

func FuzzParseRemoteLogin(f *testing.F) {
	for _, tc := range remoteLoginCases(f) {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		on, err := parseRemoteLogin([]byte(in))
		if err != nil {
			return
		}
		word := "Off"
		if on {
			word = "On"
		}
		if !strings.Contains(in, "Remote Login:") || !strings.Contains(in, word) {
			t.Fatalf("parseRemoteLogin(%q) = %v without \"Remote Login:\" and %q in the input", in, on, word)
		}
	})
}
