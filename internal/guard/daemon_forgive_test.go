package guard

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/firewarden/firewarden/internal/authwatch"
	"github.com/firewarden/firewarden/internal/guard/follow"
)

// classifiedLine is what Classify makes of one line: the daemon's input after parsing.
type classifiedLine struct {
	f authwatch.Failure
	o authwatch.Outcome
}

// TestDaemonCorrelates feeds the daemon classified lines (the parser's outcomes built by hand)
// and checks what it bans: a process's failures are forgiven when it logs in, and a failure
// that names no address takes its process's.
func TestDaemonCorrelates(t *testing.T) {
	a := netip.MustParseAddr("198.51.100.7")
	line := func(pid int, k authwatch.Kind, o authwatch.Outcome) classifiedLine {
		f := authwatch.Failure{PID: pid, Kind: k, Addr: a, Service: "sshd"}
		if o == authwatch.Unaddressed {
			f.Addr = netip.Addr{}
		}
		return classifiedLine{f, o}
	}
	linked := func(pid int) classifiedLine { return line(pid, authwatch.KindNone, authwatch.Linked) }
	failure := func(pid int, k authwatch.Kind) classifiedLine { return line(pid, k, authwatch.Recognised) }
	accepted := func(pid int) classifiedLine { return line(pid, authwatch.KindNone, authwatch.Accepted) }
	unaddressed := func(pid int, k authwatch.Kind) classifiedLine { return line(pid, k, authwatch.Unaddressed) }
	asUser := func(l classifiedLine, u uint64) classifiedLine { l.f.User = u; return l }
	sessions := func(n int, f func(pid int) []classifiedLine) []classifiedLine {
		var ls []classifiedLine
		for i := range n {
			ls = append(ls, f(1000+i)...)
		}
		return ls
	}
	tests := []struct {
		name  string
		lines []classifiedLine
		every time.Duration // between lines
		bans  int
		stats Stats // the fields compared: Bans, Forgiven, Unaddressed
	}{
		{"pam_unix fails, sssd lets in: ten logins in 30m", sessions(10, func(pid int) []classifiedLine {
			return []classifiedLine{linked(pid), failure(pid, authwatch.KindPAM), accepted(pid)}
		}), time.Minute, 0, Stats{Forgiven: 10}},
		{"an agent offers three keys before the right one: ten connections", sessions(10, func(pid int) []classifiedLine {
			return []classifiedLine{failure(pid, authwatch.KindFailedKey), failure(pid, authwatch.KindFailedKey), failure(pid, authwatch.KindFailedKey), accepted(pid)}
		}), time.Second, 0, Stats{Forgiven: 10}},
		{"password typos then a login: ten connections", sessions(10, func(pid int) []classifiedLine {
			return []classifiedLine{failure(pid, authwatch.KindPAM), failure(pid, authwatch.KindFailed), accepted(pid)}
		}), time.Second, 0, Stats{Forgiven: 10}},
		{"brute force: ten failures ban", sessions(10, func(pid int) []classifiedLine {
			return []classifiedLine{failure(pid, authwatch.KindFailed)}
		}), time.Second, 1, Stats{Bans: 1}},
		{"the line that names no address counts for its process's", append(sessions(8, func(pid int) []classifiedLine {
			return []classifiedLine{failure(pid, authwatch.KindFailed)}
		}), failure(99, authwatch.KindFailed), unaddressed(99, authwatch.KindMaxAttempts)), time.Second, 1, Stats{Bans: 1}},
		{"a line that names no address counts once its process names one", append(sessions(8, func(pid int) []classifiedLine {
			return []classifiedLine{failure(pid, authwatch.KindFailed)}
		}), unaddressed(99, authwatch.KindMaxAttempts), linked(99)), time.Second, 1, Stats{Bans: 1, Unaddressed: 1}},
		{"a login as another user forgives nothing", sessions(10, func(pid int) []classifiedLine {
			return []classifiedLine{asUser(failure(pid, authwatch.KindFailed), 1), asUser(accepted(pid), 2)}
		}), time.Second, 1, Stats{Bans: 1}},
		{"a line that names no address, of a process not seen, counts for nobody", []classifiedLine{unaddressed(5, authwatch.KindMaxAttempts)},
			time.Second, 0, Stats{Unaddressed: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var log strings.Builder
			d := New(Options{Config: Default(), Log: &log, Now: func() time.Time { return t0 }})
			d.enabled = true
			now := t0
			d.mu.Lock()
			for _, l := range tt.lines {
				f := l.f
				f.Time = now
				d.classified(context.Background(), follow.Line{Source: "test", Read: now}, now, f, l.o)
				now = now.Add(tt.every)
			}
			d.mu.Unlock()
			got := d.Stats()
			if got.Bans != tt.bans || got.Forgiven != tt.stats.Forgiven || got.Unaddressed != tt.stats.Unaddressed {
				t.Errorf("after %d lines: %d bans, %d forgiven, %d unaddressed; want %d, %d, %d\n%s", len(tt.lines),
					got.Bans, got.Forgiven, got.Unaddressed, tt.bans, tt.stats.Forgiven, tt.stats.Unaddressed, log.String())
			}
		})
	}
}
