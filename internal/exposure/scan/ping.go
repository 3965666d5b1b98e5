package scan

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"
)

// PingAnswer is the first answer of a scan's ping: the port that answered, how, and after how
// long (the round trip that seeds the per-port timeout).
type PingAnswer struct {
	Port   uint16        `json:"port"`
	State  State         `json:"state"`
	Reason string        `json:"reason"`
	RTT    time.Duration `json:"rtt_ns"`
}

// HostDownError is a scan's ping finding no sign of the host: no pinged port completed a
// connection or answered with a reset within the wait. The host is down, or its firewall drops
// (or rejects with ICMP) every pinged port; nmap says "Host seems down" then.
type HostDownError struct {
	Ports []uint16 // the pinged ports, sorted
	// Waited is how long the ping waited: the timeout cap, or less when every port had an
	// ICMP error before it.
	Waited time.Duration
	// Reasons counts the pinged ports by what they got instead of an answer (no-response,
	// host-unreach…).
	Reasons map[string]int
}

func (e *HostDownError) Error() string {
	var why []string
	for _, r := range slices.Sorted(func(yield func(string) bool) {
		for r := range e.Reasons {
			if !yield(r) {
				return
			}
		}
	}) {
		why = append(why, fmt.Sprintf("%d %s", e.Reasons[r], r))
	}
	return fmt.Sprintf("host seems down or drops everything: no answer from ports %s in %v (%s)",
		FormatPorts(e.Ports), e.Waited.Round(time.Millisecond), strings.Join(why, ", "))
}

// maxPing is the most ports PingPorts picks: a handful of connections at once, like nmap's
// connect ping (which tries 80 and 443).
const maxPing = 8

// PingPorts chooses the ports to ping before scanning spec: up to three of likely (ports the
// caller expects open, such as those of an --expect file), then 80, 443 and 22, then the first
// three other ports of spec, at most eight in all.
func PingPorts(spec, likely []uint16) []uint16 {
	var out []uint16
	add := func(ps []uint16, n int) {
		for _, p := range ps {
			if n == 0 || len(out) == maxPing {
				return
			}
			if p != 0 && !slices.Contains(out, p) {
				out = append(out, p)
				n--
			}
		}
	}
	add(likely, 3)
	add([]uint16{80, 443, 22}, 3)
	add(spec, 3)
	return out
}

// ping connects to every port of ports at once and waits for the first answer, an open or a
// closed port, or until every port has given up (after the timeout cap, or at an ICMP error).
// The answer's round trip seeds the estimate; no answer is a *HostDownError. The rest of the
// ping is abandoned at the first answer.
func (s *scanner) ping(ctx context.Context, ports []uint16) (*PingAnswer, error) {
	pctx, cancel := context.WithCancel(ctx)
	type reply struct {
		a   PingAnswer
		err error // a local failure
	}
	replies := make(chan reply, len(ports))
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait() // the dialers return soon after the cancel
	}()
	start := time.Now()
	for _, p := range ports {
		wg.Go(func() {
			to := netip.AddrPortFrom(s.addr, p)
			dctx, stop := context.WithTimeout(pctx, s.capped)
			defer stop()
			t0 := time.Now()
			err := s.o.Dial(dctx, to)
			rtt := time.Since(t0)
			if pctx.Err() != nil {
				replies <- reply{err: pctx.Err()}
				return
			}
			st, reason, lerr := classify(err, dctx.Err() != nil)
			if lerr != nil {
				replies <- reply{err: &LocalError{To: to, Err: lerr}}
				return
			}
			replies <- reply{a: PingAnswer{Port: p, State: st, Reason: reason, RTT: rtt}}
		})
	}
	reasons := map[string]int{}
	for range ports {
		r := <-replies
		switch {
		case r.err != nil:
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, r.err
		case r.a.State == Open || r.a.State == Closed:
			s.observe(r.a.RTT)
			return &r.a, nil
		}
		reasons[r.a.Reason]++
	}
	return nil, &HostDownError{Ports: slices.Sorted(slices.Values(ports)), Waited: time.Since(start), Reasons: reasons}
}
