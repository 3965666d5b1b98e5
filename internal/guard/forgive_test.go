package guard

import (
	"net/netip"
	"testing"
	"time"

	"github.com/firewarden/firewarden/internal/authwatch"
)

// fstep is one line of a forgiveness scenario at t0+at: a failure of kind (observed) or, when
// accept, a login of pid (forgiven). want is the verdict of a failure; took the weight a login
// takes back; score, when not negative, a's score after the step.
type fstep struct {
	at     time.Duration
	pid    int
	kind   authwatch.Kind
	addr   string // default a
	accept bool
	want   Verdict
	took   float64
	score  float64
}

func TestForgive(t *testing.T) {
	const a, other = "198.51.100.7", "203.0.113.9"
	// login is one connection of pid at t0+at: failures of kinds, then a login that takes back
	// their weight.
	login := func(at time.Duration, pid int, took float64, kinds ...authwatch.Kind) []fstep {
		var s []fstep
		for _, k := range kinds {
			s = append(s, fstep{at: at, pid: pid, kind: k, want: Counted, score: -1})
		}
		return append(s, fstep{at: at, pid: pid, accept: true, took: took, score: 0})
	}
	repeat := func(n int, every time.Duration, f func(i int, at time.Duration) []fstep) []fstep {
		var s []fstep
		for i := range n {
			s = append(s, f(i, time.Duration(i)*every)...)
		}
		return s
	}
	pam, failed, key := authwatch.KindPAM, authwatch.KindFailed, authwatch.KindFailedKey
	tests := []struct {
		name  string
		steps []fstep
	}{
		// pam_unix fails, SSSD succeeds: one PAM line and a login, ten times in 30 minutes.
		{"pam then sssd, ten logins in 30m", repeat(10, 3*time.Minute, func(i int, at time.Duration) []fstep {
			return login(at, 1000+i, 1, pam)
		})},
		// An agent offers two wrong keys and a third wrong one, then the right one.
		{"agent offering keys, ten connections", repeat(10, time.Minute, func(i int, at time.Duration) []fstep {
			return login(at, 2000+i, 0.6, key, key, key)
		})},
		{"twenty keyed logins in a minute", repeat(20, 3*time.Second, func(i int, at time.Duration) []fstep {
			return login(at, 2000+i, 0.6, key, key, key)
		})},
		{"brute force still bans on the tenth", append(repeat(9, 10*time.Second, func(i int, at time.Duration) []fstep {
			return []fstep{{at: at, pid: 3000 + i, kind: failed, want: Counted, score: float64(i + 1)}}
		}), fstep{at: 2 * time.Minute, pid: 3100, kind: failed, want: Banned, score: -1})},
		{"an echo pair takes back what it added, once", []fstep{
			{pid: 1, kind: failed, want: Counted, score: 1},
			{pid: 2, kind: pam, want: Counted, score: 2},
			{pid: 2, kind: failed, want: Counted, score: 2}, // the pair counts 1
			{pid: 2, accept: true, took: 1, score: 1},
		}},
		{"interleaved processes are not paired", []fstep{
			{pid: 1, kind: pam, want: Counted, score: 1},
			{pid: 2, kind: pam, want: Counted, score: 2},
			{pid: 1, kind: failed, want: Counted, score: 3}, // not pid 2's echo
			{pid: 1, accept: true, took: 2, score: 1},
			{pid: 2, kind: failed, want: Counted, score: 2}, // pid 2's last line was pam, but pid 1 came between
		}},
		{"a forgiven line pairs with nothing", []fstep{
			{pid: 1, kind: pam, want: Counted, score: 1},
			{pid: 1, accept: true, took: 1, score: 0},
			{pid: 1, kind: failed, want: Counted, score: 1},
		}},
		{"across parts of the window", []fstep{
			{pid: 1, kind: failed, want: Counted, score: 1},
			{at: 2 * time.Minute, pid: 2, kind: failed, want: Counted, score: 2},
			{at: 4 * time.Minute, pid: 1, kind: failed, want: Counted, score: 3},
			{at: 5 * time.Minute, pid: 1, accept: true, took: 2, score: 1},
			// pid 2's failure is still counted where it was, and leaves on time.
			{at: 31 * time.Minute, pid: 3, kind: failed, want: Counted, score: 2},
			{at: 34 * time.Minute, pid: 4, kind: failed, want: Counted, score: 2},
		}},
		{"what left the window is not taken back twice", []fstep{
			{pid: 1, kind: failed, want: Counted, score: 1},
			{at: 10 * time.Minute, pid: 1, kind: failed, want: Counted, score: 2},
			{at: 20 * time.Minute, pid: 2, kind: failed, want: Counted, score: 3},
			{at: 32 * time.Minute, pid: 1, accept: true, took: 1, score: 1}, // the first left the window
		}},
		{"a login from another address forgives nothing", []fstep{
			{pid: 1, kind: failed, want: Counted, score: 1},
			{pid: 1, addr: other, accept: true, took: 0, score: 1},
		}},
		{"a login of an untracked process forgives nothing", []fstep{
			{pid: 1, kind: failed, want: Counted, score: 1},
			{pid: 9, accept: true, took: 0, score: 1},
			{pid: 0, accept: true, took: 0, score: 1},
		}},
		{"a ban made meanwhile stays", append(append([]fstep{{pid: 1, kind: failed, want: Counted, score: 1}},
			repeat(9, time.Second, func(i int, at time.Duration) []fstep {
				v := Counted
				if i == 8 {
					v = Banned
				}
				return []fstep{{at: at, pid: 100 + i, kind: failed, want: v, score: -1}}
			})...),
			fstep{at: time.Minute, pid: 1, accept: true, took: 0, score: 0},
			fstep{at: time.Minute, pid: 200, kind: failed, want: AlreadyBanned, score: 0},
		)},
		{"only the latest processes are remembered", append(repeat(maxCredits+1, time.Second, func(i int, at time.Duration) []fstep {
			return []fstep{{at: at, pid: 10 + i, kind: failed, want: Counted, score: float64(i + 1)}}
		}), fstep{at: time.Minute, pid: 10, accept: true, took: 0, score: maxCredits + 1},
			fstep{at: time.Minute, pid: 11, accept: true, took: 1, score: maxCredits})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := NewEngine(Default())
			for i, s := range tt.steps {
				now := t0.Add(s.at)
				addr := netip.MustParseAddr(a)
				if s.addr != "" {
					addr = netip.MustParseAddr(s.addr)
				}
				if s.accept {
					if got := e.Forgive(s.pid, addr, now); got != s.took {
						t.Fatalf("step %d: Forgive(%d, %s) = %v, want %v", i, s.pid, addr, got, s.took)
					}
				} else if d := e.Observe(authwatch.Failure{Kind: s.kind, Addr: addr, PID: s.pid}, now); d.Verdict != s.want {
					t.Fatalf("step %d: Observe(%s pid %d) = %s (score %v), want %s", i, s.kind, s.pid, d.Verdict, d.Score, s.want)
				}
				if s.score >= 0 {
					if got := e.Score(netip.MustParseAddr(a), now); got != s.score {
						t.Fatalf("step %d: Score(%s) = %v, want %v", i, a, got, s.score)
					}
				}
			}
		})
	}
}
