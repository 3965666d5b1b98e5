package guard

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/firewarden/firewarden/internal/authwatch"
	"github.com/firewarden/firewarden/internal/block"
	"github.com/firewarden/firewarden/internal/block/blocktest"
	"github.com/firewarden/firewarden/internal/guard/follow"
)

// crashCopy copies what a kill -9 of the daemon at this instant would leave in dir (block.json
// and the WAL, as written so far) to a new directory.
func crashCopy(t *testing.T, dir string) string {
	t.Helper()
	out := t.TempDir()
	for _, name := range []string{block.StateFile, WALFile} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(out, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// TestDaemonCrashKeepsUnsavedBans: a ban in the kernel that the daemon had not saved to
// block.json when it died is in block.json and still in the kernel after the next start,
// with the expiry it had; before the write-ahead log the start's reconciliation lifted it.
func TestDaemonCrashKeepsUnsavedBans(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		kernel := &blocktest.Fake{}
		r := startDaemon(t, dir, Default(), kernel, nil)
		r.src.failures("203.0.113.9", 10)
		synctest.Wait()
		if got := r.held(); !slices.Equal(got, []string{"203.0.113.9"}) {
			t.Fatalf("kernel holds %v after 10 failures, want the ban", got)
		}
		crashed := crashCopy(t, dir) // before the save interval: block.json lacks the ban
		if st, err := (&block.Store{Dir: crashed}).Load(); err != nil {
			t.Fatal(err)
		} else if _, ok := banOf(st, "203.0.113.9"); ok {
			t.Fatal("block.json has the ban already; the test needs it unsaved")
		}
		want := time.Now().Truncate(time.Second).Add(15 * time.Minute)
		r.stop()

		time.Sleep(10 * time.Second) // down for a while
		r = startDaemon(t, crashed, Default(), kernel, nil)
		if got := r.held(); !slices.Equal(got, []string{"203.0.113.9"}) {
			t.Errorf("kernel holds %v after the restart, want the ban kept", got)
		}
		b, ok := banOf(r.state(), "203.0.113.9")
		if !ok {
			t.Fatalf("block.json lacks the ban after the restart; log:\n%s", r.log)
		}
		if !b.Expires.Equal(want) || b.Source != block.SourceGuard || b.Count != 1 {
			t.Errorf("recovered ban = %+v, want source guard, count 1, until %v", b, want)
		}
		if !strings.Contains(r.log.String(), "203.0.113.9: the last run put it in the kernel and stopped before saving it") {
			t.Errorf("log does not say the ban was recovered:\n%s", r.log)
		}
		if s := r.d.Stats(); s.Recovered != 1 {
			t.Errorf("Stats().Recovered = %d, want 1", s.Recovered)
		}
		r.stop()
	})
}

// TestDaemonCrashKeepsCounts: failures counted before a checkpoint count after a crash: 9 of
// the 10 the ban needs, a crash, then 1 more bans.
func TestDaemonCrashKeepsCounts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		kernel := &blocktest.Fake{}
		r := startDaemon(t, dir, Default(), kernel, nil)
		r.src.failures("203.0.113.9", 9)
		time.Sleep(DefaultPersistEvery + DefaultPollEvery) // a checkpoint
		synctest.Wait()
		crashed := crashCopy(t, dir)
		r.stop()

		r = startDaemon(t, crashed, Default(), kernel, nil)
		r.src.failures("203.0.113.9", 1)
		synctest.Wait()
		if got := r.held(); !slices.Equal(got, []string{"203.0.113.9"}) {
			t.Errorf("kernel holds %v after 9 failures, a crash and 1 failure, want the ban; log:\n%s", got, r.log)
		}
		r.stop()
	})
}

