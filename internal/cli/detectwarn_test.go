package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/firewarden/firewarden/internal/detect"
)

// Files skipped are all named; rule warnings are capped, those about rules that apply first.
func TestPrintRuleWarnings(t *testing.T) {
	rs := &detect.Ruleset{Warnings: []detect.Warning{
		{Kind: detect.NeverApplies, File: "w1.yml", Line: 1, Msg: "never applies"},
		{Kind: detect.NeverApplies, File: "w2.yml", Line: 1, Msg: "never applies"},
		{Kind: detect.FileSkipped, File: "bad.yml", Line: 5, Msg: "broken; file skipped"},
		{Kind: detect.UnfilledFields, File: "p.yml", Line: 1, Msg: "partly"},
		{Kind: detect.FileSkipped, File: "bad2.yml", Line: 2, Msg: "broken; file skipped"},
		{Kind: detect.NeverMatches, File: "n.yml", Line: 1, Msg: "never matches"},
	}}
	for _, tc := range []struct {
		limit int
		want  []string
	}{
		{2, []string{"bad.yml:5", "bad2.yml:2", "p.yml:1", "n.yml:1", "2 more rule warnings (2 never apply, 0 can never match, 0 read"}},
		{3, []string{"bad.yml:5", "bad2.yml:2", "p.yml:1", "n.yml:1", "w1.yml:1", "1 more rule warnings (1 never apply,"}},
		{-1, []string{"bad.yml:5", "bad2.yml:2", "p.yml:1", "n.yml:1", "w1.yml:1", "w2.yml:1"}},
	} {
		var b bytes.Buffer
		printRuleWarnings(&b, rs, tc.limit)
		lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
		var got []string
		for i, l := range lines {
			if i < len(tc.want) && strings.HasPrefix(l, "detect: "+tc.want[i]) {
				got = append(got, tc.want[i])
				continue
			}
			got = append(got, l)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("printRuleWarnings(limit %d) (-want +got):\n%s", tc.limit, diff)
		}
	}
}
