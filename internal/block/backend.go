// Package block is firewarden's adaptive firewall: temporary bans with a time to live, an
// allowlist that is always checked first, and the reconciliation of both with a kernel firewall
// (nftables on Linux, pf on macOS) through a Backend.
package block

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"time"
)

// Ban is one blocked prefix as a kernel firewall should hold it.
type Ban struct {
	Prefix  netip.Prefix // masked; IPv4 as a 4-byte address (never v4-mapped)
	Expires time.Time    // zero: until removed
}

// SyncResult says what a Backend changed.
type SyncResult struct {
	Added, Removed, Kept int
}

// Status is what a Backend finds in the kernel.
type Status struct {
	Enabled bool // the drop rules are in place
	Entries int  // prefixes held, both families
}

// Backend holds firewarden's blocked prefixes in a kernel firewall. Implementations apply each
// change as one batch (or as few bounded chunks as the kernel allows), never touch rules or
// tables they do not own, and leave the kernel as it was when a batch fails.
type Backend interface {
	// Name names the backend in messages: "nftables", "pf", "dry-run".
	Name() string
	// Sync makes the kernel hold exactly want, applying only the difference from what this
	// Backend last applied (the first call reads the kernel). now turns Expires into kernel
	// timeouts, a safety net only: firewarden owns expiry and removes expired bans itself.
	Sync(ctx context.Context, want []Ban, now time.Time) (SyncResult, error)
	// Reconcile is Sync after reading what the kernel really holds, for drift (a reboot, an
	// administrator, kernel timeouts that differ from the state).
	Reconcile(ctx context.Context, want []Ban, now time.Time) (SyncResult, error)
	// Apply is the fast path for a daemon that bans and unbans a few prefixes at a time: it
	// changes what the kernel holds relative to what this Backend last applied (reading the
	// kernel first if it has not yet), in one batch, all or nothing. Its cost grows with
	// len(add)+len(remove), not with the entries held (an added prefix shorter than a host may
	// also cost a search for the entries it covers; see PlanApply).
	//
	// Prefixes are taken as ParsePrefix gives them back: masked, v4-mapped unmapped (a backend
	// normalises them so); an invalid one is an error and nothing is applied. remove goes
	// first: a prefix held exactly as named is deleted, any other is ignored (deleting a
	// prefix never brings back entries it covered; the next Sync does). Then each add, after
	// duplicates and prefixes inside other added ones are dropped:
	//   - held exactly: kept, its expiry raised when the new one is later (zero: none, the
	//     latest); never lowered;
	//   - inside a held prefix: kept as it is, covered (the prefix decides its expiry);
	//   - otherwise added, and every held prefix inside it is deleted: it replaces them.
	// Added counts prefixes added, Removed prefixes deleted (named or replaced), Kept adds that
	// were held or covered. The view Apply leaves is the one Sync and Reconcile diff against,
	// and the other way round. now turns expiries into kernel timeouts, as in Sync.
	Apply(ctx context.Context, add []Ban, remove []netip.Prefix, now time.Time) (SyncResult, error)
	// SetEnabled installs or removes the drop rules; the sets and their entries are kept.
	SetEnabled(ctx context.Context, on bool) error
	// Status reads the kernel.
	Status(ctx context.Context) (Status, error)
}

// Delta is the change one Apply makes to a Backend's view of the kernel, as PlanApply plans it.
// A backend applies Remove before Add and Renew (in one batch), then updates its view the same
// way.
type Delta struct {
	Remove []netip.Prefix // held prefixes to delete: named by remove, or inside an added prefix
	Add    []Ban          // prefixes to add, not held before (or deleted by this Delta first)
	Renew  []Ban          // held prefixes whose expiry is raised to Expires (zero: none)
	Result SyncResult
}

// Empty reports whether d changes nothing.
func (d Delta) Empty() bool { return len(d.Remove)+len(d.Add)+len(d.Renew) == 0 }

