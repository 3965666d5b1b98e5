//go:build linux

package nft

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"github.com/firewarden/firewarden/internal/block"
)

// elemsPerMsg bounds the elements of one netlink message: an attribute's length is a uint16
// (google/nftables PR #303), and 1000 IPv6 elements with timeouts take about 50 kB.
const elemsPerMsg = 1000

// Hosts are spread over hostShards hash sets per family: the kernel lists a set in parts and
// walks it from its start for each part, so reading one set takes time growing with the square
// of its size (measured: 22 000 hosts 49 ms, 88 000 660 ms, 175 000 2.2 s).
const hostShards = 4

// nsets is the number of sets: per family, hostShards host sets and an interval set.
const nsets = 2 * (hostShards + 1)

// setOf is the index of p's set: IPv4 hosts by shard, IPv4 prefixes, then the same for IPv6.
func setOf(p netip.Prefix) int {
	i := 0
	if !p.Addr().Is4() {
		i = hostShards + 1
	}
	if !p.IsSingleIP() {
		return i + hostShards
	}
	// FNV-1a over the address: consecutive addresses land in different shards.
	h := uint32(2166136261)
	if p.Addr().Is4() {
		for _, c := range p.Addr().As4() {
			h = (h ^ uint32(c)) * 16777619
		}
	} else {
		for _, c := range p.Addr().As16() {
			h = (h ^ uint32(c)) * 16777619
		}
	}
	return i + int(h%hostShards)
}

// isInterval reports whether set i is an interval set.
func isInterval(i int) bool { return i%(hostShards+1) == hostShards }

// newSets returns the sets of table t, indexed as setOf numbers them: host4_0…, net4,
// host6_0…, net6.
func newSets(t *nftables.Table) [nsets]*nftables.Set {
	var sets [nsets]*nftables.Set
	for i := range sets {
		fam, key := "4", nftables.TypeIPAddr
		if i > hostShards {
			fam, key = "6", nftables.TypeIP6Addr
		}
		// A set ID of our own: with none, google/nftables v0.3.0 takes one from a package
		// counter that it does not guard, a data race between Backends.
		s := &nftables.Set{Table: t, ID: uint32(i + 1), KeyType: key, HasTimeout: true}
		if isInterval(i) {
			s.Name, s.Interval = "net"+fam, true
		} else {
			s.Name = fmt.Sprintf("host%s_%d", fam, i%(hostShards+1))
		}
		sets[i] = s
	}
	return sets
}

// sameDeadline reports whether two deadlines are the same to within a second: the kernel keeps
// timeouts in jiffies, and a refresh costs a delete and an add.
func sameDeadline(a, b int64) bool {
	if a == 0 || b == 0 {
		return a == b
	}
	return a-b < 1000 && b-a < 1000
}

// appendElems appends the elements of p: a host is one element with the timeout, if any; a
// prefix is an interval: its start (with the timeout) and, unless p reaches the last address,
// the end element holding the address after it.
func appendElems(els []nftables.SetElement, p netip.Prefix, timeout time.Duration) []nftables.SetElement {
	els = append(els, nftables.SetElement{Key: p.Addr().AsSlice(), Timeout: timeout})
	if p.IsSingleIP() {
		return els
	}
	if next := lastAddr(p).Next(); next.IsValid() {
		els = append(els, nftables.SetElement{Key: next.AsSlice(), IntervalEnd: true})
	}
	return els
}

// ensure queues the creation of the table and the sets; creating what exists is a no-op.
func (b *Backend) ensure() error {
	b.conn.AddTable(b.table)
	for _, s := range b.sets {
		if err := b.conn.AddSet(s, nil); err != nil {
			return err
		}
	}
	return nil
}

// change is one prefix to delete or add, with the timeout to add it with.
type change struct {
	p       netip.Prefix
	timeout time.Duration
}

