package main

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"time"

	"github.com/firewarden/firewarden/internal/fleet/wire"
	"github.com/firewarden/firewarden/internal/posture/baseline"
)

// allChecksYAML sets every key the macOS baseline knows, so that a run has all 13 checks, as a
// host on the full macOS baseline reports.
const allChecksYAML = `name: fleetsim
firewall:
  enabled: true
  block_all: false
  stealth: true
  logging: true
  allow_signed: true
  allow_downloaded_signed: true
  apps:
    allow: [/usr/libexec/remoted]
services:
  remote_login: off
  screen_sharing: off
  file_sharing: off
  remote_apple_events: off
  bluetooth: off
sip: true
`

// checkIDs are the check IDs of the full macOS baseline, from internal/posture/baseline.
func checkIDs() ([]string, error) {
	b, err := baseline.Parse([]byte(allChecksYAML))
	if err != nil {
		return nil, fmt.Errorf("the full baseline does not parse: %w", err)
	}
	return b.Checks(), nil
}

// checkInfo is what a real agent reports for a check: the value wanted, where it is read, the
// controls it maps to, and the program that shows it.
type checkInfo struct {
	expected, source string
	controls         []string
	argv             []string
	passOut, failOut string
}

func infoFor(id string) checkInfo {
	sfw := "/usr/libexec/ApplicationFirewall/socketfilterfw"
	switch id {
	case "alf.enabled":
		return checkInfo{"1", "socketfilterfw", []string{"CIS 2.2.1", "800-53 SC-7"}, []string{sfw, "--getglobalstate"},
			"Firewall is enabled. (State = 1)", "Firewall is disabled. (State = 0)"}
	case "alf.stealth":
		return checkInfo{"on", "socketfilterfw", []string{"CIS 2.2.2", "800-53 SC-7(16)"}, []string{sfw, "--getstealthmode"},
			"Firewall stealth mode is on", "Firewall stealth mode is off"}
	case "macos.sip":
		return checkInfo{"enabled", "csrutil", []string{"CIS 5.1.2"}, []string{"/usr/bin/csrutil", "status"},
			"System Integrity Protection status: enabled.", "System Integrity Protection status: disabled."}
	case "macos.remote_login":
		return checkInfo{"off", "systemsetup", []string{"CIS 2.3.3.5"}, []string{"/usr/sbin/systemsetup", "-getremotelogin"},
			"Remote Login: Off", "Remote Login: On"}
	}
	return checkInfo{"on", "socketfilterfw", []string{"CIS Level 1"}, []string{sfw, "--get" + id},
		id + " is as wanted", id + " is not as wanted"}
}

// sim makes a host's records. It is not safe for concurrent use: each worker has its own.
type sim struct {
	checks    []string
	infos     []checkInfo
	rng       *mrand.Rand
	drift     float64 // probability that a run finds a check drifted (one run stands for one policy interval)
	alert     float64 // probability of a tamper alert per run
	evidence  bool
	policy    string
	baseSHA   string
	recovery  float64 // report-mode hosts: probability per run that a person puts a failed check back
	failStart float64 // share of checks failing at a host's first run
}

func newSim(checks []string, seed uint64, drift, alert float64) *sim {
	s := &sim{checks: checks, rng: mrand.New(mrand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), drift: drift, alert: alert,
		evidence: true, policy: "default", recovery: 0.3, failStart: 0.03}
	for _, c := range checks {
		s.infos = append(s.infos, infoFor(c))
	}
	sum := sha256.Sum256([]byte(allChecksYAML))
	s.baseSHA = hex.EncodeToString(sum[:])
	return s
}

