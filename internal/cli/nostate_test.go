package cli

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/firewarden/firewarden/internal/posture/nftposture/nfttest"
)

// rollback, fix --confirm and fix --boot act only on what an earlier fix left in the state
// directory. With a state directory that does not exist (a mistyped --state-dir, a host never
// fixed) each says there is nothing to do, and none of them creates the directory.
func TestNothingToActOnCreatesNoStateDir(t *testing.T) {
	root := linuxRoot(t)
	for _, tt := range []struct {
		args   []string
		code   int
		stdout string
		stderr string // %s: the state directory
	}{
		{[]string{"rollback"}, 2, "", "firewarden: no backups in %s/backups: nothing to roll back (fix saves one before it changes anything)\n"},
		{[]string{"fix", "--confirm"}, 2, "", "firewarden: nothing to confirm: no fix is waiting for confirmation (fix --confirm-within DURATION starts one)\n"},
		{[]string{"fix", "--boot"}, 0, "nothing held: no %s/firewall-table.json, so no firewarden table to put back\n", ""},
	} {
		t.Run(tt.args[len(tt.args)-1], func(t *testing.T) {
			state := filepath.Join(t.TempDir(), "typo")
			out, errs, code := runWith(t, &nfttest.Kernel{}, append([]string{"--root", root, "--state-dir", state}, tt.args...)...)
			want := func(f string) string {
				if f == "" {
					return ""
				}
				return fmtState(f, state)
			}
			if code != tt.code || out != want(tt.stdout) || errs != want(tt.stderr) {
				t.Errorf("%q = exit %d, stdout %q, stderr %q; want %d, %q, %q", tt.args, code, out, errs, tt.code, want(tt.stdout), want(tt.stderr))
			}
			if _, err := os.Lstat(state); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%q created the state directory %s (%v)", tt.args, state, err)
			}
		})
	}
}

func fmtState(format, state string) string { return strings.ReplaceAll(format, "%s", state) }
