package server

import (
	"cmp"
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/firewarden/firewarden/internal/fleet/store"
	"github.com/firewarden/firewarden/internal/posture/baseline"
)

func init() {
	dashRouteSets = append(dashRouteSets, func(s *Server, mux *http.ServeMux) {
		mux.Handle("GET /exemptions", s.dashPage(s.exemptionsPage))
		mux.Handle("POST /exemptions", s.dashAction(s.requestExemptionAction))
		mux.Handle("POST /exemptions/{id}/approve", s.dashAction(s.approveExemptionAction))
		mux.Handle("POST /exemptions/{id}/revoke", s.dashAction(s.revokeExemptionAction))
	})
}

type exemptionRow struct {
	store.Exemption
	State    string
	Hostname string
}

type exemptionsData struct {
	Rows   []exemptionRow
	Cols   []sortCol
	State  string // filter
	Counts map[string]int
	States []string
	Checks []string
	Query  string
	Error  string
	Form   url.Values // the refused form, shown again
}

func (s *Server) exemptionsPage(w http.ResponseWriter, r *http.Request, d *dashReq) {
	s.exemptionsView(w, r, d, http.StatusOK, r.URL.Query(), "", nil)
}

// exemptionsView renders every exemption ever made, each in its state at the request's
// instant, filtered and sorted by q; msg is a refused action's reason and form its input.
func (s *Server) exemptionsView(w http.ResponseWriter, r *http.Request, d *dashReq, code int, q url.Values, msg string, form url.Values) {
	all, err := s.st.Exemptions(r.Context(), time.Time{})
	if err != nil {
		s.dashInternal(w, r, d, err)
		return
	}
	if form == nil {
		// A link may fill the form in: /exemptions?host_id=H&check=C#request from a host's page.
		form = url.Values{}
		for _, k := range []string{"host_id", "label", "check"} {
			if v := q.Get(k); v != "" {
				form.Set(k, v)
			}
		}
	}
	data := exemptionsData{State: q.Get("state"), Counts: map[string]int{}, Query: q.Encode(), Error: msg, Form: form,
		States: []string{ExemptionActive, ExemptionPending, ExemptionExpired, ExemptionRevoked}, Checks: baseline.CheckIDs()}
	names := map[string]string{}
	for _, e := range all {
		row := exemptionRow{Exemption: e, State: exemptionState(e, d.Now)}
		data.Counts[row.State]++
		if data.State != "" && row.State != data.State {
			continue
		}
		if e.HostID != "" {
			name, ok := names[e.HostID]
			if !ok {
				if h, err := s.st.Host(r.Context(), e.HostID); err == nil {
					name = h.Hostname
				}
				names[e.HostID] = name
			}
			row.Hostname = name
		}
		data.Rows = append(data.Rows, row)
	}
	sort, dir := sortParams(q, "created", "desc", "target", "check", "state", "requested_by", "created", "expires")
	slices.SortStableFunc(data.Rows, func(a, b exemptionRow) int {
		var c int
		switch sort {
		case "target":
			c = cmp.Compare(a.Hostname+a.HostID+a.Label, b.Hostname+b.HostID+b.Label)
		case "check":
			c = strings.Compare(a.Check, b.Check)
		case "state":
			c = strings.Compare(a.State, b.State)
		case "requested_by":
			c = strings.Compare(a.RequestedBy, b.RequestedBy)
		case "expires":
			c = a.Expires.Compare(b.Expires)
		default:
			c = a.CreatedAt.Compare(b.CreatedAt)
		}
		c = cmp.Or(c, strings.Compare(a.ID, b.ID))
		if dir == "desc" {
			c = -c
		}
		return c
	})
	data.Cols = sortCols("/exemptions", q, sort, dir,
		sortCol{Name: "Host or label", Key: "target"}, sortCol{Name: "Check", Key: "check"},
		sortCol{Name: "State", Key: "state"}, sortCol{Name: "Requested by", Key: "requested_by"},
		sortCol{Name: "Created", Key: "created"}, sortCol{Name: "Expires", Key: "expires"})
	s.render(w, r, d, code, "exemptions", "Exemptions", data)
}

// requestExemptionAction asks for an exemption: from the dashboard a new exemption is always a
// request, which another admin approves (four eyes).
func (s *Server) requestExemptionAction(w http.ResponseWriter, r *http.Request, d *dashReq) {
	f := r.PostForm
	back, _ := url.ParseQuery(f.Get("back"))
	req := exemptionRequest{HostID: strings.TrimSpace(f.Get("host_id")), Label: strings.TrimSpace(f.Get("label")),
		Check: f.Get("check"), Reason: f.Get("reason"), Pending: true}
	exp, err := parseExpiry(f.Get("expires"))
	if err == nil {
		req.Expires = exp
		_, err = s.createExemption(r.Context(), d.User.Name, req)
	}
	if err != nil {
		code, msg, ok := s.dashFailure(r, err, "exemption")
		if !ok {
			s.dashInternal(w, r, d, err)
			return
		}
		s.exemptionsView(w, r, d, code, back, msg, f)
		return
	}
	http.Redirect(w, r, backTo("/exemptions", r), http.StatusSeeOther)
}

// parseExpiry reads an exemption's expiry: an RFC 3339 time, or a date (YYYY-MM-DD, what a
// date input sends), which means the end of that day in UTC so that "until 31 January"
// includes the 31st.
func parseExpiry(v string) (time.Time, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, &badInput{"expires: give a date (YYYY-MM-DD) or an RFC 3339 time; exemptions do not last forever"}
	}
	t, err := time.Parse(time.DateOnly, v)
	if err == nil {
		t = t.AddDate(0, 0, 1)
	} else if t, err = time.Parse(time.RFC3339, v); err != nil {
		return time.Time{}, &badInput{"expires: " + strings.TrimPrefix(err.Error(), "parsing time ") + "; give a date (YYYY-MM-DD) or an RFC 3339 time"}
	}
	if t.Year() < 1970 {
		// Year 0's last day ends at Go's zero time, which reads as "no expiry" elsewhere.
		return time.Time{}, &badInput{"expires: " + v + " is before 1970; give the date the exemption ends"}
	}
	return t.UTC(), nil
}

func (s *Server) approveExemptionAction(w http.ResponseWriter, r *http.Request, d *dashReq) {
	s.exemptionAction(w, r, d, s.approveExemption)
}

func (s *Server) revokeExemptionAction(w http.ResponseWriter, r *http.Request, d *dashReq) {
	s.exemptionAction(w, r, d, s.revokeExemptionAs)
}

// exemptionAction runs do (approve or revoke) on the exemption of the path as the user.
func (s *Server) exemptionAction(w http.ResponseWriter, r *http.Request, d *dashReq, do func(ctx context.Context, actor, id string) error) {
	if err := do(r.Context(), d.User.Name, r.PathValue("id")); err != nil {
		code, msg, ok := s.dashFailure(r, err, "exemption")
		if !ok {
			s.dashInternal(w, r, d, err)
			return
		}
		back, _ := url.ParseQuery(r.PostForm.Get("back"))
		s.exemptionsView(w, r, d, code, back, msg, nil)
		return
	}
	http.Redirect(w, r, backTo("/exemptions", r), http.StatusSeeOther)
}
