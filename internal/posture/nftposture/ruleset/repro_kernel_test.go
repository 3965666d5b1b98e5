//go:build linux

package ruleset

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// verdictLines is the summary of an analysis without the "by" (rule handles depend on how nft
// numbers a file) and without notes: what is open and what the unmatched packets get.
func verdictLines(a Analysis, families ...string) []string {
	var out []string
	for _, l := range only(summary(a), families...) {
		if i := strings.Index(l, " by "); i >= 0 {
			l = l[:i]
		}
		out = append(out, l)
	}
	return out
}

// TestKernelRepro loads the minimal rule sets that showed wrong verdicts in the corpus
// measurement (issue 17: interval, interface, source and concatenated verdict maps; header
// loads nft merged) and compares the analysis with the hand-derived verdicts.
func TestKernelRepro(t *testing.T) {
	tests := []struct {
		file string
		fam  string
		want []string
	}{
		{"repro-dport-range-vmap.nft", "ipv4", []string{
			"ipv4 tcp drop", "ipv4 udp drop", "ipv4 echo drop", "ipv4 open tcp 22-25"}},
		{"repro-saddr-prefix-vmap-accept.nft", "ipv4", []string{
			"ipv4 tcp drop", "ipv4 udp drop", "ipv4 echo drop",
			"ipv4 open tcp 0-65535 from 10.0.0.0/8", "ipv4 open udp 0-65535 from 10.0.0.0/8"}},
		{"repro-saddr-vmap.nft", "ipv4", []string{
			"ipv4 tcp drop", "ipv4 udp drop", "ipv4 echo drop", "ipv4 open tcp 22-22 from 10.0.0.0/8"}},
		{"repro-saddr-single-vmap.nft", "ipv4", []string{
			"ipv4 tcp drop", "ipv4 udp drop", "ipv4 echo drop",
			"ipv4 open tcp 0-65535 from 10.0.0.1/32", "ipv4 open udp 0-65535 from 10.0.0.1/32"}},
		{"repro-iifname-vmap-jump.nft", "ipv4", []string{
			"ipv4 tcp drop", "ipv4 udp drop", "ipv4 echo drop", "ipv4 open tcp 22-22 iif br0"}},
		{"repro-concat-vmap-proto-dport.nft", "ipv4", []string{
			"ipv4 tcp drop", "ipv4 udp drop", "ipv4 echo drop", "ipv4 open tcp 22-22", "ipv4 open udp 53-53"}},
		{"repro-concat-vmap-l4proto-dport.nft", "ipv4", []string{
			"ipv4 tcp drop", "ipv4 udp drop", "ipv4 echo drop", "ipv4 open tcp 22-22", "ipv4 open udp 53-53"}},
		{"repro-plain-dport-vmap-ok.nft", "ipv4", []string{
			"ipv4 tcp drop", "ipv4 udp drop", "ipv4 echo drop", "ipv4 open tcp 22-22"}},
		{"repro-ip6-nexthdr-hoplimit-merged.nft", "ipv6", []string{
			// The sender chooses the hop limit: an echo request with 255 is accepted.
			"ipv6 tcp drop", "ipv6 udp drop", "ipv6 echo accept"}},
		{"repro-ip6-nexthdr-icmpv6type-hoplimit.nft", "ipv6", []string{
			"ipv6 tcp drop", "ipv6 udp drop", "ipv6 echo drop"}},
		{"repro-ip-ttl-protocol-merged.nft", "ipv4", []string{
			"ipv4 tcp drop", "ipv4 udp drop", "ipv4 echo accept"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			fd := loadNFT(t, tt.file)
			rs, err := Read(fd)
			if err != nil {
				t.Fatalf("Read(%s): %v", tt.file, err)
			}
			got := verdictLines(Analyse(rs), tt.fam)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Analyse(%s) mismatch (-want +got):\n%s\n%s", tt.file, diff, Format(rs))
			}
		})
	}
}
