//go:build linux

// Package nft holds firewarden's bans in nftables, over netlink (github.com/google/nftables).
//
// It owns one table, "inet firewarden" by default, and touches nothing else:
//
//	table inet firewarden {
//		set host4_0 { type ipv4_addr; flags timeout; }  # … host4_3
//		set net4    { type ipv4_addr; flags interval, timeout; }
//		set host6_0 { type ipv6_addr; flags timeout; }  # … host6_3
//		set net6    { type ipv6_addr; flags interval, timeout; }
//		chain input   { type filter hook input priority -10; policy accept;
//			ip saddr @host4_0 drop; …; ip saddr @net4 drop; ip6 saddr @host6_0 drop; …; ip6 saddr @net6 drop }
//		chain forward { type filter hook forward priority -10; policy accept; (the same rules) }
//	}
//
// Single addresses, nearly all bans, sit in hash sets; shorter prefixes in interval sets. A
// hash set takes one element per ban where an interval set takes two, and the kernel inserts
// and lists it several times faster (reference §6.2, §6.3; docs/benchmarks.md). Hosts are
// spread over four sets per family by a hash of the address, because reading a set back takes
// time that grows with the square of its size (see hostShards). A host never overlaps a prefix
// in the kernel's eyes (they are in different sets), and normalise drops a host inside a
// banned prefix anyway; overlapping intervals, which the kernel refuses, never reach it.
//
// Both hooks: a banned source is cut off from the host and from whatever the host routes to
// (containers, VMs), as cs-firewall-bouncer does; the sets are shared. Enabling installs the two
// chains with their rules in one transaction, disabling deletes the chains; the sets and their
// elements stay either way.
//
// firewarden owns expiry. Element timeouts are a safety net for when firewarden is not running:
// kernels before 6.12 do not refresh the timeout of an element that is added again (reference
// §6.2), so a ban whose expiry changed is deleted and added in the same transaction. A start
// element whose timeout ran out leaves its interval's end element behind (the kernel gives end
// elements no timeout and refuses one, EINVAL, measured on 6.18); such strays match nothing and
// are deleted at the next read of the kernel.
//
// Transactions: the table, sets and chains go through google/nftables (v0.3.0). Element
// changes, which can be 100 000 at once, are encoded here (batch.go) and sent as one batch on
// a socket of the Backend's own with its buffer raised, because the library allocates per
// element and fails with "message too long" on large batches; sets are read back with a large
// buffer for the same reason (dump.go). A batch the kernel refuses changes nothing: the
// Backend then drops its view, re-reads the kernel and tries once more.
//
// Sync diffs a whole wanted list against the view; Apply (apply.go) changes a few prefixes and
// touches only their entries in the view, so that a ban reaches the kernel in microseconds
// while 100 000 are held (BenchmarkApply100k). Both keep the view's invariant: no prefix held
// inside another held one, except hosts that someone else put inside a prefix (read back from
// the kernel).
package nft

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/nftables"
	"github.com/mdlayher/netlink"

	"github.com/firewarden/firewarden/internal/block"
	"github.com/firewarden/firewarden/internal/nlbatch"
)

// Options configures a Backend. The zero value is usable.
type Options struct {
	// Table names the firewarden-owned inet table; default "firewarden".
	Table string
	// NetNS is a file descriptor of the network namespace to work in; 0: the caller's.
	NetNS int
	// MaxBatch caps the elements (start and end elements counted apart) sent in one
	// transaction; a larger change is applied in several, and a failure part-way leaves the
	// earlier ones applied (the Backend then re-reads the kernel). Default 1 << 20: with the
	// socket buffer raised to 64 MB (SO_SNDBUFFORCE needs CAP_NET_ADMIN, which nftables needs
	// anyway), a million elements fit in one transaction. Without that privilege the cap is
	// what the system's buffer holds.
	MaxBatch int
}

