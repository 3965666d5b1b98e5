package hosttest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/firewarden/firewarden/internal/host"
)

// System paths of the programs the emulator answers for.
const (
	socketfilterfwPath = "/usr/libexec/ApplicationFirewall/socketfilterfw"
	defaultsPath       = "/usr/bin/defaults"
	systemsetupPath    = "/usr/sbin/systemsetup"
	launchctlPath      = "/bin/launchctl"
	csrutilPath        = "/usr/bin/csrutil"
	profilesPath       = "/usr/bin/profiles"
	killallPath        = "/usr/bin/killall"
)

// Programs returns the system paths of the emulated programs; Layout puts a stand-in at each.
func Programs() []string {
	return []string{socketfilterfwPath, defaultsPath, systemsetupPath, launchctlPath, csrutilPath, profilesPath, killallPath, pfctlPath, ioregPath, lsofPath, psPath, codesignPath}
}

// Mac is an emulated Mac. It implements host.Runner: every Run is recorded in the state's Calls,
// answered from the state, and, where the real program would touch a file (the ALF plist below
// macOS 15, any defaults write), applied to the files under the root as well. It is safe for
// concurrent use.
type Mac struct {
	// Now is the clock for the timestamp defaults prints before its errors; nil means time.Now.
	Now func() time.Time

	root host.Root
	ver  version

	mu sync.Mutex
	st MacState
}

// NewMac lays out st under root (see Layout; no program stand-ins are installed, since the Mac
// answers in process) and returns a Mac holding st in memory.
func NewMac(root string, st MacState) (*Mac, error) {
	if err := Layout(root, st, ""); err != nil {
		return nil, err
	}
	return newMac(root, st)
}

// OpenMac returns the Mac laid out under root, with the state from its state file. It does not
// touch the files, so whatever a test (or a stand-in run) did to them stays. The macemu stand-in
// uses it for every program run, followed by Save.
func OpenMac(root string) (*Mac, error) {
	st, err := LoadState(root)
	if err != nil {
		return nil, err
	}
	return newMac(root, st)
}

func newMac(root string, st MacState) (*Mac, error) {
	v, err := st.validate()
	if err != nil {
		return nil, fmt.Errorf("emulated mac: %w", err)
	}
	r, err := host.NewRoot(root)
	if err != nil {
		return nil, err
	}
	return &Mac{root: r, ver: v, st: st.clone()}, nil
}

// Save writes the current state to the state file under the root, atomically.
func (m *Mac) Save() error {
	m.mu.Lock()
	st := m.st.clone()
	m.mu.Unlock()
	return saveState(m.root, st)
}

// State returns a copy of the current state.
func (m *Mac) State() MacState {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.st.clone()
}

// Calls returns every program run so far, argv with the system path first.
func (m *Mac) Calls() [][]string { return m.State().Calls }

// Writes returns the runs that changed or tried to change the Mac (see MacState.Writes).
func (m *Mac) Writes() [][]string { return m.State().Writes() }

// outcome is what an emulated program run produced. err is a failure of the emulator itself
// (a file it could not write), never of the emulated program.
type outcome struct {
	stdout, stderr string
	code           int
	err            error
}

// ok is a successful run that printed stdout.
func ok(stdout string) outcome { return outcome{stdout: stdout} }

// fail is a run that printed stderr and exited with code.
func fail(code int, stderr string) outcome { return outcome{stderr: stderr, code: code} }

// Run implements host.Runner the way ExecRunner does: a non-zero exit returns the Result together
// with *host.ExitError, and a program the emulator does not know is host.ErrNotInstalled (such a
// run is not recorded, since nothing ran).
func (m *Mac) Run(ctx context.Context, c host.Cmd) (host.Result, error) {
	res := host.Result{Argv: c.Argv(), ExitCode: -1}
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("run %s: %w", host.QuoteArgv(res.Argv), err)
	}
	run := m.program(c.Path)
	if run == nil {
		return res, fmt.Errorf("%s: %w", c.Path, host.ErrNotInstalled)
	}

	m.mu.Lock()
	m.st.Calls = append(m.st.Calls, slices.Clone(res.Argv))
	out := run(slices.Clone(c.Args))
	m.mu.Unlock()

	if out.err != nil {
		return res, fmt.Errorf("emulate %s: %w", host.QuoteArgv(res.Argv), out.err)
	}
	res.Stdout, res.Stderr, res.ExitCode = []byte(out.stdout), []byte(out.stderr), out.code
	if out.code != 0 {
		return res, &host.ExitError{Argv: res.Argv, Code: out.code, Stderr: out.stderr}
	}
	return res, nil
}

// program returns the handler for a system path, or nil. Handlers run with m.mu held.
func (m *Mac) program(path string) func(args []string) outcome {
	switch path {
	case socketfilterfwPath:
		return m.socketfilterfw
	case defaultsPath:
		return m.defaults
	case systemsetupPath:
		return m.systemsetup
	case launchctlPath:
		return m.launchctl
	case csrutilPath:
		return m.csrutil
	case profilesPath:
		return m.profiles
	case killallPath:
		return m.killall
	case pfctlPath:
		return m.pfctl
	case ioregPath:
		return m.ioreg
	case lsofPath:
		return m.lsof
	case psPath:
		return m.ps
	case codesignPath:
		return m.codesign
	}
	return nil
}

// now is the emulated wall clock.
func (m *Mac) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

// isWrite classifies one recorded argv (see MacState.Writes).
func isWrite(argv []string) bool {
	if len(argv) == 0 {
		return false
	}
	args := argv[1:]
	switch argv[0] {
	case socketfilterfwPath:
		return sfWrites(args)
	case defaultsPath:
		return len(args) > 0 && (args[0] == "write" || args[0] == "delete")
	case systemsetupPath:
		return slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(strings.ToLower(a), "-set") })
	case launchctlPath:
		return len(args) > 0 && (args[0] == "enable" || args[0] == "disable" || args[0] == "bootout")
	case csrutilPath:
		return len(args) > 0 && args[0] != "status"
	case killallPath:
		return true
	case pfctlPath:
		return pfctlWrites(args)
	}
	return false
}

var _ host.Runner = (*Mac)(nil)
