package guard

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/firewarden/firewarden/internal/authwatch"
	"github.com/firewarden/firewarden/internal/block"
	"github.com/firewarden/firewarden/internal/guard/follow"
	"github.com/firewarden/firewarden/internal/statedir"
)

// WALFile is the guard's write-ahead log in the state directory. block.json is rewritten whole
// and so saved at most every PersistEvery, but a ban reaches the kernel at once; the WAL is
// what makes a ban durable first. It holds, as JSON lines:
//
//   - a checkpoint: when it was taken, the read position of every log file, and the failure
//     counts (the tracker) at that instant;
//   - every ban decided since that block.json does not hold yet, appended (one write) before
//     the ban goes to the kernel;
//   - where a source opened a file (follow's mark), appended at once: the first position of a
//     file that had none, so that a crash before the next checkpoint resumes there. The last
//     position of a source in the file wins.
//
// After a crash, the next start adopts the WAL's bans into block.json (see adoptable), restores
// the counts and reads the log files on from the checkpoint's positions, so that failures read
// after the checkpoint are counted again, exactly once: counts up to the checkpoint come back
// from the file, the lines after it are read again, and those that had led to a ban find the
// address banned (the ban came back from the WAL) and count for nothing.
//
// The WAL is rewritten (a new file renamed over it) at every checkpoint: after each save of
// block.json, which takes the saved bans out of it, and every PersistEvery while lines are
// read. So it holds at most the tracker (MaxTracked entries) and the bans not saved yet, and it
// never grows past maxWAL: appends beyond are refused (and logged), the ban still goes to the
// kernel.
//
// Writes are not synced to the disk: a crash of the guard (kill -9, a panic) keeps what was
// written, which is what the WAL is for. A crash of the machine empties the kernel's sets as
// well; then the WAL may lack its last records, and the log is read again from the last
// checkpoint that reached the disk.
const WALFile = "guard.wal"

// maxWAL bounds the WAL: the tracker at DefaultMaxTracked takes about 10 MB, 100 000 unsaved
// bans about 15 MB.
const maxWAL = 64 << 20

// walTmpPrefix starts the names of WAL files being written; leftovers of a crash are removed
// at start.
const walTmpPrefix = WALFile + ".tmp-"

// walRecord is one line of the WAL. K says which fields are used: "cp" (Time, Slot, Max),
// "pos" (Src, Dev, Ino, Off), "track" (A, Cur, Pts, PID, LastPts, Kind, Paired), "ban" (P, At,
// Until, N, Why, Src).
type walRecord struct {
	K       string       `json:"k"`
	Time    time.Time    `json:"time,omitzero"`
	Slot    int64        `json:"slot,omitempty"`
	Max     int          `json:"max,omitempty"`
	Src     string       `json:"src,omitempty"`
	Dev     uint64       `json:"dev,omitempty"`
	Ino     uint64       `json:"ino,omitempty"`
	Off     int64        `json:"off,omitempty"`
	A       netip.Addr   `json:"a,omitzero"`
	Cur     int64        `json:"cur,omitempty"`
	Pts     []uint16     `json:"pts,omitempty"`
	PID     int32        `json:"pid,omitempty"`
	LastPts uint16       `json:"lp,omitempty"`
	Kind    uint8        `json:"kind,omitempty"`
	Paired  bool         `json:"pair,omitempty"`
	P       netip.Prefix `json:"p,omitzero"`
	At      time.Time    `json:"at,omitzero"`
	Until   time.Time    `json:"until,omitzero"`
	N       int          `json:"n,omitempty"`
	Why     string       `json:"why,omitempty"`
}

// walData is what a WAL holds.
type walData struct {
	// Checkpoint: when it was taken, the tracker's slot length and cap when it was, the read
	// positions and the tracker's entries, least recently seen first.
	time    time.Time
	slot    int64
	max     int
	pos     map[string]follow.Position
	track   []entry
	bans    []pendingBan
	skipped int // lines that did not parse (a torn last line after a crash)
}

