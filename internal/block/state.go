package block

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"time"
)

// Defaults for Policy.
const (
	DefaultBanTime = 15 * time.Minute   // afctl: "blocks the offending IP address for 15 minutes"
	DefaultMaxTime = 7 * 24 * time.Hour // fail2ban's recidive jail bans for 1w
	DefaultMaxBans = 100000             // half of pf's 200 000 table entries (all tables together)
	// OffenderMemory is how long a prefix's ban count is remembered after its last ban, so that
	// the doubling of repeat offenders starts over for an address that behaved for a week.
	OffenderMemory = 7 * 24 * time.Hour
	// ActivityKept is how many recent events the state keeps for `block summary`.
	ActivityKept = 200
)

// Policy is how long bans last and how many there may be.
type Policy struct {
	BanTime time.Duration // first ban of a prefix when the request names no TTL; DefaultBanTime when zero
	MaxTime time.Duration // cap on a repeat offender's doubled ban; DefaultMaxTime when zero
	MaxBans int           // cap on active bans; DefaultMaxBans when zero
}

func (p Policy) withDefaults() Policy {
	if p.BanTime <= 0 {
		p.BanTime = DefaultBanTime
	}
	if p.MaxTime <= 0 {
		p.MaxTime = DefaultMaxTime
	}
	if p.MaxBans <= 0 {
		p.MaxBans = DefaultMaxBans
	}
	return p
}

// Duration is the ban for a prefix banned prev times before (within OffenderMemory) when the request
// names no TTL. It follows fail2ban's bantime.increment formula
// ban.Time * (1<<(ban.Count if ban.Count<20 else 20)) with factor 1, so the ban doubles with each
// previous ban, and is capped at MaxTime (fail2ban's bantime.maxtime).
func (p Policy) Duration(prev int) time.Duration {
	p = p.withDefaults()
	shift := min(max(prev, 0), 20)
	d := p.BanTime << shift
	if d <= 0 || d > p.MaxTime || d>>shift != p.BanTime {
		return p.MaxTime
	}
	return d
}

// Sources of bans and allowlist entries.
const (
	SourceCLI           = "cli"
	SourceGuard         = "guard"
	SourceAutoconfigure = "autoconfigure"
)

// BanEntry is one ban as the state keeps it: the prefix as asked for, before the allowlist is
// subtracted (Want does that, so lifting an allowlist entry later restores the whole ban).
type BanEntry struct {
	Prefix  netip.Prefix `json:"prefix"`
	Expires time.Time    `json:"expires,omitzero"` // zero: until removed
	Reason  string       `json:"reason,omitempty"`
	Source  string       `json:"source"`
	Count   int          `json:"count"` // times this prefix has been banned, this ban included
	First   time.Time    `json:"first"` // first ban remembered for the prefix
	Last    time.Time    `json:"last"`  // this ban
}

// AllowEntry is one allowlisted prefix.
type AllowEntry struct {
	Prefix netip.Prefix `json:"prefix"`
	Reason string       `json:"reason,omitempty"`
	By     string       `json:"by"` // SourceCLI or SourceAutoconfigure
	Added  time.Time    `json:"added"`
}

// Offender remembers how often a prefix was banned, after its ban is gone, for repeat offenders
// and the summary.
type Offender struct {
	Prefix     netip.Prefix `json:"prefix"`
	Count      int          `json:"count"`
	First      time.Time    `json:"first"`
	Last       time.Time    `json:"last"`
	LastReason string       `json:"last_reason,omitempty"`
}

// Event is one change, kept for `block summary`'s recent activity.
type Event struct {
	Time   time.Time    `json:"time"`
	Action string       `json:"action"` // ban, unban, expire, allow, unallow, enable, disable
	Prefix netip.Prefix `json:"prefix,omitzero"`
	Source string       `json:"source,omitempty"`
	Reason string       `json:"reason,omitempty"`
}

