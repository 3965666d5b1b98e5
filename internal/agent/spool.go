package agent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/firewarden/firewarden/internal/fleet/wire"
	"github.com/firewarden/firewarden/internal/statedir"
)

// State file names in firewarden's state directory (DECISIONS13.md).
const (
	SpoolDir = "agent.spool" // one file per record
	SeqFile  = "agent.seq"   // the next sequence number, written before a record is spooled
)

// Default spool caps: a week of hourly runs with full evidence fits many times over; an agent
// offline for longer keeps its drifts and alerts and sheds its oldest runs.
const (
	DefaultMaxRecords = 20000
	DefaultMaxBytes   = 64 << 20
)

// MaxRecordBytes is the largest spool file: a record over it cannot be read back (and would not
// fit a request body with others). Records are shrunk before they are spooled (see shrink).
const MaxRecordBytes = 1 << 20

// Reasons of the spool_drop records the spool writes. They are also how a spool reopened after a
// crash knows which records such a record accounts for (see Spool.redoDrops): each names a
// deletion that is repeated until done.
const (
	DropReasonRuns = "spool over its cap: the oldest run records were dropped"
	DropReasonAll  = "spool over its cap with no run record left: the oldest records were dropped"
)

// Spool is the agent's outbox: records wait in it, one file each, until the server acknowledges
// them. Every write is atomic and durable before it returns (statedir: temporary file, fsync,
// rename, directory fsync), so a kill at any moment leaves each record either whole or absent,
// and the sequence file never behind a spooled record. It is safe for concurrent use.
type Spool struct {
	MaxRecords int
	MaxBytes   int64
	// Now stamps spool_drop records.
	Now func() time.Time

	state *statedir.Dir
	dir   *statedir.Dir

	mu      sync.Mutex
	entries []spoolEntry // sorted by seq
	next    uint64
}

type spoolEntry struct {
	seq  uint64
	kind string
	size int64
}

// fileName is the spool file of a record: the zero-padded seq sorts as the number does, and the
// kind lets the cap pick victims without reading them.
func fileName(seq uint64, kind string) string { return fmt.Sprintf("%020d-%s.json", seq, kind) }

// parseFileName is the inverse of fileName; ok is false for any other name.
func parseFileName(name string) (seq uint64, kind string, ok bool) {
	base, found := strings.CutSuffix(name, ".json")
	if !found || len(base) < 22 || base[20] != '-' {
		return 0, "", false
	}
	n, err := strconv.ParseUint(base[:20], 10, 64)
	if err != nil || n == 0 {
		return 0, "", false
	}
	kind = base[21:]
	switch kind {
	case wire.KindRun, wire.KindDrift, wire.KindAlert, wire.KindBans, wire.KindSpoolDrop:
		return n, kind, true
	}
	return 0, "", false
}

// OpenSpool opens (creating) the spool in the state directory and finishes any drop a killed
// process left half done.
func OpenSpool(state *statedir.Dir) (*Spool, error) {
	dir, err := state.Sub(SpoolDir)
	if err != nil {
		return nil, err
	}
	s := &Spool{MaxRecords: DefaultMaxRecords, MaxBytes: DefaultMaxBytes, Now: time.Now, state: state, dir: dir}
	if err := s.load(); err != nil {
		return nil, err
	}
	if err := s.redoDrops(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Spool) load() error {
	des, err := s.dir.ReadDir()
	if err != nil {
		return fmt.Errorf("read the spool: %w", err)
	}
	s.entries = s.entries[:0]
	for _, de := range des {
		seq, kind, ok := parseFileName(de.Name())
		if !ok {
			continue
		}
		fi, err := de.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return err
		}
		s.entries = append(s.entries, spoolEntry{seq, kind, fi.Size()})
	}
	sort.Slice(s.entries, func(i, j int) bool { return s.entries[i].seq < s.entries[j].seq })
	next, err := readSeq(s.state)
	if err != nil {
		return err
	}
	if n := len(s.entries); n > 0 && s.entries[n-1].seq >= next {
		// The seq file is written first, so this means it was lost or edited: never reuse a
		// number the spool holds.
		next = s.entries[n-1].seq + 1
	}
	s.next = next
	return nil
}

