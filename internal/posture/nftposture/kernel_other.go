//go:build !linux

package nftposture

import (
	"errors"
	"fmt"

	"github.com/firewarden/firewarden/internal/posture/nftposture/fwtable"
	"github.com/firewarden/firewarden/internal/posture/nftposture/ruleset"
)

// NewKernel returns the kernel's nftables in the namespace netnsFd (0: the current one). Off
// Linux every call fails with an error wrapping errors.ErrUnsupported.
func NewKernel(netnsFd int) Kernel { return unsupported{} }

type unsupported struct{}

var errNoNFT = fmt.Errorf("nftables: %w on this system", errors.ErrUnsupported)

func (unsupported) Read() (ruleset.Analysis, string, error) { return ruleset.Analysis{}, "", errNoNFT }
func (unsupported) Current() (fwtable.Spec, bool, bool, error) {
	return fwtable.Spec{}, false, false, errNoNFT
}
func (unsupported) Take() (fwtable.Snapshot, error) { return fwtable.Snapshot{}, errNoNFT }
func (unsupported) Write(fwtable.Spec) error        { return errNoNFT }
func (unsupported) Restore(fwtable.Snapshot) error  { return errNoNFT }

// Check and Same need no kernel: a held table can be examined anywhere.
func (unsupported) Check(s fwtable.Snapshot) error           { return fwtable.CheckSnapshot(s) }
func (unsupported) Same(a, b fwtable.Snapshot) (bool, error) { return fwtable.Same(a, b) }
