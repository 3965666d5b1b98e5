package input

import (
	"strings"
	"time"

	"github.com/firewarden/firewarden/internal/detect/event"
)

// osqRow is one row of osquery's es_process_events (specs/darwin/es_process_events.table,
// reference §1b), strings left raw. osquery writes every column as a string; numbers are
// accepted too (--logger_numerics). -1 is absent.
//
// The euid column is not read: the subscriber fills it with audit_token_to_egid (§1b).
type osqRow struct {
	path, cmdline, username, signing, team, eventType, cwd                 jstr
	pid, parent, origParent, uid, childPID, pidVersion, respPID, time, seq int
	platform                                                               int8
}

func (o *osqRow) walk(s *jscan) bool {
	*o = osqRow{pid: -1, parent: -1, origParent: -1, uid: -1, childPID: -1, pidVersion: -1, respPID: -1, time: -1, seq: -1}
	if !s.object() {
		return false
	}
	for k, ok := s.key(); ok; k, ok = s.key() {
		switch string(k) {
		case "path":
			o.path = s.str()
		case "cmdline":
			o.cmdline = s.str()
		case "cwd":
			o.cwd = s.str()
		case "username":
			o.username = s.str()
		case "signing_id":
			o.signing = s.str()
		case "team_id":
			o.team = s.str()
		case "event_type":
			o.eventType = s.str()
		case "pid":
			o.pid = s.intOr(-1)
		case "parent":
			o.parent = s.intOr(-1)
		case "original_parent":
			o.origParent = s.intOr(-1)
		case "uid":
			o.uid = s.intOr(-1)
		case "child_pid":
			o.childPID = s.intOr(-1)
		case "pidversion":
			o.pidVersion = s.intOr(-1)
		case "responsible_pid":
			o.respPID = s.intOr(-1)
		case "time":
			o.time = s.intOr(-1)
		case "global_seq_num":
			o.seq = s.intOr(-1)
		case "platform_binary":
			o.platform = tristate(s.boolean())
		default:
			s.skip()
		}
	}
	return !s.bad
}

// kind is what the row describes; esNone for a row of another table or event.
func (o *osqRow) kind() esKind {
	if !o.path.ok || o.pid < 0 {
		return esNone
	}
	switch {
	case o.eventType.is("exec"), !o.eventType.ok && o.cmdline.ok:
		return esExec
	case o.eventType.is("fork"):
		return esFork
	case o.eventType.is("exit"):
		return esExit
	}
	return esNone
}

// osquery handles an osquery results line: the rows it holds are queued in r.rows.
func (r *Reader) osquery(t *jtop, build bool) bool {
	if s := str(t.action); s.is("removed") {
		// an evented table only adds; a differential query's removed row is no event
		if build {
			r.ignored++
		}
		return false
	}
	r.rowHost = r.hostOr(str(t.hostIdentifier))
	r.rowTime = integer(t.unixTime, -1)
	rows := r.rows[:0]
	if isObject(t.columns) {
		rows = append(rows, t.columns)
	}
	rows = appendRows(rows, t.snapshot)
	if isObject(t.diffResults) {
		s := jscan{b: t.diffResults}
		s.object()
		for k, ok := s.key(); ok; k, ok = s.key() {
			if string(k) == "added" {
				rows = appendRows(rows, s.span())
			} else {
				s.skip()
			}
		}
	}
	r.rows = rows
	if !build {
		var row osqRow
		for _, b := range r.rows {
			s := jscan{b: b}
			if row.walk(&s) {
				r.osqTrack(&row)
			}
		}
		r.rows = r.rows[:0]
		return false
	}
	if len(r.rows) == 0 {
		r.ignored++
		return false
	}
	return r.nextRow()
}

func appendRows(rows [][]byte, array []byte) [][]byte {
	if !isArray(array) {
		return rows
	}
	s := jscan{b: array}
	s.array()
	for s.more() {
		if v := s.span(); isObject(v) {
			rows = append(rows, v)
		}
	}
	return rows
}

// nextRow takes rows from r.rows until one is an event.
func (r *Reader) nextRow() bool {
	var row osqRow
	for len(r.rows) > 0 {
		b := r.rows[0]
		r.rows = r.rows[1:]
		s := jscan{b: b}
		if !row.walk(&s) {
			r.ignored++
			continue
		}
		made := r.osqEvent(&row)
		r.osqTrack(&row)
		if made {
			return true
		}
		r.ignored++
	}
	return false
}

func (r *Reader) osqTrack(o *osqRow) {
	host := r.rowHost
	switch o.kind() {
	case esExec:
		r.procs.put(procKey{host, o.pid}, proc{path: r.intern(o.path), ppid: o.parent, cmd: r.cmds.put(o.cmdline.raw, cmdOsquery)})
	case esFork:
		if o.childPID >= 0 {
			// the child is a copy of the row's process: its command line too
			path := r.intern(o.path)
			var cmd cmdRef
			if p, ok := r.procs.get(procKey{host, o.pid}); ok && p.path == path {
				cmd = p.cmd
			}
			r.procs.put(procKey{host, o.childPID}, proc{path: path, ppid: o.pid, cmd: cmd})
		}
	case esExit:
		r.procs.delete(procKey{host, o.pid})
	}
}

func (r *Reader) osqEvent(o *osqRow) bool {
	host := r.rowHost
	ev := r.newEvent(Osquery, host)
	sec := o.time
	if sec < 0 {
		sec = r.rowTime
	}
	if sec >= 0 {
		ev.Time = time.Unix(int64(sec), 0).UTC()
	}
	if o.seq >= 0 {
		ev.Seq = uint64(o.seq)
	}
	ev.Path = o.path.String()
	ev.SigningID = o.signing.String()
	ev.TeamID = o.team.String()
	ev.Platform = boolPtr(o.platform)
	ev.UID = o.uid
	ev.User = o.username.String()
	ev.PIDVersion = pid(o.pidVersion)
	switch o.kind() {
	case esExec:
		ev.Kind = event.Exec
		ev.PID, ev.PPID, ev.OriginalPPID = o.pid, pid(o.parent), pid(o.origParent)
		ev.CommandLine = strings.TrimSuffix(o.cmdline.String(), " ")
		ev.CurrentDirectory = o.cwd.String()
		if argv, ok := splitOsquery(ev.CommandLine); ok {
			ev.Argv = argv
		} else {
			ev.Argv = splitFallback(ev.CommandLine)
		}
		r.lineage(ev, host, o.parent, "", -1)
	case esFork:
		// the row is the parent's, child_pid the copy
		if o.childPID < 0 {
			return false
		}
		ev.Kind = event.Fork
		ev.PID, ev.PPID, ev.PIDVersion = o.childPID, o.pid, 0
		r.lineage(ev, host, o.pid, ev.Path, o.parent)
	case esExit:
		ev.Kind = event.Exit
		ev.PID, ev.PPID, ev.OriginalPPID = o.pid, pid(o.parent), pid(o.origParent)
		r.lineage(ev, host, o.parent, "", -1)
	default:
		return false
	}
	r.responsible(ev, host, o.respPID)
	return true
}
