// Package evidence turns a posture evaluation into an audit record (NIST 800-53 AU-3: what, when,
// where, source, outcome, identity), appends it to a hash-chained log so that later tampering
// shows, and exports it as JSON or as the CSV columns mSCP users know.
package evidence

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/firewarden/firewarden/internal/posture"
	"github.com/firewarden/firewarden/internal/statedir"
)

// Record is one evidence run.
type Record struct {
	RunID       string           `json:"run_id"` // UUIDv7: sorts by time
	Host        string           `json:"host"`
	OS          string           `json:"os"`
	OSVersion   string           `json:"os_version"`
	Tool        string           `json:"tool"`
	ToolVersion string           `json:"tool_version"`
	Baseline    BaselineRef      `json:"baseline"`
	Started     time.Time        `json:"started"`
	Finished    time.Time        `json:"finished"`
	Summary     map[string]int   `json:"summary"`
	Results     []posture.Result `json:"results"`
}

// BaselineRef ties a record to the exact baseline bytes evaluated.
type BaselineRef struct {
	Name   string `json:"name"`
	Source string `json:"source"`
	SHA256 string `json:"sha256"`
}

// Entry is one line of the chain file: the record, the hash of the previous entry, and this
// entry's hash over both.
type Entry struct {
	Seq    int             `json:"seq"`
	Prev   string          `json:"prev"`
	Hash   string          `json:"hash"`
	Record json.RawMessage `json:"record"`
}

// ChainFile is the chain's file name inside the state directory.
const ChainFile = "evidence.jsonl"

// genesis is the Prev of the first entry.
const genesis = "0000000000000000000000000000000000000000000000000000000000000000"

// entryHash is SHA-256 over the sequence number, the previous hash and the record bytes, each on
// its own line, so that no entry can be moved, dropped or edited without breaking the chain.
func entryHash(seq int, prev string, record []byte) string {
	h := sha256.New()
	fmt.Fprintf(h, "%d\n%s\n", seq, prev)
	h.Write(record)
	return hex.EncodeToString(h.Sum(nil))
}