// readSeq reads the seq file; a missing one is 1.
func readSeq(d *statedir.Dir) (uint64, error) {
	data, err := d.ReadFile(SeqFile)
	if errors.Is(err, fs.ErrNotExist) {
		return 1, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", SeqFile, err)
	}
	n, err := strconv.ParseUint(string(bytes.TrimSpace(data)), 10, 64)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("%s: %q is not a sequence number; restore it or remove it together with %s", d.Join(SeqFile), bytes.TrimSpace(data), SpoolDir)
	}
	return n, nil
}

// Next is the sequence number the next record will get.
func (s *Spool) Next() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.next
}

// Resume is where the server's sequence for this host must resume when it enrolls again
// (wire.EnrollRequest.NextSeq): the oldest record still spooled, or Next when none is.
func (s *Spool) Resume() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.entries) > 0 {
		return s.entries[0].seq
	}
	return s.next
}

// Commit spools records whose seqs were taken from Next, in order: first the seq file moves past
// the last of them, then each record is written. Committing the same records again (after a
// crash) rewrites identical files, so it is idempotent.
func (s *Spool) Commit(recs []wire.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.commitLocked(recs)
}

func (s *Spool) commitLocked(recs []wire.Record) error {
	if len(recs) == 0 {
		return nil
	}
	data := make([][]byte, len(recs))
	for i := range recs {
		r := &recs[i]
		if err := r.Validate(); err != nil {
			return fmt.Errorf("spool record %d: %w", r.Seq, err)
		}
		if i > 0 && r.Seq <= recs[i-1].Seq {
			return fmt.Errorf("spool: seq %d after %d", r.Seq, recs[i-1].Seq)
		}
		b, err := encodeRecord(r)
		if err != nil {
			return err
		}
		data[i] = b
	}
	last := recs[len(recs)-1].Seq
	if last >= s.next {
		if err := s.state.WriteFile(SeqFile, []byte(strconv.FormatUint(last+1, 10)+"\n")); err != nil {
			return fmt.Errorf("write %s: %w", SeqFile, err)
		}
		s.next = last + 1
	}
	for i := range recs {
		name := fileName(recs[i].Seq, recs[i].Kind)
		if err := s.dir.WriteFile(name, data[i]); err != nil {
			return fmt.Errorf("spool record %d: %w", recs[i].Seq, err)
		}
		s.insert(spoolEntry{recs[i].Seq, recs[i].Kind, int64(len(data[i]))})
	}
	return nil
}

// insert adds or replaces e keeping entries sorted.
func (s *Spool) insert(e spoolEntry) {
	i := sort.Search(len(s.entries), func(i int) bool { return s.entries[i].seq >= e.seq })
	if i < len(s.entries) && s.entries[i].seq == e.seq {
		s.entries[i] = e
		return
	}
	s.entries = append(s.entries, spoolEntry{})
	copy(s.entries[i+1:], s.entries[i:])
	s.entries[i] = e
}

// Add gives recs the next sequence numbers and spools them.
func (s *Spool) Add(recs ...wire.Record) ([]wire.Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range recs {
		recs[i].Seq = s.next + uint64(i)
	}
	return recs, s.commitLocked(recs)
}

// encodeRecord is the spool file content of r, shrunk to fit MaxRecordBytes.
func encodeRecord(r *wire.Record) ([]byte, error) {
	b, err := marshal(r)
	if err != nil {
		return nil, err
	}
	if len(b) <= MaxRecordBytes {
		return b, nil
	}
	shrink(r)
	if b, err = marshal(r); err != nil {
		return nil, err
	}
	if len(b) > MaxRecordBytes {
		return nil, fmt.Errorf("spool record %d: %d bytes even without raw evidence, over %d", r.Seq, len(b), MaxRecordBytes)
	}
	return b, nil
}

