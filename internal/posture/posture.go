// Package posture evaluates a host against a baseline, fixes what fails, and rolls fixes back. It
// owns the vocabulary (Status, Result, Change) and the engine; the checks themselves live in
// providers (internal/posture/alf, internal/posture/macos) that the caller hands to the engine.
package posture

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"time"

	"github.com/firewarden/firewarden/internal/host"
	"github.com/firewarden/firewarden/internal/posture/baseline"
)

// Status is the verdict of one check.
type Status string

// Statuses. Pass, Managed, Exempt and NotApplicable count as compliant.
const (
	Pass          Status = "pass"
	Fail          Status = "fail"
	Error         Status = "error"
	NotApplicable Status = "not_applicable"
	Managed       Status = "managed" // compliant, and enforced by a configuration profile
	Exempt        Status = "exempt"  // would fail, but an active exemption covers it
)

// Compliant reports whether the status counts as compliant.
func (s Status) Compliant() bool {
	return s == Pass || s == Managed || s == Exempt || s == NotApplicable
}

// Result is the verdict of one check together with everything an auditor needs to re-derive it.
type Result struct {
	ID        string              `json:"id"`
	Title     string              `json:"title"`
	Status    Status              `json:"status"`
	Expected  string              `json:"expected"`
	Actual    string              `json:"actual"`
	Source    string              `json:"source"`              // where Actual was read: "socketfilterfw", "profile", "plist", …
	Managed   bool                `json:"managed"`             // a configuration profile enforces this setting
	Controls  []string            `json:"controls"`            // "CIS 2.2.1", "800-53r5 SC-7(12)", …
	Detail    string              `json:"detail,omitempty"`    // why it failed or what to do
	Exemption *baseline.Exemption `json:"exemption,omitempty"` // the active exemption, if any
	Evidence  []Evidence          `json:"evidence,omitempty"`  // program runs and files the verdict rests on

	// Fixable is false for settings firewarden must not or cannot change (SIP, profile-enforced
	// settings); FixHint then says how a person changes it.
	Fixable bool   `json:"-"`
	FixHint string `json:"-"`
}

// Evidence is one program run or file read that a verdict rests on, with its raw content and a
// SHA-256 over it.
type Evidence struct {
	Kind     string   `json:"kind"` // "exec", "file" or "netlink"
	Argv     []string `json:"argv,omitempty"`
	Path     string   `json:"path,omitempty"`
	ExitCode int      `json:"exit_code"`
	Stdout   string   `json:"stdout,omitempty"`
	Stderr   string   `json:"stderr,omitempty"`
	Content  string   `json:"content,omitempty"` // file content (text) or a note such as "absent"
	SHA256   string   `json:"sha256"`
}

// ExecEvidence records a program run. The hash covers stdout, a NUL, then stderr.
func ExecEvidence(r host.Result) Evidence {
	h := sha256.New()
	h.Write(r.Stdout)
	h.Write([]byte{0})
	h.Write(r.Stderr)
	return Evidence{Kind: "exec", Argv: r.Argv, ExitCode: r.ExitCode, Stdout: string(r.Stdout), Stderr: string(r.Stderr), SHA256: hex.EncodeToString(h.Sum(nil))}
}

// FileEvidence records a file read. A missing file is recorded too: its absence is evidence.
// Binary content is kept hashed only.
func FileEvidence(path string, data []byte, err error) Evidence {
	sum := sha256.Sum256(data)
	e := Evidence{Kind: "file", Path: path, SHA256: hex.EncodeToString(sum[:])}
	switch {
	case err != nil:
		e.Content = "(unreadable: " + err.Error() + ")"
		e.ExitCode = -1
	case isText(data):
		e.Content = string(data)
	default:
		e.Content = "(binary, " + itoa(len(data)) + " bytes)"
	}
	return e
}

// NetlinkEvidence records what was read from the kernel over netlink (an nftables ruleset), as
// the readable listing the reader made of it; what names the reading ("nftables ruleset").
func NetlinkEvidence(what, listing string) Evidence {
	sum := sha256.Sum256([]byte(listing))
	return Evidence{Kind: "netlink", Path: what, Content: listing, SHA256: hex.EncodeToString(sum[:])}
}

func isText(b []byte) bool {
	for _, c := range b {
		if c == 0 {
			return false
		}
	}
	return true
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var buf [20]byte
	i := len(buf)
	for n > 0 {
		i--
		buf[i] = byte('0' + n%10)
		n /= 10
	}
	return string(buf[i:])
}

// Change is one setting a fix changes, or a rollback restores.
type Change struct {
	Check    string     `json:"check"` // owning check ID; rollback routes by it
	Key      string     `json:"key"`   // setting, e.g. "alf.stealth" or "alf.app:/usr/bin/ruby"
	From     string     `json:"from"`
	To       string     `json:"to"`
	Commands []host.Cmd `json:"commands,omitempty"` // what will run, for --dry-run
	Weakens  bool       `json:"weakens"`            // the change loosens the firewall or opens a service
}

// Request is what an evaluation needs.
type Request struct {
	Baseline *baseline.Baseline
	Only     map[string]bool // nil: every check the baseline names
	Now      time.Time
}

// Wants reports whether check id is selected by --only.
func (r Request) Wants(id string) bool { return r.Only == nil || r.Only[id] }

// Exempt records on res the baseline's exemption for its check when one is in force at r.Now:
// a failing result becomes exempt, any other keeps its status and shows the exemption on file.
// A check that does not apply carries none.
func (r Request) Exempt(res *Result) {
	if res.Status == NotApplicable {
		return
	}
	if e, ok := r.Baseline.ExemptionFor(res.ID, r.Now); ok {
		res.Exemption = &e
		if res.Status == Fail {
			res.Status = Exempt
		}
	}
}

// Provider evaluates and fixes a family of checks. A provider value serves one run: it may keep
// what it collected in Evaluate for Plan and Apply.
type Provider interface {
	// IDs lists the check IDs it owns, in report order.
	IDs() []string
	// Evaluate returns one result per selected check the baseline names. It never fails as a
	// whole: a check it cannot evaluate is a Result with Status Error.
	Evaluate(ctx context.Context, req Request) []Result
	// Plan returns the changes that bring the failing results to the baseline. Results that are
	// not Fixable are not passed to it.
	Plan(ctx context.Context, req Request, failing []Result) ([]Change, error)
	// Apply makes one change and re-reads the setting; a write that did not take is an error
	// carrying the tool's own words.
	Apply(ctx context.Context, c Change) ([]Evidence, error)
}

// Validator is implemented by providers that can check a change (say, one read back from a
// backup file) without running anything, so that a bad backup is refused before any write.
type Validator interface {
	Validate(c Change) error
}

// ErrNotRestorable marks a rollback step whose saved value cannot be recreated; the setting is
// left in the safer state the fix put it in.
var ErrNotRestorable = errors.New("the saved value cannot be recreated")

// ErrManagedByProfile marks a change refused because a configuration profile owns the setting.
var ErrManagedByProfile = errors.New("setting is enforced by a configuration profile")
