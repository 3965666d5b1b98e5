//go:build linux

package fwtable

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/firewarden/firewarden/internal/netnstest"
)

// handEdited is a table as an operator might leave it: anonymous and named sets (hash and
// interval), a verdict map, named counters and quotas, counters with values, comments, chains
// jumped to.
const handEdited = `table inet firewarden_posture {
	counter ssh_hits {
		comment "ssh attempts"
	}
	quota web_quota {
		over 100 mbytes
	}
	set admins {
		type ipv4_addr
		elements = { 192.0.2.10, 192.0.2.11, 192.0.2.12 }
	}
	set nets6 {
		type ipv6_addr
		flags interval
		comment "admin networks"
		elements = { 2001:db8::/48, 2001:db8:5::/64 }
	}
	map ports {
		type inet_service : verdict
		elements = { 8080 : jump web, 8443 : accept }
	}
	chain input {
		type filter hook input priority filter + 5; policy drop;
		ct state established,related accept comment "established"
		iifname "lo" accept
		ip saddr @admins tcp dport 22 counter name "ssh_hits" accept
		ip6 saddr @nets6 tcp dport { 22, 2222 } accept comment "admins over IPv6"
		tcp dport vmap @ports
		udp dport { 53, 123, 5353 } counter packets 12 bytes 3456 accept
		ip saddr { 10.0.0.0/8, 172.16.0.0/12 } drop
		limit rate over 10/minute counter log prefix "edited: " level info
		counter packets 7 bytes 700 drop
	}
	chain web {
		quota name "web_quota" drop
		counter accept comment "web"
	}
}
`

// loadNFT loads text into namespace ns with nft -f, skipping the test when nft is missing.
func loadNFT(t *testing.T, ns, text string) {
	t.Helper()
	if _, err := os.Stat(nftPath); err != nil {
		t.Skipf("needs %s to make a hand-edited table: apt-get install nftables", nftPath)
	}
	cmd := exec.Command(netnstest.IPPath(t), "netns", "exec", ns, nftPath, "-f", "-")
	cmd.Stdin = strings.NewReader(text)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft -f: %v: %s", err, out)
	}
}

// TestSnapshotRoundTrip checks that a table survives Take, Write of another, Restore: as nft
// prints it and as a netlink dump reads it.
func TestSnapshotRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		load func(t *testing.T, ns string, fd int)
	}{
		{"written", func(t *testing.T, ns string, fd int) {
			if err := Write(fd, specs[2].s); err != nil {
				t.Fatal(err)
			}
		}},
		{"hand edited", func(t *testing.T, ns string, fd int) { loadNFT(t, ns, handEdited) }},
		{"empty table", func(t *testing.T, ns string, fd int) {
			loadNFT(t, ns, "table inet firewarden_posture {\n}\n")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns, fd := namedNS(t)
			tc.load(t, ns, fd)
			before, _ := nftList(t, ns)
			snap, err := Take(fd)
			if err != nil {
				t.Fatalf("Take: %v", err)
			}
			if snap.Absent {
				t.Fatal("Take of a table = Absent")
			}
			if err := Write(fd, Spec{Allowed: []Service{{Proto: "udp", From: 9, To: 9}}}); err != nil {
				t.Fatal(err)
			}
			if err := Restore(fd, snap); err != nil {
				t.Fatalf("Restore: %v", err)
			}
			if after, ok := nftList(t, ns); ok {
				if diff := cmp.Diff(before, after); diff != "" {
					t.Errorf("nft list after Take, Write, Restore (-before +after):\n%s", diff)
				}
			}
			again, err := Take(fd)
			if err != nil {
				t.Fatalf("Take after Restore: %v", err)
			}
			if !bytes.Equal(snap.Data, again.Data) {
				t.Errorf("Take after Restore differs from the Take before:\n%s\n%s", snap.Data, again.Data)
			}
		})
	}
}