// shrink drops the raw output of a run's evidence, keeping each item's hash: the local evidence
// chain keeps the full text.
func shrink(r *wire.Record) {
	if r.Run == nil {
		return
	}
	for i := range r.Run.Results {
		for j := range r.Run.Results[i].Evidence {
			e := &r.Run.Results[i].Evidence[j]
			if e.Output != "" {
				e.Output = "(left out: the record was over " + strconv.Itoa(MaxRecordBytes) + " bytes; the host's evidence chain has it)"
			}
		}
	}
}

// ReadRecord decodes a spool file: one strictly decoded, valid record no larger than
// MaxRecordBytes whose seq and kind match its file name.
func ReadRecord(name string, data []byte) (wire.Record, error) {
	var r wire.Record
	seq, kind, ok := parseFileName(name)
	if !ok {
		return r, fmt.Errorf("spool file %s: not a spool file name", name)
	}
	if err := wire.Decode(bytes.NewReader(data), &r, MaxRecordBytes); err != nil {
		return r, fmt.Errorf("spool file %s: %w", name, err)
	}
	if err := r.Validate(); err != nil {
		return r, fmt.Errorf("spool file %s: %w", name, err)
	}
	if r.Seq != seq || r.Kind != kind {
		return r, fmt.Errorf("spool file %s holds record %d of kind %s", name, r.Seq, r.Kind)
	}
	return r, nil
}

// Depth is how many records and bytes wait in the spool.
func (s *Spool) Depth() (records int, size int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.entries {
		size += e.size
	}
	return len(s.entries), size
}

// Batch returns the oldest records, at most max of them and at most budget bytes of files (at
// least one record). A file that cannot be read back is moved aside as NAME.bad and accounted
// for by a spool_drop record, so that one damaged file never stops the upload.
func (s *Spool) Batch(max int, budget int64) ([]wire.Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		out, damaged, err := s.batchLocked(max, budget)
		if err != nil || damaged == nil {
			return out, err
		}
		if err := s.quarantine(damaged.e, damaged.err); err != nil {
			return nil, err
		}
	}
}

type damagedFile struct {
	e   spoolEntry
	err error
}

func (s *Spool) batchLocked(max int, budget int64) ([]wire.Record, *damagedFile, error) {
	var out []wire.Record
	var used int64
	for i := 0; i < len(s.entries) && len(out) < max; i++ {
		e := s.entries[i]
		if len(out) > 0 && used+e.size > budget {
			break
		}
		name := fileName(e.seq, e.kind)
		data, err := s.dir.ReadFile(name)
		var r wire.Record
		if err == nil {
			r, err = ReadRecord(name, data)
		}
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				s.entries = append(s.entries[:i], s.entries[i+1:]...)
				i--
				continue
			}
			return nil, &damagedFile{e, err}, nil
		}
		out = append(out, r)
		used += e.size
	}
	return out, nil, nil
}

// quarantine moves a damaged spool file aside and spools a spool_drop for it.
func (s *Spool) quarantine(e spoolEntry, why error) error {
	name := fileName(e.seq, e.kind)
	if err := os.Rename(s.dir.Join(name), s.dir.Join(name+".bad")); err != nil {
		return fmt.Errorf("move aside the damaged spool file %s: %w", name, err)
	}
	s.remove(e.seq)
	drop := wire.Record{Seq: s.next, Kind: wire.KindSpoolDrop, Time: s.Now().UTC(), SpoolDrop: &wire.SpoolDrop{
		FromSeq: e.seq, ToSeq: e.seq, Count: 1, Reason: "damaged spool file moved aside: " + oneLine(why.Error()),
	}}
	return s.commitLocked([]wire.Record{drop})
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func (s *Spool) remove(seq uint64) {
	i := sort.Search(len(s.entries), func(i int) bool { return s.entries[i].seq >= seq })
	if i < len(s.entries) && s.entries[i].seq == seq {
		s.entries = append(s.entries[:i], s.entries[i+1:]...)
	}
}

// Ack deletes every record with seq ≤ acked: the server holds them.
func (s *Spool) Ack(acked uint64) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for len(s.entries) > 0 && s.entries[0].seq <= acked {
		e := s.entries[0]
		if err := s.dir.Remove(fileName(e.seq, e.kind)); err != nil {
			return n, fmt.Errorf("remove acknowledged record %d from the spool: %w", e.seq, err)
		}
		s.entries = s.entries[1:]
		n++
	}
	return n, nil
}

