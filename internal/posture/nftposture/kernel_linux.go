//go:build linux

package nftposture

import (
	"errors"
	"fmt"

	"github.com/firewarden/firewarden/internal/posture/nftposture/fwtable"
	"github.com/firewarden/firewarden/internal/posture/nftposture/ruleset"
)

// NewKernel returns the kernel's nftables in the namespace netnsFd (0: the current one).
func NewKernel(netnsFd int) Kernel { return netlinkKernel{fd: netnsFd} }

// netlinkKernel is a placeholder until the reader and writer land.
type netlinkKernel struct{ fd int }

var errPending = fmt.Errorf("nftables: %w (reader not built yet)", errors.ErrUnsupported)

func (k netlinkKernel) Read() (ruleset.Analysis, string, error) {
	return ruleset.Analysis{}, "", errPending
}
func (k netlinkKernel) Current() (fwtable.Spec, bool, bool, error) {
	return fwtable.Spec{}, false, false, errPending
}
func (k netlinkKernel) Take() (fwtable.Snapshot, error) { return fwtable.Snapshot{}, errPending }
func (k netlinkKernel) Write(fwtable.Spec) error        { return errPending }
func (k netlinkKernel) Restore(fwtable.Snapshot) error  { return errPending }

func validSnapshot(fwtable.Snapshot) error { return nil }
