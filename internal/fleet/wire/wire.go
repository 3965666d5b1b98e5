// Package wire is the agent API between `firewarden agent` and `firewarden-server`: the paths,
// the request and response bodies, and a strict decoder. It imports only the standard library,
// so that both binaries share it without sharing anything else.
//
// The API is versioned by its path (/api/v1/agent/…). Bodies are JSON; a body with a field this
// version does not define is refused (400), never half-read: an agent newer than its server
// must be told, not silently ignored.
package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// Agent API paths. Every request but Enroll carries `Authorization: Bearer CREDENTIAL`, the
// per-host credential Enroll returned.
const (
	// PathEnroll: POST EnrollRequest → 200 EnrollResponse. The enroll secret is in the body.
	PathEnroll = "/api/v1/agent/enroll"
	// PathConfig: GET → 200 AgentConfig, the policy assigned to the calling host.
	PathConfig = "/api/v1/agent/config"
	// PathReport: POST ReportBatch → 200 ReportAck. Records are stored exactly once per
	// (host, seq), whatever the retries.
	PathReport = "/api/v1/agent/report"
	// PathNudges: GET → 200, a stream of newline-separated Nudge objects that stays open: one
	// long-lived connection per agent. The server writes a ping nudge at least every
	// NudgeHeartbeat so that proxies keep the connection and both ends notice a dead one.
	PathNudges = "/api/v1/agent/nudges"
)

// Limits every server enforces and every agent stays under.
const (
	MaxBodyBytes    = 4 << 20 // one request body
	MaxBatchRecords = 500     // records in one ReportBatch
	NudgeHeartbeat  = 25 * time.Second
)

// EnrollRequest trades an enroll secret for a host credential.
type EnrollRequest struct {
	Secret       string   `json:"secret"`
	HostUUID     string   `json:"host_uuid"` // stable machine identity: IOPlatformUUID on macOS, /etc/machine-id on Linux
	Hostname     string   `json:"hostname"`
	OS           string   `json:"os"` // "macOS" or "Linux"
	OSVersion    string   `json:"os_version"`
	AgentVersion string   `json:"agent_version"`
	Labels       []string `json:"labels,omitempty"` // asked for; the server may add its own
	// NextSeq is the lowest sequence number the agent holds unacknowledged (its spool's oldest
	// record), or the next it will use when its spool is empty: the server's sequence for the
	// host resumes there, so that a host enrolled again keeps its numbering and its spooled
	// records. 0 means 1: a new agent, or one whose state was wiped, numbers from the start.
	NextSeq uint64 `json:"next_seq,omitempty"`
}

// EnrollResponse is the host's identity on the server and its credential, shown once.
type EnrollResponse struct {
	HostID     string `json:"host_id"`
	Credential string `json:"credential"`
}

// AgentConfig is what the server wants the agent to do.
type AgentConfig struct {
	Version int64  `json:"version"` // changes whenever anything below changes
	Policy  Policy `json:"policy"`
}

// Policy modes.
const (
	ModeReport  = "report"  // check only
	ModeEnforce = "enforce" // check, and fix what fails (never fighting a profile, never weakening)
)

// Policy is a baseline, how it is applied and how often.
type Policy struct {
	Name            string `json:"name"`
	Mode            string `json:"mode"`
	IntervalSeconds int64  `json:"interval_seconds"`
	BaselineYAML    string `json:"baseline_yaml"` // empty: the built-in baseline
}

// ReportBatch carries records in sequence order.
type ReportBatch struct {
	Records []Record `json:"records"`
}

// ReportAck says which records the server holds: every seq ≤ AckedSeq. The agent drops those
// from its spool. A record with a seq already stored is acknowledged again and stored once.
type ReportAck struct {
	AckedSeq uint64 `json:"acked_seq"`
}

// Record kinds.
const (
	KindRun       = "run"        // a full check cycle: every result
	KindDrift     = "drift"      // a check that passed and now fails (or the reverse), with what fixed it
	KindAlert     = "alert"      // a tamper alert from detect --live
	KindBans      = "bans"       // a summary of the guard's bans
	KindSpoolDrop = "spool_drop" // the agent dropped spooled records to stay within its cap
)

