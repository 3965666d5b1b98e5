package scan

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"time"
)

// State is what a scan found of a port.
type State uint8

// The states of a port, as nmap names them.
const (
	// Open: the connection completed (the host answered SYN-ACK).
	Open State = iota + 1
	// Closed: the host answered with a reset (connect fails with ECONNREFUSED).
	Closed
	// Filtered: no answer before the timeout, on every try, or an ICMP unreachable.
	Filtered
)

func (s State) String() string {
	switch s {
	case Open:
		return "open"
	case Closed:
		return "closed"
	case Filtered:
		return "filtered"
	}
	return fmt.Sprintf("State(%d)", s)
}

// MarshalText writes the state's name, for JSON.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a state's name.
func (s *State) UnmarshalText(b []byte) error {
	for _, st := range []State{Open, Closed, Filtered} {
		if string(b) == st.String() {
			*s = st
			return nil
		}
	}
	return fmt.Errorf("unknown port state %q: open, closed or filtered", b)
}

// The reasons a port got its state, in nmap's words (its XML's reason attribute).
const (
	ReasonSynAck          = "syn-ack"
	ReasonConnRefused     = "conn-refused"
	ReasonNoResponse      = "no-response"
	ReasonHostUnreach     = "host-unreach"
	ReasonNetUnreach      = "net-unreach"
	ReasonAdminProhibited = "admin-prohibited"
)

// Result is the state of one port.
type Result struct {
	Port   uint16 `json:"port"`
	State  State  `json:"state"`
	Reason string `json:"reason"`
	// Tries is how many connections were attempted: 2 for a port that gave no answer to a
	// first try and was retried.
	Tries int `json:"tries"`
}

// Dialer connects to to and closes the connection at once. It returns nil when the connection
// completed, and otherwise an error that wraps the system's errno (ECONNREFUSED,
// EHOSTUNREACH…). It must return soon after ctx is done.
type Dialer func(ctx context.Context, to netip.AddrPort) error

// NetDialer is the Dialer of the operating system's TCP connect.
func NetDialer(ctx context.Context, to netip.AddrPort) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", to.String())
	if err != nil {
		return err
	}
	return c.Close()
}

// Defaults of Options.
const (
	DefaultTimeout     = time.Second
	DefaultMinTimeout  = 100 * time.Millisecond
	DefaultConcurrency = 1024
	// rttMultiple times the smoothed round-trip time is the per-port timeout (within the
	// floor and the cap): an answer that takes eight times the usual is taken as none.
	rttMultiple = 8
)

// Options say how to scan. The zero value scans with the defaults and no retry.
type Options struct {
	// Dial connects; nil is NetDialer.
	Dial Dialer
	// Timeout is the longest a try waits for an answer: the per-port timeout before any
	// round-trip time is measured, and its cap after. 0 is DefaultTimeout.
	Timeout time.Duration
	// MinTimeout is the floor of the adapted timeout. 0 is DefaultMinTimeout; it is lowered to
	// Timeout when larger.
	MinTimeout time.Duration
	// Concurrency is how many connections are in flight at most. 0 is DefaultConcurrency.
	Concurrency int
	// Rate is the most connections started per second; 0 is no limit.
	Rate float64
	// Retries is how many more times a port that gave no answer at all is tried (like nmap's
	// --max-retries). An ICMP unreachable is an answer and is not retried.
	Retries int
	// Ping, when not empty, are ports connected to all at once before the scan (PingPorts
	// chooses them), as nmap's connect "ping" of a host before scanning it: the first answer,
	// open or closed, times a round trip, so that no try of the scan waits the cap for want of
	// one; when no port answers within Timeout, Scan returns a *HostDownError rather than
	// spend the cap on every slot of a host that is down or drops everything. Empty: no ping
	// (nmap's -Pn). The ping's few connections are outside Concurrency and Rate.
	Ping []uint16
	// Progress, when set, is called after each try with how far the scan is. Calls are
	// serialised and must return quickly: the scan's workers wait for them.
	Progress func(Progress)
}

// Progress is how far a scan is.
type Progress struct {
	// Pass is 0 for the first try of every port, then 1… for the retries of the ports that
	// gave no answer.
	Pass int
	// Done and Total are the tries made and to make in this pass.
	Done, Total int
	// Open is how many open ports were found so far.
	Open int
}

