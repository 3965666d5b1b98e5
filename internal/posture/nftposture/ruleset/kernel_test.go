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

// goldenText compares got with testdata/golden/name (rewritten with -update).
func goldenText(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("Format(%s) mismatch (-want +got):\n%s", name, diff)
	}
}

func TestKernelPlain(t *testing.T) {
	fd := loadNFT(t, "plain.nft")
	rs, err := Read(fd)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	a := Analyse(rs)
	goldenText(t, "plain.txt", Format(rs))
	golden(t, "plain", a)
	if !strings.Contains(Format(rs), "table inet filter") {
		t.Errorf("Format lacks the table:\n%s", Format(rs))
	}
}

// loadIPTables loads iptables-restore files with iptables-nft-restore (and ip6tables-nft-restore
// for files ending in 6.rules) into a new namespace.
func loadIPTables(t *testing.T, files ...string) int {
	t.Helper()
	for _, p := range []string{"/usr/sbin/iptables-nft-restore", "/usr/sbin/ip6tables-nft-restore"} {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("needs %s: apt-get install iptables", p)
		}
	}
	fd := netnstest.New(t, hint)
	err := netnstest.InNetNS(fd, func() error {
		for _, f := range files {
			prog := "/usr/sbin/iptables-nft-restore"
			if strings.HasSuffix(f, "6.rules") {
				prog = "/usr/sbin/ip6tables-nft-restore"
			}
			in, err := os.Open(filepath.Join("testdata", "kernel", f))
			if err != nil {
				return err
			}
			cmd := exec.Command(prog)
			cmd.Stdin = in
			out, err := cmd.CombinedOutput()
			in.Close()
			if err != nil {
				t.Errorf("%s < %s: %v: %s", prog, f, err, out)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return fd
}

func TestKernelUFW(t *testing.T) {
	fd := loadIPTables(t, "ufw4.rules", "ufw6.rules")
	rs, err := Read(fd)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	goldenText(t, "ufw.txt", Format(rs))
	golden(t, "ufw", Analyse(rs))
}

func TestKernelFirewalld(t *testing.T) {
	fd := loadNFT(t, "firewalld.nft")
	rs, err := Read(fd)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	goldenText(t, "firewalld.txt", Format(rs))
	golden(t, "firewalld", Analyse(rs))
}

// addNFT loads testdata/kernel/name with nft -f into the namespace fd, beside what it holds.
func addNFT(t *testing.T, fd int, name string) {
	t.Helper()
	err := netnstest.InNetNS(fd, func() error {
		out, err := exec.Command("/usr/sbin/nft", "-f", filepath.Join("testdata", "kernel", name)).CombinedOutput()
		if err != nil {
			t.Errorf("nft -f %s: %v: %s", name, err, out)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestKernelDocker(t *testing.T) {
	fd := loadIPTables(t, "docker-nat4.rules")
	addNFT(t, fd, "docker-host.nft")
	rs, err := Read(fd)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	goldenText(t, "docker.txt", Format(rs))
	golden(t, "docker", Analyse(rs))
}

func TestKernelPosture(t *testing.T) {
	fd := loadNFT(t, "posture.nft")
	rs, err := Read(fd)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	goldenText(t, "posture.txt", Format(rs))
	golden(t, "posture", Analyse(rs))
}
