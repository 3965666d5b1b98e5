package cli

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// On the real system, install refuses what the unit could not run, and needs root. Both run as
// uid 501, so nothing reaches the real /etc/systemd/system even when a check is broken.
func TestServiceInstallRealSystemRefusals(t *testing.T) {
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"binary under /home", []string{"--binary", "/home/ann/src/firewarden/firewarden"}, "/home is hidden from the service (ProtectHome=yes); copy firewarden to /usr/local/bin"},
		{"state dir under /tmp", []string{"--binary", "/usr/local/bin/firewarden", "--state-dir", "/tmp/fw"}, "the state directory /tmp/fw cannot be used by a systemd service"},
		{"not root", []string{"--binary", "/usr/local/bin/firewarden"}, "run it as root (sudo firewarden service install guard)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			a := &app{Streams: Streams{Out: &out, Err: &errb}, getenv: func(string) string { return "" }, now: time.Now, euid: func() int { return 501 }}
			err := a.dispatch(context.Background(), append([]string{"--root", "/", "service", "install", "guard"}, tt.args...))
			var ue *usageError
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("service install guard %q = %v, want a usage error containing %q", tt.args, err, tt.want)
			}
			if out.Len() != 0 {
				t.Errorf("printed %q", out.String())
			}
		})
	}
}
