package server

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// metrics are the server's Prometheus counters, written in the text exposition format with the
// standard library: a dozen series do not need a client library.
type metrics struct {
	mu       sync.Mutex
	requests map[[2]string]uint64 // (route, code) → count
	durSum   map[string]float64   // route → seconds
	durCount map[string]uint64

	stored, duplicates, transitions atomic.Uint64
	nudgesSent, rateLimited         atomic.Uint64
	enrolled                        atomic.Uint64
	authFailures, authLimited       atomic.Uint64
	rotated                         atomic.Uint64
}

func newMetrics() *metrics {
	return &metrics{requests: map[[2]string]uint64{}, durSum: map[string]float64{}, durCount: map[string]uint64{}}
}

func (m *metrics) observe(route string, code int, d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests[[2]string{route, strconv.Itoa(code)}]++
	m.durSum[route] += d.Seconds()
	m.durCount[route]++
}

func (m *metrics) write(w io.Writer, streams int) {
	m.mu.Lock()
	keys := make([][2]string, 0, len(m.requests))
	for k := range m.requests {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i][0] != keys[j][0] {
			return keys[i][0] < keys[j][0]
		}
		return keys[i][1] < keys[j][1]
	})
	fmt.Fprintln(w, "# HELP firewarden_server_http_requests_total HTTP requests by route and status code.")
	fmt.Fprintln(w, "# TYPE firewarden_server_http_requests_total counter")
	for _, k := range keys {
		fmt.Fprintf(w, "firewarden_server_http_requests_total{route=%q,code=%q} %d\n", k[0], k[1], m.requests[k])
	}
	routes := make([]string, 0, len(m.durCount))
	for r := range m.durCount {
		routes = append(routes, r)
	}
	sort.Strings(routes)
	fmt.Fprintln(w, "# HELP firewarden_server_http_request_duration_seconds Time spent answering requests, by route.")
	fmt.Fprintln(w, "# TYPE firewarden_server_http_request_duration_seconds summary")
	for _, r := range routes {
		fmt.Fprintf(w, "firewarden_server_http_request_duration_seconds_sum{route=%q} %g\n", r, m.durSum[r])
		fmt.Fprintf(w, "firewarden_server_http_request_duration_seconds_count{route=%q} %d\n", r, m.durCount[r])
	}
	m.mu.Unlock()

	counter := func(name, help string, v uint64) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n%s %d\n", name, help, name, name, v)
	}
	counter("firewarden_server_records_stored_total", "Agent records stored.", m.stored.Load())
	counter("firewarden_server_records_duplicate_total", "Agent records received again and stored once.", m.duplicates.Load())
	counter("firewarden_server_transitions_total", "Check status transitions recorded.", m.transitions.Load())
	counter("firewarden_server_enrollments_total", "Hosts enrolled or re-enrolled.", m.enrolled.Load())
	counter("firewarden_server_nudges_delivered_total", "Nudges handed to connected agents' streams.", m.nudgesSent.Load())
	counter("firewarden_server_rate_limited_total", "Requests refused with 429.", m.rateLimited.Load())
	counter("firewarden_server_auth_failures_total", "Requests with an unknown or revoked credential, token or enroll secret, and failed dashboard logins.", m.authFailures.Load())
	counter("firewarden_server_auth_limited_total", "Requests (dashboard logins included) refused with 429 because their address failed to authenticate too often.", m.authLimited.Load())
	counter("firewarden_server_credentials_rotated_total", "Host credentials rotated by their agents.", m.rotated.Load())
	fmt.Fprintf(w, "# HELP firewarden_server_nudge_streams Agents connected for nudges to this process.\n# TYPE firewarden_server_nudge_streams gauge\nfirewarden_server_nudge_streams %d\n", streams)
}
