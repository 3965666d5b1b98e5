package fwlog

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TestFirewallLogCorpus measures how many real firewall log lines the parsers read, over a corpus
// of public logs that is not kept here (licences vary; testdata keeps the lines whose licence
// allows it). The corpus is a folder with one subfolder per family, named as the format it holds
// (filterlog, windows, mikrotik, netfilter, proxmox — Proxmox lines are netfilter's):
//
//	FWLOG_CORPUS=/work/handoff/i16/corpus/fwlogs go test ./internal/fwlog -run FirewallLogCorpus -v
//
// A line counts as the family's when it carries the family's mark (the "filterlog" tag, MikroTik's
// "firewall," topic or "CHAIN: in:", netfilter's "IN="/"OUT=", any non-blank line of a
// pfirewall.log or a pve-firewall.log); the share is of those lines that a summary without
// --format reads as that format. The test fails when a family's share drops below its floor, and
// logs every line it could not read.
func TestFirewallLogCorpus(t *testing.T) {
	root := os.Getenv("FWLOG_CORPUS")
	if root == "" {
		t.Skip("set FWLOG_CORPUS to the firewall log corpus (see /work/handoff/i16/corpus/fwlogs/SOURCES.md) to measure against it")
	}
	families := []struct {
		dir    string
		format Format
		mark   func(line []byte) bool
		floor  float64
	}{
		{"filterlog", FormatFilterlog, func(l []byte) bool { return bytes.Contains(l, []byte("filterlog")) }, 0.99},
		{"windows", FormatWindows, func(l []byte) bool { return len(trimRight(l)) > 0 }, 0.99},
		{"mikrotik", FormatMikroTik, func(l []byte) bool {
			return bytes.Contains(l, []byte("firewall,")) || bytes.Contains(l, []byte(": in:"))
		}, 0.99},
		{"netfilter", FormatNetfilter, func(l []byte) bool { return bytes.Contains(l, []byte("IN=")) || bytes.Contains(l, []byte("OUT=")) }, 0.9},
		{"proxmox", FormatNetfilter, func(l []byte) bool { return len(trimRight(l)) > 0 }, 0.99},
	}
	var report []string
	for _, fam := range families {
		files, _ := filepath.Glob(filepath.Join(root, fam.dir, "*"))
		sort.Strings(files)
		var marked, read, nfiles int
		s := NewSummary(Options{})
		for _, path := range files {
			if strings.HasSuffix(path, ".md") {
				continue
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			nfiles++
			for i, line := range bytes.Split(data, []byte("\n")) {
				if !fam.mark(line) {
					continue
				}
				marked++
				before, malformed := s.ByFormat[fam.format], s.Malformed
				s.Line(line, int64(i))
				if s.ByFormat[fam.format] == before+1 {
					read++
					continue
				}
				why := "not recognised"
				if s.Malformed > malformed {
					why = "malformed"
				}
				t.Logf("%s:%d: %s: %s", filepath.Base(path), i+1, why, line)
			}
		}
		if marked == 0 {
			t.Logf("%s: no lines", fam.dir)
			continue
		}
		share := float64(read) / float64(marked)
		report = append(report, fmt.Sprintf("%-10s %2d files %6d lines %6d read as %-9s %6.2f %%", fam.dir, nfiles, marked, read, fam.format, 100*share))
		if share < fam.floor {
			t.Errorf("%s: %.2f %% read, below the %.0f %% floor", fam.dir, 100*share, 100*fam.floor)
		}
	}
	t.Log("\n" + strings.Join(report, "\n"))
}
