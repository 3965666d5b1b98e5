package input

import (
	"bytes"
	"strings"
	"time"

	"github.com/firewarden/firewarden/internal/detect/event"
)

// santaRec is one santa.log line, "[2022-05-12T11:38:03.923Z] I santad: action=EXEC|k=v|…"
// (Santa's BasicString serializer, reference §1e), values left escaped. -1 is absent.
type santaRec struct {
	time, action, user, path, args, machine []byte
	pid, pidVersion, ppid, uid              int
}

// parseSanta reads a santa.log line: a bracketed time, a level letter, "santad:" and
// key=value fields split by '|', the first one action.
func parseSanta(line []byte) (santaRec, bool) {
	rec := santaRec{pid: -1, pidVersion: -1, ppid: -1, uid: -1}
	end := bytes.IndexByte(line, ']')
	if len(line) == 0 || line[0] != '[' || end < 0 {
		return rec, false
	}
	rec.time = line[1:end]
	rest := line[end+1:]
	const tag = "santad: "
	i := bytes.Index(rest[:min(len(rest), 32)], []byte(tag))
	if i < 0 {
		return rec, false
	}
	fields := rest[i+len(tag):]
	if !bytes.HasPrefix(fields, []byte("action=")) {
		return rec, false
	}
	for len(fields) > 0 {
		var f []byte
		f, fields, _ = bytes.Cut(fields, []byte("|"))
		k, v, _ := bytes.Cut(f, []byte("="))
		switch string(k) {
		case "action":
			rec.action = v
		case "pid":
			rec.pid = atoiOr(v)
		case "pidversion":
			rec.pidVersion = atoiOr(v)
		case "ppid":
			rec.ppid = atoiOr(v)
		case "uid":
			rec.uid = atoiOr(v)
		case "user":
			rec.user = v
		case "path":
			rec.path = v
		case "args":
			rec.args = v
		case "machineid":
			rec.machine = v
		}
	}
	return rec, true
}

func atoiOr(b []byte) int {
	if n, ok := atoi(b); ok {
		return int(n)
	}
	return -1
}

// santaUnescape undoes Santa's escaping of field values: "<pipe>" for '|', `\n` and `\r` for
// newline and carriage return (BasicStringTest.mm, reference §1e).
func santaUnescape(dst, v []byte) []byte {
	for len(v) > 0 {
		switch {
		case bytes.HasPrefix(v, []byte("<pipe>")):
			dst, v = append(dst, '|'), v[len("<pipe>"):]
		case bytes.HasPrefix(v, []byte(`\n`)):
			dst, v = append(dst, '\n'), v[2:]
		case bytes.HasPrefix(v, []byte(`\r`)):
			dst, v = append(dst, '\r'), v[2:]
		default:
			dst, v = append(dst, v[0]), v[1:]
		}
	}
	return dst
}

func santaString(v []byte) string {
	if bytes.IndexByte(v, '<') < 0 && bytes.IndexByte(v, '\\') < 0 {
		return string(v)
	}
	return string(santaUnescape(nil, v))
}

// santaIntern is santaString for the tables, without allocating for a known value.
func (r *Reader) santaIntern(v []byte) string {
	r.buf = santaUnescape(r.buf[:0], v)
	return r.names.get(r.buf)
}

// santa handles a santa.log line: EXEC is an event; FORK and EXIT keep the process table;
// other actions are recognised and ignored.
func (r *Reader) santa(rec *santaRec, build bool) bool {
	host := r.opt.Host
	if len(rec.machine) > 0 {
		host = r.santaIntern(rec.machine)
	}
	made := false
	action := string(rec.action)
	if build {
		if action == "EXEC" {
			made = r.santaEvent(rec, host)
		}
		if !made {
			r.ignored++
		}
	}
	switch action {
	case "EXEC":
		if rec.pid >= 0 {
			r.procs.put(procKey{host, rec.pid}, proc{path: r.santaIntern(rec.path), ppid: rec.ppid, cmd: r.cmds.put(rec.args, cmdSanta)})
		}
	case "FORK":
		if p, ok := r.procs.get(procKey{host, rec.ppid}); ok && rec.pid >= 0 {
			r.procs.put(procKey{host, rec.pid}, proc{path: p.path, ppid: rec.ppid, cmd: p.cmd})
		}
	case "EXIT":
		r.procs.delete(procKey{host, rec.pid})
	}
	return made
}

func (r *Reader) santaEvent(rec *santaRec, host string) bool {
	ev := r.newEvent(Santa, host)
	ev.Kind = event.Exec
	if t, err := time.Parse(time.RFC3339Nano, string(rec.time)); err == nil {
		ev.Time = t
	}
	ev.PID, ev.PIDVersion, ev.PPID = pid(rec.pid), pid(rec.pidVersion), pid(rec.ppid)
	ev.UID = rec.uid
	ev.User = santaString(rec.user)
	ev.Path = santaString(rec.path)
	// args is argv joined by single spaces, unquoted (§1e): splitting on spaces is the best
	// that can be done, and wrong for arguments that held one.
	ev.CommandLine = santaString(rec.args)
	if ev.CommandLine != "" {
		ev.Argv = strings.Split(ev.CommandLine, " ")
	}
	r.lineage(ev, host, rec.ppid, "", -1)
	return true
}
