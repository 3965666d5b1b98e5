package input

// jtop is one JSON line read once at its top level: the value of every key some format needs,
// as raw JSON text (nil when absent), with eslogger's "event" object walked in place because it
// is half of every eslogger line. Which format the line is in is decided from which keys it
// has.
type jtop struct {
	keys int
	es   esBrief // the "event" object as the process table needs it, read on every line

	full     esEvent // the "event" object read in full as eslogger's, when fullRead
	fullRead bool

	// eslogger (ECS has "event" and "process" too)
	event, process, action, time, seqNum, globalSeqNum, eventType, schemaVersion, machTime []byte
	// osquery
	name, hostIdentifier, columns, snapshot, diffResults, unixTime []byte
	// unified log
	eventMessage, processImagePath, processID, timestamp, subsystem, userID, count, finished []byte
	// ECS
	source, atTimestamp, host, user, file, ecs, agent []byte

	proc     esProc // "process" read as eslogger's, when procRead
	procRead bool

	brief esProc // "process" as esProc.walkTable reads it, on every line
}

// walk reads the object in s; false when s does not hold exactly one object.
func (t *jtop) walk(s *jscan) bool {
	*t = jtop{}
	t.brief.clear()
	if !s.object() {
		return false
	}
	for k, ok := s.key(); ok; k, ok = s.key() {
		t.keys++
		switch string(k) {
		case "event":
			s.ws()
			start := s.i
			if s.peek() == '{' {
				t.es.walk(s)
			} else {
				s.skip()
			}
			t.event = s.b[start:s.i]
		case "process":
			s.ws()
			start := s.i
			t.brief.walkTable(s)
			if !s.bad {
				t.process = s.b[start:s.i]
			}
		case "action":
			t.action = s.span()
		case "time":
			t.time = s.span()
		case "seq_num":
			t.seqNum = s.span()
		case "global_seq_num":
			t.globalSeqNum = s.span()
		case "event_type":
			t.eventType = s.span()
		case "schema_version":
			t.schemaVersion = s.span()
		case "mach_time":
			t.machTime = s.span()
		case "name":
			t.name = s.span()
		case "hostIdentifier":
			t.hostIdentifier = s.span()
		case "columns":
			t.columns = s.span()
		case "snapshot":
			t.snapshot = s.span()
		case "diffResults":
			t.diffResults = s.span()
		case "unixTime":
			t.unixTime = s.span()
		case "eventMessage":
			t.eventMessage = s.span()
		case "processImagePath":
			t.processImagePath = s.span()
		case "processID":
			t.processID = s.span()
		case "timestamp":
			t.timestamp = s.span()
		case "subsystem":
			t.subsystem = s.span()
		case "userID":
			t.userID = s.span()
		case "count":
			t.count = s.span()
		case "finished":
			t.finished = s.span()
		case "_source":
			t.source = s.span()
		case "@timestamp":
			t.atTimestamp = s.span()
		case "host":
			t.host = s.span()
		case "user":
			t.user = s.span()
		case "file":
			t.file = s.span()
		case "ecs":
			t.ecs = s.span()
		case "agent":
			t.agent = s.span()
		default:
			s.skip()
		}
	}
	return s.done()
}

// isEslogger: "event" holds exactly one key, an object naming the event (§1a), and the line
// has one of eslogger's own keys.
func (t *jtop) isEslogger() bool {
	return t.es.keys == 1 && t.es.kind != esNone &&
		(t.process != nil || t.eventType != nil || t.schemaVersion != nil || t.machTime != nil)
}

// isOsquery: a results log envelope (§1b) in event format ("columns"), snapshot format or
// batched ("diffResults").
func (t *jtop) isOsquery() bool {
	return (t.name != nil || t.hostIdentifier != nil) &&
		(isObject(t.columns) || isArray(t.snapshot) || isObject(t.diffResults))
}

// isCount: the summary record log show ends with, {"count":N,"finished":1} (§1c).
func (t *jtop) isCount() bool {
	return t.count != nil && t.finished != nil && t.eventMessage == nil && t.keys <= 3
}

// isUnifiedLog: a log show|stream --style ndjson record (§1c).
func (t *jtop) isUnifiedLog() bool {
	return t.eventMessage != nil || t.processImagePath != nil && t.timestamp != nil
}

// isECS: an Elasticsearch hit with _source, or an ECS document with @timestamp or the ecs and
// agent objects, that describes a process or a file (§1d).
func (t *jtop) isECS() bool {
	if isObject(t.source) {
		return true
	}
	return (t.atTimestamp != nil || t.ecs != nil || t.agent != nil) &&
		(isObject(t.process) || isObject(t.file))
}

func isObject(v []byte) bool { return len(v) > 0 && v[0] == '{' }

func isArray(v []byte) bool { return len(v) > 0 && v[0] == '[' }

// str reads a raw JSON value as a string.
func str(v []byte) jstr {
	s := jscan{b: v}
	return s.str()
}

// integer reads a raw JSON value as an integer, or gives def.
func integer(v []byte, def int) int {
	s := jscan{b: v}
	return s.intOr(def)
}
