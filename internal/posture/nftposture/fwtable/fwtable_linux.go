//go:build linux

package fwtable

import (
	"errors"
	"fmt"
	"reflect"
	"slices"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/firewarden/firewarden/internal/nlbatch"
)

// sockBuf is the socket buffer asked for, each way: a Write of maxPortRules rules is about
// 1.5 MB, and the kernel acknowledges each of its messages (the default buffers, about 200 kB,
// took about 400 rules).
const sockBuf = 8 << 20

// conn opens a connection to nf_tables in namespace netnsFd (0: the current one).
func conn(netnsFd int) (*nftables.Conn, error) {
	opts := []nftables.ConnOption{nftables.WithSockOptions(raiseBuffers)}
	if netnsFd != 0 {
		opts = append(opts, nftables.WithNetNSFd(netnsFd))
	}
	c, err := nftables.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("nftables: %w", err)
	}
	return c, nil
}

// queueWrite queues the transaction that replaces the table with the one s describes: the
// table is added (so that the delete finds it), deleted and made again, all in one batch, so
// that the kernel either replaces it whole or, when any message fails, changes nothing.
func queueWrite(c *nftables.Conn, s Spec) {
	t := table()
	c.AddTable(t)
	c.DelTable(t)
	t = c.AddTable(table())
	ch := c.AddChain(chain(t))
	for _, r := range rules(s) {
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: r.exprs, UserData: commentData(r.comment)})
	}
}

// Write replaces table inet firewarden_posture in namespace netnsFd (0: the current one) with
// the table s describes, in one atomic transaction: if it fails, the kernel holds what it held
// before. A Spec it cannot express is an error wrapping ErrInvalidSpec, and nothing is written.
func Write(netnsFd int, s Spec) error {
	s, err := s.validate()
	if err != nil {
		return err
	}
	c, err := conn(netnsFd)
	if err != nil {
		return err
	}
	queueWrite(c, s)
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables: write table inet %s: %w", Table, err)
	}
	return nil
}

// Remove deletes table inet firewarden_posture from namespace netnsFd (0: the current one),
// if it is there.
func Remove(netnsFd int) error {
	c, err := conn(netnsFd)
	if err != nil {
		return err
	}
	c.AddTable(table())
	c.DelTable(table())
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables: delete table inet %s: %w", Table, err)
	}
	return nil
}

// Current reads table inet firewarden_posture back from namespace netnsFd (0: the current
// one). present says whether the table exists. exact says whether it is exactly the table
// Write(s) makes: without flags (a dormant table filters nothing), one chain, as Write makes
// it, the rules Write makes for s with their comments, in order (counter values aside), and no
// sets, maps, objects or flowtables.
//
// When the table was changed by hand (exact false), s is the best reading of it: every rule in
// one of the shapes Write makes is read into s (a port rule whose comment starts "keep: " as a
// Keep, any other as a Service; consecutive rules for the same protocol and ports, each with a
// source, as one Service), and any other rule is ignored, as are the rules after the first that
// drops or rejects every packet (no packet reaches them). Some readings are not the Spec Write
// was given but make the same table: consecutive services with the same ports and sources come
// back merged, and a LogPrefix equal to DefaultLogPrefix comes back empty.
func Current(netnsFd int) (s Spec, present, exact bool, err error) {
	c, err := conn(netnsFd)
	if err != nil {
		return Spec{}, false, false, err
	}
	t, err := c.ListTableOfFamily(Table, nftables.TableFamilyINet)
	if errors.Is(err, unix.ENOENT) {
		return Spec{}, false, false, nil
	}
	if err != nil {
		return Spec{}, false, false, fmt.Errorf("nftables: read table inet %s: %w", Table, err)
	}
	chains, err := c.ListChainsOfTableFamily(nftables.TableFamilyINet)
	if err != nil {
		return Spec{}, true, false, fmt.Errorf("nftables: list chains: %w", err)
	}
	// A dormant table holds its rules but filters nothing.
	exact = t.Flags == 0
	var in *nftables.Chain
	for _, ch := range chains {
		if ch.Table.Name != Table {
			continue
		}
		if ch.Name == chainName && in == nil {
			in = ch
			if !sameChain(ch, chain(t)) {
				exact = false
			}
			continue
		}
		exact = false
	}
	if in == nil {
		return Spec{}, true, false, nil
	}
	if n, err := extraObjects(c, t); err != nil {
		return Spec{}, true, false, err
	} else if n > 0 {
		exact = false
	}
	rs, err := c.GetRules(t, in)
	if err != nil {
		return Spec{}, true, false, fmt.Errorf("nftables: read rules of table inet %s: %w", Table, err)
	}
	got := make([]rule, len(rs))
	for i, r := range rs {
		cm, _ := userdata.GetString(r.UserData, userdata.TypeComment)
		got[i] = rule{comment: cm, exprs: r.Exprs}
	}
	s = parse(got)
	if !sameRules(rules(s), got) {
		exact = false
	}
	return s, true, exact, nil
}

// extraObjects counts the sets, stateful objects and flowtables of table t: Write makes none.
func extraObjects(c *nftables.Conn, t *nftables.Table) (int, error) {
	sets, err := c.GetSets(t)
	if err != nil {
		return 0, fmt.Errorf("nftables: list sets of table inet %s: %w", Table, err)
	}
	objs, err := c.GetObjects(t)
	if err != nil {
		return 0, fmt.Errorf("nftables: list objects of table inet %s: %w", Table, err)
	}
	fts, err := c.ListFlowtables(t)
	if err != nil {
		return 0, fmt.Errorf("nftables: list flowtables of table inet %s: %w", Table, err)
	}
	return len(sets) + len(objs) + len(fts), nil
}

func sameChain(got, want *nftables.Chain) bool {
	return got.Type == want.Type && got.Hooknum != nil && *got.Hooknum == *want.Hooknum &&
		got.Priority != nil && *got.Priority == *want.Priority &&
		got.Policy != nil && *got.Policy == *want.Policy
}

// sameRules reports whether got holds exactly the rules want, comments included; counter
// values are not compared.
func sameRules(want, got []rule) bool {
	return slices.EqualFunc(want, got, func(w, g rule) bool {
		return w.comment == g.comment && slices.EqualFunc(w.exprs, g.exprs, sameExpr)
	})
}

func sameExpr(w, g expr.Any) bool {
	if gc, ok := g.(*expr.Counter); ok {
		_, ok := w.(*expr.Counter)
		return ok && gc != nil
	}
	return reflect.DeepEqual(w, g)
}

// raiseBuffers gives a connection buffers for one transaction of the largest table.
func raiseBuffers(c *netlink.Conn) error { return nlbatch.RaiseBuffers(c, sockBuf) }
