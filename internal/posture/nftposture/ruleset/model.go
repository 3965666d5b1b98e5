package ruleset

import "fmt"

// Ruleset is the kernel's nftables ruleset as read, in a model of this package's own (no netlink
// library types), so that the analysis and its tests build and run on every platform.
type Ruleset struct {
	Tables []*TableDef
}

// TableDef is one table: its family, name, chains and sets.
type TableDef struct {
	Family string // "ip", "ip6", "inet", "arp", "bridge", "netdev"
	Name   string
	// Dormant tables (flags dormant) are kept by the kernel but their chains see no packets.
	Dormant bool
	Chains  []*Chain
	Sets    []*Set
}

// Chain is a base chain (Hook set) or a regular chain (Hook "").
type Chain struct {
	Name     string
	Hook     string // "prerouting", "input", "forward", "output", "postrouting", "ingress", "egress"; "" for a regular chain
	Type     string // "filter", "nat", "route"
	Priority int32
	Policy   string // "accept" or "drop" for a base chain
	Device   string // netdev chains: the device they are bound to ("eth0,eth1" for several)
	Rules    []*Rule
}

// Set is a named or anonymous set (or map) of a table.
type Set struct {
	Name      string
	ID        uint32
	Anonymous bool
	Interval  bool
	Map       bool // a map; VerdictMap when its data are verdicts
	Verdicts  bool
	Concat    bool
	KeyLen    uint32
	KeyType   string
	Elements  []Element
}

// Element is one set element. In an interval set the kernel stores a range as its first key and
// an end element (IntervalEnd) whose key is one past its last value.
type Element struct {
	Key         []byte
	KeyEnd      []byte // concatenated ranges (pipapo sets): the last key of the range
	IntervalEnd bool
	Verdict     *Jump  // verdict maps
	Data        []byte // other maps
}

// Rule is one rule: its handle, its comment (from the userdata nft and iptables-nft write) and
// its expressions in order.
type Rule struct {
	Handle  uint64
	Comment string
	Exprs   []Expr
}

// Expr is one expression of a rule, as the kernel holds it (the register machine).
type Expr interface{ exprName() string }

// Payload loads Len bytes at Offset of a packet header (Base: 0 link, 1 network, 2 transport,
// 3 inner) into register DReg, or writes register SReg there (a mangle statement) when SReg != 0.
type Payload struct {
	Base, Offset, Len uint32
	DReg, SReg        uint32
}

// Meta loads packet meta data (Key: NFT_META_*) into DReg, or sets it from SReg.
type Meta struct {
	Key        uint32
	DReg, SReg uint32
}

// Ct loads conntrack data (Key: NFT_CT_*) into DReg, or sets it from SReg.
type Ct struct {
	Key        uint32
	DReg, SReg uint32
	Dir        *uint8
}

// Bitwise computes DReg = (SReg & Mask) ^ Xor over Len bytes (Op 0); shifts (Op 1, 2) carry Data.
type Bitwise struct {
	SReg, DReg, Len, Op uint32
	Mask, Xor, Data     []byte
}

// Cmp compares register SReg with Data (Op: NFT_CMP_*); the rule stops when it does not hold.
type Cmp struct {
	Op, SReg uint32
	Data     []byte
}

// Range holds when register SReg is within [From, To] (Op 0) or outside it (Op 1).
type Range struct {
	Op, SReg uint32
	From, To []byte
}

// Lookup holds when register SReg is (Invert: is not) an element of the set; with DReg present
// it is a map lookup whose data goes to DReg (0: a verdict map).
type Lookup struct {
	Set        string
	SetID      uint32
	SReg, DReg uint32
	HasDReg    bool
	Invert     bool
}

// Immediate loads Data into DReg (DReg 0 with a Verdict: the rule's verdict).
type Immediate struct {
	DReg    uint32
	Data    []byte
	Verdict *Jump
}

// Verdict codes as the kernel has them (include/uapi/linux/netfilter.h, nf_tables.h).
const (
	VerdictDrop     int32 = 0
	VerdictAccept   int32 = 1
	VerdictStolen   int32 = 2
	VerdictQueue    int32 = 3
	VerdictContinue int32 = -1
	VerdictBreak    int32 = -2
	VerdictJump     int32 = -3
	VerdictGoto     int32 = -4
	VerdictReturn   int32 = -5
)

// Jump is a verdict expression: a code and, for jump and goto, the chain.
type Jump struct {
	Code  int32
	Chain string
}

// Counter counts packets and bytes.
type Counter struct{ Packets, Bytes uint64 }

// Log logs the packet (to the kernel log, or to an nflog Group).
type Log struct {
	Prefix string
	Level  *uint32
	Group  *uint16
	Flags  uint32
}

// Limit holds for packets within Rate per Unit seconds (Invert: "limit rate over", beyond it).
type Limit struct {
	Rate, Unit uint64
	Burst      uint32
	Bytes      bool
	Invert     bool
}

// RejectStmt answers the packet: Type 0 ICMP unreachable, 1 TCP reset, 2 ICMPx (Code: its code).
type RejectStmt struct {
	Type uint32
	Code uint8
}

// Xt is an iptables extension kept by iptables-nft: a match (Target false) or target, with its
// kernel struct in Info (native byte order, as the kernel holds it).
type Xt struct {
	Target bool
	Name   string
	Rev    uint32
	Info   []byte
}

// Fib looks up the routing table (Flags: NFTA_FIB_F_*) and loads Result (NFT_FIB_RESULT_*) into DReg.
type Fib struct {
	DReg, Result, Flags uint32
}

// Nat is a nat statement: Kind "snat", "dnat", "masquerade" or "redirect".
type Nat struct {
	Kind string
}

// Other is any expression this package does not model, by its kernel name.
type Other struct {
	Name string
}

func (Payload) exprName() string    { return "payload" }
func (Meta) exprName() string       { return "meta" }
func (Ct) exprName() string         { return "ct" }
func (Bitwise) exprName() string    { return "bitwise" }
func (Cmp) exprName() string        { return "cmp" }
func (Range) exprName() string      { return "range" }
func (Lookup) exprName() string     { return "lookup" }
func (Immediate) exprName() string  { return "immediate" }
func (Counter) exprName() string    { return "counter" }
func (Log) exprName() string        { return "log" }
func (Limit) exprName() string      { return "limit" }
func (RejectStmt) exprName() string { return "reject" }
func (x Xt) exprName() string {
	if x.Target {
		return "target"
	}
	return "match"
}
func (Fib) exprName() string     { return "fib" }
func (n Nat) exprName() string   { return n.Kind }
func (o Other) exprName() string { return o.Name }

// chain returns the chain of table t named name, or nil.
func (t *TableDef) chain(name string) *Chain {
	for _, c := range t.Chains {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// set returns the set of table t named name, or nil.
func (t *TableDef) set(name string) *Set {
	for _, s := range t.Sets {
		if s.Name == name {
			return s
		}
	}
	return nil
}

func (v Jump) String() string {
	switch v.Code {
	case VerdictDrop:
		return "drop"
	case VerdictAccept:
		return "accept"
	case VerdictStolen:
		return "stolen"
	case VerdictQueue:
		return "queue"
	case VerdictContinue:
		return "continue"
	case VerdictBreak:
		return "break"
	case VerdictJump:
		return "jump " + v.Chain
	case VerdictGoto:
		return "goto " + v.Chain
	case VerdictReturn:
		return "return"
	}
	if v.Code > 0 && v.Code&0xff == VerdictQueue {
		return "queue"
	}
	return fmt.Sprintf("verdict %d", v.Code)
}
