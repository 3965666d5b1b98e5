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
	msgs, err := dump(netnsFd, unix.NFT_MSG_GETTABLE, "tables")
	if err != nil {
		return nil, err
	}
	rs := &Ruleset{}
	byKey := map[string]*TableDef{}
	for _, m := range msgs {
		if m.Header.Type&0xff != unix.NFT_MSG_NEWTABLE {
			continue
		}
		td, err := DecodeTableMessage(m.Data)
		if err != nil {
			return nil, fmt.Errorf("decode an nftables table: %w", err)
		}
		rs.Tables = append(rs.Tables, td)
		byKey[td.Family+" "+td.Name] = td
		t := &nftables.Table{Name: td.Name, Family: nftables.TableFamily(familyNumber(td.Family))}
		sets, err := c.GetSets(t)
		if err != nil {
			return nil, wrapErr(fmt.Sprintf("list the sets of table %s %s", td.Family, td.Name), err)
		}
		for _, s := range sets {
			sd := &Set{
				Name: s.Name, ID: s.ID, Anonymous: s.Anonymous, Interval: s.Interval, Map: s.IsMap,
				Concat: s.Concatenation, KeyLen: s.KeyType.Bytes, KeyType: s.KeyType.Name,
			}
			if s.IsMap && (s.KeyType.Name == "verdict" || s.DataType.Name == "verdict") {
				// google/nftables v0.3.0 stores a verdict map's data type over its key type,
				// and hands each element's verdict over as the raw attributes in Val.
				sd.Verdicts = true
				if s.KeyType.Name == "verdict" {
					sd.KeyType, sd.KeyLen = "", 0
				}
			}
			els, err := c.GetSetElements(s)
			if err != nil {
				return nil, wrapErr(fmt.Sprintf("list the elements of set %s in table %s %s", s.Name, td.Family, td.Name), err)
			}
			for _, e := range els {
				el := Element{Key: e.Key, KeyEnd: e.KeyEnd, IntervalEnd: e.IntervalEnd, Data: e.Val}
				if e.VerdictData != nil {
					el.Verdict = &Jump{Code: int32(e.VerdictData.Kind), Chain: e.VerdictData.Chain}
					sd.Verdicts = true
				} else if sd.Verdicts && !e.IntervalEnd {
					// An interval map's end elements carry no data (buildIndex pairs
					// them with their starts); every other element holds a verdict.
					v, err := DecodeVerdict(e.Val)
					if err != nil {
						return nil, fmt.Errorf("verdict map %s in table %s %s: %w", s.Name, td.Family, td.Name, err)
					}
					el.Verdict, el.Data = v, nil
				}
				sd.Elements = append(sd.Elements, el)
			}
			td.Sets = append(td.Sets, sd)
		}
	}
	if err := readChains(netnsFd, byKey); err != nil {
		return nil, err
	}
	if err := readRules(netnsFd, byKey); err != nil {
		return nil, err
	}
	return rs, nil
}

// dump asks the kernel for every object of one kind (NFT_MSG_GET*) of every family.
func dump(netnsFd int, get uint16, what string) ([]netlink.Message, error) {
	conn, err := netlink.Dial(unix.NETLINK_NETFILTER, &netlink.Config{NetNS: netnsFd})
	if err != nil {
		return nil, wrapErr("open netfilter netlink", err)
	}
	defer conn.Close()
	msgs, err := conn.Execute(netlink.Message{
		Header: netlink.Header{
			Type:  netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | get),
			Flags: netlink.Request | netlink.Dump,
		},
		Data: []byte{unix.AF_UNSPEC, unix.NFNETLINK_V0, 0, 0},
	})
	if err != nil {
		return nil, wrapErr("dump nftables "+what, err)
	}
	return msgs, nil
}

// readChains dumps every chain and decodes it ourselves (see decode.go).
func readChains(netnsFd int, byKey map[string]*TableDef) error {
	msgs, err := dump(netnsFd, unix.NFT_MSG_GETCHAIN, "chains")
	if err != nil {
		return err
	}
	for _, m := range msgs {
		if m.Header.Type&0xff != unix.NFT_MSG_NEWCHAIN {
			continue
		}
		fam, table, ch, err := DecodeChainMessage(m.Data)
		if err != nil {
			return fmt.Errorf("decode an nftables chain: %w", err)
		}
		if td := byKey[familyName(fam)+" "+table]; td != nil {
			td.Chains = append(td.Chains, ch)
		}
	}
	return nil
}

// readRules dumps every rule of every family in one request and decodes it ourselves (see
// decode.go).
func readRules(netnsFd int, byKey map[string]*TableDef) error {
	msgs, err := dump(netnsFd, unix.NFT_MSG_GETRULE, "rules")
	if err != nil {
		return err
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