func uuidv7(t time.Time) string {
	var b [16]byte
	rand.Read(b[:])
	ms := uint64(t.UnixMilli())
	binary.BigEndian.PutUint16(b[0:], uint16(ms>>32))
	binary.BigEndian.PutUint32(b[2:], uint32(ms))
	b[6] = b[6]&0x0f | 0x70
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// next appends one check cycle of h at t to its spool: the run, a drift record for each check
// whose status changed (in enforce mode with the fix that reverted it), sometimes an alert.
// It returns the records added. The caller holds h.mu.
func (s *sim) next(h *host, t time.Time) int {
	first := h.status == nil
	if first {
		h.status = make([]string, len(s.checks))
		h.enforce = s.rng.IntN(2) == 0
		for i := range h.status {
			h.status[i] = wire.StatusPass
			if s.rng.Float64() < s.failStart {
				h.status[i] = wire.StatusFail
			}
		}
	}
	runID := uuidv7(t)
	type change struct {
		i        int
		from, to string
		fixed    bool
	}
	var changes []change
	if !first {
		if s.rng.Float64() < s.drift {
			i := s.rng.IntN(len(s.checks))
			if h.status[i] == wire.StatusPass {
				changes = append(changes, change{i, wire.StatusPass, wire.StatusFail, h.enforce})
			}
		}
		for i, st := range h.status {
			if st == wire.StatusFail && s.rng.Float64() < s.recovery {
				changes = append(changes, change{i: i, from: wire.StatusFail, to: wire.StatusPass})
			}
		}
	}
	for _, c := range changes {
		h.status[c.i] = c.to
	}
	run := &wire.Run{RunID: runID, Policy: s.policy, Mode: wire.ModeReport, BaselineName: "fleetsim",
		BaselineSHA256: s.baseSHA, Started: t.Add(-400 * time.Millisecond), Finished: t}
	if h.enforce {
		run.Mode = wire.ModeEnforce
	}
	for i, id := range s.checks {
		in := s.infos[i]
		out := in.passOut
		if h.status[i] != wire.StatusPass {
			out = in.failOut
		}
		res := wire.Result{Check: id, Status: h.status[i], Expected: in.expected, Actual: actualOf(in, h.status[i]),
			Source: in.source, Controls: in.controls}
		if s.evidence {
			sum := sha256.Sum256([]byte(out))
			res.Evidence = []wire.Evidence{{Kind: "exec", Argv: in.argv, Output: out + "\n", SHA256: hex.EncodeToString(sum[:])}}
		}
		run.Results = append(run.Results, res)
	}
	added := 0
	add := func(r wire.Record) {
		h.seq++
		h.chainSeq++
		sum := sha256.Sum256(fmt.Appendf(nil, "%s|%d|%s", h.chainHash, h.chainSeq, r.Kind))
		hash := hex.EncodeToString(sum[:])
		r.Seq, r.Time = h.seq, t
		r.Chain = &wire.ChainRef{Seq: h.chainSeq, Prev: h.chainHash, Hash: hash}
		h.chainHash = hash
		h.spool = append(h.spool, r)
		added++
	}
	add(wire.Record{Kind: wire.KindRun, Run: run})
	h.runs++
	for _, c := range changes {
		in := s.infos[c.i]
		d := &wire.Drift{Check: s.checks[c.i], RunID: runID, From: c.from, To: c.to, Actual: actualOf(in, c.to), Cause: wire.CauseObserved}
		if c.fixed {
			d.Fix = &wire.FixResult{Changed: true, Verified: true, Status: wire.StatusPass, Actual: in.expected}
			h.status[c.i] = wire.StatusPass
		}
		add(wire.Record{Kind: wire.KindDrift, Drift: d})
	}
	if s.rng.Float64() < s.alert {
		add(wire.Record{Kind: wire.KindAlert, Alert: &wire.Alert{
			Rule: "alf-disabled-by-cli", Severity: "high", Reason: "socketfilterfw --setglobalstate off run outside the agent",
			User: "admin", Process: "/usr/libexec/ApplicationFirewall/socketfilterfw", Parent: "/bin/zsh",
			CommandLine: "socketfilterfw --setglobalstate off", Count: 1, FirstSeen: t.Add(-time.Minute), LastSeen: t.Add(-time.Minute),
		}})
	}
	return added
}

func actualOf(in checkInfo, status string) string {
	if status == wire.StatusPass {
		return in.expected
	}
	switch in.expected {
	case "1":
		return "0"
	case "on":
		return "off"
	case "off":
		return "on"
	}
	return "not " + in.expected
}