// Report is the outcome of a scan.
type Report struct {
	Addr    netip.Addr `json:"addr"`
	Results []Result   `json:"results"` // by port
	Start   time.Time  `json:"start"`
	End     time.Time  `json:"end"`
	// RTT is the smoothed round-trip time measured from the answers (0 when none came), and
	// Timeout the per-port timeout it gave at the end.
	RTT     time.Duration `json:"rtt_ns"`
	Timeout time.Duration `json:"timeout_ns"`
	Tries   int           `json:"tries"`
	// Ping is the ping's first answer (nil without a ping).
	Ping *PingAnswer `json:"ping,omitempty"`
}

// Count is how many ports are in state s.
func (r *Report) Count(s State) int {
	n := 0
	for _, res := range r.Results {
		if res.State == s {
			n++
		}
	}
	return n
}

// Ports lists the ports in state s.
func (r *Report) Ports(s State) []uint16 {
	var out []uint16
	for _, res := range r.Results {
		if res.State == s {
			out = append(out, res.Port)
		}
	}
	return out
}

// LocalError is a failure of this machine rather than an answer of the target (no file
// descriptors left, no local port free, no route…): the scan stops with it rather than
// calling the port filtered.
type LocalError struct {
	To  netip.AddrPort
	Err error
}

func (e *LocalError) Error() string { return fmt.Sprintf("connect to %v: %v", e.To, e.Err) }
func (e *LocalError) Unwrap() error { return e.Err }

// Scan connects to each port of addr and reports its state. ports must be sorted and unique
// (as ParsePorts gives them). It returns early with ctx's error, with a *LocalError, or, when
// Options.Ping finds no sign of the host, with a *HostDownError.
func Scan(ctx context.Context, addr netip.Addr, ports []uint16, o Options) (*Report, error) {
	if !addr.IsValid() {
		return nil, errors.New("scan: no address")
	}
	s := newScanner(addr.Unmap(), o)
	rep := &Report{Addr: s.addr, Start: time.Now()}
	if len(o.Ping) > 0 {
		a, err := s.ping(ctx, o.Ping)
		if err != nil {
			return nil, err
		}
		rep.Ping = a
	}
	results := make([]Result, len(ports))
	for i, p := range ports {
		results[i] = Result{Port: p}
	}
	todo := make([]int, len(ports))
	for i := range todo {
		todo[i] = i
	}
	for try := 0; try <= s.o.Retries && len(todo) > 0; try++ {
		s.mu.Lock()
		s.prog = Progress{Pass: try, Total: len(todo), Open: s.prog.Open}
		s.mu.Unlock()
		if err := s.pass(ctx, results, todo); err != nil {
			return nil, err
		}
		var again []int
		for _, i := range todo {
			if results[i].Reason == ReasonNoResponse {
				again = append(again, i)
			}
		}
		todo = again
	}
	rep.Results = results
	rep.End = time.Now()
	rep.RTT, rep.Timeout = s.srtt, s.timeout()
	rep.Tries = s.done
	return rep, nil
}

// scanner holds a scan's shared state: the round-trip estimate and the progress count.
type scanner struct {
	addr netip.Addr
	o    Options

	mu            sync.Mutex
	srtt, rttvar  time.Duration
	samples       int
	done          int       // tries, in every pass
	prog          Progress  // this pass's
	nextStart     time.Time // when the rate limit lets the next connection start
	rateInterval  time.Duration
	floor, capped time.Duration
}

func newScanner(addr netip.Addr, o Options) *scanner {
	if o.Dial == nil {
		o.Dial = NetDialer
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MinTimeout <= 0 {
		o.MinTimeout = DefaultMinTimeout
	}
	o.MinTimeout = min(o.MinTimeout, o.Timeout)
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	o.Retries = max(o.Retries, 0)
	s := &scanner{addr: addr, o: o, floor: o.MinTimeout, capped: o.Timeout}
	if o.Rate > 0 {
		s.rateInterval = time.Duration(float64(time.Second) / o.Rate)
	}
	return s
}

// observe adds a measured round-trip time, with TCP's smoothing (RFC 6298: gains 1/8 and 1/4).
func (s *scanner) observe(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.samples == 0 {
		s.srtt, s.rttvar = d, d/2
	} else {
		delta := d - s.srtt
		s.srtt += delta / 8
		s.rttvar += (max(delta, -delta) - s.rttvar) / 4
	}
	s.samples++
}

// timeout is the per-port timeout now: the cap until an answer has been timed, then
// rttMultiple round trips (or RFC 6298's srtt+4·rttvar when the times vary more), within the
// floor and the cap. Callers hold s.mu or own s.
func (s *scanner) timeout() time.Duration {
	if s.samples == 0 {
		return s.capped
	}
	t := max(rttMultiple*s.srtt, s.srtt+4*s.rttvar)
	return min(max(t, s.floor), s.capped)
}

func (s *scanner) currentTimeout() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.timeout()
}