// TestDaemonCrashDoesNotResurrect: the WAL of a run that died after saving its ban, but
// before rewriting the WAL, still holds the ban; `block remove` lifted it meanwhile. The next
// start keeps it lifted. The same for a ban of an address allowlisted meanwhile.
func TestDaemonCrashDoesNotResurrect(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(s *block.State, p netip.Prefix, now time.Time)
	}{
		{"removed", func(s *block.State, p netip.Prefix, now time.Time) { s.Unban(p, block.SourceCLI, now) }},
		{"allowlisted", func(s *block.State, p netip.Prefix, now time.Time) { s.Allow(p, "ours", block.SourceCLI, now) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				dir := t.TempDir()
				kernel := &blocktest.Fake{}
				r := startDaemon(t, dir, Default(), kernel, nil)
				r.src.failures("203.0.113.9", 10)
				synctest.Wait()
				wal, err := os.ReadFile(filepath.Join(dir, WALFile)) // with the ban
				if err != nil {
					t.Fatal(err)
				}
				time.Sleep(DefaultPersistEvery)
				synctest.Wait()
				r.stop()
				if _, ok := banOf(r.state(), "203.0.113.9"); !ok {
					t.Fatal("the ban was not saved")
				}
				if err := os.WriteFile(filepath.Join(dir, WALFile), wal, 0o600); err != nil {
					t.Fatal(err)
				}
				time.Sleep(time.Minute)
				if _, _, err := r.store.Edit(context.Background(), func(s *block.State) error {
					tc.change(s, netip.MustParsePrefix("203.0.113.9/32"), time.Now())
					return nil
				}); err != nil {
					t.Fatal(err)
				}

				r = startDaemon(t, dir, Default(), kernel, nil)
				if _, ok := banOf(r.state(), "203.0.113.9"); ok {
					t.Errorf("the ban is back in block.json after the restart; log:\n%s", r.log)
				}
				if got := r.held(); len(got) != 0 {
					t.Errorf("kernel holds %v after the restart, want nothing", got)
				}
				r.stop()
			})
		})
	}
}

// TestAdoptionRule: which bans of the WAL a start adopts into the state.
func TestAdoptionRule(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	at := now.Add(-5 * time.Second)
	ban := func(p string, until time.Time) pendingBan {
		return pendingBan{ban: block.Ban{Prefix: netip.MustParsePrefix(p), Expires: until}, at: at, count: 1}
	}
	st := block.NewState()
	pol := block.Policy{}
	st.Allow(netip.MustParsePrefix("192.0.2.0/24"), "office", block.SourceCLI, now.Add(-time.Hour))
	// Saved before the crash, still banned.
	st.Ban(block.BanRequest{Prefix: netip.MustParsePrefix("198.51.100.1/32"), Source: block.SourceGuard}, pol, at)
	// Saved before the crash, removed by `block remove` since.
	st.Ban(block.BanRequest{Prefix: netip.MustParsePrefix("198.51.100.2/32"), Source: block.SourceGuard}, pol, at)
	st.Unban(netip.MustParsePrefix("198.51.100.2/32"), block.SourceCLI, now.Add(-2*time.Second))
	// Banned yesterday, removed; the WAL's ban is a new one.
	st.Ban(block.BanRequest{Prefix: netip.MustParsePrefix("198.51.100.3/32"), Source: block.SourceGuard}, pol, now.Add(-24*time.Hour))
	st.Unban(netip.MustParsePrefix("198.51.100.3/32"), block.SourceCLI, now.Add(-23*time.Hour))
	// An unban of a range holding the address, after the WAL's ban (a hand-edited state).
	st.Activity = append(st.Activity, block.Event{Time: now.Add(-time.Second), Action: "unban", Prefix: netip.MustParsePrefix("198.51.100.128/25"), Source: block.SourceCLI})
	rule := newAdoption(st, newAllowset([]netip.Prefix{netip.MustParsePrefix("2001:db8:1::/48")}))

	for _, tc := range []struct {
		name string
		ban  pendingBan
		want string // "" adopted, else a word of the reason
	}{
		{"own ban the state does not know", ban("203.0.113.9/32", now.Add(time.Hour)), ""},
		{"own ban until removed", ban("203.0.113.10/32", time.Time{}), ""},
		{"new ban of an earlier offender", ban("198.51.100.3/32", now.Add(time.Hour)), ""},
		{"ended", ban("203.0.113.11/32", now), "ended"},
		{"allowlisted by the state", ban("192.0.2.7/32", now.Add(time.Hour)), "allowlisted"},
		{"allowlisted by the config", ban("2001:db8:1::7/128", now.Add(time.Hour)), "allowlists"},
		{"saved and banned", ban("198.51.100.1/32", now.Add(time.Hour)), "block.json has it"},
		{"saved, then removed by the user", ban("198.51.100.2/32", now.Add(time.Hour)), "block.json has it"},
		{"removed with a range since", ban("198.51.100.200/32", now.Add(time.Hour)), "removed by cli"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := rule.refuse(tc.ban, now)
			if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
				t.Errorf("refuse(%v) = %q, want %q", tc.ban.ban.Prefix, got, tc.want)
			}
		})
	}
}

