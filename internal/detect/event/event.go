// Package event is the normalised telemetry record that every input format of firewarden detect
// becomes: one process or file event, with the subject, its parent, its ancestry and the record
// it came from. It imports only the standard library.
package event

import (
	"path"
	"time"
)

// Kind is what happened.
type Kind string

const (
	Exec          Kind = "exec"           // a program image was loaded (argv is the new image's)
	Fork          Kind = "fork"           // a process was copied; Process is the child
	Exit          Kind = "exit"           // a process ended
	FileModify    Kind = "file_modify"    // a file was created, written, renamed onto or removed
	ProfileRemove Kind = "profile_remove" // a configuration profile was removed
	Log           Kind = "log"            // a unified-log record without process structure
	State         Kind = "state"          // a firewall setting read by polling, not a process event
)

// Unknown marks a numeric identity the source did not give (uid, euid, audit uid).
const Unknown = -1

// NoAuditUser is the audit uid of processes no one logged in for (launchd jobs).
const NoAuditUser = 4294967295

// Process is one process image.
type Process struct {
	PID         int
	PIDVersion  int
	Path        string   // resolved executable path
	Argv        []string // argv as the program received it, argv[0] as typed
	ArgvExact   bool     // false when Argv was rebuilt from a command-line string
	CommandLine string   // as the source delivered it, or Argv joined with shell quoting
	// CurrentDirectory is the working directory the program was started in (exec events of
	// sources that record it); "" when unknown.
	CurrentDirectory string
	SigningID        string
	TeamID           string
	Platform         *bool // an Apple platform binary; nil when unknown
	UID              int   // real uid, or Unknown
	EUID             int   // effective uid, or Unknown
	AUID             int   // audit (login) uid, or Unknown; NoAuditUser when none
	User             string
	TTY              string
}

// Name is the base name of the executable path.
func (p *Process) Name() string {
	if p.Path == "" {
		return ""
	}
	return path.Base(p.Path)
}

// Event is one normalised telemetry record.
type Event struct {
	Time   time.Time
	Host   string
	Source string // eslogger, osquery, unifiedlog, santa, ecs
	Kind   Kind

	Process // the subject: for exec the new image, for fork the child

	PPID         int
	OriginalPPID int
	ParentPath   string // the parent's image, from the source or the process table; "" when unknown
	// ParentCommandLine is the parent's command line, from the source or from the parent's
	// own exec seen earlier in the stream (the process table); "" when unknown.
	ParentCommandLine string
	ResponsiblePID    int
	ResponsiblePath   string
	Ancestry          []string // image paths above the subject, nearest first (ParentPath first when known)

	FilePath string // file events: the file changed (for a rename, its new name)
	FileFrom string // file events: a rename's old name

	Seq uint64 // the source's sequence number, when it has one

	Input string // the file (or "-") the record came from
	Line  int64  // its line number there
	Raw   []byte // the record as read
}
