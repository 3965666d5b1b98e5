package sqlite

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/firewarden/firewarden/internal/fleet/store"
	"github.com/firewarden/firewarden/internal/fleet/wire"
)

// TestKillLosesNothingAcknowledged runs Ingest in a child process, kills it with SIGKILL in
// the middle of its writes, and checks that every batch whose Ingest had returned (what the
// server acknowledges to an agent) is in the database, once.
func TestKillLosesNothingAcknowledged(t *testing.T) {
	if path := os.Getenv("FLEET_KILL_DB"); path != "" {
		killChild(path)
		return
	}
	path := filepath.Join(t.TempDir(), "fleet.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.EnrollHost(context.Background(), store.Host{ID: "h1", UUID: "u1", EnrolledAt: time.Unix(0, 0)}, []byte("c")); err != nil {
		t.Fatal(err)
	}
	s.Close()

	cmd := exec.Command(os.Args[0], "-test.run=^TestKillLosesNothingAcknowledged$")
	cmd.Env = append(os.Environ(), "FLEET_KILL_DB="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var acked uint64
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		n, ok := strings.CutPrefix(sc.Text(), "acked ")
		if !ok {
			continue
		}
		if acked, err = strconv.ParseUint(n, 10, 64); err != nil {
			t.Fatal(err)
		}
		if acked >= 40 {
			break
		}
	}
	cmd.Process.Kill() // SIGKILL, while the child goes on writing
	cmd.Wait()
	if acked < 40 {
		t.Fatalf("the child acknowledged %d batches before it died, want 40", acked)
	}

	s, err = Open(path)
	if err != nil {
		t.Fatalf("Open after kill -9 = %v", err)
	}
	defer s.Close()
	h, err := s.Host(context.Background(), "h1")
	if err != nil {
		t.Fatal(err)
	}
	if h.LastSeq < acked {
		t.Errorf("LastSeq after kill -9 = %d, want at least the %d acknowledged", h.LastSeq, acked)
	}
	// Every run record is a stored run or a repeat folded into one.
	var runs, repeats, distinct uint64
	// The latest run's repeats are counted in its host row.
	if err := s.r.QueryRow(`SELECT count(*), coalesce(sum(iif(r.id = h.run_rowid, h.run_repeats, r.repeats)), 0), count(DISTINCT r.seq)
		FROM runs r JOIN hosts h ON h.id = r.host_id WHERE r.host_id = 'h1'`).
		Scan(&runs, &repeats, &distinct); err != nil {
		t.Fatal(err)
	}
	if runs+repeats != h.LastSeq || distinct != runs {
		t.Errorf("runs stored = %d + %d repeats (%d distinct seqs), want one per seq up to LastSeq %d", runs, repeats, distinct, h.LastSeq)
	}
	// The agent resends what was not acknowledged: stored once.
	var b wire.ReportBatch
	for q := acked - 5; q <= h.LastSeq+3; q++ {
		b.Records = append(b.Records, killRun(q))
	}
	res, err := s.Ingest(context.Background(), "h1", b, time.Now())
	if err != nil || res.Acked != h.LastSeq+3 || res.Stored != 3 {
		t.Errorf("Ingest(resend after kill -9) = %+v, %v; want 3 stored, acked %d", res, err, h.LastSeq+3)
	}
}

func killRun(seq uint64) wire.Record {
	at := time.Unix(int64(seq)*60, 0)
	st := wire.StatusPass
	if seq%3 == 0 {
		st = wire.StatusFail
	}
	return wire.Record{Seq: seq, Kind: wire.KindRun, Time: at, Run: &wire.Run{
		RunID: fmt.Sprint("r", seq), Finished: at,
		Results: []wire.Result{{Check: "alf", Status: st, Actual: "x"}},
	}}
}

// killChild ingests one batch at a time forever, printing each acknowledgement.
func killChild(path string) {
	s, err := Open(path)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	for seq := uint64(1); ; seq++ {
		res, err := s.Ingest(context.Background(), "h1", wire.ReportBatch{Records: []wire.Record{killRun(seq)}}, time.Now())
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println("acked", res.Acked)
	}
}