func TestSnapshotAbsent(t *testing.T) {
	_, fd := namedNS(t)
	snap, err := Take(fd)
	if err != nil || !snap.Absent {
		t.Fatalf("Take(no table) = %+v, %v; want Absent", snap, err)
	}
	if err := Write(fd, specs[1].s); err != nil {
		t.Fatal(err)
	}
	if err := Restore(fd, snap); err != nil {
		t.Fatalf("Restore(Absent): %v", err)
	}
	if _, present, _, err := Current(fd); err != nil || present {
		t.Errorf("Current after Restore(Absent) = present %v, %v; want absent", present, err)
	}
	if err := Restore(fd, snap); err != nil {
		t.Errorf("Restore(Absent) with no table = %v, want nil", err)
	}
}

// TestRestoreDamaged checks that Restore refuses damaged snapshots and leaves the table as it
// was, whether the damage is found in decoding or by the kernel.
func TestRestoreDamaged(t *testing.T) {
	ns, fd := namedNS(t)
	if err := Write(fd, specs[2].s); err != nil {
		t.Fatal(err)
	}
	good, err := Take(fd)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := decodeSnapshot(good.Data)
	if err != nil {
		t.Fatal(err)
	}
	mutate := func(f func([]object) []object) Snapshot {
		cp := make([]object, len(objs))
		for i, o := range objs {
			cp[i] = object{Kind: o.Kind, Attrs: bytes.Clone(o.Attrs)}
		}
		data, err := encodeSnapshot(f(cp))
		if err != nil {
			t.Fatal(err)
		}
		return Snapshot{Data: data}
	}
	for _, tc := range []struct {
		name    string
		s       Snapshot
		decoded bool // the damage passes decoding, the kernel refuses it
	}{
		{"no data", Snapshot{}, false},
		{"not JSON", Snapshot{Data: []byte("{")}, false},
		{"truncated", Snapshot{Data: good.Data[:len(good.Data)/2]}, false},
		{"a rule cut short", mutate(func(os []object) []object {
			last := &os[len(os)-1]
			last.Attrs = last.Attrs[:len(last.Attrs)/2]
			return os
		}), false},
		{"the last rule's expressions damaged", mutate(func(os []object) []object {
			last := &os[len(os)-1]
			as, _ := attrs(last.Attrs)
			for _, a := range as {
				if a.typ == 4 { // NFTA_RULE_EXPRESSIONS: its first expression's name
					i := bytes.Index(last.Attrs, a.raw)
					copy(last.Attrs[i+4+8:], "zzzz")
				}
			}
			return os
		}), true},
		{"another table", mutate(func(os []object) []object {
			os[0].Attrs = bytes.Replace(os[0].Attrs, []byte(Table), []byte("firewarden_postur3"), 1)
			return os
		}), false},
		{"a rule of another table", mutate(func(os []object) []object {
			last := &os[len(os)-1]
			last.Attrs = bytes.Replace(last.Attrs, []byte(Table), []byte("firewarden_postur3"), 1)
			return os
		}), false},
		{"no chain", mutate(func(os []object) []object {
			var out []object
			for _, o := range os {
				if o.Kind != "chain" {
					out = append(out, o)
				}
			}
			return out
		}), false},
		{"rules before the chain", mutate(func(os []object) []object {
			return append(os[len(os)-1:], os[:len(os)-1]...)
		}), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := Write(fd, specs[1].s); err != nil {
				t.Fatal(err)
			}
			want, _ := nftList(t, ns)
			err := Restore(fd, tc.s)
			if err == nil {
				t.Fatal("Restore of a damaged snapshot succeeded")
			}
			if errors.Is(err, ErrBadSnapshot) == tc.decoded {
				t.Errorf("Restore = %v; want an error wrapping ErrBadSnapshot: %v", err, !tc.decoded)
			}
			got, present, exact, err := Current(fd)
			if err != nil || !present || !exact {
				t.Fatalf("Current after a refused Restore = present %v, exact %v, %v", present, exact, err)
			}
			if diff := cmp.Diff(specs[1].s, got, equateAddrs); diff != "" {
				t.Errorf("Current after a refused Restore (-want +got):\n%s", diff)
			}
			if after, ok := nftList(t, ns); ok && after != want {
				t.Errorf("nft list after a refused Restore:\n%s\nwant:\n%s", after, want)
			}
		})
	}
}
