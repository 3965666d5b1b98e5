package cli

import (
	"fmt"
	"io"
	"slices"

	"github.com/firewarden/firewarden/internal/detect"
)

// maxRuleWarnings is how many warnings about single rules (never applies, reads unfilled fields)
// detect prints before counting the rest: pointed at SigmaHQ's whole rules folder it would
// otherwise print thousands of lines about Windows rules. Files skipped are always all named.
const maxRuleWarnings = 20

// printRuleWarnings writes the warnings of rs to w, one line each: every file skipped, then the
// warnings about single rules up to limit (all when limit < 0), those about rules that apply but
// read unfilled fields before those about rules that never apply, then a line counting the rest.
func printRuleWarnings(w io.Writer, rs *detect.Ruleset, limit int) {
	shown, more := 0, map[detect.WarningKind]int{}
	for _, kinds := range [][]detect.WarningKind{{detect.FileSkipped}, {detect.NeverMatches, detect.UnfilledFields}, {detect.NeverApplies}} {
		for _, wn := range rs.Warnings {
			switch {
			case !slices.Contains(kinds, wn.Kind):
			case wn.Kind == detect.FileSkipped:
				fmt.Fprintf(w, "detect: %s\n", wn)
			case limit < 0 || shown < limit:
				fmt.Fprintf(w, "detect: %s\n", wn)
				shown++
			default:
				more[wn.Kind]++
			}
		}
	}
	if n := more[detect.NeverApplies] + more[detect.NeverMatches] + more[detect.UnfilledFields]; n > 0 {
		fmt.Fprintf(w, "detect: %d more rule warnings (%d never apply, %d can never match, %d read fields firewarden never fills); `firewarden detect rules list` with the same --rules prints them all\n",
			n, more[detect.NeverApplies], more[detect.NeverMatches], more[detect.UnfilledFields])
	}
}
