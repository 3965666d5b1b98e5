package cli

import (
	"fmt"
	"io"

	"github.com/firewarden/firewarden/internal/detect"
)

// maxRuleWarnings is how many warnings about single rules (never applies, reads unfilled fields)
// detect prints before counting the rest: pointed at SigmaHQ's whole rules folder it would
// otherwise print thousands of lines about Windows rules. Files skipped are always all named.
const maxRuleWarnings = 20

// printRuleWarnings writes the warnings of rs to w, one line each: every file skipped, and the
// warnings about single rules up to limit (all when limit < 0), then a line counting the rest.
func printRuleWarnings(w io.Writer, rs *detect.Ruleset, limit int) {
	shown, more := 0, map[detect.WarningKind]int{}
	for _, wn := range rs.Warnings {
		if wn.Kind == detect.Skipped || limit < 0 || shown < limit {
			fmt.Fprintf(w, "detect: %s\n", wn)
			if wn.Kind != detect.Skipped {
				shown++
			}
			continue
		}
		more[wn.Kind]++
	}
	if n := more[detect.NeverApplies] + more[detect.NeverMatches] + more[detect.UnfilledFields]; n > 0 {
		fmt.Fprintf(w, "detect: %d more rule warnings (%d never apply, %d can never match, %d read fields firewarden never fills); `firewarden detect rules list` with the same --rules prints them all\n",
			n, more[detect.NeverApplies], more[detect.NeverMatches], more[detect.UnfilledFields])
	}
}