// TestWALRoundTrip: what a checkpoint writes, parseWAL reads back.
func TestWALRoundTrip(t *testing.T) {
	at := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	bans := []pendingBan{
		{ban: block.Ban{Prefix: netip.MustParsePrefix("203.0.113.9/32"), Expires: at.Add(15 * time.Minute)}, at: at, count: 2, reason: `10 failures "in" 30m`},
		{ban: block.Ban{Prefix: netip.MustParsePrefix("2001:db8::9/128")}, at: at, count: 1, reason: "ünïcode"},
	}
	track := []entry{
		{addr: keyOf(netip.MustParseAddr("198.51.100.7")), pts: [slots]uint16{3: 100, 4: 250}, cur: 123456, pid: 77, lastPts: 100, kind: authwatch.KindFailed, paired: true},
		{addr: keyOf(netip.MustParseAddr("2001:db8::7")), pts: [slots]uint16{0: 65535}, cur: 5, pid: -1},
	}
	pos := follow.Position{Dev: 2049, Ino: 1234567, Off: 1 << 40}
	var buf []byte
	buf = appendPos(buf, "file:/var/log/a \"b\".log", pos)
	for i := range bans {
		buf = appendBan(buf, &bans[i])
	}
	for i := range track {
		buf = appendTrack(buf, &track[i])
	}
	buf = append(buf, `{"k":"ban","p":"198.51`...) // torn by a crash
	wd, err := parseWAL(bytes.NewReader(buf))
	if err != nil {
		t.Fatal(err)
	}
	opt := cmp.Options{cmp.AllowUnexported(pendingBan{}, entry{}, credit{}), cmpopts.EquateComparable(netip.Prefix{})}
	if diff := cmp.Diff(bans, wd.bans, opt); diff != "" {
		t.Errorf("bans (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(track, wd.track, opt); diff != "" {
		t.Errorf("tracker (-want +got):\n%s", diff)
	}
	if got := wd.pos["file:/var/log/a \"b\".log"]; got != pos {
		t.Errorf("position = %+v, want %+v", got, pos)
	}
	if wd.skipped != 1 {
		t.Errorf("skipped = %d, want 1 (the torn line)", wd.skipped)
	}
}

// TestTrackerRestore: restored entries count as they did; entries out of the window are not
// restored.
func TestTrackerRestore(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	old := newTracker(30*time.Minute, 100)
	a, b := keyOf(netip.MustParseAddr("198.51.100.7")), keyOf(netip.MustParseAddr("198.51.100.8"))
	old.get(a, now.Add(-40*time.Minute)).add(500)
	old.get(b, now.Add(-10*time.Minute)).add(300)
	old.get(b, now.Add(-time.Minute)).add(200)
	var es []entry
	old.each(func(e *entry) { es = append(es, *e) })

	nt := newTracker(30*time.Minute, 100)
	nt.restore(es, now)
	if n := nt.len(); n != 1 {
		t.Errorf("restored %d entries, want 1 (a's failures left the window)", n)
	}
	if got := nt.get(b, now).score(); got != 500 {
		t.Errorf("score of b after restore = %d, want 500", got)
	}
}

// TestDaemonSkipsStaleReplay: a failure read again after a restart, older than the window,
// does not count; the same line read live does.
func TestDaemonSkipsStaleReplay(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	cfg := Default()
	d := New(Options{Config: cfg, StateDir: t.TempDir(), Now: func() time.Time { return now }})
	line := func(stamp time.Time, replay bool) follow.Line {
		return follow.Line{Text: []byte(stamp.Format("2006-01-02T15:04:05.000000-07:00") + " host sshd[7]: Failed password for root from 203.0.113.9 port 22 ssh2"),
			Source: "file:/x", Read: now, Replay: replay, Pos: follow.Position{Dev: 1, Ino: 2, Off: 3}}
	}
	ctx := context.Background()
	d.line(ctx, line(now.Add(-cfg.Window-time.Minute), true))
	d.line(ctx, line(now.Add(-time.Minute), true))
	d.line(ctx, line(now.Add(-cfg.Window-time.Minute), false))
	if s := d.Stats(); s.Failures != 2 || s.Stale != 1 {
		t.Errorf("Stats() = %+v, want 2 failures and 1 stale", s)
	}
	if got, want := d.pos["file:/x"], (follow.Position{Dev: 1, Ino: 2, Off: 3}); got != want {
		t.Errorf("position = %+v, want %+v", got, want)
	}
}

// TestWALRefusesPlantedFiles: a symbolic link or a FIFO under the WAL's name stops the start
// with a message saying what to remove, without following the link or hanging; the WAL the
// daemon writes is a regular file, mode 0600.
func TestWALRefusesPlantedFiles(t *testing.T) {
	for _, tc := range []struct {
		name  string
		plant func(path string) error
		want  string
	}{
		{"symlink", func(p string) error { return os.Symlink(filepath.Join(filepath.Dir(p), "target"), p) }, "is a symbolic link; firewarden does not follow links here: remove it"},
		{"fifo", func(p string) error { return syscall.Mkfifo(p, 0o600) }, "is a named pipe (FIFO), not a regular file; remove it"},
		{"directory", func(p string) error { return os.Mkdir(p, 0o700) }, "is a directory, not a regular file; remove it"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := tc.plant(filepath.Join(dir, WALFile)); err != nil {
				t.Fatal(err)
			}
			d := New(Options{Config: Default(), StateDir: dir, Source: newChanSource()})
			err := d.Run(context.Background())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Run with a %s as the WAL = %v, want an error containing %q", tc.name, err, tc.want)
			}
			if _, err := os.Lstat(filepath.Join(dir, "target")); !os.IsNotExist(err) {
				t.Errorf("the link's target was created")
			}
		})
	}
	t.Run("mode", func(t *testing.T) {
		dir := t.TempDir()
		synctest.Test(t, func(t *testing.T) { startDaemon(t, dir, Default(), nil, nil).stop() })
		fi, err := os.Lstat(filepath.Join(dir, WALFile))
		if err != nil {
			t.Fatal(err)
		}
		if !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o600 {
			t.Errorf("WAL mode = %v, want a regular file with 0600", fi.Mode())
		}
		if left, _ := filepath.Glob(filepath.Join(dir, walTmpPrefix+"*")); len(left) > 0 {
			t.Errorf("temporary files left: %v", left)
		}
	})
}

