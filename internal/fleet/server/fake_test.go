package server

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/firewarden/firewarden/internal/fleet/store"
	"github.com/firewarden/firewarden/internal/fleet/wire"
)

// fakeStore is an in-memory store.Store for the HTTP tests: enough of the contract to show
// what the server does with it, nothing of the SQL stores' indexing.
type fakeStore struct {
	mu         sync.Mutex
	tokens     []store.Token
	secrets    []store.EnrollSecret
	hosts      map[string]*store.Host
	creds      map[string]string // hex hash → host ID
	seqs       map[string]map[uint64]bool
	current    map[string]map[string]store.Current
	trans      []store.Transition
	runs       map[string][]store.StoredRun
	alerts     []store.StoredAlert
	policies   []store.Policy
	exemptions []store.Exemption
	audit      []store.Audit
	users      map[string]store.User
	sessions   map[string]store.Session // hex hash → session
	bans       map[string]wire.Record   // host → its newest bans record
	ingests    int                      // batches that stored something
	offers     map[string]offer         // offered credential hash → host and the credential it was offered to
	lists      int                      // calls of Hosts
}

func (f *fakeStore) hostLists() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lists
}

type offer struct{ hostID, to string }

func newFakeStore() *fakeStore {
	return &fakeStore{hosts: map[string]*store.Host{}, creds: map[string]string{}, seqs: map[string]map[uint64]bool{},
		current: map[string]map[string]store.Current{}, runs: map[string][]store.StoredRun{}}
}

func (f *fakeStore) Close() error { return nil }

func (f *fakeStore) addAudit(actor, action, target string, at time.Time) {
	f.audit = append(f.audit, store.Audit{ID: int64(len(f.audit) + 1), Time: at, Actor: actor, Action: action, Target: target, Detail: "{}"})
}

func (f *fakeStore) AppendAudit(_ context.Context, a store.Audit) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	a.ID = int64(len(f.audit) + 1)
	f.audit = append(f.audit, a)
	return nil
}

func (f *fakeStore) AddToken(_ context.Context, t store.Token, actor string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, x := range f.tokens {
		if x.Name == t.Name {
			return store.ErrConflict
		}
	}
	f.tokens = append(f.tokens, t)
	f.addAudit(actor, "token.create", t.ID, t.CreatedAt)
	return nil
}

func (f *fakeStore) TokenByHash(_ context.Context, hash []byte) (store.Token, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, t := range f.tokens {
		if bytes.Equal(t.Hash, hash) {
			return t, nil
		}
	}
	return store.Token{}, store.ErrNotFound
}

func (f *fakeStore) RevokeToken(_ context.Context, id, actor string, at time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.tokens {
		if f.tokens[i].ID == id {
			if !f.tokens[i].RevokedAt.IsZero() {
				return store.ErrRevoked
			}
			f.tokens[i].RevokedAt = at
			f.addAudit(actor, "token.revoke", id, at)
			return nil
		}
	}
	return store.ErrNotFound
}

func (f *fakeStore) AddEnrollSecret(_ context.Context, s store.EnrollSecret, actor string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.secrets = append(f.secrets, s)
	f.addAudit(actor, "secret.create", s.ID, s.CreatedAt)
	return nil
}

func (f *fakeStore) EnrollSecretByHash(_ context.Context, hash []byte) (store.EnrollSecret, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.secrets {
		if bytes.Equal(s.Hash, hash) {
			return s, nil
		}
	}
	return store.EnrollSecret{}, store.ErrNotFound
}

func (f *fakeStore) RevokeEnrollSecret(_ context.Context, id, actor string, at time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.secrets {
		if f.secrets[i].ID == id {
			f.secrets[i].RevokedAt = at
			f.addAudit(actor, "secret.revoke", id, at)
			return nil
		}
	}
	return store.ErrNotFound
}

func (f *fakeStore) EnrollHost(_ context.Context, h store.Host, credHash []byte) (store.Host, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, x := range f.hosts {
		if x.UUID == h.UUID {
			h.ID, h.EnrolledAt, h.LastSeq, h.Interval = x.ID, x.EnrolledAt, x.LastSeq, x.Interval
			h.LastSeen = maxTime(h.LastSeen, x.LastSeen)
			for k, v := range f.creds {
				if v == x.ID {
					delete(f.creds, k)
				}
			}
		}
	}
	if h.LastSeen.IsZero() {
		h.LastSeen = h.EnrolledAt
	}
	h.StaleAt = store.StaleAt(h.LastSeen, h.Interval)
	hc := h
	f.hosts[h.ID] = &hc
	f.creds[string(credHash)] = h.ID
	return h, nil
}

