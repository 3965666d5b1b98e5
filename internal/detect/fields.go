package detect

import (
	"strconv"

	"github.com/firewarden/firewarden/internal/detect/event"
	"github.com/firewarden/firewarden/internal/host"
)

// FieldNames are the fields rules can read, with what each holds. Sigma's process_creation and
// file_event names come first; the rest are firewarden's own, filled by Analyse.
var FieldNames = []struct{ Name, Doc string }{
	{"EventType", "exec, fork, exit, file_modify, profile_remove or log"},
	{"Image", "the program's resolved path (for a wrapped command: its name as typed)"},
	{"CommandLine", "the command line, as the source gave it or rebuilt from argv"},
	{"Args", "each argument after argv[0]"},
	{"ParentImage", "the parent's image, from the source or the process table"},
	{"ParentCommandLine", "the parent's command line, from the source or the process table"},
	{"CurrentDirectory", "the program's working directory, where the source gives it (eslogger, osquery, ECS)"},
	{"Ancestry", "each image above the program, nearest first"},
	{"ResponsibleImage", "the responsible process's image (the app that launched it)"},
	{"User", "the user name"},
	{"UID", "the real user id"},
	{"EUID", "the effective user id"},
	{"AUID", "the audit (login) user id; 4294967295 when no one logged in"},
	{"SigningID", "the code-signing identifier"},
	{"TeamID", "the code-signing team identifier"},
	{"PlatformBinary", "true for Apple platform binaries"},
	{"TargetFilename", "file events: the file written"},
	{"SourceFilename", "file events: a rename's old name"},
	{"Host", "the host name"},
	{"Source", "eslogger, osquery, unifiedlog, santa or ecs"},
	{"Raw", "the record as read"},
	{"Tool", "socketfilterfw, pfctl, defaults, plistbuddy, plutil, launchctl, kill, killall, pkill, profiles (by signing ID, else path), or the program's name"},
	{"Action", "each operation requested, normalised: setglobalstate=off, disable, flush=rules, load, table=delete, write, delete, replace, unload …"},
	{"App", "socketfilterfw: each application path added, removed, blocked or unblocked"},
	{"PfFile", "pfctl -f: the rule file"},
	{"PfAnchor", "pfctl -a: the anchor"},
	{"PfTable", "pfctl -t: the table"},
	{"PlistDomain", "defaults, PlistBuddy, plutil: the domain, e.g. com.apple.alf"},
	{"PlistScope", "system, user or managed"},
	{"PlistSet", "each key=value written, key lowercased, value normalised (-bool YES is 1)"},
	{"PlistDelete", "each key deleted, * for the whole domain"},
	{"Target", "launchctl: each job label; kill, killall, pkill: each process name; profiles: identifiers"},
	{"Signal", "kill, killall, pkill, launchctl kill: the signal name (KILL, TERM, HUP …)"},
	{"Via", "each wrapper the command was found inside (sudo, env, sh …)"},
}

// view shows one command of one event to the rules. Each single-valued field has its own slot
// in strs: |fieldref holds the values of one field while it asks for another's, so two fields
// must never share a buffer.
type view struct {
	ev      *event.Event
	cmd     *Command
	cmdline string
	strs    [numSlots]string
}

// The slots of view.strs, one per field whose value is a single string.
const (
	slotEventType = iota
	slotImage
	slotCommandLine
	slotParentImage
	slotParentCommandLine
	slotCurrentDirectory
	slotResponsibleImage
	slotUser
	slotUID
	slotEUID
	slotAUID
	slotSigningID
	slotTeamID
	slotPlatformBinary
	slotTargetFilename
	slotSourceFilename
	slotHost
	slotSource
	slotRaw
	slotTool
	slotPfFile
	slotPfAnchor
	slotPfTable
	slotPlistDomain
	slotPlistScope
	slotSignal
	numSlots
)

func (v *view) single(k int, s string) ([]string, bool) {
	if s == "" {
		return nil, false
	}
	v.strs[k] = s
	return v.strs[k : k+1], true
}

func (v *view) list(s []string) ([]string, bool) {
	return s, len(s) > 0
}

func (v *view) id(k int, n int) ([]string, bool) {
	if n == event.Unknown {
		return nil, false
	}
	v.strs[k] = strconv.Itoa(n)
	return v.strs[k : k+1], true
}

// Values implements sigma.Fields.
func (v *view) Values(name string) ([]string, bool) {
	ev, c := v.ev, v.cmd
	wrapped := len(c.Via) > 0
	switch name {
	case "EventType":
		return v.single(slotEventType, string(ev.Kind))
	case "Image":
		if wrapped {
			return v.single(slotImage, c.Argv[0])
		}
		return v.single(slotImage, ev.Path)
	case "CommandLine":
		if v.cmdline == "" {
			if !wrapped && ev.CommandLine != "" {
				v.cmdline = ev.CommandLine
			} else if len(c.Argv) > 0 {
				v.cmdline = host.QuoteArgv(c.Argv)
			}
		}
		return v.single(slotCommandLine, v.cmdline)
	case "Args":
		if len(c.Argv) < 2 {
			return nil, false
		}
		return c.Argv[1:], true
	case "ParentImage":
		return v.single(slotParentImage, ev.ParentPath)
	case "ParentCommandLine":
		return v.single(slotParentCommandLine, ev.ParentCommandLine)
	case "CurrentDirectory":
		return v.single(slotCurrentDirectory, ev.CurrentDirectory)
	case "Ancestry":
		return v.list(ev.Ancestry)
	case "ResponsibleImage":
		return v.single(slotResponsibleImage, ev.ResponsiblePath)
	case "User":
		return v.single(slotUser, ev.User)
	case "UID":
		return v.id(slotUID, ev.UID)
	case "EUID":
		return v.id(slotEUID, ev.EUID)
	case "AUID":
		return v.id(slotAUID, ev.AUID)
	case "SigningID":
		if wrapped {
			return nil, false
		}
		return v.single(slotSigningID, ev.SigningID)
	case "TeamID":
		if wrapped {
			return nil, false
		}
		return v.single(slotTeamID, ev.TeamID)
	case "PlatformBinary":
		if wrapped || ev.Platform == nil {
			return nil, false
		}
		return v.single(slotPlatformBinary, strconv.FormatBool(*ev.Platform))
	case "TargetFilename":
		return v.single(slotTargetFilename, ev.FilePath)
	case "SourceFilename":
		return v.single(slotSourceFilename, ev.FileFrom)
	case "Host":
		return v.single(slotHost, ev.Host)
	case "Source":
		return v.single(slotSource, ev.Source)
	case "Raw":
		return v.single(slotRaw, string(ev.Raw))
	case "Tool":
		return v.single(slotTool, c.Tool)
	case "Action":
		return v.list(c.Actions)
	case "App":
		return v.list(c.Apps)
	case "PfFile":
		return v.single(slotPfFile, c.PfFile)
	case "PfAnchor":
		return v.single(slotPfAnchor, c.PfAnchor)
	case "PfTable":
		return v.single(slotPfTable, c.PfTable)
	case "PlistDomain":
		return v.single(slotPlistDomain, c.PlistDomain)
	case "PlistScope":
		return v.single(slotPlistScope, c.PlistScope)
	case "PlistSet":
		return v.list(c.PlistSet)
	case "PlistDelete":
		return v.list(c.PlistDelete)
	case "Target":
		return v.list(c.Targets)
	case "Signal":
		return v.single(slotSignal, c.Signal)
	case "Via":
		return v.list(c.Via)
	}
	return nil, false
}
