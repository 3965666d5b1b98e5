//go:build linux

package nftposture

import (
	"github.com/firewarden/firewarden/internal/posture/nftposture/fwtable"
	"github.com/firewarden/firewarden/internal/posture/nftposture/ruleset"
)

// NewKernel returns the kernel's nftables in the namespace netnsFd (0: the current one), read
// and written over netlink.
func NewKernel(netnsFd int) Kernel { return netlinkKernel{fd: netnsFd} }

type netlinkKernel struct{ fd int }

func (k netlinkKernel) Read() (ruleset.Analysis, string, error) {
	rs, err := ruleset.Read(k.fd)
	if err != nil {
		return ruleset.Analysis{}, "", err
	}
	return ruleset.Analyse(rs), ruleset.Format(rs), nil
}

func (k netlinkKernel) Current() (fwtable.Spec, bool, bool, error) { return fwtable.Current(k.fd) }
func (k netlinkKernel) Take() (fwtable.Snapshot, error)            { return fwtable.Take(k.fd) }
func (k netlinkKernel) Write(s fwtable.Spec) error                 { return fwtable.Write(k.fd, s) }
func (k netlinkKernel) Restore(s fwtable.Snapshot) error           { return fwtable.Restore(k.fd, s) }
func (k netlinkKernel) Check(s fwtable.Snapshot) error             { return fwtable.CheckSnapshot(s) }
func (k netlinkKernel) Same(a, b fwtable.Snapshot) (bool, error)   { return fwtable.Same(a, b) }
