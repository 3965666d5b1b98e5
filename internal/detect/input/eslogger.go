package input

import (
	"bytes"
	"time"

	"github.com/firewarden/firewarden/internal/detect/event"
)

// esKind is the eslogger event a line holds: the one key of its "event" object.
type esKind uint8

const (
	esNone  esKind = iota
	esOther        // an event this package makes nothing of (mmap, sudo, …)
	esExec
	esFork
	esExit
	esCreate
	esWrite
	esRename
	esUnlink
	esClose
	esProfileRemove
)

func esKindOf(name []byte) esKind {
	switch string(name) {
	case "exec":
		return esExec
	case "fork":
		return esFork
	case "exit":
		return esExit
	case "create":
		return esCreate
	case "write":
		return esWrite
	case "rename":
		return esRename
	case "unlink":
		return esUnlink
	case "close":
		return esClose
	case "profile_remove":
		return esProfileRemove
	}
	return esOther
}

// token is the part of an audit token this package uses. -1 is absent.
type token struct{ pid, pidVersion, ruid, euid, auid int }

var noToken = token{-1, -1, -1, -1, -1}

// readToken reads an audit token in either shape eslogger has written (§1a): an object (ES
// message version 9, macOS 15) or an array of eight integers [auid, euid, egid, ruid, rgid, pid,
// asid, pidversion] (version 10, macOS 26; order from mullvad's process.rs and launchd's token
// [4294967295,0,0,0,0,1,100012,1029] in the v10 fork sample).
func readToken(s *jscan) token {
	t := noToken
	switch s.peek() {
	case '{':
		s.object()
		for k, ok := s.key(); ok; k, ok = s.key() {
			switch string(k) {
			case "pid":
				t.pid = s.intOr(-1)
			case "pidversion":
				t.pidVersion = s.intOr(-1)
			case "ruid":
				t.ruid = s.intOr(-1)
			case "euid":
				t.euid = s.intOr(-1)
			case "auid":
				t.auid = s.intOr(-1)
			default:
				s.skip()
			}
		}
	case '[':
		s.array()
		for i := 0; s.more(); i++ {
			v := s.intOr(-1)
			switch i {
			case 0:
				t.auid = v
			case 1:
				t.euid = v
			case 3:
				t.ruid = v
			case 5:
				t.pid = v
			case 7:
				t.pidVersion = v
			}
		}
	default:
		s.skip()
	}
	return t
}

// esProc is an es_process_t as eslogger writes it, strings left raw.
type esProc struct {
	ok                        bool
	tok                       token
	bare                      int // a plain "pid" key, should a version write one
	ppid, origPPID, parentPID int
	respPID                   int
	path, signing, team, tty  jstr
	platform                  int8
}

// clear makes p a process of which nothing is known.
func (p *esProc) clear() {
	*p = esProc{tok: noToken, bare: -1, ppid: -1, origPPID: -1, parentPID: -1, respPID: -1}
}

// walk reads a process object; a null or any other value leaves ok false.
func (p *esProc) walk(s *jscan) {
	p.clear()
	if !s.object() {
		return
	}
	p.ok = true
	for k, ok := s.key(); ok; k, ok = s.key() {
		switch string(k) {
		case "audit_token":
			p.tok = readToken(s)
		case "parent_audit_token":
			p.parentPID = readToken(s).pid
		case "responsible_audit_token":
			p.respPID = readToken(s).pid
		case "ppid":
			p.ppid = s.intOr(-1)
		case "original_ppid":
			p.origPPID = s.intOr(-1)
		case "pid":
			p.bare = s.intOr(-1)
		case "executable":
			p.path = filePath(s)
		case "signing_id":
			p.signing = s.str()
		case "team_id":
			p.team = s.str()
		case "is_platform_binary":
			p.platform = tristate(s.boolean())
		case "tty":
			p.tty = filePath(s)
		default:
			s.skip()
		}
	}
}

func (p *esProc) pid() int {
	if p.tok.pid >= 0 {
		return p.tok.pid
	}
	return p.bare
}

// parent is ppid, or the parent audit token's pid.
func (p *esProc) parent() int {
	if p.ppid >= 0 {
		return p.ppid
	}
	return p.parentPID
}

// fill copies the process into the event's subject.
func (p *esProc) fill(e *event.Process) {
	e.PID = pid(p.pid())
	e.PIDVersion = pid(p.tok.pidVersion)
	e.Path = p.path.String()
	e.SigningID = p.signing.String()
	e.TeamID = p.team.String()
	e.Platform = boolPtr(p.platform)
	e.UID, e.EUID, e.AUID = p.tok.ruid, p.tok.euid, p.tok.auid
	e.TTY = p.tty.String()
}