func (f *fakeStore) HostByCredential(_ context.Context, credHash []byte) (store.Host, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id, ok := f.creds[string(credHash)]
	if !ok {
		return store.Host{}, store.ErrNotFound
	}
	return *f.hosts[id], nil
}

func (f *fakeStore) Host(_ context.Context, id string) (store.Host, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	h, ok := f.hosts[id]
	if !ok {
		return store.Host{}, store.ErrNotFound
	}
	return *h, nil
}

func (f *fakeStore) Hosts(_ context.Context, fl store.HostFilter) ([]store.Host, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lists++
	// after reports whether h comes after the keyset (fl.AfterKey, fl.After) in the order asked.
	after := func(h *store.Host) bool {
		if fl.After == "" {
			return true
		}
		c := strings.Compare(store.HostSortKey(*h, fl.Sort), fl.AfterKey)
		if fl.Sort == "" || fl.Sort == store.HostSortID {
			c = 0
		}
		if c == 0 {
			c = strings.Compare(h.ID, fl.After)
		}
		if fl.Desc {
			return c < 0
		}
		return c > 0
	}
	var out []store.Host
	for _, h := range f.hosts {
		if !after(h) || (fl.Label != "" && !slices.Contains(h.Labels, fl.Label)) {
			continue
		}
		if fl.Stale != nil && !fl.Now.Before(h.StaleAt) != *fl.Stale {
			continue
		}
		if fl.Search != "" && !strings.HasPrefix(strings.ToLower(h.Hostname), strings.ToLower(fl.Search)) {
			continue
		}
		if fl.OSVersion != "" && h.OSVersion != fl.OSVersion {
			continue
		}
		if fl.Posture != "" && f.posture(h.ID) != fl.Posture {
			continue
		}
		if fl.Check != "" {
			c, ok := f.current[h.ID][fl.Check]
			if !ok || (fl.Status != "" && c.Status != fl.Status) {
				continue
			}
		}
		out = append(out, *h)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		c := 0
		if fl.Sort != "" && fl.Sort != store.HostSortID {
			c = strings.Compare(store.HostSortKey(a, fl.Sort), store.HostSortKey(b, fl.Sort))
		}
		if c == 0 {
			c = strings.Compare(a.ID, b.ID)
		}
		if fl.Desc {
			return c > 0
		}
		return c < 0
	})
	if fl.Limit > 0 && len(out) > fl.Limit {
		out = out[:fl.Limit]
	}
	return out, nil
}

// posture is the host's posture from its current results, as the SQL stores keep it.
func (f *fakeStore) posture(id string) string {
	cur := f.current[id]
	if len(cur) == 0 {
		return store.PostureNone
	}
	for _, c := range cur {
		if !wire.Compliant(c.Status) {
			return store.PostureNonCompliant
		}
	}
	return store.PostureCompliant
}

func (f *fakeStore) RevokeHost(_ context.Context, id, actor string, at time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	h, ok := f.hosts[id]
	if !ok {
		return store.ErrNotFound
	}
	h.RevokedAt = at
	f.addAudit(actor, "host.revoke", id, at)
	return nil
}