// plan is a change to the sets, applied in this order: stray elements deleted, prefixes
// deleted, prefixes added. Indexed by setOf.
type plan struct {
	strays   [nsets][]nftables.SetElement
	del, add [nsets][]change
}

func (p *plan) empty() bool {
	for i := range nsets {
		if len(p.strays[i])+len(p.del[i])+len(p.add[i]) > 0 {
			return false
		}
	}
	return true
}

// flush applies pl in as few transactions as MaxBatch allows (one unless it is set lower than
// the change).
func (b *Backend) flush(ctx context.Context, pl *plan) error {
	if pl.empty() && b.ensured {
		return nil
	}
	if !b.ensured {
		if err := b.ensure(); err != nil {
			return err
		}
		if err := b.conn.Flush(); err != nil {
			return fmt.Errorf("nftables: create table: %w", err)
		}
		b.ensured = true
	}
	if _, err := b.rawConn(); err != nil {
		return err
	}
	var t *txn
	send := func() error {
		if t == nil {
			return nil
		}
		buf, ack := t.finish()
		first := t.firstSeq
		b.seq, t = t.seq, nil
		if err := ctx.Err(); err != nil {
			return err
		}
		err := b.send(buf, first, ack)
		if cap(buf) <= smallTxn {
			b.tbuf = buf
		}
		if err != nil {
			return fmt.Errorf("nftables: %w", err)
		}
		return nil
	}
	// room makes sure the open transaction can take n more elements in a message for set.
	room := func(set string, del bool, n int) error {
		if t != nil && t.elems > 0 && t.elems+n > b.batchCap {
			if err := send(); err != nil {
				return err
			}
		}
		if t == nil {
			t, b.tbuf = newTxn(b.table.Name, b.seq, b.tbuf), nil
		}
		if t.msg < 0 || t.n+n > elemsPerMsg {
			t.close()
			t.open(set, del)
		}
		return nil
	}
	for i, s := range b.sets {
		for _, e := range pl.strays[i] {
			if err := room(s.Name, true, 1); err != nil {
				return err
			}
			t.elem(e.Key, e.IntervalEnd, 0)
		}
		if t != nil {
			t.close()
		}
	}
	for _, op := range []struct {
		changes [nsets][]change
		del     bool
	}{{pl.del, true}, {pl.add, false}} {
		for i, s := range b.sets {
			for _, c := range op.changes[i] {
				if err := room(s.Name, op.del, 2); err != nil {
					return err
				}
				t.prefix(c.p, c.timeout.Milliseconds())
			}
			if t != nil {
				t.close()
			}
		}
	}
	return send()
}

// read replaces the view with what the kernel holds.
func (b *Backend) read(now time.Time) error {
	b.view, b.strays, b.ensured = nil, [nsets][]nftables.SetElement{}, false
	b.reads++
	view, strays, err := b.readView(now)
	if err != nil {
		return err
	}
	b.view, b.strays = view, strays
	b.recount()
	return nil
}

// readTries bounds the dumps of one hash set that readView makes.
const readTries = 4

// readView reads the kernel's sets into a view and the stray elements of each set.
//
// The kernel lists a hash set by walking its table in parts; a walk that overlaps a resize of
// the table, which the kernel makes a moment after a large change, lists some elements twice
// and misses others (measured on 6.18: a set of 3760 hosts listed as 4156 elements right after
// a Sync of 20 000 bans, and Status counting 19 140 of the 20 000). An element listed twice is
// the sign: that set is read again, a little later, up to readTries times in all.
func (b *Backend) readView(now time.Time) (map[pkey]viewEntry, [nsets][]nftables.SetElement, error) {
	var strays [nsets][]nftables.SetElement
	got, err := b.readSets()
	if err != nil {
		return nil, strays, err
	}
	n := 0
	for _, els := range got {
		n += len(els)
	}
	view := make(map[pkey]viewEntry, n)
	for i, els := range got {
		for try := 1; ; try++ {
			before := len(view)
			strays[i] = parseElems(els, i, now, view)
			if isInterval(i) || len(view)-before == len(els)-len(strays[i]) || try == readTries {
				break
			}
			// Listed twice: forget this set's entries and read it again.
			for _, e := range els {
				if a, ok := netip.AddrFromSlice(e.Key); ok {
					delete(view, keyOf(netip.PrefixFrom(a, a.BitLen())))
				}
			}
			time.Sleep(time.Duration(try) * 10 * time.Millisecond)
			if els, err = b.dumpSet(b.sets[i]); err != nil {
				return nil, strays, fmt.Errorf("nftables: read set %s: %w", b.sets[i].Name, err)
			}
		}
	}
	return view, strays, nil
}