// filePath reads the "path" of an es_file_t object; null gives the zero jstr.
func filePath(s *jscan) jstr {
	var p jstr
	if !s.object() {
		return p
	}
	for k, ok := s.key(); ok; k, ok = s.key() {
		if string(k) == "path" {
			p = s.str()
		} else {
			s.skip()
		}
	}
	return p
}

// esFile holds every file path a file event may carry. eslogger's field names for these events
// are not verified (reference §7), so every shape es_message_t suggests is taken: target,
// source, destination as a file, destination.existing_file, destination.new_path.{dir,
// filename}, and the last two directly under the event.
type esFile struct {
	target, source, dest, existing, dir, filename jstr
	modified                                      int8
}

func (f *esFile) walk(s *jscan) {
	for k, ok := s.key(); ok; k, ok = s.key() {
		switch string(k) {
		case "target", "file":
			f.target = filePath(s)
		case "source":
			f.source = filePath(s)
		case "destination":
			f.walkDest(s)
		case "existing_file":
			f.existing = filePath(s)
		case "new_path":
			f.walkNewPath(s)
		case "modified":
			f.modified = tristate(s.boolean())
		default:
			s.skip()
		}
	}
}

func (f *esFile) walkDest(s *jscan) {
	if s.peek() == '"' {
		f.dest = s.str()
		return
	}
	if !s.object() {
		return
	}
	for k, ok := s.key(); ok; k, ok = s.key() {
		switch string(k) {
		case "path":
			f.dest = s.str()
		case "existing_file":
			f.existing = filePath(s)
		case "new_path":
			f.walkNewPath(s)
		case "dir":
			f.dir = filePath(s)
		case "filename":
			f.filename = s.str()
		default:
			s.skip()
		}
	}
}

func (f *esFile) walkNewPath(s *jscan) {
	if !s.object() {
		return
	}
	for k, ok := s.key(); ok; k, ok = s.key() {
		switch string(k) {
		case "dir":
			f.dir = filePath(s)
		case "filename":
			f.filename = s.str()
		default:
			s.skip()
		}
	}
}

// paths gives the file changed and, for a rename, the name it had.
func (f *esFile) paths() (path, from string) {
	var dest string
	switch {
	case f.existing.ok:
		dest = f.existing.String()
	case f.filename.ok:
		dest = f.filename.String()
		if f.dir.ok {
			dir := f.dir.String()
			if len(dir) > 0 && dir[len(dir)-1] != '/' {
				dir += "/"
			}
			dest = dir + dest
		}
	case f.dest.ok:
		dest = f.dest.String()
	}
	switch {
	case f.target.ok:
		path = f.target.String()
	case dest != "":
		path = dest
	default:
		return f.source.String(), ""
	}
	return path, f.source.String()
}

// esEvent is eslogger's "event" object: its one key names the event.
type esEvent struct {
	keys int
	kind esKind
	subj esProc // exec's target, fork's child, profile_remove's instigator
	args []byte // exec's args array
	cwd  jstr   // exec's cwd.path
	file esFile
}

func (e *esEvent) walk(s *jscan) {
	e.subj.clear()
	if !s.object() {
		return
	}
	for k, ok := s.key(); ok; k, ok = s.key() {
		e.keys++
		if s.peek() != '{' {
			s.skip()
			continue
		}
		e.kind = esKindOf(k)
		switch e.kind {
		case esExec, esFork, esProfileRemove:
			s.object()
			for k, ok := s.key(); ok; k, ok = s.key() {
				switch string(k) {
				case "target", "child", "instigator":
					e.subj.walk(s)
				case "args":
					e.args = s.span()
				case "cwd":
					e.cwd = filePath(s)
				default:
					s.skip()
				}
			}
		case esCreate, esWrite, esRename, esUnlink, esClose:
			s.object()
			e.file.walk(s)
		default:
			s.skip()
		}
	}
}

// process reads the line's "process" object once.
func (t *jtop) esProcess() *esProc {
	if !t.procRead {
		t.procRead = true
		s := jscan{b: t.process}
		t.proc.walk(&s)
	}
	return &t.proc
}

// esBrief is what the process table needs of eslogger's "event" object: which event it is
// and its subject's pid, parent and image. It is read from every line, decoded or skipped, by
// one walk that skips all else (args, env, file descriptors, stat objects), so skipping a line
// keeps the same table as decoding it by construction; the event is read in full (esEvent) only
// for lines that are decoded.
type esBrief struct {
	keys int
	kind esKind
	subj esProc // exec's target, fork's child, profile_remove's instigator: walkTable's fields
	args []byte // exec's args array, for the command line the table keeps
}

