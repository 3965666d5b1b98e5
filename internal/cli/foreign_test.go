package cli

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/firewarden/firewarden/internal/posture"
)

func TestSplitForeign(t *testing.T) {
	na, fail := posture.NotApplicable, posture.Fail
	res := func(pairs ...any) []posture.Result {
		var out []posture.Result
		for i := 0; i < len(pairs); i += 2 {
			out = append(out, posture.Result{ID: pairs[i].(string), Status: pairs[i+1].(posture.Status)})
		}
		return out
	}
	for _, tt := range []struct {
		name      string
		os        string
		in, shown []posture.Result
		note      string
	}{
		{"linux hides the Mac's", "linux", res("alf.enabled", na, "macos.sip", na, "linux.firewall.enabled", fail),
			res("linux.firewall.enabled", fail), "2 macOS checks do not apply to this Linux host (--json lists them): alf.enabled, macos.sip"},
		{"a Mac hides Linux's", "macos", res("alf.enabled", fail, "alf.logging", na, "linux.ssh.root_login", na),
			res("alf.enabled", fail, "alf.logging", na), "1 Linux check does not apply to this macOS host (--json lists them): linux.ssh.root_login"},
		{"nothing evaluated keeps every row", "linux", res("alf.enabled", na, "linux.ssh.root_login", na), res("alf.enabled", na, "linux.ssh.root_login", na), ""},
		{"nothing foreign", "linux", res("linux.firewall.enabled", fail), res("linux.firewall.enabled", fail), ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			shown, note := splitForeign(tt.os, tt.in)
			if diff := cmp.Diff(tt.shown, shown); diff != "" || note != tt.note {
				t.Errorf("splitForeign() note = %q, want %q; rows (-want +got):\n%s", note, tt.note, diff)
			}
		})
	}
}
