package agent

import "github.com/firewarden/firewarden/internal/fleet/wire"

// Drifts compares a cycle with the one before. prev holds each check's status after the
// previous cycle (nil on the first cycle: nothing to compare with, so no drift). before is what
// this cycle observed; fixes holds, in enforce mode, what the fix did for each check it touched
// or declined (nil in report mode).
//
// Every change of status is a drift with cause observed (pass to fail is the one auditors ask
// about, but fail to pass and pass to error are changes the server's transitions must show too),
// carrying the fix that followed. When the fix then changed the status, a second drift with
// cause fix records that change, also for a check that was already failing before this cycle.
func Drifts(prev map[string]string, before []wire.Result, fixes map[string]*wire.FixResult, runID string) []wire.Drift {
	var out []wire.Drift
	for _, r := range before {
		fix := fixes[r.Check]
		if from, seen := prev[r.Check]; seen && from != r.Status {
			out = append(out, wire.Drift{Check: r.Check, RunID: runID, From: from, To: r.Status, Actual: r.Actual, Cause: wire.CauseObserved, Fix: fix})
		}
		if fix != nil && fix.Status != "" && fix.Status != r.Status {
			out = append(out, wire.Drift{Check: r.Check, RunID: runID, From: r.Status, To: fix.Status, Actual: fix.Actual, Cause: wire.CauseFix, Fix: fix})
		}
	}
	return out
}
