//go:build !linux

package fwlog

// adviseHuge does nothing here: see hugepage_linux.go.
func adviseHuge[T any](s []T) {}