// NewRunID returns a UUIDv7 (RFC 9562) for t.
func NewRunID(t time.Time) string {
	var u [16]byte
	binary.BigEndian.PutUint64(u[0:8], uint64(t.UnixMilli())<<16)
	if _, err := rand.Read(u[6:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	u[6] = u[6]&0x0f | 0x70
	u[8] = u[8]&0x3f | 0x80
	s := hex.EncodeToString(u[:])
	return s[0:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:]
}

// HeadFile is the file beside the chain that holds the chain's head: how many entries it has and
// the hash of the last. The log alone cannot show that entries were removed from its end; the
// head, rewritten after every append, can.
const HeadFile = "evidence.head"

// head is the content of HeadFile.
type head struct {
	Version  int    `json:"version"`
	Records  int    `json:"records"`
	LastHash string `json:"last_hash"`
}

const headVersion = 1

// Chain is the open evidence chain of a state directory, locked against other writers from Open
// to Close so that concurrent runs never lose a record.
//
// The chain file is appended to in place: each entry is one write of one line, fsynced before
// the head moves past it. Open reads only the head and the last line, so its cost does not grow
// with the chain; Verify reads every entry.
type Chain struct {
	dir  *statedir.Dir
	lock *statedir.Lock
	n    int   // entries, as the last one numbers itself
	last Entry // the last entry; zero when n is 0
	end  int64 // offset just past the last complete line: where the next entry goes
}

// Open locks the chain in dir, creating dir if needed (see statedir.Open), and checks its end: the
// last entry must hash right and be the one the head names. A chain that fails is refused rather
// than extended. A head one entry behind the log (a run killed between writing the two) is
// brought up to date first, so that it never falls further behind; a missing head (a chain from
// before heads were kept) is started after the whole chain verified. A last line without its
// newline (a write cut short by a kill) was never counted by the head; the next Append replaces
// it. Entries before the last are not re-read: Verify checks them all.
func Open(dir string) (*Chain, error) {
	d, err := statedir.Open(dir)
	if err != nil {
		return nil, err
	}
	lock, err := d.Lock(ChainFile+".lock", true)
	if err != nil {
		return nil, err
	}
	c, err := openLocked(d)
	if err != nil {
		lock.Unlock()
		return nil, err
	}
	c.lock = lock
	return c, nil
}

func openLocked(d *statedir.Dir) (*Chain, error) {
	path := d.Join(ChainFile)
	h, err := readHead(d)
	if err != nil {
		return nil, err
	}
	c := &Chain{dir: d}
	if h == nil {
		return openWithoutHead(c, path)
	}
	end, line, err := readLast(path)
	if err != nil {
		return nil, err
	}
	c.end = end
	if line != nil {
		var e Entry
		if err := json.Unmarshal(line, &e); err != nil {
			return nil, fmt.Errorf("%s: %w; move it and %s aside to start a new chain", path, &ChainError{Line: max(h.Records, 1), Msg: "the last line is not a chain entry: " + err.Error()}, HeadFile)
		}
		if e.Seq < 1 || entryHash(e.Seq, e.Prev, e.Record) != e.Hash {
			return nil, fmt.Errorf("%s: %w; move it and %s aside to start a new chain", path, &ChainError{Line: max(e.Seq, 1), Msg: "the last entry's hash does not match its record (the record was edited)"}, HeadFile)
		}
		c.n, c.last = e.Seq, e
	}
	if err := checkEnd(c.n, c.last, *h); err != nil {
		return nil, fmt.Errorf("%s: %w; move it and %s aside to start a new chain", path, err, HeadFile)
	}
	if h.Records != c.n {
		if err := c.writeHead(); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// openWithoutHead opens a chain that has no head: it is verified whole (once: a head is written
// for it), since nothing else vouches for its end.
func openWithoutHead(c *Chain, path string) (*Chain, error) {
	raw, err := c.dir.ReadFile(ChainFile)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	raw = raw[:completeLines(raw)]
	entries, err := parseChain(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w; move it aside to start a new chain", path, err)
	}
	if len(entries) == 0 {
		return c, nil
	}
	c.n, c.last, c.end = len(entries), entries[len(entries)-1], int64(len(raw))
	if err := c.writeHead(); err != nil {
		return nil, err
	}
	return c, nil
}

// completeLines is the length of data up to and including its last newline: what follows is a
// line whose write was cut short.
func completeLines(data []byte) int {
	return bytes.LastIndexByte(data, '\n') + 1
}

// tailChunk is how much of the chain's end is read at a time when looking for its last lines.
const tailChunk = 64 << 10

// readLast returns the offset just past the chain file's last complete line, and that line
// (without its newline; nil when there is none). A missing file is an empty chain; a link or
// anything but a regular file is refused.
func readLast(path string) (end int64, line []byte, err error) {
	f, err := statedir.OpenFile(path, os.O_RDONLY, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil, nil
	}
	if err != nil {
		return 0, nil, err
	}
	defer f.Close()
	lines, end, err := lastLines(f, 1)
	if err != nil || len(lines) == 0 {
		return end, nil, err
	}
	return end, lines[0], nil
}

// lastLines reads up to n of the last complete lines of f, oldest first, reading backwards from
// the end in chunks, and the offset just past the last of them.
func lastLines(f *os.File, n int) (lines [][]byte, end int64, err error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	size := fi.Size()
	// buf holds the file's bytes from off to size.
	var buf []byte
	off := size
	end = -1
	for {
		if end < 0 {
			if i := bytes.LastIndexByte(buf, '\n'); i >= 0 {
				end = off + int64(i) + 1
			}
		}
		if end >= 0 {
			// Complete lines lie in buf[:end-off]; count the newlines that start them.
			body := buf[:end-off]
			if bytes.Count(body[:len(body)-1], []byte{'\n'}) >= n || off == 0 {
				break
			}
		} else if off == 0 {
			return nil, 0, nil // not one complete line
		}
		step := min(int64(max(len(buf), tailChunk)), off)
		chunk := make([]byte, step, int64(len(buf))+step)
		if _, err := f.ReadAt(chunk, off-step); err != nil {
			return nil, 0, fmt.Errorf("read %s: %w", f.Name(), err)
		}
		buf = append(chunk, buf...)
		off -= step
	}
	body := buf[:end-off-1]
	for len(lines) < n {
		i := bytes.LastIndexByte(body, '\n')
		if i < 0 && off > 0 {
			break // the line starts before what was read: only when n lines were found
		}
		lines = append(lines, body[i+1:])
		if i < 0 {
			break
		}
		body = body[:i]
	}
	slices.Reverse(lines)
	return lines, end, nil
}

// readHead reads HeadFile; nil when there is none.
func readHead(d *statedir.Dir) (*head, error) {
	data, err := d.ReadFile(HeadFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return parseHead(data)
}

// parseHead decodes the content of HeadFile.
func parseHead(data []byte) (*head, error) {
	var h head
	if err := json.Unmarshal(data, &h); err != nil || h.Version != headVersion || h.Records < 0 || len(h.LastHash) != len(genesis) {
		return nil, &ChainError{Line: 1, Msg: fmt.Sprintf("the head file %s is damaged, so the end of the chain cannot be checked", HeadFile)}
	}
	return &h, nil
}

// checkHead compares a chain that verified on its own with its head. The log may be one entry
// ahead of the head when that entry follows the head's last hash: a run was killed between
// appending and writing the head.
func checkHead(entries []Entry, h head) error {
	n := len(entries)
	var last Entry
	if n > 0 {
		last = entries[n-1]
	}
	return checkEnd(n, last, h)
}

// checkEnd compares the end of a chain, n entries the last of which is last, with its head. It
// is all Open checks, and the end of what Verify checks.
func checkEnd(n int, last Entry, h head) error {
	switch {
	case n < h.Records:
		return &ChainError{Line: n + 1, Msg: fmt.Sprintf("the head (%s) says %d records, the log ends after %d: records were removed from the end", HeadFile, h.Records, n)}
	case n > h.Records+1:
		return &ChainError{Line: h.Records + 2, Msg: fmt.Sprintf("the log holds %d records, the head (%s) %d: records were added by something other than firewarden", n, HeadFile, h.Records)}
	case n == 0 && h.LastHash != genesis,
		n > 0 && n == h.Records && last.Hash != h.LastHash,
		n == h.Records+1 && last.Prev != h.LastHash:
		return &ChainError{Line: max(h.Records, 1), Msg: fmt.Sprintf("record %d's hash is not the one the head (%s) holds: the newest records were replaced", h.Records, HeadFile)}
	}
	return nil
}

func (c *Chain) writeHead() error {
	h := head{Version: headVersion, Records: c.n, LastHash: genesis}
	if c.n > 0 {
		h.LastHash = c.last.Hash
	}
	data, err := json.Marshal(h)
	if err != nil {
		return err
	}
	return c.dir.WriteFile(HeadFile, append(data, '\n'))
}

// Next returns the entry the record would become, without writing it.
func (c *Chain) Next(rec Record) (Entry, error) { return c.NextOf(rec) }

// NextOf is Next for a record of another shape than a run (the agent's forwarded alerts): v is
// stored as its JSON encoding.
func (c *Chain) NextOf(v any) (Entry, error) {
	prev, seq := genesis, 1
	if c.n > 0 {
		prev, seq = c.last.Hash, c.n+1
	}
	body, err := json.Marshal(v)
	if err != nil {
		return Entry{}, err
	}
	return Entry{Seq: seq, Prev: prev, Hash: entryHash(seq, prev, body), Record: body}, nil
}

// Append writes the entry Next returned at the end of the chain file, in place, then the head.
// The line goes out in one write and is fsynced (and a new file's directory with it) before the
// head names it: a kill during the write leaves at most a line without its newline, which no
// head counts and which the next Append replaces; a kill between the two writes leaves the
// head one entry behind, which Verify accepts and the next Open repairs. The file is never
// written through a link: a symbolic link is refused when it is opened, and a file with more
// than one name is refused too.
func (c *Chain) Append(e Entry) error {
	if want := c.n + 1; e.Seq != want || (c.n > 0 && e.Prev != c.last.Hash) {
		return fmt.Errorf("append entry %d to an evidence chain of %d: it does not follow the last entry; take it from Next", e.Seq, c.n)
	}
	line, err := json.Marshal(e)
	if err != nil {
		return err
	}
	line = append(line, '\n')
	path := c.dir.Join(ChainFile)
	f, err := statedir.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if links := linkCount(fi); links > 1 {
		return fmt.Errorf("%s has %d names (hard links); firewarden appends to it in place and will not write through another name: move it aside", path, links)
	}
	switch size := fi.Size(); {
	case size < c.end:
		return fmt.Errorf("%s shrank from %d to %d bytes while it was locked; run `firewarden evidence --verify`", path, c.end, size)
	case size > c.end:
		// A line cut short by a kill: never counted, replaced now.
		if err := f.Truncate(c.end); err != nil {
			return err
		}
	}
	if fi.Mode().Perm() != 0o600 {
		if err := f.Chmod(0o600); err != nil {
			return err
		}
	}
	if _, err := f.WriteAt(line, c.end); err != nil {
		f.Truncate(c.end) // best effort: leave no part of the line behind
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if c.end == 0 {
		// The file may be new: its name must reach the disk too.
		if err := syncDir(c.dir.Path()); err != nil {
			return err
		}
	}
	c.n, c.last, c.end = e.Seq, e, c.end+int64(len(line))
	return c.writeHead()
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// linkCount is how many names the file has; 1 where the platform does not say.
func linkCount(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Nlink)
	}
	return 1
}

// Len is how many entries the chain holds.
func (c *Chain) Len() int { return c.n }

// Recent returns the chain's last n entries (fewer when it is shorter), oldest first, read from
// the end of the file. The agent uses it to tell whether a run it was killed in the middle of
// already reached the chain.
func (c *Chain) Recent(n int) ([]Entry, error) {
	if c.n == 0 || n <= 0 {
		return nil, nil
	}
	f, err := statedir.OpenFile(c.dir.Join(ChainFile), os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	lines, _, err := lastLines(f, min(n, c.n))
	if err != nil {
		return nil, err
	}
	out := make([]Entry, 0, len(lines))
	for _, l := range lines {
		var e Entry
		if err := json.Unmarshal(l, &e); err != nil {
			return nil, fmt.Errorf("%s: %w", c.dir.Join(ChainFile), &ChainError{Line: c.n - len(lines) + len(out) + 1, Msg: "not a chain entry: " + err.Error()})
		}
		out = append(out, e)
	}
	return out, nil
}

// Close releases the lock.
func (c *Chain) Close() error { return c.lock.Unlock() }

// Append adds the record to the chain in dir and returns its entry.
func Append(dir string, rec Record) (Entry, error) {
	c, err := Open(dir)
	if err != nil {
		return Entry{}, err
	}
	defer c.Close()
	e, err := c.Next(rec)
	if err != nil {
		return Entry{}, err
	}
	return e, c.Append(e)
}

// ChainError says where a chain breaks.
type ChainError struct {
	Line int
	Msg  string
}

func (e *ChainError) Error() string {
	return fmt.Sprintf("evidence chain broken at line %d: %s", e.Line, e.Msg)
}

// ErrNoChain is returned (wrapped) by Verify when dir holds neither a chain nor a head: there is
// nothing to verify, which usually means the wrong directory.
var ErrNoChain = errors.New("no evidence log")

// Verify checks the chain in dir, and its end against the head, and returns how many entries it
// holds. A broken chain is a *ChainError; a chain that is missing with its head is ErrNoChain.
func Verify(dir string) (int, error) {
	path := filepath.Join(dir, ChainFile)
	d, err := statedir.Existing(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("%w at %s: the directory %s does not exist; is --state-dir right?", ErrNoChain, path, dir)
	}
	if err != nil {
		return 0, err
	}
	// The head first: an append running meanwhile (chain file, then head) can then only make
	// the log longer than the head, which is accepted for one entry, never shorter.
	h, err := readHead(d)
	if err != nil {
		return 0, err
	}
	data, err := d.ReadFile(ChainFile)
	missing := errors.Is(err, fs.ErrNotExist)
	if err != nil && !missing {
		return 0, err
	}
	// A last line without its newline is a write a kill cut short: no head counts it, and the
	// next append replaces it.
	entries, err := parseChain(data[:completeLines(data)])
	if err != nil {
		return len(entries), err
	}
	switch {
	case h == nil && len(entries) == 0:
		why := "it is empty"
		if missing {
			why = "it does not exist"
		}
		return 0, fmt.Errorf("%w at %s (%s, and there is no %s); is --state-dir right?", ErrNoChain, path, why, HeadFile)
	case h == nil:
		return len(entries), &ChainError{Line: len(entries), Msg: fmt.Sprintf("there is no head file (%s), so records removed from the end would not show (a chain from before heads were kept gets one at the next `firewarden evidence` run)", HeadFile)}
	}
	return len(entries), checkHead(entries, *h)
}

func parseChain(data []byte) ([]Entry, error) {
	var out []Entry
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 256<<20)
	prev, line := genesis, 0
	for sc.Scan() {
		line++
		var e Entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return nil, &ChainError{Line: line, Msg: "not a chain entry: " + err.Error()}
		}
		if e.Seq != line {
			return nil, &ChainError{Line: line, Msg: fmt.Sprintf("sequence number %d, want %d (an entry was removed or reordered)", e.Seq, line)}
		}
		if e.Prev != prev {
			return nil, &ChainError{Line: line, Msg: "prev does not match the previous entry's hash (an entry was removed, inserted or edited)"}
		}
		if got := entryHash(e.Seq, e.Prev, e.Record); got != e.Hash {
			return nil, &ChainError{Line: line, Msg: "hash does not match the record (the record was edited)"}
		}
		prev = e.Hash
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// WriteJSON writes the entry (record with its chain position) as indented JSON. The record is
// written from its stored bytes, so what an auditor reads is exactly what was hashed.
func WriteJSON(w io.Writer, e Entry) error {
	out, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(out, '\n'))
	return err
}

// CSVHeader names the CSV columns; the first five are mSCP's (Rule, Status, Result, Expected,
// Exemption), lower-cased.
func CSVHeader() []string {
	return []string{"rule", "status", "result", "expected", "exemption", "managed", "source", "controls", "run_id", "host", "finished", "evidence_sha256"}
}

// WriteCSV writes one row per check.
func WriteCSV(w io.Writer, rec Record) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader()); err != nil {
		return err
	}
	for _, r := range rec.Results {
		exemption := ""
		if r.Exemption != nil {
			exemption = fmt.Sprintf("%s (until %s)", r.Exemption.Reason, r.Exemption.Expires.Format(time.DateOnly))
		}
		var sums []string
		for _, ev := range r.Evidence {
			sums = append(sums, ev.SHA256)
		}
		row := []string{r.ID, string(r.Status), r.Actual, r.Expected, exemption, fmt.Sprint(r.Managed), r.Source,
			strings.Join(r.Controls, "; "), rec.RunID, rec.Host, rec.Finished.Format(time.RFC3339), strings.Join(sums, " ")}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
