//go:build linux

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/firewarden/firewarden/internal/netnstest"
)

// The held table end to end, in the server namespace of a veth pair with a fake root: fix holds
// the table it settles in the state directory; `nft flush ruleset` leaves the namespace as a
// reboot leaves the kernel; `fix --boot` puts the held table back exactly. Needs root; skips
// otherwise. CI runs it.

// heldPath is the held table in the host's state directory.
func (h *nftHost) heldPath() string { return filepath.Join(h.state, "firewall-table.json") }

// held reads the held file: its bytes and what it says ("" and nil when there is none).
func (h *nftHost) held(t *testing.T) (data []byte, by string) {
	t.Helper()
	data, err := os.ReadFile(h.heldPath())
	if os.IsNotExist(err) {
		return nil, ""
	}
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		By    string `json:"by"`
		Table struct {
			Data []byte `json:"data"`
		} `json:"table"`
	}
	if err := json.Unmarshal(data, &v); err != nil || len(v.Table.Data) == 0 {
		t.Fatalf("held file %s: %v, table %d bytes\n%s", h.heldPath(), err, len(v.Table.Data), data)
	}
	return data, v.By
}

// flush empties the namespace's ruleset, as a reboot leaves the kernel (or as `systemctl
// restart nftables` does before it loads its file).
func (h *nftHost) flush(t *testing.T) {
	t.Helper()
	nft, err := exec.LookPath("nft")
	if err != nil {
		t.Skip("needs nft to flush the ruleset as a reboot would: install nftables")
	}
	if out, err := exec.Command(netnstest.IPPath(t), "netns", "exec", h.pair.Server, nft, "flush", "ruleset").CombinedOutput(); err != nil {
		t.Fatalf("nft flush ruleset: %v: %s", err, out)
	}
}

// counts hides what counters counted: the held table keeps the counts of the moment it was
// held, and the namespace drops (and counts) stray IPv6 packets in between.
var counts = regexp.MustCompile(`packets \d+ bytes \d+`)

func (h *nftHost) ruleset(t *testing.T) string {
	t.Helper()
	s, ok := nftList(t, h.pair.Server)
	if !ok {
		t.Skip("needs nft to compare rulesets: install nftables")
	}
	return counts.ReplaceAllString(s, "packets N bytes N")
}

