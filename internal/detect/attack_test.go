package detect

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/firewarden/firewarden/internal/detect/sigma"
)

// The analytic comes from the analytic attribute; the tags give the techniques (T1686 brings
// its former number along) and, in rules written before the attribute, the analytic.
func TestRuleAttack(t *testing.T) {
	for _, tt := range []struct {
		name, rule   string
		wantAnalytic string
		wantTechs    []string
	}{
		{"current", "tags: [attack.defense-impairment, attack.t1686]\nanalytic: AN0408\n", "AN0408", []string{"T1686", "T1562.004"}},
		{"another analytic", "tags: [attack.t1686]\nanalytic: an0407\n", "AN0407", []string{"T1686", "T1562.004"}},
		{"old tags", "tags: [attack.defense-evasion, attack.t1562.004, attack.an0408]\n", "AN0408", []string{"T1562.004", "T1686"}},
		{"attribute over tag", "tags: [attack.an0408]\nanalytic: AN0410\n", "AN0410", nil},
		{"not an analytic ID", "tags: [attack.t1113]\nanalytic: firewall\n", "", []string{"T1113"}},
		{"nothing", "", "", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			src := "title: t\n" + tt.rule + "detection:\n    sel:\n        Image: x\n    condition: sel\n"
			rules, err := sigma.Parse([]byte(src), "t.yml")
			if err != nil {
				t.Fatal(err)
			}
			analytic, techs := ruleAttack(rules[0])
			if analytic != tt.wantAnalytic {
				t.Errorf("ruleAttack(%q) analytic = %q, want %q", tt.rule, analytic, tt.wantAnalytic)
			}
			if diff := cmp.Diff(tt.wantTechs, techs); diff != "" {
				t.Errorf("ruleAttack(%q) techniques (-want +got):\n%s", tt.rule, diff)
			}
		})
	}
}