// State is everything the adaptive firewall remembers. Methods change it in memory; Store.Edit
// loads, changes and saves it under the lock.
type State struct {
	Version int  `json:"version"`
	Enabled bool `json:"enabled"` // the drop rules are wanted; bans are kept either way
	// Bans are sorted by prefix; at most one entry per prefix.
	Bans      []BanEntry   `json:"bans"`
	Allowlist []AllowEntry `json:"allowlist"`
	Offenders []Offender   `json:"offenders,omitempty"`
	Activity  []Event      `json:"activity,omitempty"` // oldest first, at most ActivityKept
}

// stateVersion is the format of block.json.
const stateVersion = 1

// NewState is the state before anything was done: enabled, nothing banned or allowed.
func NewState() *State {
	return &State{Version: stateVersion, Enabled: true, Bans: []BanEntry{}, Allowlist: []AllowEntry{}}
}

// ErrAllowlisted is returned (wrapped in *AllowlistedError) when a ban would cover only
// allowlisted addresses.
var ErrAllowlisted = errors.New("allowlisted")

// AllowlistedError is a refused ban: every address of Prefix is allowlisted by Allow.
type AllowlistedError struct {
	Prefix netip.Prefix
	Allow  AllowEntry
}

func (e *AllowlistedError) Error() string {
	msg := fmt.Sprintf("%s is allowlisted", FormatPrefix(e.Prefix))
	if e.Allow.Prefix != e.Prefix {
		msg += " (by " + FormatPrefix(e.Allow.Prefix) + ")"
	}
	if e.Allow.Reason != "" {
		msg += ": " + e.Allow.Reason
	}
	return msg + "; it is never blocked (remove it with `firewarden block unallow` first)"
}

// Unwrap makes errors.Is(err, ErrAllowlisted) true.
func (e *AllowlistedError) Unwrap() error { return ErrAllowlisted }

// ErrFull is returned (wrapped) when a new ban would pass Policy.MaxBans.
var ErrFull = errors.New("the ban list is full")

// BanRequest is one ban to add.
type BanRequest struct {
	Prefix netip.Prefix
	// TTL is how long the ban lasts. Zero lets the Policy decide: BanTime, doubled for each
	// previous ban of the prefix. An explicit TTL is taken as given.
	TTL     time.Duration
	Forever bool // until removed; TTL is ignored
	Reason  string
	Source  string
}

// BanOutcome says what Ban did.
type BanOutcome struct {
	Entry BanEntry
	// Excluded are the allowlist entries inside the banned prefix: the kernel gets the prefix
	// minus these (Pieces prefixes).
	Excluded []AllowEntry
	Pieces   int
	Extended bool // the prefix was already banned; its ban now lasts until Entry.Expires
}

// Ban adds or extends the ban on r.Prefix at now. A prefix that lies inside the allowlist is
// refused with *AllowlistedError; a prefix that contains allowlisted addresses is banned, and
// the kernel will hold it minus them (see Want). A new ban beyond pol.MaxBans fails with ErrFull.
func (s *State) Ban(r BanRequest, pol Policy, now time.Time) (BanOutcome, error) {
	pol = pol.withDefaults()
	if !r.Prefix.IsValid() {
		return BanOutcome{}, fmt.Errorf("invalid prefix %v", r.Prefix)
	}
	p := normalise(r.Prefix)
	var out BanOutcome
	var holes []netip.Prefix
	for _, a := range s.Allowlist {
		if contains(a.Prefix, p) {
			return BanOutcome{}, &AllowlistedError{Prefix: p, Allow: a}
		}
		if contains(p, a.Prefix) {
			out.Excluded = append(out.Excluded, a)
			holes = append(holes, a.Prefix)
		}
	}
	out.Pieces = 1
	if len(holes) > 0 {
		out.Pieces = len(Subtract(p, holes))
	}
	i, found := s.findBan(p)
	if !found && len(s.Bans) >= pol.MaxBans {
		return BanOutcome{}, fmt.Errorf("%w: %d bans (the limit); remove some or raise the limit", ErrFull, len(s.Bans))
	}
	prev, first := 0, now
	if k, ok := s.findOffender(p); ok {
		prev, first = s.Offenders[k].Count, s.Offenders[k].First
	}
	if found {
		prev, first = max(prev, s.Bans[i].Count), s.Bans[i].First
	}
	var expires time.Time
	switch {
	case r.Forever:
	case r.TTL > 0:
		expires = now.Add(r.TTL)
	case r.TTL == 0:
		expires = now.Add(pol.Duration(prev))
	default:
		return BanOutcome{}, fmt.Errorf("ban time %v is negative", r.TTL)
	}
	e := BanEntry{Prefix: p, Expires: expires, Reason: r.Reason, Source: r.Source, Count: prev + 1, First: first, Last: now}
	if found {
		old := s.Bans[i]
		out.Extended = true
		// A ban is only ever lengthened by another: a shorter TTL leaves the longer one.
		if old.Expires.IsZero() || (!e.Expires.IsZero() && old.Expires.After(e.Expires)) {
			e.Expires = old.Expires
		}
		s.Bans[i] = e
	} else {
		s.Bans = slices.Insert(s.Bans, i, e)
	}
	s.remember(e)
	s.log(Event{Time: now, Action: "ban", Prefix: p, Source: r.Source, Reason: r.Reason})
	out.Entry = e
	return out, nil
}

