package input

import (
	"time"

	"github.com/firewarden/firewarden/internal/detect/event"
)

// ecsDoc is the part of an Elastic Defend / Endgame document (ECS, reference §1d) this package
// uses, strings left raw. -1 is absent.
type ecsDoc struct {
	action                jstr
	start, end            bool // event.type holds "start", "end"
	procCat, fileCat      bool // event.category holds "process", "file"
	seq                   int
	exe, cmdline, entity  jstr
	cwd                   jstr
	args                  []byte
	parentCmd             jstr
	parentArgs            []byte
	pid                   int
	parentExe, parentEnt  jstr
	parentPID             int
	effExe                jstr
	effPID                int
	ancestry              []byte
	signing, team         jstr
	userID, realID        int
	userName              jstr
	hostName, hostname    jstr
	filePath, fileOrigin  jstr
	hasProcess, hasAction bool
}

func (d *ecsDoc) read(t *jtop) {
	*d = ecsDoc{seq: -1, pid: -1, parentPID: -1, effPID: -1, userID: -1, realID: -1}
	if isObject(t.event) {
		s := jscan{b: t.event}
		s.object()
		for k, ok := s.key(); ok; k, ok = s.key() {
			switch string(k) {
			case "action":
				d.action = s.str()
				d.hasAction = d.action.ok
			case "type":
				tags(&s, func(v jstr) {
					d.start = d.start || v.is("start")
					d.end = d.end || v.is("end")
				})
			case "category":
				tags(&s, func(v jstr) {
					d.procCat = d.procCat || v.is("process")
					d.fileCat = d.fileCat || v.is("file")
				})
			case "sequence":
				d.seq = s.intOr(-1)
			default:
				s.skip()
			}
		}
	}
	if isObject(t.process) {
		d.hasProcess = true
		s := jscan{b: t.process}
		d.readProcess(&s)
	}
	if isObject(t.user) {
		s := jscan{b: t.user}
		s.object()
		for k, ok := s.key(); ok; k, ok = s.key() {
			switch string(k) {
			case "id":
				d.userID = s.intOr(-1)
			case "name":
				d.userName = s.str()
			case "Ext":
				walkPath(&s, "real", func(s *jscan, k []byte) {
					if string(k) == "id" {
						d.realID = s.intOr(-1)
					} else {
						s.skip()
					}
				})
			default:
				s.skip()
			}
		}
	}
	if isObject(t.host) {
		s := jscan{b: t.host}
		s.object()
		for k, ok := s.key(); ok; k, ok = s.key() {
			switch string(k) {
			case "name":
				d.hostName = s.str()
			case "hostname":
				d.hostname = s.str()
			default:
				s.skip()
			}
		}
	}
	if isObject(t.file) {
		s := jscan{b: t.file}
		s.object()
		for k, ok := s.key(); ok; k, ok = s.key() {
			switch string(k) {
			case "path":
				d.filePath = s.str()
			case "Ext":
				walkPath(&s, "original", func(s *jscan, k []byte) {
					if string(k) == "path" {
						d.fileOrigin = s.str()
					} else {
						s.skip()
					}
				})
			default:
				s.skip()
			}
		}
	}
}