// Record is one thing an agent reports. Seq is the host's own sequence number, from 1, with no
// gaps in what the agent sends (a SpoolDrop record accounts for dropped ones). Exactly one of the
// payload fields is set, the one Kind names. Chain ties the record to the host's local
// hash-chained evidence log, so the server can check the chain's continuity.
type Record struct {
	Seq   uint64    `json:"seq"`
	Kind  string    `json:"kind"`
	Time  time.Time `json:"time"`
	Chain *ChainRef `json:"chain,omitempty"`

	Run       *Run       `json:"run,omitempty"`
	Drift     *Drift     `json:"drift,omitempty"`
	Alert     *Alert     `json:"alert,omitempty"`
	Bans      *Bans      `json:"bans,omitempty"`
	SpoolDrop *SpoolDrop `json:"spool_drop,omitempty"`
}

// ChainRef is the record's entry in the host's evidence chain.
type ChainRef struct {
	Seq  uint64 `json:"seq"`  // entry number in evidence.jsonl, from 1
	Prev string `json:"prev"` // hash of the entry before ("" for the first)
	Hash string `json:"hash"` // hash of this entry
}

// Run is one check cycle.
type Run struct {
	RunID          string    `json:"run_id"` // UUIDv7
	Policy         string    `json:"policy"`
	Mode           string    `json:"mode"`
	BaselineName   string    `json:"baseline_name"`
	BaselineSHA256 string    `json:"baseline_sha256"`
	Started        time.Time `json:"started"`
	Finished       time.Time `json:"finished"`
	Results        []Result  `json:"results"`
}

// Statuses, as the posture engine names them.
const (
	StatusPass          = "pass"
	StatusFail          = "fail"
	StatusError         = "error"
	StatusNotApplicable = "not_applicable"
	StatusManaged       = "managed"
	StatusExempt        = "exempt"
)

// Result is one check's verdict in a run.
type Result struct {
	Check    string     `json:"check"`
	Status   string     `json:"status"`
	Expected string     `json:"expected"`
	Actual   string     `json:"actual"`
	Source   string     `json:"source"`
	Managed  bool       `json:"managed"`
	Controls []string   `json:"controls"`
	Detail   string     `json:"detail,omitempty"`
	Evidence []Evidence `json:"evidence,omitempty"`
}

// Evidence is a program run or file read a verdict rests on.
type Evidence struct {
	Kind     string   `json:"kind"` // "exec" or "file"
	Argv     []string `json:"argv,omitempty"`
	Path     string   `json:"path,omitempty"`
	ExitCode int      `json:"exit_code"`
	Output   string   `json:"output"`
	SHA256   string   `json:"sha256"`
}

// Cause says what changed a check's status.
const (
	CauseObserved = "observed" // seen in a run: someone or something changed the setting
	CauseFix      = "fix"      // the agent's enforce mode changed it
)

// Drift is a check whose status changed between two runs of the agent.
type Drift struct {
	Check  string     `json:"check"`
	RunID  string     `json:"run_id"`
	From   string     `json:"from"` // status before
	To     string     `json:"to"`   // status now
	Actual string     `json:"actual"`
	Cause  string     `json:"cause"`
	Fix    *FixResult `json:"fix,omitempty"` // enforce mode: the fix that followed
}

// FixResult is what enforce mode did about a drift.
type FixResult struct {
	Changed  bool   `json:"changed"`  // a setting was written
	Verified bool   `json:"verified"` // and read back as intended
	Status   string `json:"status"`   // the check's status after the fix
	Actual   string `json:"actual"`
	Detail   string `json:"detail,omitempty"` // why not, when not changed
}

// Alert is a tamper alert (MITRE ATT&CK AN0408).
type Alert struct {
	Rule        string    `json:"rule"`
	Severity    string    `json:"severity"`
	Reason      string    `json:"reason"`
	User        string    `json:"user"`
	Process     string    `json:"process"`
	Parent      string    `json:"parent"`
	CommandLine string    `json:"command_line"`
	Count       int       `json:"count"`
	FirstSeen   time.Time `json:"first_seen"`
	LastSeen    time.Time `json:"last_seen"`
}

// Bans summarises the guard's bans.
type Bans struct {
	Active int      `json:"active"`
	Added  int      `json:"added"` // since the previous Bans record
	Top    []string `json:"top,omitempty"`
}

// SpoolDrop accounts for records the agent dropped to keep its spool within its cap.
type SpoolDrop struct {
	FromSeq uint64 `json:"from_seq"`
	ToSeq   uint64 `json:"to_seq"`
	Count   int    `json:"count"`
	Reason  string `json:"reason"`
}