// RemoveOutcome says what Unban did.
type RemoveOutcome struct {
	Removed []BanEntry // bans equal to or inside the prefix
	Inside  []BanEntry // bans that contain the prefix and stay (unban or allowlist those instead)
}

// Unban removes the bans on p and on every prefix inside p. Bans that contain p are kept and
// reported: lifting part of a ban is what the allowlist is for.
func (s *State) Unban(p netip.Prefix, source string, now time.Time) RemoveOutcome {
	p = normalise(p)
	var out RemoveOutcome
	kept := s.Bans[:0]
	for _, b := range s.Bans {
		switch {
		case contains(p, b.Prefix):
			out.Removed = append(out.Removed, b)
			s.log(Event{Time: now, Action: "unban", Prefix: b.Prefix, Source: source})
			continue
		case contains(b.Prefix, p):
			out.Inside = append(out.Inside, b)
		}
		kept = append(kept, b)
	}
	s.Bans = kept
	return out
}

// AllowOutcome says what Allow did.
type AllowOutcome struct {
	Entry   AllowEntry
	Updated bool       // the prefix was allowlisted already; reason and source replaced
	Lifted  []BanEntry // bans inside the prefix, removed
	Split   []BanEntry // bans containing the prefix: kept, the kernel holds them minus the prefix
}

// Allow allowlists p. Bans inside p are removed; bans containing p stay in the state and lose p
// in Want.
func (s *State) Allow(p netip.Prefix, reason, by string, now time.Time) AllowOutcome {
	p = normalise(p)
	out := AllowOutcome{Entry: AllowEntry{Prefix: p, Reason: reason, By: by, Added: now}}
	i, found := slices.BinarySearchFunc(s.Allowlist, p, func(a AllowEntry, p netip.Prefix) int { return comparePrefix(a.Prefix, p) })
	if found {
		out.Updated = true
		out.Entry.Added = s.Allowlist[i].Added
		s.Allowlist[i] = out.Entry
	} else {
		s.Allowlist = slices.Insert(s.Allowlist, i, out.Entry)
	}
	kept := s.Bans[:0]
	for _, b := range s.Bans {
		switch {
		case contains(p, b.Prefix):
			out.Lifted = append(out.Lifted, b)
			continue
		case contains(b.Prefix, p):
			out.Split = append(out.Split, b)
		}
		kept = append(kept, b)
	}
	s.Bans = kept
	s.log(Event{Time: now, Action: "allow", Prefix: p, Source: by, Reason: reason})
	return out
}

// Unallow removes the allowlist entry for exactly p and reports whether there was one. Bans that
// contained p cover it again.
func (s *State) Unallow(p netip.Prefix, source string, now time.Time) (AllowEntry, bool) {
	p = normalise(p)
	i := slices.IndexFunc(s.Allowlist, func(a AllowEntry) bool { return a.Prefix == p })
	if i < 0 {
		return AllowEntry{}, false
	}
	e := s.Allowlist[i]
	s.Allowlist = slices.Delete(s.Allowlist, i, i+1)
	s.log(Event{Time: now, Action: "unallow", Prefix: p, Source: source})
	return e, true
}