// Trim keeps the spool within MaxRecords and MaxBytes. It drops the oldest run records first and
// other records only when no run is left, and reports each drop with a spool_drop record that is
// spooled before anything is deleted: a kill in between leaves the record, and the next open
// finishes the deletion it names (redoDrops).
func (s *Spool) Trim() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, pass := range []string{DropReasonRuns, DropReasonAll} {
		victims := s.victims(pass)
		if len(victims) == 0 {
			continue
		}
		drop := wire.Record{Seq: s.next, Kind: wire.KindSpoolDrop, Time: s.Now().UTC(), SpoolDrop: &wire.SpoolDrop{
			FromSeq: victims[0].seq, ToSeq: victims[len(victims)-1].seq, Count: len(victims), Reason: pass,
		}}
		if err := s.commitLocked([]wire.Record{drop}); err != nil {
			return err
		}
		if err := s.deleteDropped(*drop.SpoolDrop); err != nil {
			return err
		}
	}
	return nil
}

// over reports whether the spool would still be over a cap after removing removedN records of
// removedBytes and adding one spool_drop record.
func (s *Spool) over(removedN int, removedBytes int64) bool {
	var size int64
	for _, e := range s.entries {
		size += e.size
	}
	// Room for the spool_drop record itself.
	const dropSize = 512
	return len(s.entries)-removedN+1 > s.MaxRecords || size-removedBytes+dropSize > s.MaxBytes
}

func marshal(r *wire.Record) ([]byte, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encode record %d: %w", r.Seq, err)
	}
	return append(b, '\n'), nil
}

// victims picks the oldest records of the pass's kinds until the spool fits. spool_drop records
// are never dropped: they are small and are the account of everything else dropped.
func (s *Spool) victims(pass string) []spoolEntry {
	var total int64
	for _, e := range s.entries {
		total += e.size
	}
	if len(s.entries) <= s.MaxRecords && total <= s.MaxBytes {
		return nil
	}
	var out []spoolEntry
	var n int
	var size int64
	for _, e := range s.entries {
		if !s.over(n, size) {
			break
		}
		if !dropped(pass, e.kind) {
			continue
		}
		out = append(out, e)
		n++
		size += e.size
	}
	return out
}

// dropped reports whether a spool_drop with reason would drop a record of kind in its range.
func dropped(reason, kind string) bool {
	switch reason {
	case DropReasonRuns:
		return kind == wire.KindRun
	case DropReasonAll:
		return kind != wire.KindSpoolDrop
	}
	return false
}

// deleteDropped deletes the records d accounts for: every record of the dropped kinds in its
// range. Victims are the oldest of their kinds, so no such record in the range was kept.
func (s *Spool) deleteDropped(d wire.SpoolDrop) error {
	keep := s.entries[:0]
	var err error
	for _, e := range s.entries {
		if err == nil && e.seq >= d.FromSeq && e.seq <= d.ToSeq && dropped(d.Reason, e.kind) {
			if err = s.dir.Remove(fileName(e.seq, e.kind)); err == nil {
				continue
			}
		}
		keep = append(keep, e)
	}
	s.entries = keep
	return err
}

// redoDrops finishes the deletions of spooled spool_drop records (a kill between spooling one
// and deleting what it names).
func (s *Spool) redoDrops() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var drops []wire.SpoolDrop
	for _, e := range s.entries {
		if e.kind != wire.KindSpoolDrop {
			continue
		}
		name := fileName(e.seq, e.kind)
		data, err := s.dir.ReadFile(name)
		if err != nil {
			return fmt.Errorf("read spool file %s: %w", name, err)
		}
		r, err := ReadRecord(name, data)
		if err != nil {
			continue // Batch moves it aside
		}
		drops = append(drops, *r.SpoolDrop)
	}
	for _, d := range drops {
		if err := s.deleteDropped(d); err != nil {
			return err
		}
	}
	return nil
}
