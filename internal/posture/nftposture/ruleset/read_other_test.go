//go:build !linux

package ruleset

import (
	"errors"
	"testing"
)

func TestReadUnsupported(t *testing.T) {
	if _, err := Read(0); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("Read(0) error = %v, want one wrapping errors.ErrUnsupported", err)
	}
}
