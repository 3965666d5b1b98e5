package ruleset

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// iptables-nft keeps the iptables extensions it cannot express natively as xt match and target
// expressions whose Info is the extension's kernel struct, in host byte order and layout. The
// layouts below are those of include/uapi/linux/netfilter/xt_*.h and ipv4/ipt_*.h, ipv6/ip6t_*.h.

// xtSteps translates one xt expression; fam is 4 or 6 when known.
func (c *compiler) xtSteps(x Xt, fam int) []step {
	in := x.Info
	ne := binary.NativeEndian
	other := func(text string) []step {
		kind := "match"
		if x.Target {
			kind = "target"
		}
		return []step{{kind: stOther, text: text, note: fmt.Sprintf("iptables %s %s (revision %d) is not modelled", kind, x.Name, x.Rev)}}
	}
	short := func() []step {
		return []step{{kind: stOther, text: "xt " + x.Name, note: fmt.Sprintf("iptables %s with a %d-byte info, shorter than its struct", x.Name, len(in))}}
	}
	condStep := func(cd *cond) []step { return []step{{kind: stCond, cond: cd, text: cd.text}} }
	if x.Target {
		switch x.Name {
		case "LOG": // struct xt_log_info { u8 level; u8 logflags; char prefix[30]; }
			if len(in) < 32 {
				return short()
			}
			t := "log"
			if p := cstr(in[2:32]); p != "" {
				t += fmt.Sprintf(" prefix %q", p)
			}
			return []step{{kind: stLog, text: t}}
		case "NFLOG": // struct xt_nflog_info { u32 len; u16 group; u16 threshold; u16 flags; u16 pad; char prefix[64]; }
			if len(in) < 76 {
				return short()
			}
			t := fmt.Sprintf("log group %d", ne.Uint16(in[4:6]))
			if p := cstr(in[12:76]); p != "" {
				t += fmt.Sprintf(" prefix %q", p)
			}
			return []step{{kind: stLog, text: t}}
		case "REJECT": // struct ipt_reject_info / ip6t_reject_info { u32 with; }
			if len(in) < 4 {
				return short()
			}
			w := ne.Uint32(in[0:4])
			v4 := []string{"icmp-net-unreachable", "icmp-host-unreachable", "icmp-proto-unreachable", "icmp-port-unreachable", "icmp-echo-reply", "icmp-net-prohibited", "icmp-host-prohibited", "tcp-reset", "icmp-admin-prohibited"}
			v6 := []string{"icmp6-no-route", "icmp6-adm-prohibited", "icmp6-not-neighbour", "icmp6-addr-unreachable", "icmp6-port-unreachable", "icmp6-echo-reply", "tcp-reset", "icmp6-policy-fail", "icmp6-reject-route"}
			names := v4
			if fam == 6 {
				names = v6
			}
			t := fmt.Sprintf("reject with %d", w)
			if int(w) < len(names) {
				t = "reject with " + names[w]
			}
			return []step{{kind: stReject, text: t}}
		case "DNAT":
			return []step{{kind: stNat, text: "dnat"}}
		case "REDIRECT":
			return []step{{kind: stNat, text: "redirect"}}
		case "SNAT", "MASQUERADE":
			return []step{{kind: stNat, text: strings.ToLower(x.Name)}}
		case "MARK", "CONNMARK":
			c.marksSet = true
		case "CT", "NOTRACK": // -j CT --notrack, -j NOTRACK (other CT options too, to be safe)
			c.untracked = true
		}
		return other("xt target " + x.Name)
	}
	switch x.Name {
	case "comment": // struct xt_comment_info { char comment[256]; }
		return []step{{kind: stCounter, text: fmt.Sprintf("comment %q", cstr(in))}}
	case "conntrack":
		// xt_conntrack_mtinfo1..3: eight 16-byte addresses/masks (128), expires_min/max (136),
		// l4proto u16 (138), four 16-bit ports (146), match_flags u16, invert_flags u16 (150),
		// then state_mask, status_mask: u8 each in revision 1, u16 each in revisions 2 and 3.
		if x.Rev < 1 || x.Rev > 3 || len(in) < 152 {
			return other("xt conntrack")
		}
		match, invert := ne.Uint16(in[146:148]), ne.Uint16(in[148:150])
		state := uint16(in[150])
		if x.Rev > 1 {
			if len(in) < 154 {
				return short()
			}
			state = ne.Uint16(in[150:152])
		}
		const xtState, xtProto, xtStateAlias = 1 << 0, 1 << 1, 1 << 13
		if match&^(xtState|xtProto|xtStateAlias) != 0 {
			cd := unknownCond(fmt.Sprintf("conntrack (flags 0x%x)", match), "iptables conntrack options other than ctstate and ctproto are not modelled")
			return condStep(cd)
		}
		var out []step
		if match&xtProto != 0 {
			l4, inv := byte(ne.Uint16(in[136:138])), invert&xtProto != 0
			cd := &cond{text: fmt.Sprintf("ctproto %d", l4), eval: func(p *pkt) (tri, string) { return boolTri((p.l4 == l4) != inv), "" }}
			out = append(out, condStep(cd)...)
		}
		if match&xtState != 0 {
			out = append(out, condStep(ctStateCond(uint32(state&(0xf|ctStateUntracked)), invert&xtState != 0, "ctstate"))...)
		}
		return out
	case "state": // struct xt_state_info { unsigned int statemask; }
		if len(in) < 4 {
			return short()
		}
		return condStep(ctStateCond(ne.Uint32(in[0:4])&(0xf|ctStateUntracked), false, "state"))
	case "tcp", "udp":
		// struct xt_tcp { u16 spts[2]; u16 dpts[2]; u8 option; u8 flg_mask; u8 flg_cmp; u8 invflags; }
		// struct xt_udp { u16 spts[2]; u16 dpts[2]; u8 invflags; }
		need := 12
		if x.Name == "udp" {
			need = 9
		}
		if len(in) < need {
			return short()
		}
		inv := in[8]
		if x.Name == "tcp" {
			inv = in[11]
		}
		var out []step
		spLo, spHi := ne.Uint16(in[0:2]), ne.Uint16(in[2:4])
		if spLo != 0 || spHi != 65535 {
			cd := &cond{text: fmt.Sprintf("%s sport %d-%d", x.Name, spLo, spHi), eval: func(*pkt) (tri, string) { return tAttacker, "" }}
			out = append(out, step{kind: stCond, cond: cd, text: cd.text})
		}
		dpLo, dpHi := ne.Uint16(in[4:6]), ne.Uint16(in[6:8])
		if dpLo != 0 || dpHi != 65535 {
			out = append(out, step{kind: stCond, cond: portsCond(fmt.Sprintf("%s dport", x.Name), portSet{{dpLo, dpHi}}, inv&0x02 != 0)})
			out[len(out)-1].text = out[len(out)-1].cond.text
		}
		if x.Name == "tcp" && in[9] != 0 {
			m, want, neg := in[9], in[10], inv&0x04 != 0
			cd := &cond{text: fmt.Sprintf("tcp flags & 0x%02x == 0x%02x", m, want)}
			if neg {
				cd.text = fmt.Sprintf("tcp flags & 0x%02x != 0x%02x", m, want)
			}
			cd.eval = func(p *pkt) (tri, string) {
				if p.l4 != 6 {
					return tFalse, ""
				}
				if m&tcpFreeFlags != 0 { // --tcp-flags ALL SYN: the sender may add PSH or URG
					return tAttacker, ""
				}
				return boolTri((0x02&m == want) != neg), ""
			}
			out = append(out, step{kind: stCond, cond: cd, text: cd.text})
		}
		if x.Name == "tcp" && in[8] != 0 {
			cd := &cond{text: fmt.Sprintf("tcp option %d", in[8]), eval: func(*pkt) (tri, string) { return tAttacker, "" }}
			out = append(out, step{kind: stCond, cond: cd, text: cd.text})
		}
		return out
	case "multiport":
		// revision 0: struct xt_multiport { u8 flags; u8 count; u16 ports[15]; }
		// revision 1: struct xt_multiport_v1 { u8 flags; u8 count; u16 ports[15]; u8 pflags[15]; u8 invert; }
		var flags, count byte
		var ps portSet
		invert := false
		switch {
		case x.Rev == 0 && len(in) >= 32:
			flags, count = in[0], in[1]
			for i := 0; i < int(min(count, 15)); i++ {
				p := ne.Uint16(in[2+2*i:])
				ps = append(ps, portRange{p, p})
			}
		case x.Rev == 1 && len(in) >= 48:
			flags, count = in[0], in[1]
			n := int(min(count, 15))
			for i := 0; i < n; i++ {
				p := ne.Uint16(in[2+2*i:])
				if in[32+i] != 0 && i+1 < n { // pflags[i]: ports[i] starts a range ending at ports[i+1]
					hi := ne.Uint16(in[2+2*(i+1):])
					if p <= hi {
						ps = append(ps, portRange{p, hi})
					}
					i++
					continue
				}
				ps = append(ps, portRange{p, p})
			}
			invert = in[47] != 0
		default:
			return other("xt multiport")
		}
		ps = ps.normalise()
		if flags != 1 { // 0 source ports, 2 either: the sender picks its source port
			cd := &cond{text: fmt.Sprintf("multiport (flags %d)", flags), eval: func(*pkt) (tri, string) { return tAttacker, "" }}
			return condStep(cd)
		}
		return condStep(portsCond("multiport dports", ps, invert))
	case "limit": // struct xt_rateinfo { u32 avg; u32 burst; … }: avg in 1/10000 s per packet
		t := "limit"
		if len(in) >= 8 && ne.Uint32(in[0:4]) != 0 {
			avg := ne.Uint32(in[0:4])
			t = fmt.Sprintf("limit rate %d/minute burst %d packets", uint64(10000*60)/uint64(avg), ne.Uint32(in[4:8]))
		}
		return []step{{kind: stLimit, text: t}}
	case "hl", "ttl", "length", "tos", "dscp", "ecn", "tcpmss", "u32", "string", "statistic", "time", "owner",
		"rt", "frag", "hbh", "dst", "ipv6header":
		// Things the sender chooses (or that hold at some times only): either way is possible.
		// The IPv6 extension header matches are the sender's too: ufw's before6.rules drops
		// routing header type 0 with "-m rt --rt-type 0 -j DROP".
		cd := &cond{text: "xt " + x.Name, eval: func(*pkt) (tri, string) { return tAttacker, "" }}
		return condStep(cd)
	case "recent", "hashlimit", "connlimit":
		// Rate and history matches: may or may not hold for a given packet.
		cd := &cond{text: "xt " + x.Name + " (may or may not hold)", eval: func(*pkt) (tri, string) { return tAttacker, "" }}
		return []step{{kind: stLimit, text: cd.text, cond: cd}}
	case "addrtype":
		// revision 0: { u16 source; u16 dest; u32 invert_source; u32 invert_dest; }
		// revision 1: { u16 source; u16 dest; u32 flags; } flags 1 invert source, 2 invert dest
		if len(in) < 8 {
			return short()
		}
		src, dst := ne.Uint16(in[0:2]), ne.Uint16(in[2:4])
		var invS, invD bool
		switch x.Rev {
		case 0:
			if len(in) < 12 {
				return short()
			}
			invS, invD = ne.Uint32(in[4:8]) != 0, ne.Uint32(in[8:12]) != 0
		case 1:
			f := ne.Uint32(in[4:8])
			invS, invD = f&1 != 0, f&2 != 0
			if f&(4|8) != 0 {
				return condStep(unknownCond("addrtype limit-iface", "iptables addrtype with limit-iface-in or limit-iface-out is not modelled"))
			}
		default:
			return other("xt addrtype")
		}
		// Type bits are 1 << RTN_*: a packet for this host comes from a unicast address
		// (RTN_UNICAST 1) to a local one (RTN_LOCAL 2).
		holds := func(mask uint16, typ uint, inv bool) bool {
			if mask == 0 {
				return true
			}
			return (mask&(1<<typ) != 0) != inv
		}
		t := fmt.Sprintf("addrtype src 0x%x dst 0x%x", src, dst)
		if dst == 1<<2 && src == 0 {
			t = "fib daddr type local"
			if invD {
				t = "fib daddr type != local"
			}
		}
		ok := holds(src, 1, invS) && holds(dst, 2, invD)
		cd := &cond{text: t, eval: func(*pkt) (tri, string) { return boolTri(ok), "" }}
		return condStep(cd)
	case "icmp", "icmp6":
		// struct ipt_icmp / ip6t_icmp { u8 type; u8 code[2]; u8 invflags; }
		if len(in) < 4 {
			return short()
		}
		typ, clo, chi, inv := in[0], in[1], in[2], in[3]&1 != 0
		l4 := byte(1)
		if x.Name == "icmp6" {
			l4 = 58
		}
		cd := &cond{text: fmt.Sprintf("%s type %d code %d-%d", x.Name, typ, clo, chi)}
		if inv {
			cd.text = "!" + cd.text
		}
		cd.eval = func(p *pkt) (tri, string) {
			if p.l4 != l4 {
				return tFalse, ""
			}
			// An echo request has code 0: it is in [clo, chi] when clo is 0.
			m := (typ == 0xff || typ == p.icmpType) && clo == 0
			return boolTri(m != inv), ""
		}
		return condStep(cd)
	case "pkttype": // struct xt_pkttype_info { int pkttype; int invert; }
		if len(in) < 8 {
			return short()
		}
		pt, inv := ne.Uint32(in[0:4]), ne.Uint32(in[4:8]) != 0
		cd := &cond{text: fmt.Sprintf("pkttype %d", pt), eval: func(*pkt) (tri, string) { return boolTri((pt == 0) != inv), "" }}
		return condStep(cd)
	}
	cd := unknownCond("xt "+x.Name, fmt.Sprintf("iptables match %s (revision %d) is not modelled", x.Name, x.Rev))
	return condStep(cd)
}

