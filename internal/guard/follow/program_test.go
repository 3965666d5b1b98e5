package follow

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/firewarden/firewarden/internal/host"
)

// fakeRun is one run of a fake program.
type fakeRun struct {
	out      string        // printed at once
	hold     time.Duration // how long it runs after printing; < 0 until stopped
	err      error         // what wait returns
	startErr error         // Start fails with it
}

// fakeStarter runs scripted programs: the i-th Start plays runs[i], the last one repeating. It
// uses the clock of the synctest bubble it is called in.
type fakeStarter struct {
	runs []fakeRun

	mu     sync.Mutex
	starts []time.Time
	cmds   []host.Cmd
}

func (s *fakeStarter) Start(ctx context.Context, c host.Cmd) (io.ReadCloser, func() error, error) {
	s.mu.Lock()
	i := min(len(s.starts), len(s.runs)-1)
	s.starts = append(s.starts, time.Now())
	s.cmds = append(s.cmds, c)
	s.mu.Unlock()
	r := s.runs[i]
	if r.startErr != nil {
		return nil, nil, r.startErr
	}
	pr, pw := io.Pipe()
	go func() {
		pw.Write([]byte(r.out))
		switch {
		case r.hold < 0:
			<-ctx.Done()
		case r.hold > 0:
			select {
			case <-time.After(r.hold):
			case <-ctx.Done():
			}
		}
		pw.Close()
	}()
	return pr, func() error { return r.err }, nil
}

// gaps is the time between consecutive starts.
func (s *fakeStarter) gaps() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []time.Duration
	for i := 1; i < len(s.starts); i++ {
		out = append(out, s.starts[i].Sub(s.starts[i-1]))
	}
	return out
}

var errExit = &host.ExitError{Argv: []string{JournalctlPath}, Code: 1, Stderr: "Failed to open journal"}

// Back-off doubles from MinBackoff to MaxBackoff between failed runs, starts over after a healthy
// run (one with a line, or one lasting ten MinBackoffs), and the source gives up after GiveUp
// failed runs in a row. Times are the synctest bubble's.
func TestProgramBackoff(t *testing.T) {
	fail := fakeRun{err: errExit}
	tests := []struct {
		name     string
		runs     []fakeRun
		giveUp   int
		wantGaps []time.Duration
		wantErr  string
	}{
		{
			name:     "doubles to the cap, then gives up",
			runs:     []fakeRun{fail},
			giveUp:   7,
			wantGaps: []time.Duration{1, 2, 4, 8, 8, 8},
			wantErr:  "journalctl failed 7 times in a row without a line (last: /usr/bin/journalctl exited with status 1: Failed to open journal)",
		},
		{
			name:     "a run with a line starts over",
			runs:     []fakeRun{fail, fail, {out: "line\n", err: errExit}, fail, fail, fail},
			giveUp:   3,
			wantGaps: []time.Duration{1, 2, 1, 2, 4},
			wantErr:  "journalctl failed 3 times in a row",
		},
		{
			name:     "a long run without lines starts over",
			runs:     []fakeRun{fail, fail, {hold: 10 * time.Second}, fail, fail, fail},
			giveUp:   3,
			wantGaps: []time.Duration{1, 2, 10 + 1, 2, 4},
			wantErr:  "journalctl failed 3 times in a row without a line (last: /usr/bin/journalctl exited",
		},
		{
			name:     "start errors count as failures",
			runs:     []fakeRun{{startErr: errors.New("fork/exec /usr/bin/journalctl: permission denied")}},
			giveUp:   2,
			wantGaps: []time.Duration{1},
			wantErr:  "journalctl failed 2 times in a row without a line (last: fork/exec /usr/bin/journalctl: permission denied)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				st := &fakeStarter{runs: tt.runs}
				j := NewJournal(JournalOptions{Starter: st, Restart: Restart{MinBackoff: time.Second, MaxBackoff: 8 * time.Second, GiveUp: tt.giveUp}})
				err := j.Run(t.Context(), func(Line) {})
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Errorf("Run() = %v, want %q…", err, tt.wantErr)
				}
				want := make([]time.Duration, len(tt.wantGaps))
				for i, g := range tt.wantGaps {
					want[i] = g * time.Second
				}
				if diff := cmp.Diff(want, st.gaps()); diff != "" {
					t.Errorf("time between starts (-want +got):\n%s", diff)
				}
			})
		})
	}
}

