package input

import "strings"

// MaxCommandBytes caps the bytes of command lines a Reader keeps for its process table (8
// MiB), from which it fills ParentCommandLine. They sit in one ring, written in turn, so the
// memory is fixed whatever the stream and no line allocates once the ring has grown; the
// command line of a parent that exec'd long ago (several megabytes of command lines before)
// is overwritten and its children get none.
const MaxCommandBytes = 8 << 20

// maxCommand is the longest command line kept, as the record holds it (escaped): a longer one
// (a program run with a huge argument list) is not kept, so it cannot push out the others.
const maxCommand = 64 << 10

// cmdKind says how a kept command line is written.
type cmdKind uint8

const (
	cmdNone    cmdKind = iota
	cmdArgs            // a JSON array of strings, the argv (eslogger, ECS process.args)
	cmdJSON            // the content of a JSON string, escapes undecoded (ECS process.command_line)
	cmdOsquery         // the same, osquery's cmdline with its trailing space
	cmdSanta           // a santa.log args value, Santa's escapes undecoded
)

// cmdRef finds a command line in a cmdRing. The zero value is none.
type cmdRef struct {
	off, n int32
	epoch  uint32
	kind   cmdKind
}

// cmdRing holds raw command lines end to end, wrapping to its start when full (epoch counts
// the wraps). A ref from the current epoch is valid; one from the epoch before is valid until
// the writes of this epoch reach it.
type cmdRing struct {
	buf   []byte
	next  int
	epoch uint32
	max   int
}

func (c *cmdRing) put(b []byte, kind cmdKind) cmdRef {
	if len(b) == 0 || len(b) > maxCommand || len(b) > c.max {
		return cmdRef{}
	}
	if c.next+len(b) > c.max {
		c.next = 0
		c.epoch++
	}
	if need := c.next + len(b); need > len(c.buf) {
		if need > cap(c.buf) {
			grown := make([]byte, len(c.buf), min(max(2*cap(c.buf), need, 64<<10), c.max))
			copy(grown, c.buf)
			c.buf = grown
		}
		c.buf = c.buf[:need]
	}
	copy(c.buf[c.next:], b)
	ref := cmdRef{off: int32(c.next), n: int32(len(b)), epoch: c.epoch, kind: kind}
	c.next += len(b)
	return ref
}

func (c *cmdRing) get(ref cmdRef) ([]byte, bool) {
	if ref.kind == cmdNone {
		return nil, false
	}
	off, end := int(ref.off), int(ref.off)+int(ref.n)
	switch {
	case ref.epoch == c.epoch && end <= c.next:
	case ref.epoch+1 == c.epoch && off >= c.next && end <= len(c.buf):
	default:
		return nil, false
	}
	return c.buf[off:end], true
}

// commandLine decodes a kept command line; "" when it is gone.
func (c *cmdRing) commandLine(ref cmdRef) string {
	raw, ok := c.get(ref)
	if !ok {
		return ""
	}
	switch ref.kind {
	case cmdArgs:
		return JoinCommandLine(stringArray(raw))
	case cmdJSON:
		return string(unescape(nil, raw))
	case cmdOsquery:
		return strings.TrimSuffix(string(unescape(nil, raw)), " ")
	case cmdSanta:
		return santaString(raw)
	}
	return ""
}

// parentCommand gives the command line the table holds for the parent of ev: ppid on host,
// when the table's image for it is parentPath (so a pid reused by another program does not
// lend its command line).
func (r *Reader) parentCommand(host string, ppid int, parentPath string) string {
	if ppid < 0 || parentPath == "" {
		return ""
	}
	p, ok := r.procs.get(procKey{host, ppid})
	if !ok || p.path != parentPath {
		return ""
	}
	return r.cmds.commandLine(p.cmd)
}
