//go:build !unix

package main

// lock does nothing where flock is unavailable; stand-ins there must not run concurrently.
func lock(string) (func(), error) { return func() {}, nil }
