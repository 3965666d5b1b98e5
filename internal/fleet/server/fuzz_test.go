package server

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/firewarden/firewarden/internal/fleet/store"
	"github.com/firewarden/firewarden/internal/fleet/wire"
)

// FuzzReportBody posts arbitrary bodies to the report endpoint: the server must answer 200, 400
// or 413, and store nothing unless it answered 200.
func FuzzReportBody(f *testing.F) {
	good, _ := json.Marshal(batch(runRecord(1, t0, nil)))
	for _, seed := range []string{
		string(good),
		`{"records":[]}`,
		`{"records":[{"seq":1,"kind":"alert","time":"2026-12-01T09:00:00Z","alert":{"rule":"r"}}]}`,
		`{"records":[{"seq":1,"kind":"drift","time":"2026-12-01T09:00:00Z","drift":{"check":"alf.enabled","from":"pass","to":"fail","cause":"observed"}}]}`,
		`{"records":[{"seq":1,"kind":"spool_drop","time":"2026-12-01T09:00:00Z","spool_drop":{"from_seq":1,"to_seq":0,"count":1}}]}`,
		`{"records":[],"x":1}`, `null`, `[]`, `{"records":null}`, "\xff",
	} {
		f.Add(seed)
	}
	st := newFakeStore()
	srv := New(st, Options{Now: func() time.Time { return t0 }, AgentRate: Rate{PerSecond: 1e9, Burst: 1e9}})
	h := srv.Handler()
	cred := NewSecret(PrefixHost)
	host, err := st.EnrollHost(f.Context(), hostFor("fuzz"), Hash(cred))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body string) {
		before := st.stored(host.ID)
		req := httptest.NewRequest("POST", wire.PathReport, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+cred)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusOK:
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
			if after := st.stored(host.ID); after != before {
				t.Errorf("refused body (%d) stored %d records", rec.Code, after-before)
			}
		default:
			t.Errorf("POST report %q = %d %s, want 200, 400 or 413", body, rec.Code, rec.Body)
		}
		var e map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil {
			t.Errorf("response %q is not JSON", rec.Body)
		}
	})
}

func hostFor(uuid string) store.Host {
	return store.Host{ID: "host-" + uuid, UUID: uuid, Hostname: uuid, EnrolledAt: t0, LastSeen: t0}
}
