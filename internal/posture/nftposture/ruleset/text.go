package ruleset

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Names of fields and values, for Format and for Notes, in nft's words where nft has one.

var metaNames = map[uint32]string{
	0: "length", 1: "protocol", 2: "priority", 3: "mark", 4: "iif", 5: "oif", 6: "iifname",
	7: "oifname", 8: "iiftype", 9: "oiftype", 10: "skuid", 11: "skgid", 12: "nftrace",
	13: "rtclassid", 14: "secmark", 15: "nfproto", 16: "l4proto", 17: "ibrname", 18: "obrname",
	19: "pkttype", 20: "cpu", 21: "iifgroup", 22: "oifgroup", 23: "cgroup", 24: "random",
	25: "secpath", 26: "iifkind", 27: "oifkind", 28: "ibrpvid", 29: "ibrvproto", 30: "time",
	31: "day", 32: "hour", 33: "sdif", 34: "sdifname", 35: "broute",
}

func metaKeyName(k uint32) string {
	if n, ok := metaNames[k]; ok {
		return n
	}
	return fmt.Sprintf("key%d", k)
}

func metaLen(k uint32) uint32 {
	switch k {
	case metaIIFName, 7, 17, 18, 26, 27, 34:
		return 16
	case metaNFProto, metaL4Proto, metaPktType:
		return 1
	case metaProtocol, metaIIFType, 9:
		return 2
	}
	return 4
}

var ctNames = map[uint32]string{
	0: "state", 1: "direction", 2: "status", 3: "mark", 4: "secmark", 5: "expiration",
	6: "helper", 7: "l3proto", 8: "saddr", 9: "daddr", 10: "protocol", 11: "proto-src",
	12: "proto-dst", 13: "label", 14: "packets", 15: "bytes", 16: "avgpkt", 17: "zone",
	18: "event", 19: "ip saddr", 20: "ip daddr", 21: "ip6 saddr", 22: "ip6 daddr", 23: "id",
}

func ctKeyName(k uint32) string {
	if n, ok := ctNames[k]; ok {
		return n
	}
	return fmt.Sprintf("key%d", k)
}

func ctLen(k uint32) uint32 {
	switch k {
	case ctDirection, ctL3Proto, ctProtocol:
		return 1
	case ctProtoDst, ctProtoSrc, ctZone:
		return 2
	case ctSrcIP:
		return 4
	case ctSrcIP6:
		return 16
	case ctSrc:
		return 16
	}
	return 4
}

// fieldName is how nft would name the field.
func fieldName(f field) string {
	var s string
	switch f.kind {
	case fkPayload:
		s = payloadName(f)
	case fkMeta:
		s = "meta " + metaKeyName(f.key)
	case fkCt:
		s = "ct " + ctKeyName(f.key)
	case fkFib:
		fl := []string{}
		if f.flags&1 != 0 {
			fl = append(fl, "saddr")
		}
		if f.flags&2 != 0 {
			fl = append(fl, "daddr")
		}
		if f.flags&4 != 0 {
			fl = append(fl, "mark")
		}
		if f.flags&8 != 0 {
			fl = append(fl, "iif")
		}
		if f.flags&16 != 0 {
			fl = append(fl, "oif")
		}
		res := map[uint32]string{1: "oif", 2: "oifname", 3: "type"}[f.key]
		s = "fib " + strings.Join(fl, " . ") + " " + res
	case fkImm:
		s = "0x" + hex.EncodeToString(f.imm)
	case fkUnknown:
		s = "(" + f.what + ")"
	default:
		s = "(unloaded register)"
	}
	if f.mask != nil && !(f.kind == fkCt && f.key == ctState) {
		s += " & 0x" + hex.EncodeToString(f.mask)
		if !isZero(f.xor) {
			s += " ^ 0x" + hex.EncodeToString(f.xor)
		}
	}
	return s
}

func payloadName(f field) string {
	switch f.base {
	case 1:
		v4 := map[[2]uint32]string{{9, 1}: "ip protocol", {12, 4}: "ip saddr", {16, 4}: "ip daddr", {8, 1}: "ip ttl", {1, 1}: "ip dscp"}
		v6 := map[[2]uint32]string{{6, 1}: "ip6 nexthdr", {8, 16}: "ip6 saddr", {24, 16}: "ip6 daddr", {7, 1}: "ip6 hoplimit"}
		k := [2]uint32{f.off, f.len}
		if f.fam != 6 {
			if n, ok := v4[k]; ok {
				return n
			}
		}
		if f.fam != 4 {
			if n, ok := v6[k]; ok {
				return n
			}
		}
		if f.fam == 4 && f.off == 12 {
			return "ip saddr"
		}
		if f.fam == 6 && f.off == 8 {
			return "ip6 saddr"
		}
		return fmt.Sprintf("@nh,%d,%d", f.off*8, f.len*8)
	case 2:
		switch [2]uint32{f.off, f.len} {
		case [2]uint32{0, 2}:
			return "th sport"
		case [2]uint32{2, 2}:
			return "th dport"
		case [2]uint32{13, 1}:
			return "tcp flags"
		case [2]uint32{0, 1}:
			return "icmp type"
		}
		return fmt.Sprintf("@th,%d,%d", f.off*8, f.len*8)
	case 0:
		return fmt.Sprintf("@ll,%d,%d", f.off*8, f.len*8)
	}
	return fmt.Sprintf("@base%d,%d,%d", f.base, f.off*8, f.len*8)
}

