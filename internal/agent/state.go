package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/firewarden/firewarden/internal/evidence"
	"github.com/firewarden/firewarden/internal/fleet/wire"
	"github.com/firewarden/firewarden/internal/statedir"
)

// More state files (DECISIONS13.md names agent.json, agent.spool/ and agent.seq).
const (
	EnrollmentFile = "agent.json"        // where the agent reports, and its credential (0600)
	FactsFile      = "agent.status.json" // last run, last upload, next run: for `agent status`
	LastFile       = "agent.last.json"   // the statuses of the last cycle, to tell drift
	ConfigFile     = "agent.config.json" // the last policy fetched, for cycles while offline
	CycleFile      = "agent.cycle.json"  // a cycle's records between deciding and spooling them
	BansFile       = "agent.bans.json"   // the last ban summary spooled, to tell a change
)

// Enrollment is agent.json: the server this host reports to and its credential.
type Enrollment struct {
	Server       string    `json:"server"`
	Fingerprint  string    `json:"fingerprint,omitempty"` // pinned leaf certificate; empty: system roots
	InsecureHTTP bool      `json:"insecure_http,omitempty"`
	HostID       string    `json:"host_id"`
	HostUUID     string    `json:"host_uuid"`
	Credential   string    `json:"credential"`
	Labels       []string  `json:"labels,omitempty"`
	Enrolled     time.Time `json:"enrolled"`
	Rotated      time.Time `json:"rotated,omitzero"` // when Credential replaced the enrolment's (rotate.go)
}

// ErrNotEnrolled is returned (wrapped) when agent.json does not exist.
var ErrNotEnrolled = errors.New("this host is not enrolled; run `firewarden agent enroll --server URL --secret S` first")

// Facts are the small facts `agent status` shows.
type Facts struct {
	LastRun         time.Time `json:"last_run,omitzero"`
	LastRunID       string    `json:"last_run_id,omitempty"`
	LastCompliant   bool      `json:"last_compliant"`
	LastUpload      time.Time `json:"last_upload,omitzero"`
	LastUploadError string    `json:"last_upload_error,omitempty"`
	NextRun         time.Time `json:"next_run,omitzero"`
	Policy          string    `json:"policy,omitempty"`
	Mode            string    `json:"mode,omitempty"`
	ConfigVersion   int64     `json:"config_version,omitempty"`
	// Revoked: the server said this host's credential was revoked (rotate.go noteRevoked).
	Revoked bool `json:"credential_revoked,omitempty"`
	// Tamper detection (macOS): whether it runs, and what it forwarded.
	Detect          string     `json:"detect,omitempty"` // "running", or why not
	AlertsForwarded int        `json:"alerts_forwarded,omitempty"`
	LastAlert       time.Time  `json:"last_alert,omitzero"`
	LastAlertRule   string     `json:"last_alert_rule,omitempty"`
	LastBans        *wire.Bans `json:"last_bans,omitempty"` // the last ban summary spooled
	LastBansAt      time.Time  `json:"last_bans_at,omitzero"`
}

// last is LastFile: the status of each check after the last cycle.
type last struct {
	RunID    string            `json:"run_id"`
	Statuses map[string]string `json:"statuses"`
}

// cycle is CycleFile: everything a cycle decided, written before any of it is applied, so that
// a cycle killed half-way is finished on the next start exactly as it would have been. A
// forwarded alert or ban summary goes the same way as a one-record cycle with a Note.
type cycle struct {
	RunID    string            `json:"run_id"` // a Note's ID for a note
	Evidence *evidence.Record  `json:"evidence,omitempty"`
	Note     *Note             `json:"note,omitempty"` // chained instead of Evidence
	Records  []wire.Record     `json:"records"`        // seqs assigned; the chained record is the last
	Statuses map[string]string `json:"statuses,omitempty"`
	Bans     *bansSent         `json:"bans_sent,omitempty"` // written to BansFile once spooled
}

func (c cycle) what() string {
	if c.Note != nil {
		return c.Note.Kind
	}
	return "run"
}

func readJSON(d *statedir.Dir, name string, v any) (bool, error) {
	data, err := d.ReadFile(name)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read %s: %w", d.Join(name), err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return false, fmt.Errorf("%s is damaged (%v); remove it and run the command again", d.Join(name), err)
	}
	return true, nil
}

func writeJSON(d *statedir.Dir, name string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := d.WriteFile(name, append(data, '\n')); err != nil {
		return fmt.Errorf("write %s: %w", d.Join(name), err)
	}
	return nil
}

// LoadEnrollment reads agent.json.
func LoadEnrollment(d *statedir.Dir) (Enrollment, error) {
	var e Enrollment
	ok, err := readJSON(d, EnrollmentFile, &e)
	if err != nil {
		return e, err
	}
	if !ok {
		return e, fmt.Errorf("%w (no %s)", ErrNotEnrolled, d.Join(EnrollmentFile))
	}
	if e.Server == "" || e.HostID == "" || e.Credential == "" {
		return e, fmt.Errorf("%s lacks the server, host_id or credential; enroll again", d.Join(EnrollmentFile))
	}
	return e, nil
}

// SaveEnrollment writes agent.json (0600, atomically).
func SaveEnrollment(d *statedir.Dir, e Enrollment) error { return writeJSON(d, EnrollmentFile, e) }

// LoadFacts reads the facts; none yet is the zero Facts.
func LoadFacts(d *statedir.Dir) (Facts, error) {
	var f Facts
	_, err := readJSON(d, FactsFile, &f)
	return f, err
}

// DefaultConfig is the policy before the server was reached (DECISIONS13.md).
func DefaultConfig() wire.AgentConfig {
	return wire.AgentConfig{Policy: wire.Policy{Name: "default", Mode: wire.ModeReport, IntervalSeconds: 3600}}
}
