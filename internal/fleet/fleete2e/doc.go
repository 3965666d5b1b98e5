// Package fleete2e holds the fleet's end-to-end tests: the real firewarden and firewarden-server
// binaries, built by the tests, talking over loopback, with agents on emulated Macs
// (internal/host/hosttest) and the server on SQLite or on a throwaway PostgreSQL cluster
// (internal/fleet/pgtest). It has no code of its own; run it with `go test ./internal/fleet/fleete2e`.
package fleete2e
