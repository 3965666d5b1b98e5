package server

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// Failed authentication is limited per client address, on top of the per-credential limits:
// those bound what a valid credential may do, this bounds what an address may try. Each failed
// host credential, API token or enroll secret takes a token from the address's bucket. Once the
// bucket is empty, a request from the address is looked up in the store only if its credential
// (or enroll secret) is one this process has seen valid recently (recent.go); any other is
// answered 429 before the lookup. So a blocked address costs the server a hash and a map lookup
// per guess, not a query, while valid credentials keep working from it: agents behind the same
// NAT as an attacker, or every agent behind a layer-4 load balancer (which all share its
// address), are not locked out. A credential the lookup then refuses (revoked, rotated away) is
// answered with its real reason, so its agent learns it, and is forgotten.
//
// The numbers: a burst of 20 failures, refilled at 10 a minute. A person mistyping a token, or a
// handful of agents whose credentials were revoked retrying with back-off behind one NAT, stay
// well inside it. What is bounded, per address: the secrets it can have checked, each a store
// lookup, to 20 at once and then one every 6 s (14,400 a day; hopeless against 256-bit secrets
// anyway); every other guess is refused for the price of a hash and a map lookup. Not bounded:
// the lookups of recently valid credentials, which are served as from anywhere. What it costs:
// a valid secret this process has not seen valid within the last week (recentTTL: an agent
// enrolled through another replica or before this process started, a token never used yet) is
// refused 429 from a blocked address until the bucket refills enough for one lookup, after which
// it is known; the agent's retries with back-off get there. Each replica keeps its own set.
// Credentials the server hands out (enrolment, rotation) are known from the start.
var DefaultFailRate = Rate{PerSecond: 10.0 / 60, Burst: 20}

// maxFailAddrs caps the table of addresses with recent failures: 65,536 entries of about 100
// bytes each, under 10 MB. Past it, entries whose bucket has refilled are swept (at most once a
// second), and if the table is still full one entry is evicted at random: memory stays bounded
// and an attacker who controls more addresses than the cap can at worst reset his own buckets.
const maxFailAddrs = 65_536

// failLimiter holds one token bucket per client address key (see addrKey).
type failLimiter struct {
	rate      Rate
	max       int
	mu        sync.Mutex
	buckets   map[netip.Prefix]*bucket
	lastSweep time.Time
}

func newFailLimiter(r Rate, max int) *failLimiter {
	return &failLimiter{rate: r, max: max, buckets: map[netip.Prefix]*bucket{}}
}

// blocked reports whether key has no failure left at now. It takes nothing.
func (l *failLimiter) blocked(key netip.Prefix, now time.Time) bool {
	if l == nil || l.rate.PerSecond <= 0 || !key.IsValid() {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil {
		return false
	}
	return l.level(b, now) < 1
}

// failed takes one token from key's bucket at now.
func (l *failLimiter) failed(key netip.Prefix, now time.Time) {
	if l == nil || l.rate.PerSecond <= 0 || !key.IsValid() {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= l.max {
			l.makeRoom(now)
		}
		b = &bucket{tokens: l.rate.Burst, last: now}
		l.buckets[key] = b
	}
	b.tokens = max(0, l.level(b, now)-1)
	b.last = now
}

func (l *failLimiter) level(b *bucket, now time.Time) float64 {
	return min(l.rate.Burst, b.tokens+now.Sub(b.last).Seconds()*l.rate.PerSecond)
}

func (l *failLimiter) makeRoom(now time.Time) {
	if now.Sub(l.lastSweep) >= time.Second {
		l.lastSweep = now
		for k, b := range l.buckets {
			if l.level(b, now) >= l.rate.Burst {
				delete(l.buckets, k)
			}
		}
	}
	for k := range l.buckets { // map order is random
		if len(l.buckets) < l.max {
			break
		}
		delete(l.buckets, k)
	}
}

func (l *failLimiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// addrKey is the bucket key of a client address: the address itself for IPv4, its /64 for IPv6,
// because one subscriber usually holds a whole /64 and could otherwise try from 2^64 addresses.
func addrKey(a netip.Addr) netip.Prefix {
	a = a.Unmap()
	if !a.IsValid() {
		return netip.Prefix{}
	}
	if a.Is4() {
		return netip.PrefixFrom(a, 32)
	}
	p, _ := a.Prefix(64)
	return p
}

// ParseTrustedProxies parses --trusted-proxy: CIDR prefixes or single addresses, separated by
// commas.
func ParseTrustedProxies(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, usagef("--trusted-proxy %q: want CIDR prefixes or addresses separated by commas, e.g. 10.0.0.0/8,fd00::/8", f)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

func trusted(proxies []netip.Prefix, a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range proxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientAddr is the address a request came from: the TCP peer, unless the peer is a trusted
// proxy, in which case it is the right-most address of X-Forwarded-For that is not itself a
// trusted proxy (the addresses left of it were written by the client and prove nothing). The
// header is never read when the peer is not trusted: anyone can send it.
func clientAddr(r *http.Request, proxies []netip.Prefix) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	peer = peer.Unmap()
	if len(proxies) == 0 || !trusted(proxies, peer) {
		return peer
	}
	client := peer
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break // a hop we cannot read: stop at the last address we could
		}
		client = a.Unmap()
		if !trusted(proxies, client) {
			break
		}
	}
	return client
}

// beforeLookup is called before a secret's store lookup. It reports whether set knows hash as
// recently valid and, when it does not and r's address has used up its failures, answers 429
// without the lookup (done).
func (s *Server) beforeLookup(w http.ResponseWriter, r *http.Request, set *recentSet, hash []byte) (known, done bool) {
	now := s.now()
	if set.has(hash, now) {
		return true, false
	}
	if s.failLim.blocked(addrKey(clientAddr(r, s.proxies)), now) {
		s.limited(w)
		return false, true
	}
	return false, false
}

// authFailed counts a failed authentication against r's address and reports whether the address
// had already used up its failures, in which case it has answered 429 and the caller writes
// nothing more. known says the secret was recently valid (beforeLookup): its holder is told the
// real reason (revoked, unknown) whatever its address did, so that an agent stops retrying.
func (s *Server) authFailed(w http.ResponseWriter, r *http.Request, known bool) bool {
	s.metrics.authFailures.Add(1)
	key, now := addrKey(clientAddr(r, s.proxies)), s.now()
	if !known && s.failLim.blocked(key, now) {
		s.limited(w)
		return true
	}
	s.failLim.failed(key, now)
	return false
}

func (s *Server) limited(w http.ResponseWriter) {
	s.metrics.authLimited.Add(1)
	w.Header().Set("Retry-After", "6")
	writeError(w, http.StatusTooManyRequests, "too many failed authentications from this address; wait a minute, and check the credential, token or secret")
}
