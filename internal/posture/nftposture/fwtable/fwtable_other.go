//go:build !linux

package fwtable

import (
	"errors"
	"fmt"
)

var errUnsupported = fmt.Errorf("nftables firewall table: %w", errors.ErrUnsupported)

// Write is only available on Linux.
func Write(netnsFd int, s Spec) error { return errUnsupported }

// Remove is only available on Linux.
func Remove(netnsFd int) error { return errUnsupported }

// Current is only available on Linux.
func Current(netnsFd int) (s Spec, present, exact bool, err error) {
	return Spec{}, false, false, errUnsupported
}

// Take is only available on Linux.
func Take(netnsFd int) (Snapshot, error) { return Snapshot{}, errUnsupported }

// Restore is only available on Linux.
func Restore(netnsFd int, s Snapshot) error { return errUnsupported }
