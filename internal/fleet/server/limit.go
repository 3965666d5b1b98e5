package server

import (
	"sync"
	"time"
)

// Rate is a token bucket's refill rate (tokens per second) and its capacity.
type Rate struct {
	PerSecond float64
	Burst     float64
}

// limiter is one token bucket per credential. A credential that sends more than its rate gets
// 429 and costs the store nothing.
type limiter struct {
	rate    Rate
	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// maxBuckets bounds the map; past it, buckets that have refilled completely (idle callers, which
// a fresh bucket would treat the same) are dropped.
const maxBuckets = 200_000

func newLimiter(r Rate) *limiter { return &limiter{rate: r, buckets: map[string]*bucket{}} }

// allow takes one token from key's bucket at now, or reports that there is none.
func (l *limiter) allow(key string, now time.Time) bool {
	if l == nil || l.rate.PerSecond <= 0 {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= maxBuckets {
			l.sweep(now)
		}
		b = &bucket{tokens: l.rate.Burst, last: now}
		l.buckets[key] = b
	}
	b.tokens = min(l.rate.Burst, b.tokens+now.Sub(b.last).Seconds()*l.rate.PerSecond)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

func (l *limiter) sweep(now time.Time) {
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*l.rate.PerSecond >= l.rate.Burst {
			delete(l.buckets, k)
		}
	}
}
