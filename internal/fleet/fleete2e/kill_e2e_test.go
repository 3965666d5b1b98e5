package fleete2e

import (
	"bufio"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/firewarden/firewarden/internal/fleet/pgtest"
	"github.com/firewarden/firewarden/internal/fleet/wire"
	"github.com/firewarden/firewarden/internal/host/hosttest"
)

// runUntilSpooled starts `agent run --once`, calls at as soon as the agent says its records are
// spooled (that is, while it uploads), and returns the exit code.
func (m *emac) runUntilSpooled(t *testing.T, at func(agent *exec.Cmd)) int {
	t.Helper()
	cmd := m.agentCmd("run", "--once")
	pr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	sc := bufio.NewScanner(pr)
	spooled := false
	for sc.Scan() {
		stderr.WriteString(sc.Text() + "\n")
		if strings.Contains(sc.Text(), "record(s) spooled") {
			spooled = true
			at(cmd)
			break
		}
	}
	for sc.Scan() {
		stderr.WriteString(sc.Text() + "\n")
	}
	err = cmd.Wait()
	if !spooled {
		t.Fatalf("agent run --once spooled nothing: %v\n%s", err, stderr.String())
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0
}

// kill -9 of the agent while it uploads and of the server while it ingests, at spread points:
// afterwards the server holds every record the agent spooled, once. The agent's last sequence
// number is the server's, the spool is empty, the evidence chain is unbroken on both sides, and
// the server's transitions are exactly the changes of the firewall's state from run to run,
// each once, in sequence order.
func TestFleetKill9LosesAndDuplicatesNothing(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testKill9(t, "") })
	t.Run("postgres", func(t *testing.T) { testKill9(t, pgtest.Start(t)) })
}

func testKill9(t *testing.T, db string) {
	f := newFleet(t, db)
	addr := freeAddr(t)
	s := f.serve(t, addr)
	s.putPolicy(t, wire.ModeReport)
	m := newMac(t, hosttest.Mac15(), "22222222-2222-4222-8222-000000000015")
	id := m.enroll(t, s)

	var states []string // the firewall's state at every run that spooled its records
	flip := func(i int) {
		st := []string{"on", "off"}[i%2]
		m.setGlobalState(t, st)
		states = append(states, st)
	}
	killAgent := func(agent *exec.Cmd) { agent.Process.Kill() }

	// The server gone: a spool builds up, the agent killed in its upload retries every time.
	s.kill()
	for i := range 8 {
		flip(i)
		if code := m.runUntilSpooled(t, killAgent); code != -1 {
			t.Fatalf("run %d: exit %d, want killed", i, code)
		}
	}
	if n := m.spooled(t); n < 8 {
		t.Fatalf("spool holds %d records after 8 runs without a server, want at least 8", n)
	}

	// The server back: kill -9 the server while the agent uploads (the first time with the whole
	// spool) and start it again on the same address, or kill -9 the agent mid-upload.
	s = f.serve(t, addr)
	for j := range 8 {
		flip(j + 1)
		delay := time.Duration(j) * 15 * time.Millisecond
		m.runUntilSpooled(t, func(agent *exec.Cmd) {
			time.Sleep(delay) // where the kill lands within the upload; any point must be safe
			if j%2 == 0 {
				s.kill()
				s = f.serve(t, addr)
			} else {
				agent.Process.Kill()
			}
		})
	}

	// A clean run sends what is left.
	m.setGlobalState(t, "on")
	states = append(states, "on")
	m.once(t, 0)

	if n := m.spooled(t); n != 0 {
		t.Errorf("spool holds %d records after a clean run, want 0", n)
	}
	v := s.host(t, id)
	if last := m.lastSeq(t); v.Host.LastSeq != last {
		t.Errorf("server's last_seq = %d, the agent's last seq %d", v.Host.LastSeq, last)
	}
	if v.Host.ChainBroken {
		t.Error("the server flags the host's evidence chain as broken")
	}
	if r := m.fw(t, "evidence", "--verify"); !strings.Contains(r.stdout, fmt.Sprintf("%d record(s), chain intact", len(states))) {
		t.Errorf("evidence --verify = exit %d %q, want %d records, chain intact", r.code, r.stdout, len(states))
	}

	var want []string
	for _, st := range states {
		status := map[string]string{"on": wire.StatusPass, "off": wire.StatusFail}[st]
		if len(want) == 0 || want[len(want)-1] != status {
			want = append(want, status)
		}
	}
	var got []string
	prev, prevSeq := "", uint64(0)
	for _, tr := range s.history(t, id, "alf.enabled") {
		got = append(got, tr.To)
		if tr.From != prev || tr.Seq <= prevSeq {
			t.Errorf("transition %+v follows %s at seq %d: a duplicate or a gap", tr, prev, prevSeq)
		}
		prev, prevSeq = tr.To, tr.Seq
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("alf.enabled's statuses on the server (-want +got):\n%s", diff)
	}
	t.Logf("%d runs, %d records, %d transitions", len(states), v.Host.LastSeq, len(got))
}
