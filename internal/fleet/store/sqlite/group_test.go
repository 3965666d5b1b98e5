package sqlite

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/firewarden/firewarden/internal/fleet/store"
	"github.com/firewarden/firewarden/internal/fleet/store/storetest"
	"github.com/firewarden/firewarden/internal/fleet/wire"
)

// TestCommitGroup applies several hosts' batches in one transaction, with some of them failing
// at different points: each failure is rolled back alone, and the others are committed.
func TestCommitGroup(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	for _, id := range []string{"h1", "h2", "h3", "h4"} {
		if _, err := s.EnrollHost(ctx, store.Host{ID: id, UUID: "u" + id, EnrolledAt: storetest.T0}, storetest.Hash(id)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.RevokeHost(ctx, "h3", "alice", storetest.T0); err != nil {
		t.Fatal(err)
	}
	gone, cancel := context.WithCancel(ctx)
	cancel()
	errAfterWrites := errors.New("failed after its writes")
	at := storetest.T0.Add(time.Minute)
	req := func(c context.Context, host string) *ingestReq {
		return &ingestReq{ctx: c, host: host, now: at,
			batch: wire.ReportBatch{Records: []wire.Record{runRecord(1, at, "pass"), runRecord(2, at.Add(time.Second), "fail")}}}
	}
	group := []*ingestReq{
		req(ctx, "h1"),
		req(ctx, "h404"), // unknown host: fails before writing
		req(ctx, "h2"),   // fails after its writes (the hook below)
		req(ctx, "h3"),   // revoked
		req(gone, "h4"),  // its caller went away before the writer reached it
		req(ctx, "h4"),   // the same records again, from a caller still waiting
	}
	s.commitGroup(group, func(r *ingestReq) error {
		if r.host == "h2" {
			return errAfterWrites
		}
		return nil
	})
	type outcome struct {
		Res store.IngestResult
		Err string
	}
	errText := func(err error) string {
		switch {
		case err == nil:
			return ""
		case errors.Is(err, store.ErrNotFound):
			return "not found"
		case errors.Is(err, store.ErrRevoked):
			return "revoked"
		case errors.Is(err, context.Canceled):
			return "canceled"
		}
		return err.Error()
	}
	stored := store.IngestResult{Acked: 2, Stored: 2, Transitions: 2}
	want := []outcome{{stored, ""}, {Err: "not found"}, {Err: errAfterWrites.Error()}, {Err: "revoked"}, {Err: "canceled"}, {stored, ""}}
	var got []outcome
	for _, r := range group {
		got = append(got, outcome{r.res, errText(r.err)})
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("commitGroup outcomes (-want +got):\n%s", diff)
	}
	for _, tt := range []struct {
		host        string
		transitions int
		lastSeq     uint64
	}{{"h1", 2, 2}, {"h2", 0, 0}, {"h4", 2, 2}} {
		ts, err := s.Transitions(ctx, tt.host, "", time.Time{}, time.Time{})
		if err != nil || len(ts) != tt.transitions {
			t.Errorf("Transitions(%s) = %d, %v; want %d", tt.host, len(ts), err, tt.transitions)
		}
		if h, err := s.Host(ctx, tt.host); err != nil || h.LastSeq != tt.lastSeq {
			t.Errorf("Host(%s).LastSeq = %d, %v; want %d", tt.host, h.LastSeq, err, tt.lastSeq)
		}
	}
	// h2's batch was rolled back: sent again, it is stored, not a duplicate.
	res, err := s.Ingest(ctx, "h2", req(ctx, "h2").batch, at)
	if diff := cmp.Diff(stored, res); err != nil || diff != "" {
		t.Errorf("Ingest(h2 again) = %v (-want +got):\n%s", err, diff)
	}
}

// TestIngestAfterClose fails instead of hanging.
func TestIngestAfterClose(t *testing.T) {
	s := openTemp(t)
	if _, err := s.EnrollHost(context.Background(), store.Host{ID: "h1", UUID: "u1", EnrolledAt: storetest.T0}, storetest.Hash("c")); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.Ingest(context.Background(), "h1", wire.ReportBatch{Records: []wire.Record{runRecord(uint64(i+1), storetest.T0, "pass")}}, storetest.T0)
		}()
	}
	wg.Wait()
	s.Close()
	if _, err := s.Ingest(context.Background(), "h1", wire.ReportBatch{Records: []wire.Record{runRecord(9, storetest.T0, "pass")}}, storetest.T0); !errors.Is(err, errClosed) {
		t.Errorf("Ingest after Close = %v, want %v", err, errClosed)
	}
	for i, err := range errs {
		if err != nil {
			t.Errorf("Ingest #%d before Close = %v", i, fmt.Sprint(err))
		}
	}
}