// pass tries the ports results[todo[…]] once each, with at most Concurrency in flight.
func (s *scanner) pass(ctx context.Context, results []Result, todo []int) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan int)
	errc := make(chan error, 1)
	var wg sync.WaitGroup
	for range min(s.o.Concurrency, len(todo)) {
		wg.Go(func() {
			for i := range jobs {
				st, reason, err := s.try(ctx, results[i].Port)
				if err != nil {
					select {
					case errc <- err:
					default:
					}
					cancel()
					continue
				}
				results[i].State, results[i].Reason = st, reason
				results[i].Tries++
				s.progress(st)
			}
		})
	}
	err := s.feed(ctx, jobs, todo)
	close(jobs)
	wg.Wait()
	select {
	case e := <-errc:
		return e
	default:
	}
	if err != nil {
		return err
	}
	return ctx.Err()
}

// feed hands out the jobs, no faster than the rate limit.
func (s *scanner) feed(ctx context.Context, jobs chan<- int, todo []int) error {
	var t *time.Timer
	for _, i := range todo {
		if s.rateInterval > 0 {
			now := time.Now()
			if wait := s.nextStart.Sub(now); wait > 0 {
				if t == nil {
					t = time.NewTimer(wait)
				} else {
					t.Reset(wait)
				}
				select {
				case <-t.C:
				case <-ctx.Done():
					return ctx.Err()
				}
				now = s.nextStart
			}
			s.nextStart = now.Add(s.rateInterval)
		}
		select {
		case jobs <- i:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (s *scanner) progress(st State) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.done++
	s.prog.Done++
	if st == Open {
		s.prog.Open++
	}
	if s.o.Progress != nil {
		s.o.Progress(s.prog)
	}
}

// try connects to one port. The try's deadline follows the timeout as it adapts: a try
// started before any answer was timed waits the cap only until the first answers show the
// round trip is far shorter, so a host that drops everything costs the full cap once per
// in-flight slot, not once per port.
func (s *scanner) try(ctx context.Context, port uint16) (State, string, error) {
	to := netip.AddrPortFrom(s.addr, port)
	dctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- s.o.Dial(dctx, to) }()
	var timer *time.Timer
	timedOut := false
	var err error
wait:
	for {
		left := time.Until(start.Add(s.currentTimeout()))
		if left <= 0 {
			timedOut = true
			cancel()
			err = <-done
			break
		}
		// Look again after at most the floor: the timeout may shrink meanwhile.
		if d := min(left, s.floor); timer == nil {
			timer = time.NewTimer(d)
			defer timer.Stop()
		} else {
			timer.Reset(d)
		}
		select {
		case err = <-done:
			break wait
		case <-timer.C:
		}
	}
	elapsed := time.Since(start)
	if ctx.Err() != nil {
		return 0, "", ctx.Err()
	}
	st, reason, lerr := classify(err, timedOut)
	if lerr != nil {
		return 0, "", &LocalError{To: to, Err: lerr}
	}
	if !timedOut && (st == Open || st == Closed) {
		s.observe(elapsed)
	}
	return st, reason, nil
}

// classify turns a Dialer's result into a state. A try cut off by its own deadline is
// filtered unless the connection completed first.
func classify(err error, timedOut bool) (State, string, error) {
	switch {
	case err == nil:
		return Open, ReasonSynAck, nil
	case errors.Is(err, syscall.ECONNREFUSED):
		return Closed, ReasonConnRefused, nil
	case errors.Is(err, syscall.EHOSTUNREACH):
		return Filtered, ReasonHostUnreach, nil
	case errors.Is(err, syscall.ENETUNREACH):
		return Filtered, ReasonNetUnreach, nil
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		// An ICMP administratively-prohibited, or a firewall on this very host refusing the
		// packet: either way a filter is in the way.
		return Filtered, ReasonAdminProhibited, nil
	case timedOut && errors.Is(err, context.Canceled),
		errors.Is(err, syscall.ETIMEDOUT), errors.Is(err, os.ErrDeadlineExceeded),
		errors.Is(err, context.DeadlineExceeded):
		return Filtered, ReasonNoResponse, nil
	}
	return 0, "", err
}