func (f *fakeStore) TouchHost(_ context.Context, id string, at time.Time, interval time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if h, ok := f.hosts[id]; ok {
		h.LastSeen = maxTime(h.LastSeen, at)
		if interval > 0 {
			h.Interval = interval
		}
		h.StaleAt = store.StaleAt(h.LastSeen, h.Interval)
	}
	return nil
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func (f *fakeStore) Ingest(_ context.Context, hostID string, b wire.ReportBatch, now time.Time) (store.IngestResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var res store.IngestResult
	if f.seqs[hostID] == nil {
		f.seqs[hostID] = map[uint64]bool{}
	}
	if f.current[hostID] == nil {
		f.current[hostID] = map[string]store.Current{}
	}
	for _, r := range b.Records {
		if f.seqs[hostID][r.Seq] {
			res.Duplicates++
			continue
		}
		f.seqs[hostID][r.Seq] = true
		res.Stored++
		switch {
		case r.Run != nil:
			rs := f.runs[hostID]
			if n := len(rs); n > 0 && store.SameResults(rs[n-1].Run, *r.Run) {
				rs[n-1].Confirmed, rs[n-1].LastRunID = r.Run.Finished, r.Run.RunID
				rs[n-1].Repeats++
				res.Repeats++
			} else {
				f.runs[hostID] = append(rs, store.StoredRun{Run: *r.Run, Seq: r.Seq, Confirmed: r.Run.Finished, LastRunID: r.Run.RunID})
			}
			for _, x := range r.Run.Results {
				c, ok := f.current[hostID][x.Check]
				if !ok || c.Status != x.Status {
					f.trans = append(f.trans, store.Transition{HostID: hostID, Check: x.Check, Time: r.Time, From: c.Status, To: x.Status,
						Actual: x.Actual, RunID: r.Run.RunID, Cause: wire.CauseObserved, Seq: r.Seq})
					res.Transitions++
					c = store.Current{HostID: hostID, Check: x.Check, Status: x.Status, Since: r.Time}
				}
				c.Actual, c.Expected, c.RunID = x.Actual, x.Expected, r.Run.RunID
				f.current[hostID][x.Check] = c
			}
		case r.Alert != nil:
			f.alerts = append(f.alerts, store.StoredAlert{ID: int64(len(f.alerts) + 1), HostID: hostID, Alert: *r.Alert, Seq: r.Seq})
		case r.Bans != nil:
			if b, ok := f.bans[hostID]; !ok || b.Seq < r.Seq {
				if f.bans == nil {
					f.bans = map[string]wire.Record{}
				}
				f.bans[hostID] = r
			}
		}
	}
	h := f.hosts[hostID]
	h.LastSeen = maxTime(h.LastSeen, now) // as both stores do: a report is a sign of life
	h.StaleAt = store.StaleAt(h.LastSeen, h.Interval)
	for f.seqs[hostID][h.LastSeq+1] {
		h.LastSeq++
	}
	res.Acked = h.LastSeq
	if res.Stored > 0 {
		f.ingests++
	}
	return res, nil
}

func (f *fakeStore) CurrentResults(_ context.Context, hostID string) ([]store.Current, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []store.Current
	for _, c := range f.current[hostID] {
		out = append(out, c)
	}
	return out, nil
}

func (f *fakeStore) Transitions(_ context.Context, hostID, check string, from, to time.Time) ([]store.Transition, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []store.Transition
	for _, t := range f.trans {
		if t.HostID == hostID && (check == "" || t.Check == check) && !t.Time.Before(from) && !t.Time.After(to) {
			out = append(out, t)
		}
	}
	return out, nil
}

func (f *fakeStore) ComplianceAt(_ context.Context, at time.Time, label, check string) (store.Compliance, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := store.Compliance{At: at, PerCheck: map[string]store.CheckCount{}}
	for _, h := range f.hosts {
		if h.EnrolledAt.After(at) || (label != "" && !slices.Contains(h.Labels, label)) {
			continue
		}
		c.Hosts++
		state := map[string]string{}
		for _, t := range f.trans {
			if t.HostID == h.ID && !t.Time.After(at) && (check == "" || t.Check == check) {
				state[t.Check] = t.To
			}
		}
		if len(state) == 0 {
			c.NoData++
			continue
		}
		ok := true
		for ch, st := range state {
			cc := c.PerCheck[ch]
			switch st {
			case wire.StatusPass:
				cc.Pass++
			case wire.StatusFail:
				cc.Fail++
			case wire.StatusError:
				cc.Error++
			}
			c.PerCheck[ch] = cc
			ok = ok && wire.Compliant(st)
		}
		switch {
		case ok && !at.Before(h.StaleAt):
			c.Stale++
		case ok:
			c.Compliant++
		default:
			c.NonCompliant++
		}
	}
	return c, nil
}

func (f *fakeStore) Alerts(_ context.Context, hostID string, unacked bool) ([]store.StoredAlert, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []store.StoredAlert
	for _, a := range f.alerts {
		if (hostID == "" || a.HostID == hostID) && (!unacked || a.AckedBy == "") {
			out = append(out, a)
		}
	}
	return out, nil
}

func (f *fakeStore) AckAlert(_ context.Context, id int64, actor, note string, at time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.alerts {
		if f.alerts[i].ID == id {
			f.alerts[i].AckedBy, f.alerts[i].AckedAt, f.alerts[i].AckNote = actor, at, note
			f.addAudit(actor, "alert.ack", "", at)
			return nil
		}
	}
	return store.ErrNotFound
}

func (f *fakeStore) PutPolicy(_ context.Context, p store.Policy, actor string) (store.Policy, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.policies {
		if f.policies[i].Name == p.Name {
			p.Version = f.policies[i].Version + 1
			f.policies[i] = p
			f.addAudit(actor, "policy.put", p.Name, p.UpdatedAt)
			return p, nil
		}
	}
	p.Version = 1
	f.policies = append(f.policies, p)
	f.addAudit(actor, "policy.put", p.Name, p.UpdatedAt)
	return p, nil
}

func (f *fakeStore) Policies(context.Context) ([]store.Policy, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.policies), nil
}

