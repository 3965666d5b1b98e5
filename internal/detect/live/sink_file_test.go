package live_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/firewarden/firewarden/internal/detect/live"
)

// The --out file of a root daemon is never followed through a link (root would append alerts to
// whatever the link names) and a FIFO planted there neither blocks the detector nor is used.
func TestFileRefusesLinksAndFIFOs(t *testing.T) {
	for _, tt := range []struct {
		name  string
		plant func(t *testing.T, path, target string)
		want  string
	}{
		{"link", func(t *testing.T, path, target string) { os.Symlink(target, path) }, "symbolic link"},
		{"fifo", func(t *testing.T, path, target string) {
			if err := syscall.Mkfifo(path, 0o600); err != nil {
				t.Skipf("mkfifo: %v", err)
			}
		}, "named pipe"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path, target := filepath.Join(dir, "alerts.ndjson"), filepath.Join(dir, "target")
			tt.plant(t, path, target)
			done := make(chan error, 1)
			go func() {
				f, err := live.OpenFile(path)
				if err == nil {
					f.Close()
				}
				done <- err
			}()
			var err error
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				t.Fatalf("OpenFile(%s) blocked", tt.name)
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("OpenFile(%s) = %v, want an error saying %q", tt.name, err, tt.want)
			}
			if _, err := os.Lstat(target); err == nil {
				t.Errorf("OpenFile(%s) created the link's target", tt.name)
			}
		})
	}
}
