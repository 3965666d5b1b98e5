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
	"path/filepath"
	"strings"
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
type Chain struct {
	dir     *statedir.Dir
	lock    *statedir.Lock
	raw     []byte
	entries []Entry
}

// Open locks and reads the chain in dir, creating dir if needed (see statedir.Open). A chain that
// does not verify against itself or its head is refused rather than extended. A head one entry
// behind the log (a run killed between writing the two) is brought up to date first, so that it
// never falls further behind; a missing head (a chain from before heads were kept) is started.
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
	raw, err := d.ReadFile(ChainFile)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	entries, err := parseChain(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w; move it aside to start a new chain", path, err)
	}
	h, err := readHead(d)
	if err != nil {
		return nil, err
	}
	c := &Chain{dir: d, raw: raw, entries: entries}
	if h == nil {
		if len(entries) == 0 {
			return c, nil
		}
	} else if err := checkHead(entries, *h); err != nil {
		return nil, fmt.Errorf("%s: %w; move it and %s aside to start a new chain", path, err, HeadFile)
	}
	if h == nil || h.Records != len(entries) {
		if err := c.writeHead(); err != nil {
			return nil, err
		}
	}
	return c, nil
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
	hashAt := func(records int) string {
		if records == 0 {
			return genesis
		}
		return entries[records-1].Hash
	}
	switch {
	case n < h.Records:
		return &ChainError{Line: n + 1, Msg: fmt.Sprintf("the head (%s) says %d records, the log ends after %d: records were removed from the end", HeadFile, h.Records, n)}
	case n > h.Records+1:
		return &ChainError{Line: h.Records + 2, Msg: fmt.Sprintf("the log holds %d records, the head (%s) %d: records were added by something other than firewarden", n, HeadFile, h.Records)}
	case hashAt(h.Records) != h.LastHash:
		return &ChainError{Line: max(h.Records, 1), Msg: fmt.Sprintf("record %d's hash is not the one the head (%s) holds: the newest records were replaced", h.Records, HeadFile)}
	}
	return nil
}

func (c *Chain) writeHead() error {
	h := head{Version: headVersion, Records: len(c.entries), LastHash: genesis}
	if n := len(c.entries); n > 0 {
		h.LastHash = c.entries[n-1].Hash
	}
	data, err := json.Marshal(h)
	if err != nil {
		return err
	}
	return c.dir.WriteFile(HeadFile, append(data, '\n'))
}

// Next returns the entry the record would become, without writing it.
func (c *Chain) Next(rec Record) (Entry, error) {
	prev, seq := genesis, 1
	if n := len(c.entries); n > 0 {
		prev, seq = c.entries[n-1].Hash, c.entries[n-1].Seq+1
	}
	body, err := json.Marshal(rec)
	if err != nil {
		return Entry{}, err
	}
	return Entry{Seq: seq, Prev: prev, Hash: entryHash(seq, prev, body), Record: body}, nil
}

// Append writes the entry Next returned, then the head. The chain file is rewritten whole
// through a temporary file and a rename, so a crash leaves the old chain or the new one, never
// half a line; a crash between the two writes leaves the head one entry behind, which Verify
// accepts and the next Open repairs.
func (c *Chain) Append(e Entry) error {
	line, err := json.Marshal(e)
	if err != nil {
		return err
	}
	data := append(append(c.raw[:len(c.raw):len(c.raw)], line...), '\n')
	if err := c.dir.WriteFile(ChainFile, data); err != nil {
		return err
	}
	c.raw, c.entries = data, append(c.entries, e)
	return c.writeHead()
}

// Recent returns the chain's last n entries (fewer when it is shorter), oldest first. The agent
// uses it to tell whether a run it was killed in the middle of already reached the chain.
func (c *Chain) Recent(n int) []Entry {
	return c.entries[max(0, len(c.entries)-n):]
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
	data, err := d.ReadFile(ChainFile)
	missing := errors.Is(err, fs.ErrNotExist)
	if err != nil && !missing {
		return 0, err
	}
	h, err := readHead(d)
	if err != nil {
		return 0, err
	}
	entries, err := parseChain(data)
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
