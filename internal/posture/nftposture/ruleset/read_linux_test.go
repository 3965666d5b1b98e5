//go:build linux

package ruleset

import (
	"errors"
	"io/fs"
	"testing"

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