func (e *esBrief) walk(s *jscan) {
	e.subj.clear()
	if !s.object() {
		return
	}
	for k, ok := s.key(); ok; k, ok = s.key() {
		e.keys++
		if s.peek() != '{' {
			s.skip()
			continue
		}
		e.kind = esKindOf(k)
		switch e.kind {
		case esExec, esFork, esProfileRemove:
			s.object()
			for k, ok := s.key(); ok; k, ok = s.key() {
				switch string(k) {
				case "target", "child", "instigator":
					e.subj.walkTable(s)
				case "args":
					e.args = s.span()
				default:
					s.skip()
				}
			}
		default:
			s.skip()
		}
	}
}

// walkTable reads the fields of a process the table is kept from (its pid, parent and image)
// and skips the rest; a null or any other value leaves ok false.
func (p *esProc) walkTable(s *jscan) {
	p.clear()
	if !s.object() {
		return
	}
	p.ok = true
	for k, ok := s.key(); ok; k, ok = s.key() {
		switch string(k) {
		case "audit_token":
			p.tok.pid = tokenPID(s)
		case "parent_audit_token":
			p.parentPID = tokenPID(s)
		case "ppid":
			p.ppid = s.intOr(-1)
		case "pid":
			p.bare = s.intOr(-1)
		case "executable":
			p.path = filePath(s)
		default:
			s.skip()
		}
	}
}

// tokenPID is readToken(s).pid for the tokens of well-formed lines, without reading the other
// seven fields: an object holding no nested value, string escape or odd quote (flatEnd) is
// searched for its last "pid" key (the one readToken would keep), which in such an object can
// only be a key when a colon follows it. The search steps from 'p' to 'p', a letter no other
// token key but "pidversion" holds. Anything else is read by readToken.
func tokenPID(s *jscan) int {
	if s.peek() == '{' {
		if end, r, _ := flatEnd(s.b, s.i+1); r == flatClosed {
			w := s.b[s.i+1 : end]
			at := -1 // where the value of the last "pid" key starts
			for i := 0; ; {
				j := bytes.IndexByte(w[i:], 'p')
				if j < 0 {
					break
				}
				j += i
				if j > 0 && j+4 < len(w) && w[j-1] == '"' && w[j+1] == 'i' && w[j+2] == 'd' && w[j+3] == '"' {
					if w[j+4] != ':' { // a string "pid", not a key: leave it to readToken
						at = -2
						break
					}
					at = j + 5
				}
				i = j + 1
			}
			switch {
			case at == -1:
				s.i = end + 1
				return -1
			case at >= 0:
				s.i = end + 1
				v := jscan{b: w, i: at}
				return v.intOr(-1)
			}
		}
	}
	return readToken(s).pid
}

// esFull reads the line's "event" object in full, once.
func (t *jtop) esFull() *esEvent {
	if !t.fullRead {
		t.fullRead = true
		s := jscan{b: t.event}
		t.full.walk(&s)
	}
	return &t.full
}

// eslogger handles an eslogger line: fills r.ev when build and the line is an event, and
// keeps the process table.
func (r *Reader) eslogger(t *jtop, build bool) bool {
	host := r.opt.Host
	made := false
	if build {
		made = r.esEvent(t, host)
		if !made {
			r.ignored++
		}
	}
	r.esTrack(t, host)
	return made
}

// esTrack keeps the process table: exec sets the pid's image, fork gives the child its
// parent's image, exit forgets the pid.
func (r *Reader) esTrack(t *jtop, host string) {
	e := &t.es
	switch e.kind {
	case esExec:
		pid, ppid := e.subj.pid(), e.subj.parent()
		prePID, prePath := t.brief.pid(), t.brief.path
		if pid < 0 {
			pid = prePID
		}
		if pid >= 0 && e.subj.ok && e.subj.path.ok {
			p := proc{path: r.intern(e.subj.path), ppid: ppid, cmd: r.cmds.put(e.args, cmdArgs)}
			if prePID == pid && prePath.ok {
				// A fork copy of the parent says nothing new; an earlier image of this process does.
				if was := r.intern(prePath); was != p.path {
					if pp, ok := r.procs.get(procKey{host, ppid}); !ok || pp.path != was {
						p.was = was
					}
				}
			}
			r.procs.put(procKey{host, pid}, p)
		}
	case esFork:
		pid, ppid := e.subj.pid(), e.subj.parent()
		if pid < 0 {
			return
		}
		// The child is a copy of the parent: its image and its command line.
		parentPID, parentPath := t.brief.pid(), t.brief.path
		if ppid < 0 {
			ppid = parentPID
		}
		parent, known := r.procs.get(procKey{host, ppid})
		var path string
		switch {
		case e.subj.path.ok:
			path = r.intern(e.subj.path)
		case known:
			path = parent.path
		default:
			path = r.intern(parentPath)
		}
		var cmd cmdRef
		if known && parent.path == path {
			cmd = parent.cmd
		}
		r.procs.put(procKey{host, pid}, proc{path: path, ppid: ppid, cmd: cmd})
	case esExit:
		if pid := t.brief.pid(); pid >= 0 {
			r.procs.delete(procKey{host, pid})
		}
	}
}