func (d *ecsDoc) readProcess(s *jscan) {
	s.object()
	for k, ok := s.key(); ok; k, ok = s.key() {
		switch string(k) {
		case "executable":
			d.exe = s.str()
		case "command_line":
			d.cmdline = s.str()
		case "working_directory":
			d.cwd = s.str()
		case "entity_id":
			d.entity = s.str()
		case "args":
			d.args = s.span()
		case "pid":
			d.pid = s.intOr(-1)
		case "parent":
			if !s.object() {
				continue
			}
			for k, ok := s.key(); ok; k, ok = s.key() {
				switch string(k) {
				case "executable":
					d.parentExe = s.str()
				case "entity_id":
					d.parentEnt = s.str()
				case "pid":
					d.parentPID = s.intOr(-1)
				case "command_line":
					d.parentCmd = s.str()
				case "args":
					d.parentArgs = s.span()
				default:
					s.skip()
				}
			}
		case "code_signature":
			if !s.object() {
				continue
			}
			for k, ok := s.key(); ok; k, ok = s.key() {
				switch string(k) {
				case "signing_id":
					d.signing = s.str()
				case "team_id":
					d.team = s.str()
				default:
					s.skip()
				}
			}
		case "Ext":
			if !s.object() {
				continue
			}
			for k, ok := s.key(); ok; k, ok = s.key() {
				switch string(k) {
				case "ancestry":
					d.ancestry = s.span()
				case "effective_parent":
					if !s.object() {
						continue
					}
					for k, ok := s.key(); ok; k, ok = s.key() {
						switch string(k) {
						case "executable":
							d.effExe = s.str()
						case "pid":
							d.effPID = s.intOr(-1)
						default:
							s.skip()
						}
					}
				default:
					s.skip()
				}
			}
		default:
			s.skip()
		}
	}
}

// tags reads a keyword field that ECS allows as a string or an array of strings.
func tags(s *jscan, each func(jstr)) {
	if s.peek() == '"' {
		each(s.str())
		return
	}
	if !s.array() {
		return
	}
	for s.more() {
		each(s.str())
	}
}

// walkPath enters the object at s, then its key name (an object too), and calls each for
// every key there, which must read or skip the value; every other value is skipped.
func walkPath(s *jscan, name string, each func(s *jscan, k []byte)) {
	if !s.object() {
		return
	}
	for k, ok := s.key(); ok; k, ok = s.key() {
		if string(k) != name {
			s.skip()
			continue
		}
		if !s.object() {
			continue
		}
		for k, ok := s.key(); ok; k, ok = s.key() {
			each(s, k)
		}
	}
}

// kind maps event.action and event.type (Elastic's macOS rules use event.type start with
// event.action exec; fork, exec and end are the process actions of endpoint-package's
// macos_process_fork_exec_exit.md). File documents of these actions are file changes.
func (d *ecsDoc) kind() esKind {
	a := d.action
	switch {
	case a.is("exec"):
		return esExec
	case a.is("fork"):
		return esFork
	case a.is("end"), a.is("exit"), !d.hasAction && d.end && d.hasProcess:
		return esExit
	case d.fileCat && d.filePath.ok && (a.is("creation") || a.is("modification") || a.is("overwrite") ||
		a.is("rename") || a.is("deletion")):
		return esWrite
	case d.start && d.hasProcess && (!d.hasAction || a.is("start")) && !d.fileCat:
		return esExec
	}
	return esNone
}

// ecs handles an ECS document, bare or as an Elasticsearch hit's _source.
func (r *Reader) ecs(t *jtop, build bool) bool {
	if isObject(t.source) {
		s := jscan{b: t.source}
		if !r.inner.walk(&s) {
			if build {
				r.ignored++
			}
			return false
		}
		t = &r.inner
	}
	var d ecsDoc
	d.read(t)
	host := r.opt.Host
	if d.hostName.ok {
		host = r.intern(d.hostName)
	} else if d.hostname.ok {
		host = r.intern(d.hostname)
	}
	made := false
	if build {
		made = r.ecsEvent(t, &d, host)
		if !made {
			r.ignored++
		}
	}
	switch d.kind() {
	case esExec, esFork:
		if d.pid >= 0 && d.exe.ok {
			r.procs.put(procKey{host, d.pid}, proc{path: r.intern(d.exe), ppid: d.parentPID, cmd: d.command(&r.cmds)})
		}
		if d.entity.ok && d.exe.ok {
			r.entity(d.entity, d.exe)
		}
		if d.parentEnt.ok && d.parentExe.ok {
			r.entity(d.parentEnt, d.parentExe)
		}
	case esExit:
		r.procs.delete(procKey{host, d.pid})
	}
	return made
}

// entity remembers an entity id's image (the key is allocated: entity ids are unique per
// process, interning them would not save anything).
func (r *Reader) entity(id, exe jstr) {
	if r.entities == nil {
		r.entities = newBounded(r.opt.MaxProcs, MaxTableBytes, stringBytes)
	}
	r.entities.put(id.String(), r.intern(exe))
}