// FuzzParseWAL: parseWAL never panics, and every ban it returns is valid and round-trips.
func FuzzParseWAL(f *testing.F) {
	at := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	seed := []byte(`{"k":"cp","time":"2026-12-06T12:00:00Z","slot":112500000000,"max":65536}` + "\n")
	seed = appendPos(seed, "file:/var/log/auth.log", follow.Position{Dev: 1, Ino: 2, Off: 3})
	seed = appendBan(seed, &pendingBan{ban: block.Ban{Prefix: netip.MustParsePrefix("203.0.113.9/32"), Expires: at.Add(time.Hour)}, at: at, count: 1, reason: "r"})
	seed = appendTrack(seed, &entry{addr: keyOf(netip.MustParseAddr("198.51.100.7")), pts: [slots]uint16{1: 100}, cur: 9})
	f.Add(seed)
	f.Add([]byte(`{"k":"ban","p":"::ffff:1.2.3.4/128","at":"2026-12-06T12:00:00Z"}`))
	f.Add([]byte(`{"k":"track","a":"1.2.3.4","pts":[1,2]}` + "\n{}\n\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		wd, err := parseWAL(bytes.NewReader(data))
		if err != nil {
			return
		}
		for _, b := range wd.bans {
			if !b.ban.Prefix.IsValid() || b.ban.Prefix != b.ban.Prefix.Masked() || b.ban.Prefix.Addr().Is4In6() {
				t.Fatalf("parseWAL gave the ban prefix %v, want a valid masked prefix, never v4-mapped", b.ban.Prefix)
			}
			again, err := parseWAL(bytes.NewReader(appendBan(nil, &b)))
			if err != nil || len(again.bans) != 1 || again.bans[0].ban.Prefix != b.ban.Prefix || !again.bans[0].at.Equal(b.at) {
				t.Fatalf("ban %+v does not round-trip: %+v, %v", b, again, err)
			}
		}
	})
}

