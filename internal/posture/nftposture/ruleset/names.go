package ruleset

import (
	"fmt"
	"io/fs"
)

// ErrPermission is wrapped by Read's error when the kernel refused the dump: reading the
// ruleset needs CAP_NET_ADMIN (run as root). It wraps fs.ErrPermission.
var ErrPermission = fmt.Errorf("reading the nftables ruleset needs root (CAP_NET_ADMIN): %w", fs.ErrPermission)

// familyName names an NFPROTO_* table family as nft does.
func familyName(f byte) string {
	switch f {
	case 1:
		return "inet"
	case 2:
		return "ip"
	case 3:
		return "arp"
	case 5:
		return "netdev"
	case 7:
		return "bridge"
	case 10:
		return "ip6"
	}
	return fmt.Sprintf("family%d", f)
}

// hookName names hook number h of a table of family fam (the numbering of netdev hooks differs).
func hookName(fam string, h uint32) string {
	if fam == "netdev" {
		switch h {
		case 0:
			return "ingress"
		case 1:
			return "egress"
		}
	}
	switch h {
	case 0:
		return "prerouting"
	case 1:
		return "input"
	case 2:
		return "forward"
	case 3:
		return "output"
	case 4:
		return "postrouting"
	case 5:
		return "ingress"
	}
	return fmt.Sprintf("hook%d", h)
}