// Backend is the nftables block.Backend. Its methods are safe for concurrent use.
type Backend struct {
	conn     *nftables.Conn
	table    *nftables.Table
	sets     [nsets]*nftables.Set // indexed by setOf
	maxBatch int
	netns    int
	dumpConn *netlink.Conn // for set dumps and element batches; see rawConn
	seq      uint32        // the next sequence number of a batch of ours
	batchCap int           // elements per transaction: maxBatch, or fewer to fit the socket
	rbuf     []byte        // send's receive buffer (dumpBuf bytes), allocated once
	tbuf     []byte        // the last small transaction's buffer, for the next one

	mu sync.Mutex
	// view is what this Backend believes the kernel holds, by prefix; nil until read.
	view map[pkey]viewEntry
	// lens counts the view's entries by family (IPv4, IPv6) and prefix length, so that Apply
	// looks for covering and covered prefixes only at lengths that are held.
	lens [2][129]int32
	// strays are kernel elements that are no firewarden prefix (end elements left by an
	// expired start, ranges someone else added); deleted by the next change.
	strays [nsets][]nftables.SetElement
	gen    uint32
	reads  int // kernel reads, for tests
	// ensured is set once a transaction has created the table and sets since the last read.
	ensured bool
}

// viewEntry is a prefix held by the kernel: its deadline on the caller's clock (the ban's
// expiry, compared with what is wanted), the moment the kernel drops its start element on the
// real clock (the kernel's own: callers may pass any now), both Unix ms and 0 for none, and the
// generation of the last Sync that wanted it.
type viewEntry struct {
	deadline  int64
	kdeadline int64
	gen       uint32
	read      bool // from a read of the kernel: deadline is now plus the time left
}

// readSlack is how far a deadline read from the kernel may be from the wanted one before the
// element is renewed. The time left is read on the kernel's clock, the deadline wanted on the
// caller's; a test's fixed now, or seconds between the two, must not renew every element (a
// delete and an add each) at every Reconcile.
const readSlack = time.Minute

// holds reports whether e's deadline stands for the wanted deadline d.
func (e viewEntry) holds(d int64) bool {
	if !e.read || e.deadline == 0 || d == 0 {
		return sameDeadline(e.deadline, d)
	}
	return e.deadline-d < readSlack.Milliseconds() && d-e.deadline < readSlack.Milliseconds()
}

// gone reports whether the kernel has dropped e's start element by its timeout at real time
// rnow (Unix ms): deleting it then fails the whole batch with ENOENT.
func (e viewEntry) gone(rnow int64) bool { return e.kdeadline != 0 && e.kdeadline <= rnow }

// sockBuf is the socket buffer asked for: a 100 000-ban transaction is about 10 MB.
const sockBuf = 64 << 20

// New returns a Backend for opts. It does not touch the kernel: the table is created by the
// first change.
func New(opts Options) (*Backend, error) {
	if opts.Table == "" {
		opts.Table = "firewarden"
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 1 << 20
	}
	copts := []nftables.ConnOption{nftables.AsLasting(), nftables.WithSockOptions(raiseBuffers)}
	if opts.NetNS != 0 {
		copts = append(copts, nftables.WithNetNSFd(opts.NetNS))
	}
	conn, err := nftables.New(copts...)
	if err != nil {
		return nil, fmt.Errorf("nftables: %w", err)
	}
	t := &nftables.Table{Family: nftables.TableFamilyINet, Name: opts.Table}
	return &Backend{
		conn:     conn,
		table:    t,
		sets:     newSets(t),
		maxBatch: opts.MaxBatch,
		netns:    opts.NetNS,
		seq:      1 << 30, // apart from the library's and mdlayher/netlink's numbers
	}, nil
}

// Close releases the netlink socket. The kernel state stays.
func (b *Backend) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	err := b.conn.CloseLasting()
	if b.dumpConn != nil {
		err = errors.Join(err, b.dumpConn.Close())
		b.dumpConn = nil
	}
	return err
}