// TestDaemonReplayDoesNotRecount: the lines that led to a ban, read again after a crash (the
// checkpoint's position is before them), count for nothing, even when the ban ended while the
// guard was down; the ended ban is remembered as an offence.
func TestDaemonReplayDoesNotRecount(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		kernel := &blocktest.Fake{}
		r := startDaemon(t, dir, Default(), kernel, nil)
		stamp := time.Now()
		lines := make([]follow.Line, 10)
		for i := range lines {
			lines[i] = follow.Line{Text: []byte(stamp.UTC().Format(time.RFC3339Nano) + fmt.Sprintf(" host sshd[%d]: Failed password for root from 203.0.113.9 port 22 ssh2", 100+i)),
				Source: "file:/x", Replay: true}
		}
		ctx := context.Background()
		for _, l := range lines {
			l.Replay, l.Read = false, time.Now()
			r.d.line(ctx, l)
		}
		if got := r.held(); !slices.Equal(got, []string{"203.0.113.9"}) {
			t.Fatalf("kernel holds %v after 10 failures, want the ban", got)
		}
		crashed := crashCopy(t, dir)
		r.stop()

		time.Sleep(20 * time.Minute) // the 15-minute ban ends while the guard is down
		r = startDaemon(t, crashed, Default(), kernel, nil)
		for _, l := range lines {
			l.Read = time.Now()
			r.d.line(ctx, l)
		}
		if got := r.held(); len(got) != 0 {
			t.Errorf("kernel holds %v after the replay, want nothing: the lines counted toward the first ban", got)
		}
		if s := r.d.Stats(); s.Stale != 10 || s.Bans != 0 {
			t.Errorf("Stats() = %+v, want 10 stale failures and no ban", s)
		}
		st := r.state()
		if _, ok := banOf(st, "203.0.113.9"); ok {
			t.Errorf("block.json holds the ended ban")
		}
		if i := slices.IndexFunc(st.Offenders, func(o block.Offender) bool { return o.Prefix.String() == "203.0.113.9/32" }); i < 0 || st.Offenders[i].Count != 1 {
			t.Errorf("block.json does not remember the ended ban as one offence: %+v", st.Offenders)
		}
		r.stop()
	})
}

// TestDaemonRecordsMarks: where a source opened a file is in the WAL at once, before any
// checkpoint, so that a crash right after the start resumes there rather than at the file's
// end by then.
func TestDaemonRecordsMarks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		r := startDaemon(t, dir, Default(), nil, nil)
		want := follow.Position{Dev: 1, Ino: 2, Off: 300}
		r.d.line(context.Background(), follow.Line{Source: "file:/x", Pos: want, Read: time.Now()})
		wd, err := readWAL(crashCopy(t, dir))
		if err != nil {
			t.Fatal(err)
		}
		if got := wd.pos["file:/x"]; got != want {
			t.Errorf("WAL position after a mark = %+v, want %+v", got, want)
		}
		if s := r.d.Stats(); s.Lines != 0 {
			t.Errorf("Stats().Lines = %d after a mark, want 0", s.Lines)
		}
		r.stop()
	})
}

// TestDaemonCrashForgetsCountsOfBanned: counts restored from a checkpoint are dropped for an
// address banned after it (the ban came back from the WAL), as a ban drops them in a run that
// does not crash: when the ban ends, the address starts from nothing.
func TestDaemonCrashForgetsCountsOfBanned(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		kernel := &blocktest.Fake{}
		r := startDaemon(t, dir, Default(), kernel, nil)
		r.src.failures("203.0.113.9", 5)
		r.src.failures("203.0.113.10", 5)
		time.Sleep(DefaultPersistEvery + DefaultPollEvery)
		r.src.failures("198.51.100.1", 10) // a ban saved at once: a checkpoint with both counted
		synctest.Wait()
		r.src.failures("203.0.113.9", 5) // banned after the checkpoint, not saved yet
		synctest.Wait()
		if wd, err := readWAL(dir); err != nil || len(wd.track) != 2 || len(wd.bans) != 1 {
			t.Fatalf("the WAL holds %d counts and %d bans (%v), want 2 and 1 for this test", len(wd.track), len(wd.bans), err)
		}
		crashed := crashCopy(t, dir)
		r.stop()

		r = startDaemon(t, crashed, Default(), kernel, nil)
		r.d.mu.Lock()
		got := r.d.eng.Tracked()
		r.d.mu.Unlock()
		if got != 1 {
			t.Errorf("Tracked() = %d after the restart, want 1 (203.0.113.10; the banned address forgotten)", got)
		}
		r.stop()
	})
}

