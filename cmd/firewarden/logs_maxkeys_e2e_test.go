package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Below --max-keys the connection table is exact, however the reader shared the log out among
// its workers: a log of 900 connections summarised with --max-keys 1000 on four workers is not
// approximate and counts every connection. (Each worker used to hold a quarter of the cap, so the
// one that read the whole small log pruned it.)
func TestLogsExactBelowMaxKeys(t *testing.T) {
	t.Setenv("GOMAXPROCS", "4")
	var b strings.Builder
	for i := range 900 {
		fmt.Fprintf(&b, "Nov  9 21:00:%02d host kernel: ipfw: 10 Deny TCP 198.51.%d.%d:%d 10.0.0.1:22 in via en0\n", i%60, i/250, i%250, 1024+i)
	}
	b.WriteString("Nov  9 21:00:59 host kernel: ipfw: 10 Deny TCP 198.51.0.0:1024 10.0.0.1:22 in via en0\n") // a second packet of the first
	log := filepath.Join(t.TempDir(), "ipfw.log")
	os.WriteFile(log, []byte(b.String()), 0o644)
	for _, maxKeys := range []string{"1000", "900"} {
		r := firewardenIn(t, nil, "--json", "logs", "summarize", "--top", "1", "--max-keys", maxKeys, log)
		var rep struct {
			Approximate bool
			Actions     []struct {
				Connections int
				Packets     int64
				Rows        []struct{ In int64 }
			}
		}
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
			t.Fatalf("logs summarize --max-keys %s: exit %d, %v\n%s", maxKeys, r.code, err, r.stderr)
		}
		if rep.Approximate || len(rep.Actions) != 1 || rep.Actions[0].Connections != 900 || rep.Actions[0].Packets != 901 || rep.Actions[0].Rows[0].In != 2 {
			t.Errorf("logs summarize --max-keys %s = %+v, want exact: 900 connections, 901 packets, the top one with 2", maxKeys, rep)
		}
	}
	// One key over the cap prunes, and says so.
	r := firewardenIn(t, nil, "--json", "logs", "summarize", "--max-keys", "899", log)
	if !strings.Contains(r.stdout, `"approximate": true`) {
		t.Errorf("logs summarize --max-keys 899 over 900 connections: not approximate\n%s", r.stdout)
	}
}