// PlanApply plans Backend.Apply, by the rules documented there, over held: the prefixes a
// backend holds, in the normal form of ParsePrefix, mapped to what it knows of each. expiry
// returns a held entry's expiry (zero: none); a nil expiry means the backend keeps none, and no
// held entry is ever renewed (pf tables have no timeouts). held is only read. Prefixes in add and
// remove are normalised as ParsePrefix does; an invalid one is an error. Every slice of the
// Delta is sorted by address, then length.
//
// Cost: O(len(add)+len(remove)) map look-ups, times the prefix length for the "inside a held
// prefix" test, plus, for each added prefix shorter than a host, a search for the held entries
// it covers: every prefix inside it is looked up when there are fewer of them than held
// entries, else held is scanned once.
func PlanApply[V any](held map[netip.Prefix]V, expiry func(V) time.Time, add []Ban, remove []netip.Prefix) (Delta, error) {
	var d Delta
	rm := make([]netip.Prefix, 0, len(remove))
	for _, p := range remove {
		q, err := normalPrefix(p)
		if err != nil {
			return Delta{}, fmt.Errorf("remove: %w", err)
		}
		rm = append(rm, q)
	}
	adds, err := normalBans(add)
	if err != nil {
		return Delta{}, err
	}
	var gone map[netip.Prefix]bool // deleted by this Delta
	isHeld := func(p netip.Prefix) bool {
		_, ok := held[p]
		return ok && !gone[p]
	}
	del := func(p netip.Prefix) {
		if gone == nil {
			gone = make(map[netip.Prefix]bool)
		}
		gone[p] = true
		d.Remove = append(d.Remove, p)
		d.Result.Removed++
	}
	for _, p := range rm {
		if isHeld(p) {
			del(p)
		}
	}
	for _, b := range adds {
		p := b.Prefix
		if isHeld(p) {
			d.Result.Kept++
			if expiry == nil {
				continue
			}
			old := expiry(held[p])
			if exp := laterExpiry(old, b.Expires); !exp.Equal(old) {
				d.Renew = append(d.Renew, Ban{Prefix: p, Expires: exp})
			}
			continue
		}
		if coveredBy(p, isHeld) {
			d.Result.Kept++
			continue
		}
		for _, q := range inside(p, held, isHeld) {
			del(q)
		}
		d.Add = append(d.Add, b)
		d.Result.Added++
	}
	sortPrefixes(d.Remove)
	slices.SortFunc(d.Renew, func(a, b Ban) int { return comparePrefix(a.Prefix, b.Prefix) })
	return d, nil
}

// normalPrefix is p in the form ParsePrefix returns, or an error when p is invalid.
func normalPrefix(p netip.Prefix) (netip.Prefix, error) {
	if !p.IsValid() {
		return netip.Prefix{}, fmt.Errorf("invalid prefix %v: give a masked IPv4 or IPv6 prefix", p)
	}
	a, bits := p.Addr().WithZone(""), p.Bits()
	if a.Is4In6() && bits >= 96 {
		a, bits = a.Unmap(), bits-96
	}
	return netip.PrefixFrom(a, bits).Masked(), nil
}

// normalBans normalises the prefixes of bs and returns them sorted, without duplicates (the
// later expiry wins) and without a prefix inside another one.
func normalBans(bs []Ban) ([]Ban, error) {
	out := make([]Ban, 0, len(bs))
	for _, b := range bs {
		p, err := normalPrefix(b.Prefix)
		if err != nil {
			return nil, fmt.Errorf("add: %w", err)
		}
		out = append(out, Ban{Prefix: p, Expires: b.Expires})
	}
	slices.SortFunc(out, func(a, b Ban) int { return comparePrefix(a.Prefix, b.Prefix) })
	// Sorted by address then length, a prefix inside an earlier kept one is inside the last.
	kept := out[:0]
	for _, b := range out {
		if n := len(kept); n > 0 && contains(kept[n-1].Prefix, b.Prefix) {
			if kept[n-1].Prefix == b.Prefix {
				kept[n-1].Expires = laterExpiry(kept[n-1].Expires, b.Expires)
			}
			continue
		}
		kept = append(kept, b)
	}
	return kept, nil
}

// laterExpiry returns the later of two expiries, zero (none) being the latest.
func laterExpiry(a, b time.Time) time.Time {
	if a.IsZero() || b.IsZero() {
		return time.Time{}
	}
	if b.After(a) {
		return b
	}
	return a
}

// coveredBy reports whether a held prefix shorter than p contains it.
func coveredBy(p netip.Prefix, isHeld func(netip.Prefix) bool) bool {
	for bits := p.Bits() - 1; bits >= 0; bits-- {
		if q, _ := p.Addr().Prefix(bits); isHeld(q) {
			return true
		}
	}
	return false
}

// inside returns the held prefixes strictly inside p, sorted: by looking up every prefix inside
// p when there are fewer of them than held entries, else by one pass over held.
func inside[V any](p netip.Prefix, held map[netip.Prefix]V, isHeld func(netip.Prefix) bool) []netip.Prefix {
	var out []netip.Prefix
	hostBits := p.Addr().BitLen() - p.Bits()
	if hostBits == 0 {
		return nil
	}
	if hostBits < 30 && 2<<hostBits <= len(held) {
		var walk func(q netip.Prefix)
		walk = func(q netip.Prefix) {
			if q != p && isHeld(q) {
				out = append(out, q)
			}
			if !q.IsSingleIP() {
				lo, hi := halves(q)
				walk(lo)
				walk(hi)
			}
		}
		walk(p)
		return out
	}
	for q := range held {
		if q.Bits() > p.Bits() && p.Contains(q.Addr()) && isHeld(q) {
			out = append(out, q)
		}
	}
	sortPrefixes(out)
	return out
}
