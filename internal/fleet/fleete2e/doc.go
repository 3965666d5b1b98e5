// Package fleete2e holds the fleet's end-to-end tests: the real firewarden and firewarden-server
// binaries, built by the tests, talking over loopback, with agents on emulated Macs
// (internal/host/hosttest) or, as root, on a fake Linux root whose kernel is a network namespace
// (internal/netnstest; linux_e2e_linux_test.go), and the server on SQLite or on a throwaway
// PostgreSQL cluster (internal/fleet/pgtest). It has no code of its own; run it with `go test ./internal/fleet/fleete2e`.
package fleete2e
