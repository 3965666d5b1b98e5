//go:build !linux

package follow

import (
	"errors"
	"fmt"
)

// newNotifier has no implementation outside Linux yet: File polls there.
func newNotifier() (notifier, error) {
	return nil, fmt.Errorf("file change notification: %w", errors.ErrUnsupported)
}