// ctStateCond holds when the connection state is in mask (ct state bits), or not with invert.
func ctStateCond(mask uint32, invert bool, name string) *cond {
	t := name + " " + ctStateText(u32n(mask))
	if invert {
		t = name + " != " + ctStateText(u32n(mask))
	}
	return &cond{text: t, eval: func(p *pkt) (tri, string) {
		isNew := (mask&ctStateNew != 0) != invert
		if p.untracked && isNew != ((mask&ctStateUntracked != 0) != invert) {
			return tHost, "whether a notrack rule left the packet untracked (ct state untracked, not new)"
		}
		return boolTri(isNew), ""
	}}
}

// portsCond is a condition on the destination port being in ps (or not, with invert).
func portsCond(name string, ps portSet, invert bool) *cond {
	var parts []string
	for _, r := range ps {
		if r.lo == r.hi {
			parts = append(parts, fmt.Sprintf("%d", r.lo))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", r.lo, r.hi))
		}
	}
	t := name + " " + strings.Join(parts, ",")
	if invert {
		t = name + " != " + strings.Join(parts, ",")
	}
	holds := ps
	if invert {
		holds = ps.complement()
	}
	return &cond{text: t, dport: true, ports: holds, named: ps, eval: func(p *pkt) (tri, string) {
		if p.l4 != 6 && p.l4 != 17 {
			return tFalse, ""
		}
		return tAttacker, ""
	}}
}

func boolTri(b bool) tri {
	if b {
		return tTrue
	}
	return tFalse
}