// esEvent normalises an eslogger line into r.ev (before esTrack has seen it).
func (r *Reader) esEvent(t *jtop, host string) bool {
	e := t.esFull()
	instigator := t.esProcess()
	ev := r.newEvent(Eslogger, host)
	ev.Time = parseTime(time.RFC3339Nano, str(t.time))
	if seq := integer(t.globalSeqNum, -1); seq >= 0 {
		ev.Seq = uint64(seq)
	} else if seq := integer(t.seqNum, -1); seq >= 0 {
		ev.Seq = uint64(seq)
	}
	subj := instigator
	switch e.kind {
	case esExec:
		// process is the image that called exec, the same pid as the target (§1a); the
		// parent is the target's ppid, its image from the table, or process's own image
		// when the table does not know it and this is a plain fork+exec.
		ev.Kind = event.Exec
		if e.subj.ok {
			subj = &e.subj
		}
		subj.fill(&ev.Process)
		if subj.pid() < 0 {
			ev.PID = pid(instigator.pid())
		}
		ev.Argv = stringArray(e.args)
		ev.ArgvExact = e.args != nil
		ev.CommandLine = JoinCommandLine(ev.Argv)
		ev.CurrentDirectory = e.cwd.String()
		ppid := subj.parent()
		fallback := ""
		if _, known := r.procs.get(procKey{host, ppid}); !known && instigator.ok && instigator.pid() == ev.PID {
			fallback = instigator.path.String()
		}
		ev.PPID, ev.OriginalPPID = pid(ppid), pid(subj.origPPID)
		r.lineage(ev, host, ppid, fallback, -1)
	case esFork:
		// process is the parent; the child is a copy of it.
		ev.Kind = event.Fork
		if !e.subj.ok {
			return false
		}
		subj = &e.subj
		subj.fill(&ev.Process)
		ppid := subj.parent()
		if ppid < 0 {
			ppid = instigator.pid()
		}
		ev.PPID, ev.OriginalPPID = pid(ppid), pid(subj.origPPID)
		if ev.Path == "" {
			ev.Path = instigator.path.String()
		}
		parentPath, grand := "", -1
		if instigator.ok && instigator.pid() == ppid {
			parentPath, grand = instigator.path.String(), instigator.parent()
		}
		r.lineage(ev, host, ppid, parentPath, grand)
	case esExit:
		ev.Kind = event.Exit
		r.esInstigator(ev, host, subj)
	case esCreate, esWrite, esRename, esUnlink, esClose:
		if e.kind == esClose && e.file.modified != 2 {
			return false
		}
		ev.Kind = event.FileModify
		ev.FilePath, ev.FileFrom = e.file.paths()
		r.esInstigator(ev, host, subj)
	case esProfileRemove:
		ev.Kind = event.ProfileRemove
		if e.subj.ok {
			subj = &e.subj
		}
		r.esInstigator(ev, host, subj)
	default:
		return false
	}
	r.responsible(ev, host, subj.respPID)
	return true
}

// esInstigator makes p, the process an event is about, the subject.
func (r *Reader) esInstigator(ev *event.Event, host string, p *esProc) {
	p.fill(&ev.Process)
	ppid := p.parent()
	ev.PPID, ev.OriginalPPID = pid(ppid), pid(p.origPPID)
	r.lineage(ev, host, ppid, "", -1)
}

// stringArray decodes a JSON array of strings; other elements are left out.
func stringArray(v []byte) []string {
	if v == nil {
		return nil
	}
	s := jscan{b: v}
	if !s.array() {
		return nil
	}
	out := []string{}
	for s.more() {
		if j := s.str(); j.ok {
			out = append(out, j.String())
		}
	}
	return out
}
