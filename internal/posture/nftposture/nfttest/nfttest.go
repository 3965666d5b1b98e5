// Package nfttest is a fake of the kernel's nftables for the posture provider's tests: a ruleset
// given as an Analysis, and firewarden's table held as a Spec, whose writes change the analysis
// the way the real table would.
package nfttest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"github.com/firewarden/firewarden/internal/posture/nftposture"
	"net/netip"
	"sync"

	"github.com/firewarden/firewarden/internal/posture/nftposture/fwtable"
	"github.com/firewarden/firewarden/internal/posture/nftposture/ruleset"
)

// Kernel is a fake nftposture.Kernel. The zero value is a host with no firewall at all.
type Kernel struct {
	mu sync.Mutex
	// Analysis is what Read returns; the zero value (no Families) reads as Open() would.
	Analysis ruleset.Analysis
	ReadErr  error
	Table    *fwtable.Spec // firewarden's table; nil: absent
	WriteErr error
	Inexact  bool // Current reports the table as not exactly what was written
	Writes   []fwtable.Spec
	Restores []fwtable.Snapshot
}

// Where firewarden's table decides in the analyses this fake makes.
var (
	TablePolicy = ruleset.Where{Family: "inet", Table: fwtable.Table, Chain: "input", Owner: ruleset.OwnerFirewarden}
	TableRule   = ruleset.Where{Family: "inet", Table: fwtable.Table, Chain: "input", Handle: 9, Owner: ruleset.OwnerFirewarden}
)

// Open is the analysis of a host without filtering: everything is accepted and open.
func Open() ruleset.Analysis {
	var fams []ruleset.Family
	for _, f := range []string{"ipv4", "ipv6"} {
		acc := ruleset.Outcome{Verdict: ruleset.Accept}
		fams = append(fams, ruleset.Family{Family: f, Unmatched: acc, UnmatchedUDP: acc, Echo: acc,
			Open: []ruleset.Open{{Proto: "tcp", From: 1, To: 65535}, {Proto: "udp", From: 1, To: 65535}}})
	}
	return ruleset.Analysis{Families: fams}
}

// Families makes both families with the same unmatched outcome, echo and open list.
func Families(un, echo ruleset.Outcome, open ...ruleset.Open) []ruleset.Family {
	return []ruleset.Family{
		{Family: "ipv4", Unmatched: un, UnmatchedUDP: un, Echo: echo, Open: open},
		{Family: "ipv6", Unmatched: un, UnmatchedUDP: un, Echo: echo, Open: open},
	}
}

// TableAnalysis is what the kernel makes of firewarden's table alone.
func TableAnalysis(s fwtable.Spec) ruleset.Analysis {
	v := ruleset.Drop
	if s.Reject {
		v = ruleset.Reject
	}
	un := ruleset.Outcome{Verdict: v, By: TablePolicy, Logged: s.Log, LogLimited: s.Log}
	if s.Log {
		at := TableRule
		un.LogAt = &at
	}
	echo := ruleset.Outcome{Verdict: v, By: TablePolicy}
	if s.ICMPEcho {
		echo = ruleset.Outcome{Verdict: ruleset.Accept, By: TableRule}
	}
	var open []ruleset.Open
	for _, k := range s.Keep {
		open = append(open, ruleset.Open{Proto: k.Proto, From: k.Port, To: k.Port, Sources: []netip.Prefix{netip.PrefixFrom(k.Source, k.Source.BitLen())}, By: TableRule})
	}
	for _, a := range s.Allowed {
		open = append(open, ruleset.Open{Proto: a.Proto, From: a.From, To: a.To, Sources: a.Sources, By: TableRule})
	}
	return ruleset.Analysis{Filtering: true, Tables: []ruleset.Table{{Family: "inet", Name: fwtable.Table, Owner: ruleset.OwnerFirewarden}},
		Families: Families(un, echo, open...)}
}

// Read implements nftposture.Kernel.
func (k *Kernel) Read() (ruleset.Analysis, string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.Analysis.Families == nil {
		return Open(), "", k.ReadErr
	}
	return k.Analysis, "table inet filter { … }\n", k.ReadErr
}

// Current implements nftposture.Kernel.
func (k *Kernel) Current() (fwtable.Spec, bool, bool, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.Table == nil {
		return fwtable.Spec{}, false, false, nil
	}
	return *k.Table, true, !k.Inexact, nil
}

// Take implements nftposture.Kernel: the snapshot's data is the Spec as JSON.
func (k *Kernel) Take() (fwtable.Snapshot, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.Table == nil {
		return fwtable.Snapshot{Absent: true}, nil
	}
	data, _ := json.Marshal(k.Table)
	return fwtable.Snapshot{Data: data}, nil
}

// Write implements nftposture.Kernel.
func (k *Kernel) Write(s fwtable.Spec) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.WriteErr != nil {
		return k.WriteErr
	}
	k.Writes = append(k.Writes, s)
	k.Table = &s
	k.Analysis = TableAnalysis(s)
	return nil
}

// Restore implements nftposture.Kernel.
func (k *Kernel) Restore(s fwtable.Snapshot) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.Restores = append(k.Restores, s)
	if s.Absent {
		k.Table = nil
		k.Analysis = Open()
		return nil
	}
	var sp fwtable.Spec
	if err := json.Unmarshal(s.Data, &sp); err != nil {
		return err
	}
	k.Table = &sp
	k.Analysis = TableAnalysis(sp)
	return nil
}

// Check implements nftposture.Kernel: the data must be a Spec as JSON, as Take makes it.
func (k *Kernel) Check(s fwtable.Snapshot) error {
	if s.Absent {
		return nil
	}
	var sp fwtable.Spec
	dec := json.NewDecoder(bytes.NewReader(s.Data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sp); err != nil {
		return fmt.Errorf("%w: %v", fwtable.ErrBadSnapshot, err)
	}
	return nil
}

// Same implements nftposture.Kernel: the fake counts nothing, so the data must be equal.
func (k *Kernel) Same(a, b fwtable.Snapshot) (bool, error) {
	if err := k.Check(a); err != nil {
		return false, err
	}
	if err := k.Check(b); err != nil {
		return false, err
	}
	return a.Absent == b.Absent && bytes.Equal(a.Data, b.Data), nil
}

var _ nftposture.Kernel = (*Kernel)(nil)
