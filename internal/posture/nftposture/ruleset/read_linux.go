//go:build linux

package ruleset

import (
	"errors"
	"fmt"

	"github.com/google/nftables"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Read reads every table of every family, with their chains, sets (with elements) and rules,
// from the kernel of network namespace netnsFd (0: the current namespace). Without
// CAP_NET_ADMIN the error wraps ErrPermission.
func Read(netnsFd int) (*Ruleset, error) {
	var opts []nftables.ConnOption
	if netnsFd != 0 {
		opts = append(opts, nftables.WithNetNSFd(netnsFd))
	}
	c, err := nftables.New(opts...)
	if err != nil {
		return nil, wrapErr("open nftables netlink", err)
	}
	tables, err := c.ListTables()
	if err != nil {
		return nil, wrapErr("list nftables tables", err)
	}
	chains, err := c.ListChains()
	if err != nil {
		return nil, wrapErr("list nftables chains", err)
	}
	rs := &Ruleset{}
	byKey := map[string]*TableDef{}
	for _, t := range tables {
		td := &TableDef{Family: familyName(byte(t.Family)), Name: t.Name}
		rs.Tables = append(rs.Tables, td)
		byKey[td.Family+" "+td.Name] = td
		sets, err := c.GetSets(t)
		if err != nil {
			return nil, wrapErr(fmt.Sprintf("list the sets of table %s %s", td.Family, td.Name), err)
		}
		for _, s := range sets {
			sd := &Set{
				Name: s.Name, ID: s.ID, Anonymous: s.Anonymous, Interval: s.Interval, Map: s.IsMap,
				Concat: s.Concatenation, KeyLen: s.KeyType.Bytes, KeyType: s.KeyType.Name,
				Verdicts: s.IsMap && s.DataType.Name == "verdict",
			}
			els, err := c.GetSetElements(s)
			if err != nil {
				return nil, wrapErr(fmt.Sprintf("list the elements of set %s in table %s %s", s.Name, td.Family, td.Name), err)
			}
			for _, e := range els {
				el := Element{Key: e.Key, KeyEnd: e.KeyEnd, IntervalEnd: e.IntervalEnd, Data: e.Val}
				if e.VerdictData != nil {
					el.Verdict = &Jump{Code: int32(e.VerdictData.Kind), Chain: e.VerdictData.Chain}
				}
				sd.Elements = append(sd.Elements, el)
			}
			td.Sets = append(td.Sets, sd)
		}
	}
	for _, ch := range chains {
		td := byKey[familyName(byte(ch.Table.Family))+" "+ch.Table.Name]
		if td == nil {
			continue // the table went away between the two dumps
		}
		cd := &Chain{Name: ch.Name, Type: string(ch.Type), Device: ch.Device}
		if ch.Hooknum != nil {
			cd.Hook = hookName(td.Family, uint32(*ch.Hooknum))
			if ch.Priority != nil {
				cd.Priority = int32(*ch.Priority)
			}
			cd.Policy = "accept"
			if ch.Policy != nil && *ch.Policy == nftables.ChainPolicyDrop {
				cd.Policy = "drop"
			}
		}
		td.Chains = append(td.Chains, cd)
	}
	if err := readRules(netnsFd, byKey); err != nil {
		return nil, err
	}
	return rs, nil
}

// readRules dumps every rule of every family in one request and decodes it ourselves (see
// decode.go).
func readRules(netnsFd int, byKey map[string]*TableDef) error {
	conn, err := netlink.Dial(unix.NETLINK_NETFILTER, &netlink.Config{NetNS: netnsFd})
	if err != nil {
		return wrapErr("open netfilter netlink", err)
	}
	defer conn.Close()
	msgs, err := conn.Execute(netlink.Message{
		Header: netlink.Header{
			Type:  netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_GETRULE),
			Flags: netlink.Request | netlink.Dump,
		},
		Data: []byte{unix.AF_UNSPEC, unix.NFNETLINK_V0, 0, 0},
	})
	if err != nil {
		return wrapErr("dump nftables rules", err)
	}
	for _, m := range msgs {
		if m.Header.Type&0xff != unix.NFT_MSG_NEWRULE {
			continue
		}
		fam, table, chain, r, err := DecodeRuleMessage(m.Data)
		if err != nil {
			return fmt.Errorf("decode an nftables rule: %w", err)
		}
		td := byKey[familyName(fam)+" "+table]
		if td == nil {
			continue
		}
		ch := td.chain(chain)
		if ch == nil {
			continue
		}
		ch.Rules = append(ch.Rules, r)
	}
	return nil
}

func wrapErr(what string, err error) error {
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
		return fmt.Errorf("%s: %w (%v)", what, ErrPermission, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}
