package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The ipfw grammar of FreeBSD 13/14 through the real binary: a reply passes on the dynamic rule
// its flow's first packet created (UDP as well as TCP), tables the script fills are addresses,
// a rule in a disabled set does not apply and is named, and the statements not simulated (nat
// config) are named beside every verdict.
func TestRulesEvalIPFWGrammar(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "fw.sh")
	text := `#!/bin/sh
fw="/sbin/ipfw -q"
$fw -f flush
$fw table 1 add 203.0.113.0/24
$fw nat 1 config if em0 same_ports
$fw add 100 allow ip from any to any via lo0 // loopback
$fw add 200 deny ip from "table(1)" to any in
$fw add 300 check-state :dns
$fw add 400 allow { tcp or udp } from me to any 53 out keep-state :dns
$fw add 500 allow ip from any to any dst-port 22 in
$fw add 600 set 3 allow ip from any to any in
$fw set disable 3
$fw add 65000 deny ip4 from any to any
`
	if err := os.WriteFile(script, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		packet, verdict, rule string
	}{
		{"udp 198.51.100.53:53 -> 192.0.2.10:51000 in via em0 reply", "allow", "00300"}, // the DNS answer
		{"udp 198.51.100.53:53 -> 192.0.2.10:51000 in via em0", "deny", "65000"},        // not a reply: no state
		{"udp 192.0.2.10:51000 -> 198.51.100.53:53 out via em0", "allow", "00400"},
		{"tcp 203.0.113.9:40000 -> 192.0.2.10:22 in via em0 setup", "deny", "00200"}, // in table 1
		{"tcp 198.51.100.9:40000 -> 192.0.2.10:22 in via em0 setup", "allow", "00500"},
		{"udp 198.51.100.9:40000 -> 192.0.2.10:22 in via em0", "allow", "00500"}, // dst-port with ip: UDP too
		{"icmp 198.51.100.9 -> 192.0.2.10 in via em0 type 8", "deny", "65000"},   // set 3 is disabled
	}
	for _, tt := range tests {
		t.Run(tt.packet, func(t *testing.T) {
			r := firewardenRaw(t, "--json", "rules", "eval", script, "--packet", tt.packet)
			var got []struct {
				Verdict, Rule string
				Conditional   []string
			}
			if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || r.code != 0 || len(got) != 1 {
				t.Fatalf("rules eval --packet %q = exit %d, stdout %q, stderr %q; want one result", tt.packet, r.code, r.stdout, r.stderr)
			}
			if got[0].Verdict != tt.verdict || got[0].Rule != tt.rule {
				t.Errorf("rules eval --packet %q = %s by %s, want %s by %s", tt.packet, got[0].Verdict, got[0].Rule, tt.verdict, tt.rule)
			}
			want := []string{
				script + ":5: not modelled: ipfw nat 1 config if em0 same_ports (address translation is not simulated: rules see packets untranslated)",
				script + ":11: not modelled: rule 00600 is in disabled set 3 (ipfw set enable 3 would apply it)",
			}
			var notes []string
			for _, c := range got[0].Conditional {
				if strings.HasPrefix(c, script) {
					notes = append(notes, c)
				}
			}
			if diff := cmp.Diff(want, notes); diff != "" {
				t.Errorf("rules eval --packet %q notes (-want +got):\n%s", tt.packet, diff)
			}
		})
	}
}

// --iface decides ipfw's antispoof: without it the packet is taken as not spoofed.
func TestRulesEvalIPFWAntispoofIface(t *testing.T) {
	script := filepath.Join(t.TempDir(), "as.sh")
	if err := os.WriteFile(script, []byte("ipfw add 100 deny ip from any to any not antispoof in\nipfw add 200 allow ip from any to any\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	packet := "udp 10.1.2.3:5 -> 192.0.2.10:53 in via em0"
	for _, tt := range []struct {
		args []string
		want string
	}{
		{nil, "allow 00200"},
		{[]string{"--iface", "em0=192.0.2.10/24", "--iface", "em1=10.0.0.1/8"}, "deny 00100"},
	} {
		args := append([]string{"--json", "rules", "eval", script, "--packet", packet}, tt.args...)
		r := firewardenRaw(t, args...)
		var got []struct{ Verdict, Rule string }
		if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || r.code != 0 || len(got) != 1 {
			t.Fatalf("firewarden %s = exit %d, stdout %q, stderr %q; want one result", strings.Join(args, " "), r.code, r.stdout, r.stderr)
		}
		if g := got[0].Verdict + " " + got[0].Rule; g != tt.want {
			t.Errorf("firewarden %s = %s, want %s", strings.Join(args, " "), g, tt.want)
		}
	}
}