// valueText formats a comparison operand for field f.
func valueText(f field, d []byte) string {
	switch {
	case f.kind == fkMeta && (f.key == metaIIFName || f.key == 7):
		return strconv.Quote(ifnameText(d))
	case f.kind == fkMeta && (f.key == metaNFProto) && len(d) == 1:
		switch d[0] {
		case 2:
			return "ipv4"
		case 10:
			return "ipv6"
		}
	case (f.kind == fkMeta && f.key == metaL4Proto || f.kind == fkPayload && f.base == 1 && f.len == 1 && (f.off == 9 || f.off == 6)) && len(d) == 1:
		if n, ok := protoNames[d[0]]; ok {
			return n
		}
	case f.kind == fkMeta && (f.key == metaIIF || f.key == 5) && len(d) == 4:
		i := binary.NativeEndian.Uint32(d)
		if i == 1 {
			return `"lo"`
		}
		return fmt.Sprintf("%d", i)
	case f.kind == fkCt && f.key == ctState && len(d) == 4 && f.mask == nil:
		return ctStateText(d)
	case f.kind == fkFib && f.key == 3 && len(d) == 4:
		if n, ok := rtnNames[binary.NativeEndian.Uint32(d)]; ok {
			return n
		}
	case f.kind == fkPayload && f.base == 1 && (strings.HasSuffix(payloadName(f), "saddr") || strings.HasSuffix(payloadName(f), "daddr")) && (len(d) < 4 || (len(d) < 16 && f.fam == 6)):
		n := 4
		if strings.HasPrefix(payloadName(f), "ip6") {
			n = 16
		}
		bits := len(d) * 8
		if f.mask != nil {
			bits = ones(f.mask)
		}
		full := make([]byte, n)
		copy(full, d)
		if a, ok := netip.AddrFromSlice(full); ok && bits <= n*8 {
			return netip.PrefixFrom(a, bits).String()
		}
	case f.kind == fkPayload && f.base == 2 && f.len == 2 && f.mask == nil && len(d) == 2:
		return fmt.Sprintf("%d", binary.BigEndian.Uint16(d))
	case f.kind == fkPayload && f.base == 1 && f.mask == nil && (len(d) == 4 || len(d) == 16):
		if a, ok := netip.AddrFromSlice(d); ok {
			return a.String()
		}
	case f.kind == fkPayload && f.base == 1 && f.mask != nil && (len(d) == 4 || len(d) == 16) && contiguous(f.mask):
		if a, ok := netip.AddrFromSlice(d); ok {
			return netip.PrefixFrom(a, ones(f.mask)).String()
		}
	}
	return hexOrNum(d)
}

var protoNames = map[byte]string{1: "icmp", 2: "igmp", 6: "tcp", 17: "udp", 47: "gre", 50: "esp", 58: "icmpv6", 132: "sctp"}

var rtnNames = map[uint32]string{1: "unicast", 2: "local", 3: "broadcast", 4: "anycast", 5: "multicast", 6: "blackhole", 7: "unreachable", 8: "prohibit"}

func ones(mask []byte) int {
	n := 0
	for _, b := range mask {
		for bit := 7; bit >= 0; bit-- {
			if b&(1<<bit) != 0 {
				n++
			}
		}
	}
	return n
}

// ctStateText names the bits of a ct state value or mask (host byte order).
func ctStateText(b []byte) string {
	if len(b) != 4 {
		return hexOrNum(b)
	}
	v := binary.NativeEndian.Uint32(b)
	names := []struct {
		bit  uint32
		name string
	}{{8, "new"}, {2, "established"}, {4, "related"}, {1, "invalid"}, {64, "untracked"}}
	var out []string
	for _, n := range names {
		if v&n.bit != 0 {
			out = append(out, n.name)
			v &^= n.bit
		}
	}
	if v != 0 {
		out = append(out, fmt.Sprintf("0x%x", v))
	}
	if len(out) == 0 {
		return "0"
	}
	return strings.Join(out, ",")
}

// ifnameText is an interface name from a register value; nft compares only a prefix for a
// wildcard ("eth*"), so a value without a NUL is a wildcard.
func ifnameText(d []byte) string {
	for i, c := range d {
		if c == 0 {
			return string(d[:i])
		}
	}
	if len(d) < 16 {
		return string(d) + "*"
	}
	return string(d)
}

func hexOrNum(d []byte) string {
	switch len(d) {
	case 1:
		return fmt.Sprintf("%d", d[0])
	case 2:
		return fmt.Sprintf("%d", binary.BigEndian.Uint16(d))
	case 4:
		if a, ok := netip.AddrFromSlice(d); ok && d[0] != 0 {
			return a.String()
		}
	case 16:
		if a, ok := netip.AddrFromSlice(d); ok {
			return a.String()
		}
	}
	return "0x" + hex.EncodeToString(d)
}
