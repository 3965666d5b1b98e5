package store

import (
	"errors"
	"time"
)

// MaxSeriesInstants bounds the instants of one SeriesQuery, so that a mistaken step cannot
// make a store answer millions of them.
const MaxSeriesInstants = 10000

// SeriesInstants are the instants q asks about: q.From, q.From+q.Step, … ≤ q.To. Stores use it
// to check a query the same way.
func SeriesInstants(q SeriesQuery) ([]time.Time, error) {
	if q.Step <= 0 || q.To.Before(q.From) {
		return nil, errors.New("series: needs a positive step and from ≤ to")
	}
	if n := q.To.Sub(q.From) / q.Step; n >= MaxSeriesInstants {
		return nil, errors.New("series: more than 10000 instants; use a longer step or a shorter range")
	}
	var out []time.Time
	for t := q.From; !t.After(q.To); t = t.Add(q.Step) {
		out = append(out, t)
	}
	return out, nil
}

// LowerASCII is s with the ASCII letters lower-cased, as SQLite's lower() and PostgreSQL's
// lower() under the "C" collation fold them: the stores' hostname search and sort.
func LowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// PrefixEnd is the least string greater than every string with the prefix p, in byte order,
// so that "starts with p" is the range p ≤ s < PrefixEnd(p); false when there is none (p is
// empty or all 0xff bytes).
func PrefixEnd(p string) (string, bool) {
	b := []byte(p)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1]), true
		}
	}
	return "", false
}