// Nudge kinds.
const (
	NudgeCheckNow      = "check_now"
	NudgeConfigChanged = "config_changed"
	NudgePing          = "ping"
)

// Nudge asks a connected agent to act now.
type Nudge struct {
	Kind string `json:"kind"`
	ID   string `json:"id,omitempty"`
}

// Decode reads exactly one JSON value of at most limit bytes from r into v, refusing unknown
// fields and trailing data. The error says what was wrong, for a 400 response.
func Decode(r io.Reader, v any, limit int64) error {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return fmt.Errorf("read the body: %w", err)
	}
	if int64(len(data)) > limit {
		return ErrTooLarge
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("body is not a valid %T: %v", v, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("body has data after its JSON value")
	}
	return nil
}

// ErrTooLarge is a body over the limit (413).
var ErrTooLarge = errors.New("body too large")

// Validate checks a batch before anything of it is stored: at least one and at most
// MaxBatchRecords records, sequence numbers strictly increasing, each record valid.
func (b *ReportBatch) Validate() error {
	if len(b.Records) == 0 {
		return errors.New("records: the batch is empty")
	}
	if len(b.Records) > MaxBatchRecords {
		return fmt.Errorf("records: %d in one batch, at most %d", len(b.Records), MaxBatchRecords)
	}
	for i := range b.Records {
		r := &b.Records[i]
		if err := r.Validate(); err != nil {
			return fmt.Errorf("records[%d]: %w", i, err)
		}
		if i > 0 && r.Seq <= b.Records[i-1].Seq {
			return fmt.Errorf("records[%d]: seq %d after %d: sequence numbers must increase", i, r.Seq, b.Records[i-1].Seq)
		}
	}
	return nil
}

// Validate checks one record: a seq, a time, a known kind and exactly the payload it names.
func (r *Record) Validate() error {
	if r.Seq == 0 {
		return errors.New("seq: missing (sequence numbers start at 1)")
	}
	if r.Time.IsZero() {
		return errors.New("time: missing")
	}
	payloads := map[string]bool{
		KindRun:       r.Run != nil,
		KindDrift:     r.Drift != nil,
		KindAlert:     r.Alert != nil,
		KindBans:      r.Bans != nil,
		KindSpoolDrop: r.SpoolDrop != nil,
	}
	set, known := payloads[r.Kind]
	if !known {
		return fmt.Errorf("kind: unknown %q", r.Kind)
	}
	if !set {
		return fmt.Errorf("kind %q without its %s payload", r.Kind, r.Kind)
	}
	for k, v := range payloads {
		if v && k != r.Kind {
			return fmt.Errorf("kind %q with a %s payload as well", r.Kind, k)
		}
	}
	switch {
	case r.Run != nil:
		if r.Run.RunID == "" || len(r.Run.Results) == 0 {
			return errors.New("run: needs a run_id and results")
		}
		for i, res := range r.Run.Results {
			if res.Check == "" || !validStatus(res.Status) {
				return fmt.Errorf("run.results[%d]: needs a check and a known status (got %q)", i, res.Status)
			}
		}
	case r.Drift != nil:
		if r.Drift.Check == "" || !validStatus(r.Drift.From) || !validStatus(r.Drift.To) {
			return errors.New("drift: needs a check and known from and to statuses")
		}
		if r.Drift.Cause != CauseObserved && r.Drift.Cause != CauseFix {
			return fmt.Errorf("drift.cause: unknown %q", r.Drift.Cause)
		}
	case r.SpoolDrop != nil:
		if r.SpoolDrop.Count <= 0 || r.SpoolDrop.FromSeq == 0 || r.SpoolDrop.ToSeq < r.SpoolDrop.FromSeq {
			return errors.New("spool_drop: needs from_seq ≤ to_seq and a count")
		}
	case r.Alert != nil:
		if r.Alert.Rule == "" {
			return errors.New("alert: needs a rule")
		}
	}
	return nil
}

func validStatus(s string) bool {
	switch s {
	case StatusPass, StatusFail, StatusError, StatusNotApplicable, StatusManaged, StatusExempt:
		return true
	}
	return false
}

// Compliant reports whether a status counts as compliant, as the posture engine counts it.
func Compliant(status string) bool {
	return status == StatusPass || status == StatusManaged || status == StatusExempt || status == StatusNotApplicable
}