// journalSource stands for the journal: it cannot resume at a position, only at an instant
// (follow.TimeResumer), and hands out the lines the test sends it as they are.
type journalSource struct {
	ch    chan follow.Line
	since time.Time
}

func (s *journalSource) Name() string            { return "journal" }
func (s *journalSource) ResumeSince(t time.Time) { s.since = t }
func (s *journalSource) send(l follow.Line)      { s.ch <- l }
func (s *journalSource) Run(ctx context.Context, emit func(follow.Line)) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case l := <-s.ch:
			emit(l)
		}
	}
}

// TestDaemonCrashResumesJournalByTime: the journal has no position to save, so after a crash it
// starts again at the last checkpoint (journalctl --since); the lines it hands out again that the
// checkpoint had counted count once, not twice, and the lines after it count.
func TestDaemonCrashResumesJournalByTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		failure := func(at time.Time, pid int, replay bool) follow.Line {
			text := at.UTC().Format("2006-01-02T15:04:05.000000+00:00") + fmt.Sprintf(" host sshd[%d]: Failed password for root from 203.0.113.9 port %d ssh2", pid, 40000+pid)
			return follow.Line{Text: []byte(text), Source: "journal", Read: time.Now(), Replay: replay}
		}
		start := func(dir string, src *journalSource) *run {
			r := &run{t: t, kernel: &blocktest.Fake{}, store: &block.Store{Dir: dir}, log: &syncBuffer{},
				signals: make(chan os.Signal, 1), done: make(chan error, 1)}
			r.d = New(Options{Config: Default(), StateDir: dir, Backend: r.kernel, Source: src, Log: r.log, Signals: r.signals})
			ctx, cancel := context.WithCancel(context.Background())
			r.cancel = cancel
			go func() { r.done <- r.d.Run(ctx) }()
			synctest.Wait()
			return r
		}

		dir := t.TempDir()
		src := &journalSource{ch: make(chan follow.Line)}
		r := start(dir, src)
		var sent []follow.Line
		for i := range 6 {
			l := failure(time.Now(), i, false)
			sent = append(sent, l)
			src.send(l)
		}
		time.Sleep(DefaultPersistEvery + DefaultPollEvery) // a checkpoint holds the 6
		synctest.Wait()
		for i := 6; i < 9; i++ { // after the checkpoint: only the journal has them
			l := failure(time.Now(), i, false)
			sent = append(sent, l)
			src.send(l)
		}
		synctest.Wait()
		crashed := crashCopy(t, dir)
		r.stop()

		src = &journalSource{ch: make(chan follow.Line)}
		r = start(crashed, src)
		if src.since.IsZero() || !src.since.Before(sent[6].Read) {
			t.Fatalf("ResumeSince(%v), want the checkpoint's time, before the lines after it (%v)", src.since, sent[6].Read)
		}
		// journalctl --since=@SECONDS hands out all nine again, marked Replay.
		for i, l := range sent {
			src.send(failure(l.Read, i, true))
		}
		synctest.Wait()
		if got := r.held(); len(got) != 0 {
			t.Fatalf("kernel holds %v after 9 failures read again after a crash: the checkpoint's 6 counted twice", got)
		}
		src.send(failure(time.Now(), 9, false))
		synctest.Wait()
		if got := r.held(); !slices.Equal(got, []string{"203.0.113.9"}) {
			t.Errorf("kernel holds %v after the 10th failure, want the ban; log:\n%s", got, r.log)
		}
		r.stop()
		if s := r.d.Stats(); s.Stale != 6 || s.Failures != 4 {
			t.Errorf("Stats() stale %d, failures %d; want 6 stale (counted before the crash) and 4 counted", s.Stale, s.Failures)
		}
	})
}
