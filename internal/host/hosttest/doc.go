// Package hosttest emulates the macOS programs firewarden runs, so that checks, fixes and
// rollbacks can be tested on Linux against a Mac that remembers what was done to it.
//
// Mac is a stateful host.Runner: it answers socketfilterfw, defaults, systemsetup, launchctl,
// csrutil, profiles, killall, pfctl and ioreg the way a Mac of a given version does, and lsof,
// ps and codesign for the listening sockets, their executables and signatures (from
// MacState.Processes, plus launchd on port 22 when Remote Login is on); it keeps the firewall
// and service state in a MacState (pf's anchors, tables and enable tokens in MacState.PF), and
// mirrors the plist files that exist on that version under a root directory. Files named in
// arguments (pfctl -f FILE) are system paths, read under the root. Layout writes the same fake
// Mac to disk with an executable stand-in (the macemu binary) at every program path, so the real
// firewarden binary can be run with --root against it; the stand-in loads the state file, runs
// Mac.Run and saves the state again.
//
// Fidelity. Output wording comes from captured real outputs (testdata/alf, copied from the shared
// fixtures, each with its source) and from the facts in the project's ALF and adaptive-firewall
// references (for pfctl: adaptive §5 and the message formats of pfctl_table.c). Wherever no
// source pins the exact text or exit status, the emulator uses the wording symmetric to a known
// one and the code says so with the word SYNTHETIC. Tests of firewarden should therefore parse
// leniently (as firewarden must on a real Mac) and never depend on a SYNTHETIC string.
package hosttest
