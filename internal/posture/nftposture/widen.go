package nftposture

import (
	"net/netip"

	"github.com/firewarden/firewarden/internal/posture/nftposture/fwtable"
)

// widens reports whether replacing firewarden's table cur with next loosens it: a port, protocol
// or source next accepts that cur did not (its services and kept connections), ping answered,
// unmatched packets rejected instead of dropped, or the log rule gone. Enforce mode never makes
// such a change (posture.Change.Weakens), as on a Mac it never allows an app.
//
// Only firewarden's own table is compared: where there is none, writing one cannot accept
// anything the other tables drop (a packet must pass every base chain on the input hook), so it
// never loosens the host.
func widens(cur, next fwtable.Spec) bool {
	if next.ICMPEcho && !cur.ICMPEcho || next.Reject && !cur.Reject || !next.Log && cur.Log {
		return true
	}
	have := opened(cur)
	for _, o := range opened(next) {
		for port := int(o.From); port <= int(o.To); port++ {
			if len(o.Sources) == 0 {
				if !covers(have, o.Proto, uint16(port), netip.Prefix{}) {
					return true
				}
				continue
			}
			for _, src := range o.Sources {
				if !covers(have, o.Proto, uint16(port), src) {
					return true
				}
			}
		}
	}
	return false
}

// opened is what a table accepts: its services and its kept connections as services.
func opened(s fwtable.Spec) []fwtable.Service {
	out := append([]fwtable.Service(nil), s.Allowed...)
	for _, k := range s.Keep {
		svc := fwtable.Service{Proto: k.Proto, From: k.Port, To: k.Port}
		if k.Source.IsValid() {
			svc.Sources = []netip.Prefix{netip.PrefixFrom(k.Source, k.Source.BitLen())}
		}
		out = append(out, svc)
	}
	return out
}

// covers reports whether one of have accepts proto to port from every address of src (from
// anywhere when src is invalid).
func covers(have []fwtable.Service, proto string, port uint16, src netip.Prefix) bool {
	for _, h := range have {
		if h.Proto != proto || port < h.From || port > h.To {
			continue
		}
		if len(h.Sources) == 0 {
			return true
		}
		if !src.IsValid() {
			continue
		}
		for _, p := range h.Sources {
			if p.Bits() <= src.Bits() && p.Contains(src.Masked().Addr()) {
				return true
			}
		}
	}
	return false
}
