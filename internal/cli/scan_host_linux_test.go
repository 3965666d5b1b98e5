package cli

import "testing"

func loopbackInterface(testing.TB) string { return "lo" }