// SetEnabled turns blocking on or off; bans and the allowlist are kept either way.
func (s *State) SetEnabled(on bool, source string, now time.Time) {
	if s.Enabled == on {
		return
	}
	s.Enabled = on
	action := "disable"
	if on {
		action = "enable"
	}
	s.log(Event{Time: now, Action: action, Source: source})
}

// Sweep removes the bans that expired at or before now, including those that expired while
// nothing ran, and forgets offenders not banned within OffenderMemory. It returns the removed
// bans.
func (s *State) Sweep(now time.Time) []BanEntry {
	var gone []BanEntry
	kept := s.Bans[:0]
	for _, b := range s.Bans {
		if b.expired(now) {
			gone = append(gone, b)
			s.log(Event{Time: now, Action: "expire", Prefix: b.Prefix, Source: b.Source, Reason: b.Reason})
			continue
		}
		kept = append(kept, b)
	}
	s.Bans = kept
	s.Offenders = slices.DeleteFunc(s.Offenders, func(o Offender) bool { return now.Sub(o.Last) > OffenderMemory })
	return gone
}

func (b BanEntry) expired(now time.Time) bool { return !b.Expires.IsZero() && !b.Expires.After(now) }

// Want is what a Backend should hold at now: every unexpired ban minus the allowlist, as
// prefixes that do not overlap, sorted by address.
//
// This is where the invariant lives: whatever the state holds (a hand-edited file, an old
// version, a bug elsewhere), no allowlisted address is in the result. A ban inside another keeps
// no entry of its own; the outer entry's kernel timeout is the later of the two, and firewarden's
// own sweep removes the outer ban on time, after which the inner one is synced on its own.
//
// Want ignores Enabled: disabling takes the drop rules out and keeps the sets filled, so that
// enabling again is one rule change (afctl's -d/-e on its rule set).
func (s *State) Want(now time.Time) []Ban {
	var holes []netip.Prefix
	// lo and hi bound the allowlist per family (index 0 IPv4, 1 IPv6), so that the usual ban,
	// far from every allowlisted address, costs two comparisons instead of one per entry.
	var lo, hi [2]netip.Addr
	for _, a := range s.Allowlist {
		if !a.Prefix.IsValid() {
			continue
		}
		h := normalise(a.Prefix)
		holes = append(holes, h)
		f, first, last := family(h), h.Addr(), lastAddr(h)
		if !lo[f].IsValid() || first.Less(lo[f]) {
			lo[f] = first
		}
		if !hi[f].IsValid() || hi[f].Less(last) {
			hi[f] = last
		}
	}
	out := make([]Ban, 0, len(s.Bans))
	for _, b := range s.Bans {
		if b.expired(now) || !b.Prefix.IsValid() {
			continue
		}
		p := b.Prefix
		if p.Addr().Is4In6() || p.Addr().Zone() != "" || p != p.Masked() {
			p = normalise(netip.PrefixFrom(p.Addr().WithZone(""), p.Bits()))
		}
		f := family(p)
		if !lo[f].IsValid() || lastAddr(p).Less(lo[f]) || hi[f].Less(p.Addr()) {
			out = append(out, Ban{Prefix: p, Expires: b.Expires})
			continue
		}
		var in []netip.Prefix
		for _, h := range holes {
			if h.Overlaps(p) {
				in = append(in, h)
			}
		}
		if len(in) == 0 {
			out = append(out, Ban{Prefix: p, Expires: b.Expires})
			continue
		}
		for _, q := range Subtract(p, in) {
			out = append(out, Ban{Prefix: q, Expires: b.Expires})
		}
	}
	return Disjoint(out)
}

func family(p netip.Prefix) int {
	if p.Addr().Is4() {
		return 0
	}
	return 1
}

