//go:build linux

package ruleset

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os/exec"
	"strings"
	"testing"

	"github.com/firewarden/firewarden/internal/netnstest"
	"github.com/google/go-cmp/cmp"

	"golang.org/x/sys/unix"
)

func TestWrapErrPermission(t *testing.T) {
	for _, e := range []error{unix.EPERM, unix.EACCES} {
		err := wrapErr("dump nftables rules", e)
		if !errors.Is(err, ErrPermission) || !errors.Is(err, fs.ErrPermission) {
			t.Errorf("wrapErr(%v) = %v, want it to wrap ErrPermission and fs.ErrPermission", e, err)
		}
	}
	if err := wrapErr("x", unix.ENOENT); errors.Is(err, ErrPermission) {
		t.Errorf("wrapErr(ENOENT) = %v, want no ErrPermission", err)
	}
}

func TestKernelEmpty(t *testing.T) {
	fd := loadNFT(t, "empty.nft")
	rs, err := Read(fd)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	a := Analyse(rs)
	if a.Filtering || len(a.Tables) != 1 || a.Families[0].Unmatched.Verdict != Accept {
		t.Errorf("Analyse(empty namespace + output-only table) = filtering %v, %d tables, unmatched %s; want false, 1, accept",
			a.Filtering, len(a.Tables), a.Families[0].Unmatched.Verdict)
	}
}

func TestKernelNetdev(t *testing.T) {
	fd := loadNFT(t, "netdev.nft")
	rs, err := Read(fd)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	var dev *Chain
	for _, tb := range rs.Tables {
		for _, c := range tb.Chains {
			if tb.Family == "netdev" {
				dev = c
			}
		}
	}
	if dev == nil || dev.Hook != "ingress" || dev.Device != "lo" || dev.Priority != -500 {
		t.Fatalf("Read(netdev.nft) ingress chain = %+v, want hook ingress device lo priority -500", dev)
	}
	got := only(summary(Analyse(rs)), "ipv4 open", "filtering")
	want := []string{"filtering true", "ipv4 open tcp 22-22 by filter/input#2"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Analyse(netdev.nft) mismatch (-want +got):\n%s", diff)
	}
	if f := Format(rs); !strings.Contains(f, `hook ingress device "lo" priority -500`) {
		t.Errorf("Format(netdev.nft) lacks the device:\n%s", f)
	}
}

func TestKernelSets(t *testing.T) {
	fd := loadNFT(t, "sets.nft")
	rs, err := Read(fd)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	goldenText(t, "sets.txt", Format(rs))
	golden(t, "sets", Analyse(rs))
}

func TestKernelCounter(t *testing.T) {
	fd := loadNFT(t, "counter.nft")
	err := netnstest.InNetNS(fd, func() error {
		if out, err := exec.Command(netnstest.IPPath(t), "link", "set", "lo", "up").CombinedOutput(); err != nil {
			return fmt.Errorf("ip link set lo up: %v: %s", err, out)
		}
		l, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		defer l.Close()
		for range 3 {
			if _, err := l.WriteTo([]byte("x"), l.LocalAddr()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	rs, err := Read(fd)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	var got *Counter
	for _, e := range rs.Tables[0].Chains[0].Rules[0].Exprs {
		if c, ok := e.(Counter); ok {
			got = &c
		}
	}
	// Three datagrams of one byte: 29 bytes each on the wire (20 IP + 8 UDP + 1).
	if got == nil || got.Packets != 3 || got.Bytes != 3*29 {
		t.Errorf("Read(counter.nft) counter = %+v, want 3 packets, 87 bytes", got)
	}
}
