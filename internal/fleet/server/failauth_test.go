package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/firewarden/firewarden/internal/fleet/wire"
)

// from sends a request through the server's real handler as if from the TCP peer remote.
func (f *fixture) from(t *testing.T, remote, xff, method, path, token string, body any) int {
	t.Helper()
	var data []byte
	if body != nil {
		var err error
		if data, err = json.Marshal(body); err != nil {
			t.Fatal(err)
		}
	}
	req := httptest.NewRequest(method, path, bytes.NewReader(data))
	req.RemoteAddr = remote
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	f.srv.Handler().ServeHTTP(rec, req)
	return rec.Code
}

func TestFailedAuthLimitedPerAddress(t *testing.T) {
	const burst = 20
	type attempt struct {
		method, path string
		token        func(f *fixture) string
		body         func(f *fixture) any
	}
	bad := "fwh_" + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	attempts := map[string]attempt{
		"host credential": {"GET", wire.PathConfig, func(*fixture) string { return bad }, nil},
		"revoked host credential": {"GET", wire.PathConfig, func(f *fixture) string {
			e := f.enroll(t, "revoked-host")
			if code, _ := f.do(t, "POST", "/api/v1/hosts/"+e.HostID+"/revoke", f.admin, nil); code != http.StatusOK {
				t.Fatalf("revoke = %d", code)
			}
			return e.Credential
		}, nil},
		"admin token":   {"GET", "/api/v1/hosts", func(*fixture) string { return "fwa_nope" }, nil},
		"revoked token": {"GET", "/api/v1/hosts", func(f *fixture) string { return f.revokedToken }, nil},
		"enroll secret": {"POST", wire.PathEnroll, nil, func(*fixture) any {
			return wire.EnrollRequest{Secret: "fwe_guess", HostUUID: "u", Hostname: "h"}
		}},
		"revoked enroll secret": {"POST", wire.PathEnroll, nil, func(f *fixture) any {
			return wire.EnrollRequest{Secret: f.revokedSecret, HostUUID: "u", Hostname: "h"}
		}},
	}
	for name, a := range attempts {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, Options{FailRate: DefaultFailRate})
			good := f.enroll(t, "good-host").Credential
			var tok string
			if a.token != nil {
				tok = a.token(f)
			}
			var body any
			if a.body != nil {
				body = a.body(f)
			}
			const attacker, neighbour = "198.51.100.7:4242", "203.0.113.9:5151"
			for i := range burst {
				if code := f.from(t, attacker, "", a.method, a.path, tok, body); code != http.StatusUnauthorized {
					t.Fatalf("failure %d from the attacker = %d, want 401", i+1, code)
				}
			}
			if code := f.from(t, attacker, "", a.method, a.path, tok, body); code != http.StatusTooManyRequests {
				t.Errorf("failure %d from the attacker = %d, want 429", burst+1, code)
			}
			// An agent and an admin elsewhere are served; so are their credentials from the
			// attacker's address, once seen valid (agents behind the same NAT, or every agent
			// behind a layer-4 load balancer, share it).
			if code := f.from(t, neighbour, "", "GET", wire.PathConfig, good, nil); code != http.StatusOK {
				t.Errorf("valid agent from another address = %d, want 200", code)
			}
			if code := f.from(t, neighbour, "", "GET", "/api/v1/hosts", f.admin, nil); code != http.StatusOK {
				t.Errorf("admin from another address = %d, want 200", code)
			}
			if code := f.from(t, attacker, "", "GET", wire.PathConfig, good, nil); code != http.StatusOK {
				t.Errorf("valid credential from the attacker's address = %d, want 200", code)
			}
			if code := f.from(t, attacker, "", "GET", "/api/v1/hosts", f.admin, nil); code != http.StatusOK {
				t.Errorf("valid admin token from the attacker's address = %d, want 200", code)
			}
			// Refilled after 6 s per failure.
			f.clock.add(6 * time.Second)
			if code := f.from(t, attacker, "", a.method, a.path, tok, body); code != http.StatusUnauthorized {
				t.Errorf("after 6 s the attacker = %d, want 401 (one more try)", code)
			}
		})
	}
}

func TestSuccessesDoNotCountAgainstTheAddress(t *testing.T) {
	f := newFixture(t, Options{FailRate: DefaultFailRate, AgentRate: Rate{PerSecond: 1e9, Burst: 1e9}})
	cred := f.enroll(t, "busy-host").Credential
	for i := range 100 {
		if code := f.from(t, "192.0.2.1:1", "", "GET", wire.PathConfig, cred, nil); code != http.StatusOK {
			t.Fatalf("request %d = %d, want 200", i+1, code)
		}
	}
}

