package guard

import (
	"bytes"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/firewarden/firewarden/internal/authwatch"
)

// replayLines are lines of the shapes Replay meets, for its table and its fuzz seeds.
var replayLines = []string{
	"2026-03-01T09:00:00+00:00 h sshd[2100]: Connection from 198.51.100.20 port 50000 on 192.0.2.1 port 22 rdomain \"\"",
	"2026-03-01T09:00:01+00:00 h sshd[2100]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=198.51.100.20  user=alice",
	"2026-03-01T09:00:02+00:00 h sshd[2100]: Accepted password for alice from 198.51.100.20 port 50000 ssh2",
	"2026-03-01T09:00:30+00:00 h sshd[3100]: Failed publickey for deploy from 198.51.100.30 port 40000 ssh2: ED25519 SHA256:k0Xq3PzUu0jF1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6",
	"2026-03-01T09:00:34+00:00 h sshd[3100]: Accepted publickey for deploy from 198.51.100.30 port 40000 ssh2: ED25519 SHA256:rightKeyQ3PzUu0jF1b2c3d4e5f6g7h8i9j0k1l2m3n",
	"2026-03-01T09:01:00+00:00 h sshd[4100]: Failed password for root from 203.0.113.50 port 60000 ssh2",
	"2026-03-01T09:31:00+00:00 h sshd[5200]: Disconnecting: Too many authentication failures for root [preauth]",
	"2026-03-01T09:31:00+00:00 h CRON[5400]: pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)",
	"sshd[77]: Failed password for root from 203.0.113.51 port 1 ssh2", // no time: the latest one's
}

func TestReplay(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	r := NewReplay(Default(), now)
	var got []string
	for _, l := range replayLines {
		res := r.Line([]byte(l))
		got = append(got, fmt.Sprintf("%d %s %s %s %v %s %v %v", res.Number, res.Outcome, res.Failure.Kind, res.Failure.Addr, res.Weight,
			res.Decision.Verdict, res.Forgave, res.Time.Format(time.RFC3339)))
	}
	want := []string{
		"1 linked none 198.51.100.20 0 verdict(0) 0 2026-03-01T09:00:00Z",
		"2 recognised pam 198.51.100.20 1 counted 0 2026-03-01T09:00:01Z",
		"3 accepted none 198.51.100.20 0 verdict(0) 1 2026-03-01T09:00:02Z",
		"4 recognised failed-key 198.51.100.30 0.2 counted 0 2026-03-01T09:00:30Z",
		"5 accepted none 198.51.100.30 0 verdict(0) 0.2 2026-03-01T09:00:34Z",
		"6 recognised failed 203.0.113.50 1 counted 0 2026-03-01T09:01:00Z",
		"7 unaddressed max-attempts invalid IP 0 verdict(0) 0 2026-03-01T09:31:00Z",
		"8 ignored none invalid IP 0 verdict(0) 0 2026-03-01T09:31:00Z",
		"9 recognised failed 203.0.113.51 1 counted 0 2026-03-01T09:31:00Z",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Replay.Line results (-want +got):\n%s", diff)
	}
	s := r.Summary()
	if s.Lines != 9 || s.Recognised != 4 || s.Accepted != 2 || s.Forgiving != 2 || s.Forgave != 1.2 || s.Unaddressed != 1 || s.Linked != 1 || s.Ignored != 1 {
		t.Errorf("Summary() = %+v", s)
	}
	if got := r.Engine().Score(netip.MustParseAddr("198.51.100.20"), now); got != 0 {
		t.Errorf("score of the forgiven address = %v, want 0", got)
	}
}

// TestReplayBansEndOnTheLinesTime: a ban ends by the lines' timestamps, and the address is
// counted again after it.
func TestReplayBansEndOnTheLinesTime(t *testing.T) {
	cfg := Default()
	cfg.Failures = 2
	r := NewReplay(cfg, t0)
	line := func(at time.Duration) LineResult {
		return r.Line([]byte(t0.Add(at).Format(time.RFC3339) + " h sshd[1]: Failed password for root from 203.0.113.9 port 1 ssh2"))
	}
	for i, s := range []struct {
		at   time.Duration
		want Verdict
	}{{0, Counted}, {time.Second, Banned}, {14 * time.Minute, AlreadyBanned}, {16 * time.Minute, Counted}, {17 * time.Minute, Banned}} {
		if got := line(s.at).Decision.Verdict; got != s.want {
			t.Fatalf("step %d (+%v): %s, want %s", i, s.at, got, s.want)
		}
	}
	if b := r.Summary().Bans; len(b) != 1 || b[0].Bans != 2 || b[0].Line != 2 {
		t.Errorf("Bans = %+v, want 203.0.113.9 banned twice, first at line 2", b)
	}
}

// FuzzReplay: no panic on any log, and every line is counted under exactly one outcome.
func FuzzReplay(f *testing.F) {
	for _, l := range replayLines {
		f.Add([]byte(l + "\n" + l))
	}
	f.Fuzz(func(t *testing.T, log []byte) {
		r := NewReplay(Default(), t0)
		n := 0
		for l := range bytes.SplitSeq(log, []byte("\n")) {
			res := r.Line(l)
			n++
			if res.Outcome == authwatch.Recognised && !res.Failure.Addr.IsValid() {
				t.Fatalf("line %q recognised without an address", l)
			}
		}
		s := r.Summary()
		if sum := s.Recognised + s.Refused + s.Unaddressed + s.Accepted + s.Linked + s.Ignored; s.Lines != n || sum != n {
			t.Fatalf("%d lines: summary counts %d lines, %d outcomes", n, s.Lines, sum)
		}
	})
}
