//go:build linux

package ruleset

import (
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/firewarden/firewarden/internal/netnstest"
	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

const hint = "run the tests as root (sudo go test ./internal/posture/nftposture/ruleset)"

// loadNFT makes a new network namespace and loads file (under testdata/kernel) into it with nft.
func loadNFT(t *testing.T, file string) int {
	t.Helper()
	nft := "/usr/sbin/nft"
	if _, err := os.Stat(nft); err != nil {
		t.Skipf("needs %s: apt-get install nftables", nft)
	}
	fd := netnstest.New(t, hint)
	err := netnstest.InNetNS(fd, func() error {
		out, err := exec.Command(nft, "-f", filepath.Join("testdata", "kernel", file)).CombinedOutput()
		if err != nil {
			t.Errorf("nft -f %s: %v: %s", file, err, out)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return fd
}

// golden compares got, as indented JSON, with testdata/golden/name.json (rewritten with -update).
func golden(t *testing.T, name string, got any) {
	t.Helper()
	b, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, '\n')
	path := filepath.Join("testdata", "golden", name+".json")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(b)); diff != "" {
		t.Errorf("Analyse(%s) mismatch (-want +got):\n%s", name, diff)
	}
}

func TestKernelPlain(t *testing.T) {
	fd := loadNFT(t, "plain.nft")
	rs, err := Read(fd)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	a := Analyse(rs)
	t.Log("\n" + Format(rs))
	golden(t, "plain", a)
	if !strings.Contains(Format(rs), "table inet filter") {
		t.Errorf("Format lacks the table:\n%s", Format(rs))
	}
}