func (r *Reader) ecsEvent(t *jtop, d *ecsDoc, host string) bool {
	ev := r.newEvent(ECS, host)
	ev.Time = parseTime(time.RFC3339Nano, str(t.atTimestamp))
	if d.seq >= 0 {
		ev.Seq = uint64(d.seq)
	}
	switch d.kind() {
	case esExec:
		ev.Kind = event.Exec
	case esFork:
		ev.Kind = event.Fork
	case esExit:
		ev.Kind = event.Exit
	case esWrite:
		ev.Kind = event.FileModify
		ev.FilePath = d.filePath.String()
		ev.FileFrom = d.fileOrigin.String()
	default:
		return false
	}
	ev.PID, ev.PPID = pid(d.pid), pid(d.parentPID)
	ev.Path = d.exe.String()
	ev.SigningID, ev.TeamID = d.signing.String(), d.team.String()
	ev.EUID, ev.UID = d.userID, d.realID
	ev.User = d.userName.String()
	ev.Argv = stringArray(d.args)
	ev.CommandLine = d.cmdline.String()
	ev.CurrentDirectory = d.cwd.String()
	switch parentArgs := stringArray(d.parentArgs); {
	case d.parentCmd.ok:
		ev.ParentCommandLine = d.parentCmd.String()
	case len(parentArgs) > 0: // Defend 7.10 writes "args": [] for a parent it did not see
		ev.ParentCommandLine = JoinCommandLine(parentArgs)
	}
	switch {
	case len(ev.Argv) > 0:
		ev.ArgvExact = true
		if ev.CommandLine == "" {
			ev.CommandLine = JoinCommandLine(ev.Argv)
		}
	case ev.CommandLine != "":
		ev.Argv = splitFallback(ev.CommandLine)
	}
	r.ecsLineage(ev, d, host)
	if d.effPID >= 0 || d.effExe.ok {
		ev.ResponsiblePID = pid(d.effPID)
		ev.ResponsiblePath = d.effExe.String()
	}
	return true
}

// ecsLineage fills the parent from process.parent, or the image an earlier document gave the
// parent's entity id, or the pid table; and the ancestry from process.Ext.ancestry (entity
// ids, nearest first) through the images earlier documents gave those ids, or else from the pid
// table.
func (r *Reader) ecsLineage(ev *event.Event, d *ecsDoc, host string) {
	parent := d.parentExe.String()
	if parent == "" && d.parentEnt.ok {
		parent, _ = r.entityPath(d.parentEnt)
	}
	r.lineage(ev, host, d.parentPID, parent, -1)
	if ev.ParentPath == "" || !isArray(d.ancestry) || r.entities == nil {
		return
	}
	anc := []string{ev.ParentPath}
	s := jscan{b: d.ancestry}
	s.array()
	for i := 0; s.more() && len(anc) < maxAncestry; i++ {
		id := s.str()
		if i == 0 {
			continue // the parent
		}
		p, ok := r.entityPath(id)
		if !ok {
			break
		}
		anc = append(anc, p)
	}
	if len(anc) > len(ev.Ancestry) {
		ev.Ancestry = anc
	}
}

func (r *Reader) entityPath(id jstr) (string, bool) {
	if r.entities == nil || !id.ok {
		return "", false
	}
	r.buf = id.decode(r.buf[:0])
	return r.entities.get(string(r.buf))
}

// command keeps the document's command line for the process table: process.args when the
// document has a non-empty array, else process.command_line.
func (d *ecsDoc) command(c *cmdRing) cmdRef {
	if isArray(d.args) && !emptyArray(d.args) {
		return c.put(d.args, cmdArgs)
	}
	if d.cmdline.ok {
		return c.put(d.cmdline.raw, cmdJSON)
	}
	return cmdRef{}
}

// emptyArray reports whether v, a raw JSON array, holds nothing.
func emptyArray(v []byte) bool {
	s := jscan{b: v}
	return s.array() && !s.more()
}
