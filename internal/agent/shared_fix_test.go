package agent

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/firewarden/firewarden/internal/fleet/wire"
	"github.com/firewarden/firewarden/internal/posture"
)

// oneTable is a provider whose checks are all settled by one setting, as nftposture's four
// linux.firewall checks are by firewarden's table: Plan files the one change under the first
// failing check. Its state outlives the provider values the agent makes per cycle.
type oneTable struct {
	on      *bool
	weakens bool
	applied *int
}

var oneTableIDs = []string{"table.enabled", "table.stealth", "table.logging"}

func (p oneTable) IDs() []string { return oneTableIDs }

func (p oneTable) Evaluate(_ context.Context, req posture.Request) []posture.Result {
	var out []posture.Result
	for _, id := range oneTableIDs {
		if !req.Wants(id) {
			continue
		}
		r := posture.Result{ID: id, Expected: "on", Actual: "off", Status: posture.Fail, Fixable: true}
		if *p.on {
			r.Actual, r.Status = "on", posture.Pass
		}
		out = append(out, r)
	}
	return out
}

func (p oneTable) Plan(_ context.Context, _ posture.Request, failing []posture.Result) ([]posture.Change, error) {
	if len(failing) == 0 {
		return nil, nil
	}
	return []posture.Change{{Check: failing[0].ID, Key: "table", From: "off", To: "on", Weakens: p.weakens}}, nil
}

func (p oneTable) Apply(_ context.Context, c posture.Change) ([]posture.Evidence, error) {
	*p.on = c.To == "on"
	*p.applied++
	return nil, nil
}

var _ posture.Provider = oneTable{}

// Enforce mode with a change that settles several checks: the run reports every check it
// settled as it is after the fix, each with a fix drift, and the host compliant; a change that
// weakens is not applied, for any of the checks it would settle.
func TestCycleEnforceOneChangeSettlesSeveralChecks(t *testing.T) {
	for _, tt := range []struct {
		name      string
		weakens   bool
		applied   int
		compliant bool
		drifts    []string
		statuses  []string
	}{
		{"strengthens", false, 1, true,
			[]string{"table.enabled fail>pass fix", "table.stealth fail>pass fix", "table.logging fail>pass fix"},
			[]string{"table.enabled pass", "table.stealth pass", "table.logging pass"}},
		{"weakens", true, 0, false, nil,
			[]string{"table.enabled fail", "table.stealth fail", "table.logging fail"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFakeServer(t)
			ta := newMacAgent(t, srv)
			on, applied := false, 0
			ta.Engine = func() *posture.Engine {
				return &posture.Engine{Now: time.Now, Providers: []posture.Provider{oneTable{on: &on, weakens: tt.weakens, applied: &applied}}}
			}
			cfg := DefaultConfig()
			cfg.Policy.Mode = wire.ModeEnforce
			out, err := ta.Cycle(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if out.Compliant != tt.compliant || applied != tt.applied {
				t.Errorf("Cycle: compliant %v, %d change(s) applied; want %v, %d", out.Compliant, applied, tt.compliant, tt.applied)
			}
			recs, err := ta.Spool.Batch(1000, 1<<30)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.drifts, driftsOf(recs)); diff != "" {
				t.Errorf("drifts (-want +got):\n%s", diff)
			}
			var statuses []string
			for _, r := range recs {
				if r.Run == nil {
					continue
				}
				for _, res := range r.Run.Results {
					statuses = append(statuses, fmt.Sprintf("%s %s", res.Check, res.Status))
				}
			}
			if diff := cmp.Diff(tt.statuses, statuses); diff != "" {
				t.Errorf("the run's results (-want +got):\n%s", diff)
			}
			for _, r := range recs {
				if d := r.Drift; d != nil && (d.Fix == nil || !d.Fix.Changed || !d.Fix.Verified || d.Fix.Status != wire.StatusPass) {
					t.Errorf("drift %s: fix %+v, want changed, verified, pass", d.Check, d.Fix)
				}
			}
		})
	}
}