func (f *fakeStore) PolicyFor(_ context.Context, h store.Host) (store.Policy, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ps := slices.Clone(f.policies)
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].Priority < ps[j].Priority })
	for _, p := range ps {
		if p.Label != "" && slices.Contains(h.Labels, p.Label) {
			return p, nil
		}
	}
	for _, p := range ps {
		if p.Name == "default" {
			return p, nil
		}
	}
	return store.Policy{}, store.ErrNotFound
}

func (f *fakeStore) AddExemption(_ context.Context, e store.Exemption, actor string) error {
	e, err := store.AddedExemption(e, actor)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.exemptions = append(f.exemptions, e)
	action := "exemption.create"
	if e.ApprovedAt.IsZero() {
		action = "exemption.request"
	}
	f.addAudit(actor, action, e.ID, e.CreatedAt)
	return nil
}

func (f *fakeStore) RevokeExemption(_ context.Context, id, actor string, at time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.exemptions {
		if f.exemptions[i].ID == id {
			f.exemptions[i].RevokedAt = at
			f.addAudit(actor, "exemption.revoke", id, at)
			return nil
		}
	}
	return store.ErrNotFound
}

func (f *fakeStore) Exemptions(_ context.Context, at time.Time) ([]store.Exemption, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []store.Exemption
	for _, e := range f.exemptions {
		if at.IsZero() || !e.ApprovedAt.IsZero() && !e.ApprovedAt.After(at) && (e.Expires.IsZero() || e.Expires.After(at)) &&
			(e.RevokedAt.IsZero() || e.RevokedAt.After(at)) {
			out = append(out, e)
		}
	}
	return out, nil
}

func (f *fakeStore) AuditLog(_ context.Context, since time.Time) ([]store.Audit, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []store.Audit
	for _, a := range f.audit {
		if !a.Time.Before(since) {
			out = append(out, a)
		}
	}
	return out, nil
}

func (f *fakeStore) Prune(context.Context, time.Time) (int, error) { return 0, nil }

func (f *fakeStore) LatestRun(_ context.Context, hostID string) (store.StoredRun, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	rs := f.runs[hostID]
	if len(rs) == 0 {
		return store.StoredRun{}, store.ErrNotFound
	}
	return rs[len(rs)-1], nil
}

// stored is how many records the store holds for a host, for exactly-once assertions.
func (f *fakeStore) stored(hostID string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.seqs[hostID])
}

func (f *fakeStore) snapshot() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, _ := json.Marshal([]any{f.seqs, f.current, f.trans, f.alerts, f.audit, f.policies, f.exemptions, len(f.hosts)})
	return string(b)
}

var (
	_ store.Store = (*fakeStore)(nil)
	_ Auditor     = (*fakeStore)(nil)
)

func (f *fakeStore) LatestBans(_ context.Context, hostID string) (wire.Bans, time.Time, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.bans[hostID]
	if !ok {
		return wire.Bans{}, time.Time{}, store.ErrNotFound
	}
	return *r.Bans, r.Time, nil
}