// readSets returns the raw elements of both sets; a missing table or set holds none.
func (b *Backend) readSets() ([nsets][]nftables.SetElement, error) {
	var got [nsets][]nftables.SetElement
	tables, err := b.conn.ListTablesOfFamily(nftables.TableFamilyINet)
	if err != nil {
		return got, fmt.Errorf("nftables: list tables: %w", err)
	}
	if !slices.ContainsFunc(tables, func(t *nftables.Table) bool { return t.Name == b.table.Name }) {
		return got, nil
	}
	sets, err := b.conn.GetSets(b.table)
	if err != nil {
		return got, fmt.Errorf("nftables: list sets: %w", err)
	}
	for f, s := range b.sets {
		if !slices.ContainsFunc(sets, func(k *nftables.Set) bool { return k.Name == s.Name }) {
			continue
		}
		if got[f], err = b.dumpSet(s); err != nil {
			return got, fmt.Errorf("nftables: read set %s: %w", s.Name, err)
		}
	}
	return got, nil
}

// parseElems adds the prefixes held by the raw elements of set (an index of setOf) to view and
// returns the elements that are no prefix of that set, for deletion: a host belongs in the
// host set its hash names, a shorter prefix in the interval set. The kernel lists an interval as a start element
// and an end element holding the address after it (none when the interval reaches the last
// address); an end element with no start before it was left by a start that timed out.
func parseElems(els []nftables.SetElement, set int, now time.Time, view map[pkey]viewEntry) (strays []nftables.SetElement) {
	entry := func(e *nftables.SetElement) viewEntry {
		v := viewEntry{read: true}
		if e.Timeout != 0 {
			v.deadline = now.Add(e.Expires).UnixMilli()
			v.kdeadline = time.Now().Add(e.Expires).UnixMilli()
		}
		return v
	}
	if !isInterval(set) {
		for i := range els {
			a, ok := netip.AddrFromSlice(els[i].Key)
			p := netip.PrefixFrom(a, a.BitLen())
			if !ok || els[i].IntervalEnd || setOf(p) != set {
				strays = append(strays, els[i])
				continue
			}
			view[keyOf(p)] = entry(&els[i])
		}
		return strays
	}
	slices.SortFunc(els, func(x, y nftables.SetElement) int {
		if c := bytes.Compare(x.Key, y.Key); c != 0 {
			return c
		}
		// At one address an interval ends before the next one starts.
		switch {
		case x.IntervalEnd == y.IntervalEnd:
			return 0
		case x.IntervalEnd:
			return -1
		}
		return 1
	})
	var open *nftables.SetElement
	closeAt := func(end netip.Addr, endEl *nftables.SetElement) {
		start, ok := netip.AddrFromSlice(open.Key)
		p, isPrefix := rangePrefix(start, end)
		if !ok || !isPrefix || setOf(p) != set {

			strays = append(strays, *open)
			if endEl != nil {
				strays = append(strays, *endEl)
			}
			return
		}
		view[keyOf(p)] = entry(open)
	}
	for i := range els {
		e := &els[i]
		switch {
		case !e.IntervalEnd && open == nil:
			open = e
		case !e.IntervalEnd:
			// Two starts in a row: the first is no prefix of ours.
			strays = append(strays, *open)
			open = e
		case open == nil:
			strays = append(strays, *e)
		default:
			end, ok := netip.AddrFromSlice(e.Key)
			if !ok {
				strays = append(strays, *open, *e)
			} else {
				closeAt(end, e)
			}
			open = nil
		}
	}
	if open != nil {
		closeAt(netip.Addr{}, nil)
	}
	return strays
}

