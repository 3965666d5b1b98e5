// Package version names the build of firewarden. This is a placeholder for the release tool;
// the real package comes from the help work.
package version

// Base is the next release.
const Base = "0.3.0"

// Version, Commit and Date are set by the release build with -ldflags -X.
var Version, Commit, Date string
