//go:build linux

package fwtable

import (
	"bytes"
	"strings"
	"testing"
)

// TestSame checks that snapshots of one table with other counts are the same table, and that a
// table with one rule more, or none, is not.
func TestSame(t *testing.T) {
	// nft names anonymous chains by a counter that runs on across loads; a table restored from
	// a snapshot keeps the snapshot's names, so this test, which loads twice, leaves them out.
	var lines []string
	for l := range strings.Lines(handEdited) {
		if !strings.Contains(l, "jump {") {
			lines = append(lines, l)
		}
	}
	table := strings.Join(lines, "")
	recount := strings.NewReplacer(
		"packets 12 bytes 3456", "packets 99 bytes 9999",
		"counter packets 3 bytes 180", "counter packets 4 bytes 240",
		"counter packets 7 bytes 700", "counter packets 70 bytes 7000",
		"counter ssh_hits {", "counter ssh_hits {\n\t\tpackets 5 bytes 300",
	)
	for _, tc := range []struct {
		name string
		next string // the table loaded after the first, handEdited; "" for none
		same bool
	}{
		{"other counts", recount.Replace(table), true},
		{"same counts", table, true},
		{"a rule more", strings.Replace(table, "\tchain web {\n", "\tchain web {\n\t\ttcp dport 7 drop\n", 1), false},
		{"another log limit", strings.Replace(table, "10/minute", "11/minute", 1), false},
		{"absent", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns, fd := namedNS(t)
			loadNFT(t, ns, table)
			first, err := Take(fd)
			if err != nil {
				t.Fatal(err)
			}
			nftRun(t, ns, "delete", "table", "inet", Table)
			if tc.next != "" {
				loadNFT(t, ns, tc.next)
			}
			second, err := Take(fd)
			if err != nil {
				t.Fatal(err)
			}
			if tc.name == "other counts" && bytes.Equal(first.Data, second.Data) {
				t.Fatal("the snapshots of tables with other counts are equal byte for byte: the test shows nothing")
			}
			for _, pair := range [][2]Snapshot{{first, second}, {second, first}} {
				got, err := Same(pair[0], pair[1])
				if err != nil || got != tc.same {
					t.Errorf("Same = %v, %v; want %v, nil", got, err, tc.same)
				}
			}
		})
	}
	if _, err := Same(Snapshot{Data: []byte(`{"version":1}`)}, Snapshot{Data: []byte(`{"version":1}`)}); err == nil {
		t.Error("Same of damaged snapshots = nil error, want ErrBadSnapshot")
	}
}