// Name implements block.Backend.
func (b *Backend) Name() string { return "nftables" }

// Sync implements block.Backend.
func (b *Backend) Sync(ctx context.Context, want []block.Ban, now time.Time) (block.SyncResult, error) {
	return b.sync(ctx, want, now, false)
}

// Reconcile implements block.Backend.
func (b *Backend) Reconcile(ctx context.Context, want []block.Ban, now time.Time) (block.SyncResult, error) {
	return b.sync(ctx, want, now, true)
}

func (b *Backend) sync(ctx context.Context, want []block.Ban, now time.Time, reread bool) (block.SyncResult, error) {
	es, err := normalise(want)
	if err != nil {
		return block.SyncResult{}, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if reread {
		b.view = nil
	}
	res, err := b.apply(ctx, es, now)
	if err == nil || ctx.Err() != nil {
		return res, err
	}
	// The kernel differs from the view (a timeout ran out, someone deleted an element, the
	// table is gone): read it and try once more. apply has already dropped the view.
	res, err2 := b.apply(ctx, es, now)
	if err2 != nil {
		return res, fmt.Errorf("%w (first attempt, before re-reading the kernel: %v)", err2, err)
	}
	return res, nil
}

// apply makes the kernel hold es, reading it first when the view is unknown. On error the view
// is dropped, so that nothing half-applied is taken as applied.
func (b *Backend) apply(ctx context.Context, es []entry, now time.Time) (block.SyncResult, error) {
	var res block.SyncResult
	if b.view == nil {
		if err := b.read(now); err != nil {
			return res, err
		}
	}
	b.gen++
	gen := b.gen
	rnow := time.Now().UnixMilli()
	var pl plan
	pl.strays = b.strays
	for _, strays := range b.strays {
		for _, e := range strays {
			if !e.IntervalEnd { // a range someone else added; an end alone is litter
				res.Removed++
			}
		}
	}
	// The view is updated as the change is planned: a failed flush drops it.
	for _, e := range es {
		f := setOf(e.prefix)
		k := keyOf(e.prefix)
		v, ok := b.view[k]
		switch {
		case !ok:
			res.Added++
			pl.add[f] = append(pl.add[f], change{e.prefix, timeout(e.deadline, now)})
		case !v.holds(e.deadline):
			res.Kept++
			// A second's margin: adding an element that is still there, about to time out,
			// would not renew it on kernels before 6.12. A start element that timed out
			// meanwhile fails the batch, and the retry reads the kernel.
			if !v.gone(rnow - 1000) {
				pl.del[f] = append(pl.del[f], change{p: e.prefix})
			}
			pl.add[f] = append(pl.add[f], change{e.prefix, timeout(e.deadline, now)})
		default:
			res.Kept++
			v.gen = gen
			b.view[k] = v
			continue
		}
		if !ok {
			b.count(k, 1)
		}
		v = viewEntry{deadline: e.deadline, gen: gen}
		if e.deadline != 0 {
			v.kdeadline = rnow + timeout(e.deadline, now).Milliseconds()
		}
		b.view[k] = v
	}
	for k, v := range b.view {
		if v.gen == gen {
			continue
		}
		res.Removed++
		delete(b.view, k)
		b.count(k, -1)
		p := k.prefix()
		// One that times out within a second is left to the kernel (which may drop it a jiffy
		// or so before our deadline: deleting it then fails the batch); its end element, a
		// stray, goes at the next read.
		if !v.gone(rnow + 1000) {
			pl.del[setOf(p)] = append(pl.del[setOf(p)], change{p: p})
		}
	}
	if err := b.flush(ctx, &pl); err != nil {
		b.view = nil
		return block.SyncResult{}, err
	}
	b.strays = [nsets][]nftables.SetElement{}
	return res, nil
}

// raiseBuffers lets one netlink batch carry a whole large change.
func raiseBuffers(c *netlink.Conn) error { return nlbatch.RaiseBuffers(c, sockBuf) }
