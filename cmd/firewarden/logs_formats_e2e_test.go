package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// logsJSON is the part of `logs summarize --json` these tests read.
type logsJSON struct {
	Lines, Parsed, Malformed, Unrecognised int64
	Formats                                map[string]int64
	First, Last                            string
	Actions                                []struct{ Format, Action string }
	Rules                                  []struct {
		Name  string
		Count int64
	}
}

func summarizeJSON(t *testing.T, stdin []byte, args ...string) logsJSON {
	t.Helper()
	r := firewardenIn(t, stdin, append([]string{"--json", "logs", "summarize"}, args...)...)
	var rep logsJSON
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != 0 {
		t.Fatalf("exit %d, %v:\n%s%s", r.code, err, r.stdout, r.stderr)
	}
	return rep
}

// pfSense/OPNsense filterlog, Windows Firewall and MikroTik logs, and Proxmox's pve-firewall.log,
// recognised line by line in one run, with no --format.
func TestLogsSummarizeNewFormats(t *testing.T) {
	var files []string
	for _, f := range []string{"filterlog/crowdsec-pf-logs.log", "windows/synthetic-pfirewall.log", "mikrotik/crowdsec-mikrotik-logs.log", "proxmox/crowdsec-proxmox-iptables.log"} {
		files = append(files, filepath.Join(logdata, f))
	}
	rep := summarizeJSON(t, nil, files...)
	// filterlog 9; windows 12 (4 headers, 7 packets, 1 events-lost); mikrotik 6; netfilter 10.
	want := map[string]int64{"filterlog": 9, "windows": 12, "mikrotik": 6, "netfilter": 10}
	if d := cmp.Diff(want, rep.Formats); d != "" {
		t.Errorf("formats (-want +got):\n%s", d)
	}
	if rep.Malformed != 2 || rep.Unrecognised != 1 {
		t.Errorf("malformed %d, unrecognised %d; want 2 (windows), 1 (a MikroTik login line)", rep.Malformed, rep.Unrecognised)
	}
	var actions []string
	for _, a := range rep.Actions {
		actions = append(actions, a.Action+" ("+a.Format+")")
	}
	for _, a := range []string{"block (filterlog)", "pass (filterlog)", "DROP (windows)", "ALLOW (windows)", "drop (mikrotik)", "REJECT (netfilter)"} {
		if !strings.Contains(strings.Join(actions, ","), a) {
			t.Errorf("actions %v: no %s", actions, a)
		}
	}
}

// A syslog priority in front of a UniFi line no longer ends up in the rule, the line keeps its
// time, and the prefix's -D letter is a DROP.
func TestLogsSummarizePriorityAndVerdictLetter(t *testing.T) {
	line := "<161>Oct 10 07:25:12 host kernel: [wan-lan-default-D]IN=eth0 OUT= MAC=02:00:5e:aa:bb:cc:02:00:5e:dd:ee:ff:08:00 SRC=203.0.113.9 DST=192.0.2.1 LEN=60 TOS=0x00 PREC=0x00 TTL=52 ID=1 DF PROTO=TCP SPT=51234 DPT=22 WINDOW=64240 RES=0x00 SYN URGP=0\n"
	rep := summarizeJSON(t, []byte(line), "-")
	if rep.First != "Oct 10 07:25:12" || rep.Parsed != 1 {
		t.Errorf("first %q, parsed %d; want Oct 10 07:25:12, 1", rep.First, rep.Parsed)
	}
	if len(rep.Rules) != 1 || rep.Rules[0].Name != "netfilter [wan-lan-default-D]" {
		t.Errorf("rules = %v, want netfilter [wan-lan-default-D]", rep.Rules)
	}
	if len(rep.Actions) != 1 || rep.Actions[0].Action != "DROP" {
		t.Errorf("actions = %v, want DROP", rep.Actions)
	}
}

func TestLogsSummarizeFormatFlag(t *testing.T) {
	rep := summarizeJSON(t, nil, "--format", "windows", filepath.Join(logdata, "windows/synthetic-pfirewall.log"))
	if rep.Formats["windows"] != 12 {
		t.Errorf("formats = %v, want windows 12", rep.Formats)
	}
	r := firewardenIn(t, nil, "logs", "summarize", "--format", "cisco", "x.log")
	want := "firewarden: --format \"cisco\": use auto, ipfw, pf, alf, netfilter, filterlog, windows or mikrotik\n"
	if r.code != 2 || !strings.Contains(r.stderr, "use auto, ipfw, pf, alf, netfilter, filterlog, windows or mikrotik") {
		t.Errorf("exit %d, stderr %q; want 2, %q", r.code, r.stderr, want)
	}
}

// Lines the summary cannot read are shown with their file and line.
func TestLogsSummarizeMalformedWhere(t *testing.T) {
	file := filepath.Join(logdata, "windows/synthetic-pfirewall.log")
	r := firewardenIn(t, nil, "logs", "summarize", "--show-malformed", "5", file)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{file + ":14: malformed windows: 2026-02-20 09:13:58 DROP TCP", file + ":15: malformed windows:"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
}