// parseWAL reads a WAL. It never fails on content: a line that does not parse is skipped and
// counted (a crash can leave the last one torn), so that one damaged record never costs the
// others. At most maxWAL bytes are read.
func parseWAL(r io.Reader) (*walData, error) {
	d := &walData{pos: make(map[string]follow.Position)}
	sc := bufio.NewScanner(io.LimitReader(r, maxWAL))
	sc.Buffer(make([]byte, 0, 64<<10), 64<<10)
	for sc.Scan() {
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var rec walRecord
		if err := json.Unmarshal(line, &rec); err != nil {
			d.skipped++
			continue
		}
		switch rec.K {
		case "cp":
			d.time, d.slot, d.max = rec.Time, rec.Slot, rec.Max
		case "pos":
			if rec.Src != "" && rec.Off >= 0 {
				d.pos[rec.Src] = follow.Position{Dev: rec.Dev, Ino: rec.Ino, Off: rec.Off}
			}
		case "track":
			if !rec.A.IsValid() || len(rec.Pts) != slots {
				d.skipped++
				continue
			}
			e := entry{addr: keyOf(rec.A.Unmap()), cur: rec.Cur, pid: rec.PID, lastPts: rec.LastPts, kind: authwatch.Kind(rec.Kind), paired: rec.Paired}
			copy(e.pts[:], rec.Pts)
			d.track = append(d.track, e)
		case "ban":
			if !rec.P.IsValid() || rec.At.IsZero() {
				d.skipped++
				continue
			}
			p := rec.P
			if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
				p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
			}
			d.bans = append(d.bans, pendingBan{ban: block.Ban{Prefix: p.Masked(), Expires: rec.Until}, at: rec.At, count: rec.N, reason: rec.Why})
		default:
			d.skipped++
		}
	}
	if err := sc.Err(); err != nil && !errors.Is(err, bufio.ErrTooLong) {
		return d, err
	}
	return d, nil
}

// appendPos, appendTrack and appendBan append one WAL line each, built by hand: a checkpoint
// writes up to MaxTracked tracker lines, and encoding/json would spend most of the time.
func appendPos(buf []byte, src string, p follow.Position) []byte {
	buf = append(buf, `{"k":"pos","src":`...)
	q, _ := json.Marshal(src) // a string never fails
	buf = append(buf, q...)
	buf = append(buf, `,"dev":`...)
	buf = strconv.AppendUint(buf, p.Dev, 10)
	buf = append(buf, `,"ino":`...)
	buf = strconv.AppendUint(buf, p.Ino, 10)
	buf = append(buf, `,"off":`...)
	buf = strconv.AppendInt(buf, p.Off, 10)
	return append(buf, "}\n"...)
}

func appendTrack(buf []byte, e *entry) []byte {
	buf = append(buf, `{"k":"track","a":"`...)
	buf = netip.AddrFrom16(e.addr).Unmap().AppendTo(buf)
	buf = append(buf, `","cur":`...)
	buf = strconv.AppendInt(buf, e.cur, 10)
	buf = append(buf, `,"pts":[`...)
	for i, p := range e.pts {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = strconv.AppendUint(buf, uint64(p), 10)
	}
	buf = append(buf, `],"pid":`...)
	buf = strconv.AppendInt(buf, int64(e.pid), 10)
	buf = append(buf, `,"lp":`...)
	buf = strconv.AppendUint(buf, uint64(e.lastPts), 10)
	buf = append(buf, `,"kind":`...)
	buf = strconv.AppendUint(buf, uint64(e.kind), 10)
	if e.paired {
		buf = append(buf, `,"pair":true`...)
	}
	return append(buf, "}\n"...)
}

func appendBan(buf []byte, p *pendingBan) []byte {
	buf = append(buf, `{"k":"ban","p":"`...)
	buf = p.ban.Prefix.AppendTo(buf)
	buf = append(buf, `","at":"`...)
	buf = p.at.UTC().AppendFormat(buf, time.RFC3339Nano)
	buf = append(buf, '"')
	if !p.ban.Expires.IsZero() {
		buf = append(buf, `,"until":"`...)
		buf = p.ban.Expires.UTC().AppendFormat(buf, time.RFC3339Nano)
		buf = append(buf, '"')
	}
	buf = append(buf, `,"n":`...)
	buf = strconv.AppendInt(buf, int64(p.count), 10)
	why, _ := json.Marshal(p.reason) // a string never fails
	buf = append(buf, `,"why":`...)
	buf = append(buf, why...)
	return append(buf, "}\n"...)
}

// readWAL reads dir's WAL. A missing one is empty; anything but a regular file under the name
// (a link, a FIFO planted there) is refused, without following or blocking (statedir.OpenFile).
func readWAL(dir string) (*walData, error) {
	path := filepath.Join(dir, WALFile)
	f, err := statedir.OpenFile(path, os.O_RDONLY, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return &walData{pos: map[string]follow.Position{}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("the guard's write-ahead log: %w", err)
	}
	defer f.Close()
	return parseWAL(f)
}

// createWAL makes a new WAL file under a random name in dir, open for appending; commitWAL
// renames it over the WAL.
func createWAL(dir string) (*os.File, error) {
	var rnd [8]byte
	rand.Read(rnd[:])
	path := filepath.Join(dir, walTmpPrefix+hex.EncodeToString(rnd[:]))
	f, err := statedir.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("the guard's write-ahead log: %w", err)
	}
	return f, nil
}

func commitWAL(dir string, f *os.File) error {
	if err := os.Rename(f.Name(), filepath.Join(dir, WALFile)); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("the guard's write-ahead log: %w", err)
	}
	return nil
}

// removeWALTemps removes the temporary WAL files a crash left in dir.
func removeWALTemps(dir string) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), walTmpPrefix) && !e.IsDir() {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}
