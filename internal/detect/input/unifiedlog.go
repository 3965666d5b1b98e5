package input

import (
	"github.com/firewarden/firewarden/internal/detect/event"
)

// unifiedTime is the timestamp of log show --style ndjson, "2020-12-10 17:00:10.150141+0100"
// (reference §1c): not RFC 3339.
const unifiedTime = "2006-01-02 15:04:05.999999999-0700"

// unifiedLog handles a unified log record. One whose eventMessage is an eslogger message
// (eslogger --oslog, subsystem com.apple.eslogger by default, any subsystem when changed) is
// read as eslogger; any other becomes an event.Log with the image path, pid and message.
func (r *Reader) unifiedLog(t *jtop, build bool) bool {
	msg := str(t.eventMessage)
	if len(msg.raw) > 0 && msg.raw[0] == '{' {
		r.msg = msg.decode(r.msg[:0])
		in := &r.inner
		s := jscan{b: r.msg}
		if in.walk(&s) && in.isEslogger() {
			return r.eslogger(in, build)
		}
	}
	if !build {
		return false
	}
	ev := r.newEvent(UnifiedLog, r.opt.Host)
	ev.Kind = event.Log
	ev.Time = parseTime(unifiedTime, str(t.timestamp))
	ev.Path = str(t.processImagePath).String()
	ev.PID = pid(integer(t.processID, -1))
	ev.UID = integer(t.userID, event.Unknown)
	ev.CommandLine = msg.String()
	return true
}
