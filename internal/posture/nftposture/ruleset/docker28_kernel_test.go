//go:build linux

package ruleset

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestKernelDocker28 loads the rules Docker 28.2.2 itself writes for a published port (see
// testdata/kernel/docker28-portmap.rules for the source), alone and next to a host's own
// default-deny table: Docker's tables do not filter the input hook, so alone the host accepts
// everything; the published port is reached through Docker's DNAT in prerouting, before any
// input chain, with a note saying so; the raw table's drop of direct access to the container
// depends on the destination address and is noted, not taken.
func TestKernelDocker28(t *testing.T) {
	for _, tt := range []struct {
		name    string
		host    bool // load docker-host.nft too
		want    []string
		owners  []string
		noteHas []string
	}{
		{"alone", false,
			[]string{"ipv4 tcp accept", "ipv4 udp accept", "ipv4 echo accept", "ipv4 open tcp 0-8079", "ipv4 open tcp 8080-8080", "ipv4 open tcp 8081-65535", "ipv4 open udp 0-65535"},
			[]string{"ip filter docker", "ip nat docker", "ip raw iptables-nft"},
			[]string{"dnat: the packet is forwarded to another address"}},
		{"beside the host's table", true,
			[]string{"ipv4 tcp drop", "ipv4 udp drop", "ipv4 echo drop", "ipv4 open tcp 22-22", "ipv4 open tcp 8080-8080"},
			[]string{"ip filter docker", "ip nat docker", "ip raw iptables-nft", "inet filter nft"},
			[]string{"dnat: the packet is forwarded to another address", "depends on the destination address"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fd := loadIPTables(t, "docker28-portmap.rules")
			if tt.host {
				addNFT(t, fd, "docker-host.nft")
			}
			rs, err := Read(fd)
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			a := Analyse(rs)
			if diff := cmp.Diff(tt.want, verdictLines(a, "ipv4")); diff != "" {
				t.Errorf("Analyse(docker 28) mismatch (-want +got):\n%s\n%s", diff, Format(rs))
			}
			var owners []string
			for _, tb := range a.Tables {
				owners = append(owners, tb.Family+" "+tb.Name+" "+tb.Owner)
			}
			if diff := cmp.Diff(tt.owners, owners); diff != "" {
				t.Errorf("Analyse(docker 28) owners mismatch (-want +got):\n%s", diff)
			}
			var notes []string
			for _, n := range a.Notes {
				notes = append(notes, n.What+" ("+n.Where.String()+")")
			}
			for _, s := range tt.noteHas {
				if !strings.Contains(strings.Join(notes, "\n"), s) {
					t.Errorf("Analyse(docker 28) notes lack %q:\n%s", s, strings.Join(notes, "\n"))
				}
			}
		})
	}
}
