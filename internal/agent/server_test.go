package agent

import (
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/firewarden/firewarden/internal/fleet/wire"
)

// fakeServer implements the agent endpoints minimally, strictly decoding what it receives, as the
// real server must: a test of the agent fails when the agent sends anything the contract refuses.
type fakeServer struct {
	*httptest.Server
	t testing.TB

	mu      sync.Mutex
	secret  string
	cred    string
	config  wire.AgentConfig
	records map[uint64]wire.Record // stored once per seq
	posts   int                    // report requests
	batches [][]uint64             // seqs of each report request
	// fail answers the next len(fail) report requests with these statuses.
	fail []int
	// ackCap, when set, acknowledges at most this seq (a server that stored only part).
	ackCap  uint64
	enrolls []wire.EnrollRequest
	nudges  chan wire.Nudge
	streams int // nudge streams opened
	// events receives "report" after each stored batch and "stream" when a nudge stream opens.
	events chan string
}

func newFakeServer(t testing.TB) *fakeServer {
	s := &fakeServer{
		t: t, secret: "fwe_secret", cred: "fwh_credential", records: map[uint64]wire.Record{},
		config: wire.AgentConfig{Version: 1, Policy: wire.Policy{Name: "default", Mode: wire.ModeReport, IntervalSeconds: 3600}},
		nudges: make(chan wire.Nudge, 4), events: make(chan string, 100),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+wire.PathEnroll, s.enroll)
	mux.HandleFunc("GET "+wire.PathConfig, s.auth(s.getConfig))
	mux.HandleFunc("POST "+wire.PathReport, s.auth(s.report))
	mux.HandleFunc("GET "+wire.PathNudges, s.auth(s.stream))
	s.Server = httptest.NewUnstartedServer(mux)
	// The pinning tests make handshakes fail on purpose; the server need not log them.
	s.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}

func httpError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

func (s *fakeServer) auth(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		ok := r.Header.Get("Authorization") == "Bearer "+s.cred
		s.mu.Unlock()
		if !ok {
			httpError(w, http.StatusUnauthorized, "unknown credential")
			return
		}
		h(w, r)
	}
}

func (s *fakeServer) enroll(w http.ResponseWriter, r *http.Request) {
	var req wire.EnrollRequest
	if err := wire.Decode(r.Body, &req, wire.MaxBodyBytes); err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if req.Secret != s.secret {
		httpError(w, http.StatusUnauthorized, "unknown enroll secret")
		return
	}
	s.enrolls = append(s.enrolls, req)
	json.NewEncoder(w).Encode(wire.EnrollResponse{HostID: "0193a5b0-7c1e-7d2f-8a3b-4c5d6e7f8091", Credential: s.cred})
}

func (s *fakeServer) getConfig(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	json.NewEncoder(w).Encode(s.config)
}

func (s *fakeServer) report(w http.ResponseWriter, r *http.Request) {
	var b wire.ReportBatch
	if err := wire.Decode(r.Body, &b, wire.MaxBodyBytes); err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	if err := b.Validate(); err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.posts++
	var seqs []uint64
	for _, rec := range b.Records {
		seqs = append(seqs, rec.Seq)
	}
	s.batches = append(s.batches, seqs)
	if len(s.fail) > 0 {
		code := s.fail[0]
		s.fail = s.fail[1:]
		httpError(w, code, fmt.Sprintf("injected %d", code))
		return
	}
	var acked uint64
	for _, rec := range b.Records {
		if s.ackCap != 0 && rec.Seq > s.ackCap {
			break
		}
		if _, dup := s.records[rec.Seq]; !dup {
			s.records[rec.Seq] = rec
		}
		acked = rec.Seq
	}
	json.NewEncoder(w).Encode(wire.ReportAck{AckedSeq: acked})
	s.event("report")
}

func (s *fakeServer) event(e string) {
	select {
	case s.events <- e:
	default:
	}
}

func (s *fakeServer) stream(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.streams++
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	w.(http.Flusher).Flush()
	s.event("stream")
	enc := json.NewEncoder(w)
	for {
		select {
		case <-r.Context().Done():
			return
		case n := <-s.nudges:
			enc.Encode(n)
			w.(http.Flusher).Flush()
		}
	}
}

// stored returns the stored records by seq order.
func (s *fakeServer) stored() []wire.Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []wire.Record
	for _, r := range s.records {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Seq < out[j].Seq })
	return out
}

func (s *fakeServer) url(t testing.TB) *url.URL {
	u, err := url.Parse(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// client is a client pinned to the server's certificate and holding its credential.
func (s *fakeServer) client(t testing.TB) *Client {
	c := NewClient(s.url(t), Fingerprint(s.Certificate().Raw), nil)
	c.Credential = s.cred
	return c
}

// roots is a pool holding the server's certificate, standing in for the system roots.
func (s *fakeServer) roots() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(s.Certificate())
	return p
}

func kinds(recs []wire.Record) string {
	var out []string
	for _, r := range recs {
		out = append(out, fmt.Sprintf("%d:%s", r.Seq, r.Kind))
	}
	return strings.Join(out, " ")
}
