package scan

import (
	"errors"
	"net/netip"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestScanPing: the ping's first answer times the round trip before the first try, so no try
// waits the cap; a host whose pinged ports all stay silent (or answer only with ICMP errors)
// is reported down after one wait instead of being scanned port by port. On the bubble's clock
// the durations are exact.
func TestScanPing(t *testing.T) {
	for _, c := range []struct {
		name string
		h    *fakeHost
		ping []uint16
		// took is the time the scan took; tries the connections made to the host.
		took  time.Duration
		tries int
		// down, when set, is the HostDownError wanted.
		down    *HostDownError
		answer  *PingAnswer
		timeout time.Duration
	}{
		{
			// Port 22, outside the scanned 1001-2000, answers in 1ms: the ping takes 1ms, then
			// 100 workers share the 1000 dropped ports at the 100ms floor (10 rounds), and the
			// retry of the 1000 takes 10 rounds more.
			name: "ssh answers", h: &fakeHost{rtt: time.Millisecond, open: set(22)}, ping: []uint16{80, 443, 22},
			took: time.Millisecond + 2*time.Second, tries: 3 + 2000,
			answer:  &PingAnswer{Port: 22, State: Open, Reason: ReasonSynAck, RTT: time.Millisecond},
			timeout: 100 * time.Millisecond,
		},
		{
			// Without the ping nothing in 1001-2000 answers: every round waits the 1s cap.
			name: "no ping", h: &fakeHost{rtt: time.Millisecond, open: set(22)},
			took: 20 * time.Second, tries: 2000, timeout: time.Second,
		},
		{
			// A closed port answers too: the host is up.
			name: "reset answers", h: &fakeHost{rtt: 2 * time.Millisecond, closed: set(80)}, ping: []uint16{80, 443, 22},
			took: 2*time.Millisecond + 2*time.Second, tries: 3 + 2000,
			answer:  &PingAnswer{Port: 80, State: Closed, Reason: ReasonConnRefused, RTT: 2 * time.Millisecond},
			timeout: 100 * time.Millisecond,
		},
		{
			name: "drops everything", h: &fakeHost{rtt: time.Millisecond}, ping: []uint16{80, 443, 22},
			took: time.Second, tries: 3,
			down: &HostDownError{Ports: []uint16{22, 80, 443}, Waited: time.Second, Reasons: map[string]int{ReasonNoResponse: 3}},
		},
		{
			// A router says the host is unreachable: down at once, no wait for the cap.
			name: "host unreachable", h: &fakeHost{rtt: 3 * time.Millisecond, unreach: set(22, 80, 443)}, ping: []uint16{80, 443, 22},
			took: 3 * time.Millisecond, tries: 3,
			down: &HostDownError{Ports: []uint16{22, 80, 443}, Waited: 3 * time.Millisecond, Reasons: map[string]int{ReasonHostUnreach: 3}},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c.h.t0 = time.Now()
				ports, _ := ParsePorts("1001-2000")
				start := time.Now()
				rep, err := Scan(t.Context(), netip.MustParseAddr("192.0.2.1"), ports,
					Options{Dial: c.h.dial, Concurrency: 100, Retries: 1, Ping: c.ping})
				if got := time.Since(start); got != c.took {
					t.Errorf("Scan took %v on the bubble's clock, want %v", got, c.took)
				}
				tries := 0
				for _, n := range c.h.tries {
					tries += n
				}
				if tries != c.tries {
					t.Errorf("Scan made %d connections, want %d", tries, c.tries)
				}
				if c.down != nil {
					var down *HostDownError
					if !errors.As(err, &down) {
						t.Fatalf("Scan = %v, %v, want a *HostDownError", rep, err)
					}
					if diff := cmp.Diff(c.down, down); diff != "" {
						t.Errorf("HostDownError (-want +got):\n%s", diff)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(c.answer, rep.Ping); diff != "" {
					t.Errorf("Report.Ping (-want +got):\n%s", diff)
				}
				if rep.Timeout != c.timeout {
					t.Errorf("Report.Timeout = %v, want %v", rep.Timeout, c.timeout)
				}
			})
		})
	}
}

// TestScanPingLocalError: a failure of this machine during the ping stops the scan as it does
// during the scan, rather than calling the host down.
func TestScanPingLocalError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &fakeHost{t0: time.Now(), local: syscall.EMFILE}
		_, err := Scan(t.Context(), netip.MustParseAddr("192.0.2.1"), []uint16{1, 2}, Options{Dial: h.dial, Ping: []uint16{80}})
		var le *LocalError
		if !errors.As(err, &le) {
			t.Fatalf("Scan with a ping out of files = %v, want a *LocalError", err)
		}
	})
}

func TestPingPorts(t *testing.T) {
	for _, c := range []struct {
		name         string
		spec, likely []uint16
		want         []uint16
	}{
		{"well known first", []uint16{1, 2, 3, 4, 5}, nil, []uint16{80, 443, 22, 1, 2, 3}},
		{"spec repeats them", []uint16{22, 80, 443, 8080}, nil, []uint16{80, 443, 22, 8080}},
		{"expected open first", []uint16{1, 2, 3}, []uint16{8443, 9000, 9001, 9002, 9003},
			[]uint16{8443, 9000, 9001, 80, 443, 22, 1, 2}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if diff := cmp.Diff(c.want, PingPorts(c.spec, c.likely)); diff != "" {
				t.Errorf("PingPorts(%v, %v) (-want +got):\n%s", c.spec, c.likely, diff)
			}
		})
	}
}