// Cancelling ends the wait between runs and a running program at once.
func TestProgramCancel(t *testing.T) {
	for _, run := range []fakeRun{{err: errExit}, {out: "a\n", hold: -1}} {
		synctest.Test(t, func(t *testing.T) {
			st := &fakeStarter{runs: []fakeRun{run}}
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan error)
			go func() {
				done <- NewJournal(JournalOptions{Starter: st}).Run(ctx, func(Line) {})
			}()
			synctest.Wait() // the first run has printed, or ended and the back-off started
			began := time.Now()
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run() = %v, want nil after cancel", err)
			}
			if d := time.Since(began); d != 0 {
				t.Errorf("Run returned %s after cancel, want at once", d)
			}
		})
	}
}

// Lines carry the time they were read, and a last line without a newline is handed out when the
// program ends.
func TestProgramLines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := &fakeStarter{runs: []fakeRun{{out: "a\n\nb\nc", err: errExit}, {hold: -1}}}
		ctx, cancel := context.WithCancel(t.Context())
		t0 := time.Now()
		var got []string
		done := make(chan error)
		go func() {
			done <- NewJournal(JournalOptions{Starter: st}).Run(ctx, func(l Line) {
				if !l.Read.Equal(t0) || l.Source != "journal" {
					t.Errorf("Line{Read: %v, Source: %q}, want %v and journal", l.Read, l.Source, t0)
				}
				got = append(got, string(l.Text))
			})
		}()
		time.Sleep(2 * time.Second) // the bubble's clock: past the first back-off
		synctest.Wait()
		cancel()
		<-done
		if diff := cmp.Diff([]string{"a", "b", "c"}, got); diff != "" {
			t.Errorf("lines (-want +got):\n%s", diff)
		}
		if len(st.starts) != 2 {
			t.Errorf("%d starts, want 2", len(st.starts))
		}
	})
}

// After ResumeSince the first journalctl starts at that second (--since=@SECONDS, in place of
// --lines=0) and its lines are Replay; a restart after it starts at the end again, with lines
// that are not.
func TestJournalResumeSince(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := &fakeStarter{runs: []fakeRun{{out: "old\n", err: errExit}, {out: "new\n", hold: -1}}}
		ctx, cancel := context.WithCancel(t.Context())
		j := NewJournal(JournalOptions{Starter: st})
		j.ResumeSince(time.Unix(1765000000, 900_000_000))
		type got struct {
			Text   string
			Replay bool
		}
		var lines []got
		done := make(chan error)
		go func() {
			done <- j.Run(ctx, func(l Line) { lines = append(lines, got{string(l.Text), l.Replay}) })
		}()
		time.Sleep(2 * time.Second) // past the first back-off
		synctest.Wait()
		cancel()
		<-done
		if diff := cmp.Diff([]got{{"old", true}, {"new", false}}, lines); diff != "" {
			t.Errorf("lines (-want +got):\n%s", diff)
		}
		if len(st.cmds) != 2 {
			t.Fatalf("%d starts, want 2", len(st.cmds))
		}
		first, again := strings.Join(st.cmds[0].Args, " "), strings.Join(st.cmds[1].Args, " ")
		if !strings.Contains(first, "--since=@1765000000") || strings.Contains(first, "--lines=0") {
			t.Errorf("first start %q, want --since=@1765000000 and no --lines=0", first)
		}
		if want := strings.Join(j.Cmd().Args, " "); again != want || !strings.Contains(again, "--lines=0") {
			t.Errorf("restart %q, want %q", again, want)
		}
	})
}
