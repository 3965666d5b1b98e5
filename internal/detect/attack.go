package detect

import (
	"regexp"
	"strings"

	"github.com/firewarden/firewarden/internal/detect/sigma"
)

// AnalyticKey is the custom top-level attribute that names a rule's MITRE ATT&CK analytic
// ("analytic: AN0408"). ATT&CK analytics (AN…) have no tag in the Sigma specification's attack
// namespace (tags appendix v2.1.0 defines t, g, s, ds, m, a and the tactics), and the
// specification allows arbitrary custom attributes, so the analytic is kept there rather than in
// a made-up "attack.an0408" tag.
const AnalyticKey = "analytic"

// analyticID is the form of an ATT&CK analytic ID, AN followed by digits.
var analyticID = regexp.MustCompile(`^AN[0-9]{4,}$`)

// ruleAttack is the analytic and techniques an alert from sr carries: the analytic attribute
// when it holds an analytic ID, else what the tags say (attackIDs, which still reads the older
// attack.an0408 tag of rules written before the attribute).
func ruleAttack(sr *sigma.Rule) (string, []string) {
	analytic, techs := attackIDs(sr.Tags)
	if s, ok := sr.Custom[AnalyticKey].(string); ok {
		if id := strings.ToUpper(strings.TrimSpace(s)); analyticID.MatchString(id) {
			analytic = id
		}
	}
	return analytic, techs
}
