package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/firewarden/firewarden/internal/exposure"
	"github.com/firewarden/firewarden/internal/host/hosttest"
)

// writeBaseline writes a baseline file and returns its path.
func writeBaseline(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "b.yaml")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// The exposure posture checks through the real binary on the fake Debian of the exposure tests:
// a baseline whose exposure section wants postgres on loopback and does not list 0.0.0.0:9999
// fails both checks with the fixes, at the baseline's own lines; --only, --json, evidence and fix
// see them like any other check; a baseline that allows what listens passes.
func TestExposureChecks(t *testing.T) {
	root := exposureLinux(t)
	strict := writeBaseline(t, "name: services\n"+
		"exposure:\n"+
		"  expect:\n"+
		"    - {process: sshd, port: 22, scope: any}\n"+
		"    - {process: postgres, port: 5432, scope: loopback}\n"+ // line 5
		"    - {process: redis-server, scope: lan}\n"+
		"    - {port: 53, proto: udp, scope: lan}\n")
	keepOut := func(port string) string {
		return "keep other hosts out: leave tcp port " + port + " out of the baseline's linux.firewall.allowed and run `firewarden fix`, whose table drops what the list does not allow"
	}
	pgFix := "tcp/0.0.0.0:5432: bind postgres (pid 840) to 127.0.0.1:5432 instead of 0.0.0.0:5432 (" + strict + ":5 allows loopback only); or " + keepOut("5432")
	strayFix := "tcp/0.0.0.0:9999: stop the process (not found: run as root, or it belongs to another PID namespace such as a container) or bind it to 127.0.0.1:9999; or " + keepOut("9999") + "; " +
		"if it is meant to listen, add to " + strict + ": - {process: NAME, port: 9999, proto: tcp, scope: any}"

	r := firewarden(t, root, "check", "--baseline", strict)
	if r.code != 1 ||
		!regexpLine(r.stdout, `exposure\.unexpected +fail +none +1 listener +/proc +CIS Debian 12 2\.1\.22; CIS Controls v8 4\.8; 800-53r5 CM-7 CM-7\(1\)$`) ||
		!regexpLine(r.stdout, `exposure\.too_wide +fail +none +1 listener +/proc +CIS Debian 12 2\.1\.22; CIS Controls v8 4\.8; 800-53r5 CM-7 SC-7$`) ||
		!strings.Contains(r.stdout, "\nexposure.unexpected: "+strayFix+"\n") || !strings.Contains(r.stdout, "\nexposure.too_wide: "+pgFix+"\n") ||
		!strings.Contains(r.stdout, "2 checks: 2 fail: NOT compliant") {
		t.Errorf("check (strict): exit %d, want 1 and both checks failing with their fixes\n%s%s", r.code, r.stdout, r.stderr)
	}

	r = firewarden(t, root, "check", "--baseline", strict, "--only", "exposure.unexpected")
	if r.code != 1 || strings.Contains(r.stdout, "exposure.too_wide") || !strings.Contains(r.stdout, "1 check: 1 fail") {
		t.Errorf("check --only exposure.unexpected: exit %d, want 1 and that check only\n%s%s", r.code, r.stdout, r.stderr)
	}

	r = firewarden(t, root, "--json", "check", "--baseline", strict)
	var rec struct {
		Results []struct {
			ID, Status, Actual, Detail string
			Evidence                   []struct{ Kind, Path, Content, SHA256 string }
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &rec); err != nil || r.code != 1 || len(rec.Results) != 2 {
		t.Fatalf("--json check: exit %d, %v, %d results:\n%s", r.code, err, len(rec.Results), r.stdout)
	}
	for _, res := range rec.Results {
		if res.Status != "fail" || len(res.Evidence) != 1 || res.Evidence[0].Kind != "listeners" || len(res.Evidence[0].SHA256) != 64 ||
			!strings.Contains(res.Evidence[0].Content, "tcp 0.0.0.0:9999 all pid=0 process=\"\" path=\"\"\n") {
			t.Errorf("--json check %s = %s with evidence %+v, want fail resting on the listing", res.ID, res.Status, res.Evidence)
		}
	}

	out := filepath.Join(t.TempDir(), "ev.json")
	r = firewarden(t, root, "evidence", "--baseline", strict, "--out", out)
	data, _ := os.ReadFile(out)
	var entry struct {
		Record struct {
			Results []struct {
				ID, Status string
				Evidence   []struct{ Kind string }
			}
		}
	}
	if err := json.Unmarshal(data, &entry); err != nil || r.code != 1 {
		t.Fatalf("evidence: exit %d, %v\n%s", r.code, err, r.stderr)
	}
	var ids []string
	for _, res := range entry.Record.Results {
		if len(res.Evidence) == 1 && res.Evidence[0].Kind == "listeners" {
			ids = append(ids, res.ID+" "+res.Status)
		}
	}
	if strings.Join(ids, ", ") != "exposure.unexpected fail, exposure.too_wide fail" {
		t.Errorf("evidence record holds %q, want both exposure checks failing with the listing", ids)
	}

	r = firewarden(t, root, "fix", "--baseline", strict)
	if r.code != 1 || !strings.Contains(r.stdout, "nothing changed: what fails is not firewarden's to change\n") ||
		!strings.Contains(r.stdout, "exposure.too_wide: not changed: firewarden changes no service or bind address; "+pgFix+"\n") {
		t.Errorf("fix: exit %d, want 1 and the fix in words\n%s%s", r.code, r.stdout, r.stderr)
	}

	allowed := writeBaseline(t, "exposure:\n  expect:\n"+
		"    - {process: sshd, scope: any}\n    - {process: postgres, scope: any}\n    - {port: 9999, scope: any}\n"+
		"    - {process: redis-server, scope: lan}\n    - {process: dnsmasq, scope: lan}\n")
	r = firewarden(t, root, "check", "--baseline", allowed)
	if r.code != 0 || !regexpLine(r.stdout, `exposure\.unexpected +pass +none +none +/proc`) || !regexpLine(r.stdout, `exposure\.too_wide +pass +none +none +/proc`) {
		t.Errorf("check (everything allowed): exit %d, want 0 and both passing\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// A baseline without an exposure section does not include the checks, as for any key a baseline
// leaves out: no row, and --only naming them is refused with what to do.
func TestExposureChecksWithoutSection(t *testing.T) {
	root := exposureLinux(t)
	b := writeBaseline(t, "name: ssh only\nlinux:\n  ssh:\n    root_login: off\n")
	r := firewarden(t, root, "check", "--baseline", b)
	if strings.Contains(r.stdout, "exposure.") {
		t.Errorf("check without an exposure section: exit %d, want no exposure row\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = firewarden(t, root, "check", "--baseline", b, "--only", "exposure.too_wide")
	if want := "firewarden: --only exposure.too_wide: the baseline does not include these checks; add them to the baseline\n"; r.code != 2 || r.stderr != want {
		t.Errorf("check --only exposure.too_wide = exit %d, stderr %q, want 2 and %q", r.code, r.stderr, want)
	}
}

// A mistake in the exposure section is the baseline's error, at its line, exit 2.
func TestExposureChecksBadBaseline(t *testing.T) {
	root := exposureLinux(t)
	b := writeBaseline(t, "exposure:\n  expect:\n    - {process: sshd, port: 22, scope: any}\n    - {process: postgres, scope: world}\n")
	r := firewarden(t, root, "check", "--baseline", b)
	want := `firewarden: baseline b.yaml: line 4: exposure.expect: scope should be loopback, lan or any, not "world"; compare with ` + "`firewarden baseline default`\n"
	if r.code != 2 || r.stdout != "" || r.stderr != want {
		t.Errorf("check with a bad exposure section = exit %d, stdout %q, stderr %q, want 2, nothing and %q", r.code, r.stdout, r.stderr, want)
	}
}

// The agent runs the exposure checks of the policy's baseline like any other, and uploads them
// with the listing they rest on.
func TestExposureChecksAgent(t *testing.T) {
	srv := newFleetServer(t)
	srv.config.Policy.BaselineYAML = "name: e2e\nexposure:\n  expect:\n    - {process: sshd, port: 22, scope: any}\n    - {process: postgres, scope: any}\n"
	root := exposureLinux(t)
	if err := os.WriteFile(filepath.Join(root, "etc/machine-id"), []byte("4c5d6e7f80914c5d6e7f80914c5d6e7f\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := firewarden(t, root, "agent", "enroll", "--server", srv.URL, "--secret", "fwe_e2e", "--fingerprint", srv.fingerprint()); r.code != 0 {
		t.Fatalf("enroll: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := firewarden(t, root, "agent", "run", "--once"); r.code != 1 {
		t.Errorf("agent run --once: exit %d, want 1 (redis, dnsmasq and 9999 are not in the baseline)\n%s", r.code, r.stderr)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	var got []string
	for _, rec := range srv.records {
		if rec.Run == nil {
			continue
		}
		for _, res := range rec.Run.Results {
			kind := ""
			if len(res.Evidence) > 0 {
				kind = res.Evidence[0].Kind
			}
			got = append(got, res.Check+" "+res.Status+" "+res.Actual+" "+kind)
		}
	}
	if want := "exposure.unexpected fail 3 listeners listeners, exposure.too_wide pass none listeners"; strings.Join(got, ", ") != want {
		t.Errorf("uploaded results = %q, want %q", got, want)
	}
}

// On the fake Mac the checks read lsof (a stand-in printing the captured field output of
// internal/exposure/testdata/lsof) and record its run as evidence.
func TestExposureChecksMac(t *testing.T) {
	root := mac(t, hosttest.Mac15())
	fixture, err := filepath.Abs("../../internal/exposure/testdata/lsof/sonoma-services.txt")
	if err != nil {
		t.Fatal(err)
	}
	for path, script := range map[string]string{
		"usr/sbin/lsof": "#!/bin/sh\n[ \"$*\" = '" + strings.Join(exposure.LsofArgs, " ") + "' ] || { echo \"lsof: unexpected arguments $*\" >&2; exit 2; }\nexec cat '" + fixture + "'\n",
		"bin/ps":        "#!/bin/sh\nprintf ' 1204 /Applications/Postgres.app/Contents/Versions/16/bin/postgres\\n'\nexit 1\n",
	} {
		p := filepath.Join(root, path)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	b := writeBaseline(t, "exposure:\n  expect:\n"+
		"    - {process: launchd, port: 22, scope: any}\n"+
		"    - {process: node, port: 3030, scope: any}\n"+
		"    - {process: ControlCenter, scope: any}\n"+
		"    - {process: postgres, port: 5432, scope: loopback}\n"+
		"    - {process: redis-server, port: 6379, scope: loopback}\n"+ // line 7
		"    - {process: com.docker.backend, scope: any}\n")
	r := firewarden(t, root, "check", "--baseline", b)
	if r.code != 1 ||
		!regexpLine(r.stdout, `exposure\.unexpected +fail +none +2 listeners +lsof +CIS Controls v8 4\.8; 800-53r5 CM-7 CM-7\(1\)$`) ||
		!regexpLine(r.stdout, `exposure\.too_wide +fail +none +1 listener +lsof`) ||
		!strings.Contains(r.stdout, "exposure.too_wide: tcp/0.0.0.0:6379: bind redis-server (pid 1388) to 127.0.0.1:6379 instead of 0.0.0.0:6379 ("+b+":7 allows loopback only); "+
			"or keep other hosts out with the pf rule `block in quick on ! lo0 proto tcp from any to any port 6379`\n") ||
		!strings.Contains(r.stdout, "exposure.unexpected: udp/0.0.0.0:5353: stop mDNSResponder (pid 412) or bind it to 127.0.0.1:5353") {
		t.Errorf("check on the fake Mac: exit %d, want 1 with redis too wide and mDNSResponder unexpected\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = firewarden(t, root, "--json", "check", "--baseline", b, "--only", "exposure.too_wide")
	var rec struct {
		Results []struct {
			Evidence []struct {
				Kind    string
				Argv    []string
				Content string
			}
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &rec); err != nil || len(rec.Results) != 1 {
		t.Fatalf("--json check: exit %d, %v:\n%s", r.code, err, r.stdout)
	}
	var kinds []string
	for _, ev := range rec.Results[0].Evidence {
		kinds = append(kinds, ev.Kind+" "+strings.Join(ev.Argv, " "))
	}
	if want := "exec /usr/sbin/lsof " + strings.Join(exposure.LsofArgs, " "); len(kinds) < 2 || kinds[0] != want || kinds[len(kinds)-1] != "listeners " {
		t.Errorf("evidence = %q, want lsof's run first and the listing last", kinds)
	}
	// The listing carries the Application Firewall's verdict, read as `exposure` reads it.
	evs := rec.Results[0].Evidence
	if listing := evs[len(evs)-1].Content; !strings.Contains(listing, "tcp 0.0.0.0:6379 all pid=1388 process=\"redis-server\" path=\"\" firewall=allowed why=") {
		t.Errorf("listing evidence = %q, want redis with the firewall's verdict", listing)
	}
}

// The checks judge the ports containers publish as `exposure` does: Mattermost published on
// every interface where the baseline wants loopback is too wide, with the -p to write, and what
// the reading warned of (podman not answering, ufw not protecting Docker's ports) qualifies the
// verdict.
func TestExposureChecksContainers(t *testing.T) {
	root := containersLinux(t)
	b := writeBaseline(t, "exposure:\n  expect:\n"+
		"    - {process: sshd, port: 22, scope: any}\n"+
		"    - {container: mattermost, port: 8065, scope: loopback}\n"+
		"    - {container: db, port: 5432, scope: loopback}\n"+
		"    - {container: jellyfin, scope: any}\n"+
		"    - {container: relay, scope: lan}\n")
	r := firewarden(t, root, "check", "--baseline", b)
	if r.code != 1 || !regexpLine(r.stdout, `exposure\.too_wide +fail +none +2 listeners +/proc`) ||
		!strings.Contains(r.stdout, "exposure.too_wide: tcp/0.0.0.0:8065: publish chat-mattermost-1's port as -p 127.0.0.1:8065:8065 (docker run) instead of 0.0.0.0:8065") ||
		!strings.Contains(r.stdout, "this verdict is conditional on what the reading warned: /usr/bin/podman ps --format json exited with status 125") ||
		!strings.Contains(r.stdout, "ufw manages this host's firewall") {
		t.Errorf("check with published container ports: exit %d, want 1 and mattermost too wide\n%s%s", r.code, r.stdout, r.stderr)
	}
}
