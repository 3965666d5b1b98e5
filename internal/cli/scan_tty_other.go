//go:build !linux && !darwin

package cli

// isTerminalFd is false where firewarden does not know how to ask: no progress line.
func isTerminalFd(uintptr) bool { return false }