// setAllowed rewrites the baseline so that it allows the pair's port and the others given.
func (h *nftHost) setAllowed(t *testing.T, ports ...int) {
	t.Helper()
	var allowed strings.Builder
	for i, p := range append([]int{h.pair.Port}, ports...) {
		fmt.Fprintf(&allowed, "      - {name: s%d, proto: tcp, port: %d}\n", i, p)
	}
	yaml := "name: e2e\nfirewall: {enabled: true, stealth: true, logging: true}\nlinux:\n  firewall:\n    enabled: true\n    stealth: true\n    icmp_echo: false\n    logging: true\n    allowed:\n" + allowed.String()
	if err := os.WriteFile(h.baseline, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
}

// A fix holds its table; a reboot's empty kernel fails check; fix --boot puts the table back
// exactly, and check passes again.
func TestLinuxPostureHeldAcrossReboot(t *testing.T) {
	h := newNFTHost(t, map[string]string{})
	r := h.run(t, nil, "fix")
	r.want(t, "fix", 0)
	if data, by := h.held(t); data == nil || by != "fix" {
		t.Fatalf("after fix: held file %q by %q, want one by fix", h.heldPath(), by)
	}
	// The fake root runs no systemd: fix says what has to run at boot instead.
	if !strings.Contains(r.stderr, "the table is held in "+h.heldPath()) || !strings.Contains(r.stderr, "firewarden fix --boot") {
		t.Errorf("fix on a host without systemd: stderr %q, want it to name the held file and fix --boot", r.stderr)
	}
	if strings.Contains(r.stderr, "lives in the kernel only") {
		t.Errorf("fix still says the table lives in the kernel only: %q", r.stderr)
	}
	h.run(t, nil, "check").want(t, "check after fix", 0)
	want := h.ruleset(t)

	h.flush(t)
	r = h.run(t, nil, "check")
	r.want(t, "check after a reboot's flush", 1)
	if !strings.Contains(r.stdout, "that the kernel does not have: `sudo firewarden fix --boot` puts it back") {
		t.Errorf("check after a reboot's flush does not point to fix --boot:\n%s", r.stdout)
	}

	r = h.run(t, nil, "fix", "--boot")
	r.want(t, "fix --boot", 0)
	if !regexp.MustCompile(`^restored table inet firewarden_posture as held at \S+ \(fix\), verified\n$`).MatchString(r.stdout) {
		t.Errorf("fix --boot: stdout %q, want one line saying what it restored", r.stdout)
	}
	if got := h.ruleset(t); got != want {
		t.Errorf("after fix --boot the ruleset differs from the one fix made:\nwant:\n%s\ngot:\n%s", want, got)
	}
	h.run(t, nil, "check").want(t, "check after fix --boot", 0)
	h.pair.WantOpen(t, h.pair.Server4, "the allowed port after fix --boot")

	// Again, over the table in place: the same table, nothing else.
	h.run(t, nil, "fix", "--boot").want(t, "a second fix --boot", 0)
	if got := h.ruleset(t); got != want {
		t.Errorf("a second fix --boot changed the ruleset:\nwant:\n%s\ngot:\n%s", want, got)
	}

	// The table edited by hand is no longer the held one: check says so, fix holds the
	// baseline's table again.
	if out, err := exec.Command(netnstest.IPPath(t), "netns", "exec", h.pair.Server, "nft", "insert", "rule", "inet", "firewarden_posture", "input", "tcp", "dport", "9", "drop").CombinedOutput(); err != nil {
		t.Fatalf("nft insert rule: %v: %s", err, out)
	}
	res, code := h.checkJSON(t)
	if code != 1 || res["linux.firewall.enabled"].Status != "fail" || !strings.Contains(res["linux.firewall.enabled"].Detail, "firewarden's table is not restored at boot: the table held in") {
		t.Errorf("check of a table changed since it was held = exit %d, enabled %+v; want it to fail saying the held table is another one", code, res["linux.firewall.enabled"])
	}
	h.run(t, nil, "fix").want(t, "fix of a table changed since it was held", 0)
	h.run(t, nil, "check").want(t, "check after fixing it", 0)
}

// Nothing held: fix --boot says so and changes nothing. A damaged held file is refused whole,
// with exit 2, and the kernel is left as it was.
func TestLinuxPostureBootNothingOrDamaged(t *testing.T) {
	h := newNFTHost(t, map[string]string{})
	before := h.ruleset(t)
	r := h.run(t, nil, "fix", "--boot")
	r.want(t, "fix --boot with nothing held", 0)
	if !strings.HasPrefix(r.stdout, "nothing held: ") {
		t.Errorf("fix --boot with nothing held: stdout %q, want it to say nothing is held", r.stdout)
	}
	if got := h.ruleset(t); got != before {
		t.Errorf("fix --boot with nothing held changed the ruleset:\n%s", got)
	}

	h.run(t, nil, "fix").want(t, "fix", 0)
	good, _ := h.held(t)
	var v map[string]any
	json.Unmarshal(good, &v)
	table := v["table"].(map[string]any)
	data := table["data"].(string)
	for _, tc := range []struct {
		name string
		body []byte
	}{
		{"truncated", good[:len(good)/2]},
		{"not JSON", []byte("garbage\n")},
		{"unknown field", bytes.Replace(good, []byte(`"by":`), []byte(`"extra": 1, "by":`), 1)},
		{"absent table", bytes.Replace(good, []byte(`"absent": false`), []byte(`"absent": true`), 1)},
		{"damaged snapshot", bytes.Replace(good, []byte(data), []byte(data[:len(data)/2]+"AAAA"), 1)},
		{"other version", bytes.Replace(good, []byte(`"version": 1`), []byte(`"version": 7`), 1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if bytes.Equal(tc.body, good) {
				t.Fatalf("the damage did not apply to\n%s", good)
			}
			h.flush(t)
			empty := h.ruleset(t)
			if err := os.WriteFile(h.heldPath(), tc.body, 0o600); err != nil {
				t.Fatal(err)
			}
			r := h.run(t, nil, "fix", "--boot")
			r.want(t, "fix --boot of a damaged held file", 2)
			if !strings.Contains(r.stderr, "damaged held firewall table") || !strings.Contains(r.stderr, "nothing was changed") || strings.Count(r.stderr, "\n") != 1 {
				t.Errorf("fix --boot of a damaged held file: stderr %q, want one line saying it is damaged and nothing changed", r.stderr)
			}
			if got := h.ruleset(t); got != empty {
				t.Errorf("fix --boot of a damaged held file changed the ruleset:\n%s", got)
			}
			r = h.run(t, nil, "check")
			r.want(t, "check with a damaged held file", 1)
		})
	}
	os.WriteFile(h.heldPath(), good, 0o600)
	h.run(t, nil, "fix", "--boot").want(t, "fix --boot once the held file is whole again", 0)
	h.run(t, nil, "check").want(t, "check after it", 0)
}

// A fix waiting for confirmation holds nothing until `fix --confirm`; one that reverts leaves the
// held table as it was.
func TestLinuxPostureHeldConfirmWithin(t *testing.T) {
	h := newNFTHost(t, map[string]string{})
	h.run(t, nil, "fix").want(t, "the first fix", 0)
	first, _ := h.held(t)
	firstRules := h.ruleset(t)

	// A fix that allows one more port, not confirmed: held stays, the revert keeps it so.
	h.setAllowed(t, 7)
	r := h.run(t, nil, "fix", "--confirm-within", "2s")
	r.want(t, "fix --confirm-within 2s", 0)
	if !strings.Contains(r.stderr, "held for boot once `firewarden fix --confirm` keeps it") {
		t.Errorf("fix --confirm-within: stderr %q, want it to say the table is held only at --confirm", r.stderr)
	}
	if got, _ := h.held(t); !bytes.Equal(got, first) {
		t.Errorf("fix --confirm-within changed the held file:\nbefore:\n%s\nafter:\n%s", first, got)
	}
	// While it waits, check passes and says why the held table is another one.
	if res, code := h.checkJSON(t); code != 0 || !strings.Contains(res["linux.firewall.enabled"].Detail, "waits for confirmation") {
		t.Errorf("check while a fix waits for confirmation = exit %d, enabled %+v; want 0 and a note", code, res["linux.firewall.enabled"])
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if st, _ := h.readPending(t); st == "reverted" {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if st, _ := h.readPending(t); st != "reverted" {
		t.Fatalf("confirmation state = %q, want reverted", st)
	}
	if got, _ := h.held(t); !bytes.Equal(got, first) {
		t.Errorf("the revert changed the held file:\nbefore:\n%s\nafter:\n%s", first, got)
	}
	if got := h.ruleset(t); got != firstRules {
		t.Errorf("the revert left another ruleset:\nwant:\n%s\ngot:\n%s", firstRules, got)
	}
	h.run(t, nil, "check").want(t, "check after the revert (the first table, held)", 1) // port 7 is not open: allowed fails

	// Confirmed: held at --confirm, as the kernel runs it.
	r = h.run(t, nil, "fix", "--confirm-within", "60s")
	r.want(t, "fix --confirm-within 60s", 0)
	_, pid := h.readPending(t)
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
	if got, _ := h.held(t); !bytes.Equal(got, first) {
		t.Errorf("fix --confirm-within 60s changed the held file before --confirm")
	}
	h.run(t, nil, "fix", "--confirm").want(t, "fix --confirm", 0)
	got, by := h.held(t)
	if bytes.Equal(got, first) || by != "fix --confirm" {
		t.Errorf("after fix --confirm the held file is by %q, changed %v; want the confirmed table by fix --confirm", by, !bytes.Equal(got, first))
	}
	want := h.ruleset(t)
	h.flush(t)
	h.run(t, nil, "fix", "--boot").want(t, "fix --boot after the confirmed fix", 0)
	if got := h.ruleset(t); got != want {
		t.Errorf("fix --boot did not bring back the confirmed table:\nwant:\n%s\ngot:\n%s", want, got)
	}
}

// rollback holds what it restores: an earlier table, or none (the held file goes).
func TestLinuxPostureHeldRollback(t *testing.T) {
	h := newNFTHost(t, map[string]string{})
	if _, ok := nftList(t, h.pair.Server); !ok {
		t.Skip("needs nft to write the earlier table: install nftables")
	}
	h.run(t, nil, "fix").want(t, "fix on a host without a table", 0)
	h.run(t, nil, "rollback").want(t, "rollback to no table", 0)
	if data, _ := h.held(t); data != nil {
		t.Errorf("rollback to no table left the held file:\n%s", data)
	}

	earlier := "table inet firewarden_posture {\n\tchain input {\n\t\ttype filter hook input priority 0; policy drop;\n\t\ttcp dport 9 counter reject\n\t}\n}\n"
	cmd := exec.Command(netnstest.IPPath(t), "netns", "exec", h.pair.Server, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(earlier)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft -f: %v: %s", err, out)
	}
	want := h.ruleset(t)
	h.run(t, nil, "fix").want(t, "fix over an earlier table", 0)
	h.run(t, nil, "rollback").want(t, "rollback to the earlier table", 0)
	if _, by := h.held(t); !strings.HasPrefix(by, "rollback ") {
		t.Fatalf("after rollback the held file is by %q, want rollback BACKUP", by)
	}
	h.flush(t)
	h.run(t, nil, "fix", "--boot").want(t, "fix --boot after the rollback", 0)
	if got := h.ruleset(t); got != want {
		t.Errorf("fix --boot did not bring back the table rollback restored:\nwant:\n%s\ngot:\n%s", want, got)
	}
}

// On a host that runs systemd (a fake systemctl under the root), fix installs and enables the
// firewall service; check fails while it is disabled, and fix enables it again.
func TestLinuxPostureHeldBootService(t *testing.T) {
	systemctl := `#!/bin/sh
root=$(cd "$(dirname "$0")/../.." && pwd)
echo "$*" >>"$root/systemctl.log"
if [ "$1" = enable ]; then
	mkdir -p "$root/etc/systemd/system/sysinit.target.wants"
	ln -sf "/etc/systemd/system/$2" "$root/etc/systemd/system/sysinit.target.wants/$2"
fi
`
	h := newNFTHost(t, map[string]string{"usr/bin/systemctl": systemctl, "run/systemd/system/.keep": ""})
	os.Chmod(filepath.Join(h.root, "usr/bin/systemctl"), 0o755)
	unit := filepath.Join(h.root, "etc/systemd/system/firewarden-firewall.service")
	wants := filepath.Join(h.root, "etc/systemd/system/sysinit.target.wants/firewarden-firewall.service")

	r := h.run(t, nil, "fix")
	r.want(t, "fix", 0)
	if !strings.Contains(r.stderr, "installed and enabled firewarden-firewall.service") || !strings.Contains(r.stderr, "firewarden-firewall.service puts it back at boot") {
		t.Errorf("fix: stderr %q, want it to say it installed and enabled the boot service", r.stderr)
	}
	data, err := os.ReadFile(unit)
	if err != nil || !bytes.Contains(data, []byte("ExecStart=/usr/local/bin/firewarden --state-dir "+h.state+" fix --boot\n")) {
		t.Errorf("the unit %s: %v, want it to run fix --boot with the state directory\n%s", unit, err, data)
	}
	log, _ := os.ReadFile(filepath.Join(h.root, "systemctl.log"))
	if string(log) != "daemon-reload\nenable firewarden-firewall.service\n" {
		t.Errorf("systemctl runs = %q, want daemon-reload then enable (not start: the table is in place)", log)
	}
	h.run(t, nil, "check").want(t, "check with the boot service enabled", 0)

	os.Remove(wants) // systemctl disable
	res, code := h.checkJSON(t)
	if code != 1 || !strings.Contains(res["linux.firewall.enabled"].Detail, "firewarden's table is not restored at boot: the boot service firewarden-firewall.service is not enabled") {
		t.Errorf("check with the boot service disabled = exit %d, enabled %+v; want a fail saying it is not enabled", code, res["linux.firewall.enabled"])
	}
	r = h.run(t, nil, "fix")
	r.want(t, "fix with the boot service disabled", 0)
	if !strings.Contains(r.stderr, "firewarden: enabled firewarden-firewall.service") {
		t.Errorf("fix with the boot service disabled: stderr %q, want it to enable it", r.stderr)
	}
	if _, err := os.Lstat(wants); err != nil {
		t.Errorf("fix did not enable the boot service: %v", err)
	}
	h.run(t, nil, "check").want(t, "check after fix enabled it again", 0)

	// A unit that reads another state directory would put back another table: check says so,
	// fix writes the unit again.
	os.WriteFile(unit, bytes.ReplaceAll(data, []byte(h.state), []byte("/srv/elsewhere")), 0o644)
	res, code = h.checkJSON(t)
	if code != 1 || !strings.Contains(res["linux.firewall.enabled"].Detail, "the boot service firewarden-firewall.service reads the held table from /srv/elsewhere") {
		t.Errorf("check with the boot service reading another state directory = exit %d, enabled %+v; want a fail naming it", code, res["linux.firewall.enabled"])
	}
	r = h.run(t, nil, "fix")
	r.want(t, "fix with the boot service reading another state directory", 0)
	if got, _ := os.ReadFile(unit); !bytes.Equal(got, data) || !strings.Contains(r.stderr, "rewrote and enabled firewarden-firewall.service") {
		t.Errorf("fix did not write the unit back (stderr %q):\n%s", r.stderr, got)
	}
	h.run(t, nil, "check").want(t, "check after fix wrote the unit back", 0)
}
