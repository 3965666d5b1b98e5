//go:build !linux

package ruleset

import (
	"errors"
	"fmt"
)

// Read is only implemented on Linux: nftables is Linux's.
func Read(netnsFd int) (*Ruleset, error) {
	return nil, fmt.Errorf("reading the nftables ruleset: %w", errors.ErrUnsupported)
}