// hook is a chain holding the drop rules.
type hook struct {
	name string
	hook *nftables.ChainHook
}

// hooks are the chains the drop rules sit in.
var hooks = []hook{
	{"input", nftables.ChainHookInput},
	{"forward", nftables.ChainHookForward},
}

// priority runs the drop rules before the usual filter chains (priority 0).
var priority = nftables.ChainPriorityRef(-10)

// SetEnabled implements block.Backend. Enabling creates the table and sets if they are missing
// and replaces the chains' rules in one transaction; disabling deletes the chains.
func (b *Backend) SetEnabled(ctx context.Context, on bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !on {
		have, err := b.chains()
		if err != nil {
			return err
		}
		for _, c := range have {
			b.conn.DelChain(c)
		}
		if err := b.conn.Flush(); err != nil {
			return fmt.Errorf("nftables: delete chains: %w", err)
		}
		return nil
	}
	if err := b.ensure(); err != nil {
		return err
	}
	policy := nftables.ChainPolicyAccept
	for _, h := range hooks {
		c := b.conn.AddChain(&nftables.Chain{
			Name: h.name, Table: b.table, Type: nftables.ChainTypeFilter,
			Hooknum: h.hook, Priority: priority, Policy: &policy,
		})
		b.conn.FlushChain(c)
		for _, s := range b.sets {
			b.conn.AddRule(&nftables.Rule{Table: b.table, Chain: c, Exprs: dropRule(s)})
		}
	}
	if err := b.conn.Flush(); err != nil {
		b.view = nil // the sets may have been created
		return fmt.Errorf("nftables: install chains: %w", err)
	}
	return nil
}

// dropRule is "ip saddr @s drop" or "ip6 saddr @s drop" in an inet table.
func dropRule(s *nftables.Set) []expr.Any {
	proto, off, n := byte(unix.NFPROTO_IPV4), uint32(12), uint32(4)
	if s.KeyType == nftables.TypeIP6Addr {
		proto, off, n = unix.NFPROTO_IPV6, 8, 16
	}
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: n},
		&expr.Lookup{SourceRegister: 1, SetName: s.Name, SetID: s.ID},
		&expr.Verdict{Kind: expr.VerdictDrop},
	}
}

// chains returns firewarden's chains that exist.
func (b *Backend) chains() ([]*nftables.Chain, error) {
	all, err := b.conn.ListChainsOfTableFamily(nftables.TableFamilyINet)
	if err != nil {
		return nil, fmt.Errorf("nftables: list chains: %w", err)
	}
	var have []*nftables.Chain
	for _, c := range all {
		if c.Table.Name == b.table.Name && slices.ContainsFunc(hooks, func(h hook) bool { return h.name == c.Name }) {
			have = append(have, c)
		}
	}
	return have, nil
}

// Status implements block.Backend: Enabled when both chains hold their two drop rules, Entries
// the prefixes the sets hold.
func (b *Backend) Status(ctx context.Context) (block.Status, error) {
	var st block.Status
	if err := ctx.Err(); err != nil {
		return st, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	have, err := b.chains()
	if err != nil {
		return st, err
	}
	st.Enabled = len(have) == len(hooks)
	for _, c := range have {
		rules, err := b.conn.GetRules(b.table, c)
		if err != nil {
			return st, fmt.Errorf("nftables: list rules: %w", err)
		}
		if len(rules) != len(b.sets) {
			st.Enabled = false
		}
	}
	view, _, err := b.readView(time.Now())
	if err != nil {
		return st, err
	}
	st.Entries = len(view)
	return st, nil
}

var _ block.Backend = (*Backend)(nil)
