package statedir

import "testing"

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"/var/lib/firewarden":                     "/var/lib/firewarden",
		"/Library/Application Support/firewarden": "'/Library/Application Support/firewarden'",
		"/tmp/it's":      `'/tmp/it'\''s'`,
		"/tmp/$(reboot)": "'/tmp/$(reboot)'",
		"":               "''",
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}
