package cli

import (
	"fmt"
	"strings"

	"github.com/firewarden/firewarden/internal/posture"
)

// checkOS is the operating system a check ID belongs to ("macos", "linux"), from its prefix.
func checkOS(id string) string {
	switch {
	case strings.HasPrefix(id, "alf."), strings.HasPrefix(id, "macos."):
		return "macos"
	case strings.HasPrefix(id, "linux."):
		return "linux"
	}
	return ""
}

// splitForeign takes out of the readable report the checks of another operating system, which
// are not applicable on this one by construction: a Linux report is not drowned by the Mac's
// checks, nor a Mac's by Linux's. note says in one line what was left out ("" when nothing);
// --json still carries every result. When nothing at all applies, every row stays, as the
// report is then about why.
func splitForeign(osKind string, results []posture.Result) (shown []posture.Result, note string) {
	if (posture.Report{Results: results}).NothingEvaluated() {
		return results, ""
	}
	var hidden []string
	for _, r := range results {
		if r.Status == posture.NotApplicable && checkOS(r.ID) != "" && checkOS(r.ID) != osKind {
			hidden = append(hidden, r.ID)
			continue
		}
		shown = append(shown, r)
	}
	if len(hidden) == 0 || len(shown) == 0 {
		return results, ""
	}
	noun := "checks do"
	if len(hidden) == 1 {
		noun = "check does"
	}
	other := osName(checkOS(hidden[0]))
	return shown, fmt.Sprintf("%d %s %s not apply to this %s host (--json lists them): %s", len(hidden), other, noun, osName(osKind), strings.Join(hidden, ", "))
}