// lastAddr is the last address of the masked prefix p.
func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Addr().AsSlice()
	for i := p.Bits(); i < len(a)*8; i++ {
		a[i/8] |= 0x80 >> (i % 8)
	}
	last, _ := netip.AddrFromSlice(a)
	return last
}

// normalise masks p and turns a v4-mapped prefix into IPv4, as ParsePrefix does, so that a
// v4-mapped allowlist entry still covers its IPv4 addresses.
func normalise(p netip.Prefix) netip.Prefix {
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p.Masked()
}

// Disjoint sorts bans by prefix and drops every ban inside another, giving the outer one the
// later expiry (zero, forever, is latest), so that a kernel interval set, which refuses
// overlapping elements, can take the result.
func Disjoint(bans []Ban) []Ban {
	slices.SortFunc(bans, func(a, b Ban) int { return comparePrefix(a.Prefix, b.Prefix) })
	out := bans[:0]
	for _, b := range bans {
		if n := len(out); n > 0 && contains(out[n-1].Prefix, b.Prefix) {
			out[n-1].Expires = later(out[n-1].Expires, b.Expires)
			continue
		}
		out = append(out, b)
	}
	return out
}

func later(a, b time.Time) time.Time {
	if a.IsZero() || b.IsZero() {
		return time.Time{}
	}
	if b.After(a) {
		return b
	}
	return a
}

func (s *State) findBan(p netip.Prefix) (int, bool) {
	return slices.BinarySearchFunc(s.Bans, p, func(b BanEntry, p netip.Prefix) int { return comparePrefix(b.Prefix, p) })
}

func (s *State) findOffender(p netip.Prefix) (int, bool) {
	i := slices.IndexFunc(s.Offenders, func(o Offender) bool { return o.Prefix == p })
	return i, i >= 0
}

// remember records a ban in the offenders list, which is capped like the bans: the offenders
// banned longest ago go first.
func (s *State) remember(e BanEntry) {
	o := Offender{Prefix: e.Prefix, Count: e.Count, First: e.First, Last: e.Last, LastReason: e.Reason}
	if k, ok := s.findOffender(e.Prefix); ok {
		s.Offenders[k] = o
	} else {
		s.Offenders = append(s.Offenders, o)
	}
	if len(s.Offenders) > DefaultMaxBans {
		slices.SortFunc(s.Offenders, func(a, b Offender) int { return b.Last.Compare(a.Last) })
		s.Offenders = s.Offenders[:DefaultMaxBans]
	}
}

func (s *State) log(e Event) {
	s.Activity = append(s.Activity, e)
	if n := len(s.Activity); n > ActivityKept {
		s.Activity = slices.Delete(s.Activity, 0, n-ActivityKept)
	}
}

// normaliseAll puts a state read from disk into the form the methods rely on: prefixes
// normalised, bans sorted with one entry per prefix (the longest-lasting), allowlist sorted.
func (s *State) normaliseAll() {
	for i := range s.Bans {
		s.Bans[i].Prefix = normalise(s.Bans[i].Prefix)
	}
	for i := range s.Allowlist {
		s.Allowlist[i].Prefix = normalise(s.Allowlist[i].Prefix)
	}
	slices.SortStableFunc(s.Bans, func(a, b BanEntry) int {
		return cmp.Or(comparePrefix(a.Prefix, b.Prefix), boolCmp(a.Expires.IsZero(), b.Expires.IsZero()), b.Expires.Compare(a.Expires))
	})
	s.Bans = slices.CompactFunc(s.Bans, func(a, b BanEntry) bool { return a.Prefix == b.Prefix })
	slices.SortFunc(s.Allowlist, func(a, b AllowEntry) int { return comparePrefix(a.Prefix, b.Prefix) })
	s.Allowlist = slices.CompactFunc(s.Allowlist, func(a, b AllowEntry) bool { return a.Prefix == b.Prefix })
	if s.Bans == nil {
		s.Bans = []BanEntry{}
	}
	if s.Allowlist == nil {
		s.Allowlist = []AllowEntry{}
	}
}

