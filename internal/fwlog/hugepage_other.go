//go:build !linux

package fwlog

// hugeSlice returns make([]T, n): huge pages are advised on Linux only (hugepage_linux.go).
func hugeSlice[T any](n int) []T { return make([]T, n) }