func TestIPv6FailuresShareTheSlash64(t *testing.T) {
	f := newFixture(t, Options{FailRate: Rate{PerSecond: 1e-9, Burst: 2}})
	for i, remote := range []string{"[2001:db8:1:2::1]:1", "[2001:db8:1:2::2]:1"} {
		if code := f.from(t, remote, "", "GET", "/api/v1/hosts", "fwa_x", nil); code != http.StatusUnauthorized {
			t.Fatalf("failure %d = %d, want 401", i+1, code)
		}
	}
	if code := f.from(t, "[2001:db8:1:2:ffff::3]:1", "", "GET", "/api/v1/hosts", "fwa_x", nil); code != http.StatusTooManyRequests {
		t.Errorf("same /64 = %d, want 429", code)
	}
	if code := f.from(t, "[2001:db8:1:3::1]:1", "", "GET", "/api/v1/hosts", "fwa_x", nil); code != http.StatusUnauthorized {
		t.Errorf("another /64 = %d, want 401", code)
	}
	if code := f.from(t, "[2001:db8:1:3::1]:1", "", "GET", "/api/v1/hosts", f.admin, nil); code != http.StatusOK {
		t.Errorf("valid token from another /64 = %d, want 200", code)
	}
	if code := f.from(t, "[2001:db8:1:2:ffff::3]:1", "", "GET", "/api/v1/hosts", f.admin, nil); code != http.StatusOK {
		t.Errorf("valid token, seen valid, from the blocked /64 = %d, want 200", code)
	}
}

func TestTrustedProxy(t *testing.T) {
	lb := netip.MustParsePrefix("10.0.0.0/24")
	one := Rate{PerSecond: 1e-9, Burst: 1}
	tests := []struct {
		name          string
		proxies       []netip.Prefix
		peer, xff     string
		thenPeer, xf2 string
		want          int // of a second failure, after one failure from the first: 429 when it counts as the same client
	}{
		// Without --trusted-proxy, X-Forwarded-For is the client's own claim: ignored, so an
		// attacker cannot dodge the limit by writing a new address in it every time.
		{"untrusted peer cannot pick its address", nil, "198.51.100.7:1", "192.0.2.1", "198.51.100.7:1", "192.0.2.2", http.StatusTooManyRequests},
		{"untrusted peer cannot blame another", nil, "198.51.100.7:1", "203.0.113.9", "203.0.113.9:1", "", http.StatusUnauthorized},
		// Behind the load balancer, clients are told apart by the header it appends.
		{"clients behind the proxy are apart", []netip.Prefix{lb}, "10.0.0.5:1", "192.0.2.1", "10.0.0.5:1", "192.0.2.2", http.StatusUnauthorized},
		{"same client behind the proxy", []netip.Prefix{lb}, "10.0.0.5:1", "192.0.2.1", "10.0.0.6:1", "192.0.2.1", http.StatusTooManyRequests},
		// The right-most untrusted hop counts; what the client wrote to its left is ignored.
		{"client-written hops ignored", []netip.Prefix{lb}, "10.0.0.5:1", "1.1.1.1, 192.0.2.1", "10.0.0.5:1", "2.2.2.2, 192.0.2.1", http.StatusTooManyRequests},
		{"chained trusted proxies skipped", []netip.Prefix{lb}, "10.0.0.5:1", "192.0.2.1, 10.0.0.9", "10.0.0.5:1", "192.0.2.1", http.StatusTooManyRequests},
		{"a peer outside the proxies is itself", []netip.Prefix{lb}, "198.51.100.7:1", "192.0.2.1", "198.51.100.7:1", "192.0.2.2", http.StatusTooManyRequests},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, Options{FailRate: one, TrustedProxies: tt.proxies})
			if code := f.from(t, tt.peer, tt.xff, "GET", "/api/v1/hosts", "fwa_wrong", nil); code != http.StatusUnauthorized {
				t.Fatalf("first failure = %d, want 401", code)
			}
			if code := f.from(t, tt.thenPeer, tt.xf2, "GET", "/api/v1/hosts", "fwa_wrong", nil); code != tt.want {
				t.Errorf("then peer %s X-Forwarded-For %q = %d, want %d", tt.thenPeer, tt.xf2, code, tt.want)
			}
		})
	}
}

func TestParseTrustedProxies(t *testing.T) {
	tests := []struct {
		in      string
		want    []netip.Prefix
		wantErr bool
	}{
		{"", nil, false},
		{"10.0.0.0/8", []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, false},
		{"10.1.2.3/8, 192.0.2.1,fd00::/8", []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.1/32"), netip.MustParsePrefix("fd00::/8")}, false},
		{"::ffff:10.0.0.1", []netip.Prefix{netip.MustParsePrefix("10.0.0.1/32")}, false},
		{"lb.example", nil, true},
		{"10.0.0.0/33", nil, true},
	}
	for _, tt := range tests {
		got, err := ParseTrustedProxies(tt.in)
		if (err != nil) != tt.wantErr || (err == nil && !equalPrefixes(got, tt.want)) {
			t.Errorf("ParseTrustedProxies(%q) = %v, %v, want %v (error %v)", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func equalPrefixes(a, b []netip.Prefix) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestFailTableBounded: an attacker with more addresses than the cap grows the table no
// further.
func TestFailTableBounded(t *testing.T) {
	l := newFailLimiter(Rate{PerSecond: 1e-9, Burst: 5}, 100)
	now := t0
	for i := range 1000 {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		l.failed(addrKey(a), now)
		now = now.Add(time.Millisecond)
	}
	if got := l.size(); got > 100 {
		t.Errorf("after failures from 1000 addresses the table holds %d, want at most 100", got)
	}
}