// boolCmp orders true first.
func boolCmp(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return -1
	}
	return 1
}

// MarshalJSON writes a ban as its struct tags spell it, without reflection (see encodeState).
func (b BanEntry) MarshalJSON() ([]byte, error) { return b.appendJSON(make([]byte, 0, 192)), nil }

func (b BanEntry) appendJSON(buf []byte) []byte {
	buf = append(buf, `{"prefix":"`...)
	buf = b.Prefix.AppendTo(buf)
	buf = append(buf, '"')
	if !b.Expires.IsZero() {
		buf = appendTimeField(buf, "expires", b.Expires)
	}
	if b.Reason != "" {
		buf = appendStringField(buf, "reason", b.Reason)
	}
	buf = appendStringField(buf, "source", b.Source)
	buf = append(buf, `,"count":`...)
	buf = strconv.AppendInt(buf, int64(b.Count), 10)
	buf = appendTimeField(buf, "first", b.First)
	buf = appendTimeField(buf, "last", b.Last)
	return append(buf, '}')
}

// MarshalJSON writes an offender as its struct tags spell it, without reflection.
func (o Offender) MarshalJSON() ([]byte, error) { return o.appendJSON(make([]byte, 0, 160)), nil }

func (o Offender) appendJSON(buf []byte) []byte {
	buf = append(buf, `{"prefix":"`...)
	buf = o.Prefix.AppendTo(buf)
	buf = append(buf, `","count":`...)
	buf = strconv.AppendInt(buf, int64(o.Count), 10)
	buf = appendTimeField(buf, "first", o.First)
	buf = appendTimeField(buf, "last", o.Last)
	if o.LastReason != "" {
		buf = appendStringField(buf, "last_reason", o.LastReason)
	}
	return append(buf, '}')
}

// encodeState writes the state file: one line per ban and per offender (so a diff of two
// states reads well), built by appending, because a state holds up to 100 000 of each and is
// rewritten on every change; encoding/json spent most of its time re-validating the output of
// MarshalJSON. The result is what json.Marshal would give, whitespace aside (a test checks).
func encodeState(st *State) ([]byte, error) {
	buf := make([]byte, 0, 256+170*(len(st.Bans)+len(st.Offenders)))
	buf = append(buf, `{"version":`...)
	buf = strconv.AppendInt(buf, int64(st.Version), 10)
	buf = append(buf, `,"enabled":`...)
	buf = strconv.AppendBool(buf, st.Enabled)
	buf = append(buf, ",\n\"bans\":["...)
	for i, b := range st.Bans {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, "\n "...)
		buf = b.appendJSON(buf)
	}
	buf = append(buf, "],\n\"allowlist\":"...)
	allow := st.Allowlist
	if allow == nil {
		allow = []AllowEntry{}
	}
	a, err := json.Marshal(allow)
	if err != nil {
		return nil, err
	}
	buf = append(buf, a...)
	if len(st.Offenders) > 0 {
		buf = append(buf, ",\n\"offenders\":["...)
		for i, o := range st.Offenders {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, "\n "...)
			buf = o.appendJSON(buf)
		}
		buf = append(buf, ']')
	}
	if len(st.Activity) > 0 {
		ev, err := json.Marshal(st.Activity)
		if err != nil {
			return nil, err
		}
		buf = append(buf, ",\n\"activity\":"...)
		buf = append(buf, ev...)
	}
	return append(buf, "}\n"...), nil
}

func appendTimeField(buf []byte, name string, t time.Time) []byte {
	buf = append(buf, `,"`...)
	buf = append(buf, name...)
	buf = append(buf, `":"`...)
	buf = t.AppendFormat(buf, time.RFC3339Nano)
	return append(buf, '"')
}

func appendStringField(buf []byte, name, s string) []byte {
	buf = append(buf, `,"`...)
	buf = append(buf, name...)
	buf = append(buf, `":`...)
	q, _ := json.Marshal(s) // escaped as encoding/json escapes; a string never fails
	return append(buf, q...)
}
