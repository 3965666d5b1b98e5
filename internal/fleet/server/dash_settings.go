package server

import (
	"cmp"
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/firewarden/firewarden/internal/fleet/store"
	"github.com/firewarden/firewarden/internal/fleet/wire"
)

func init() {
	dashRouteSets = append(dashRouteSets, func(s *Server, mux *http.ServeMux) {
		mux.Handle("GET /settings", s.dashPage(s.settingsPage))
		mux.Handle("POST /settings/secrets", s.dashAction(s.createSecretAction))
		mux.Handle("POST /settings/secrets/{id}/revoke", s.dashAction(s.revokeSecretAction))
		mux.Handle("POST /settings/tokens", s.dashAction(s.createTokenAction))
		mux.Handle("POST /settings/tokens/{id}/revoke", s.dashAction(s.revokeTokenAction))
		mux.Handle("POST /settings/users", s.dashAction(s.createUserAction))
		mux.Handle("POST /settings/users/{name}/disable", s.dashAction(s.disableUserAction))
		mux.Handle("POST /settings/policies", s.dashAction(s.putPolicyAction))
	})
}

// created is a secret or token just made: its value is on this one answer and nowhere else.
type created struct {
	Kind, ID, Name, Value string
}

type settingsData struct {
	Secrets  []store.EnrollSecret
	Tokens   []store.Token
	Users    []store.User
	Policies []store.Policy
	Edit     store.Policy // the policy in the form: ?policy=NAME, or a refused form
	Modes    []string
	Created  *created
	Error    string
	ErrorIn  string // the section whose form was refused: secrets, tokens, users or policies
	Form     url.Values
}

func (s *Server) settingsPage(w http.ResponseWriter, r *http.Request, d *dashReq) {
	s.settingsView(w, r, d, http.StatusOK, settingsData{})
}

// settingsView renders the settings with data's message, created value or refused form.
func (s *Server) settingsView(w http.ResponseWriter, r *http.Request, d *dashReq, code int, data settingsData) {
	ctx := r.Context()
	var err error
	if data.Secrets, err = s.st.EnrollSecrets(ctx); err == nil {
		if data.Tokens, err = s.st.Tokens(ctx); err == nil {
			if data.Users, err = s.st.Users(ctx); err == nil {
				data.Policies, err = s.st.Policies(ctx)
			}
		}
	}
	if err != nil {
		s.dashInternal(w, r, d, err)
		return
	}
	data.Modes = []string{wire.ModeReport, wire.ModeEnforce}
	if data.Form == nil {
		data.Form = url.Values{}
	}
	if data.Edit.Name == "" {
		name := r.URL.Query().Get("policy")
		for _, p := range data.Policies {
			if p.Name == name {
				data.Edit = p
			}
		}
		if data.Edit.Name == "" {
			data.Edit = store.Policy{Mode: wire.ModeReport, IntervalSeconds: int64(DefaultInterval.Seconds())}
		}
	}
	s.render(w, r, d, code, "settings", "Settings", data)
}

// settingsFailed shows the settings again with the error of the form of section.
func (s *Server) settingsFailed(w http.ResponseWriter, r *http.Request, d *dashReq, err error, what, section string, data settingsData) {
	code, msg, ok := s.dashFailure(r, err, what)
	if !ok {
		s.dashInternal(w, r, d, err)
		return
	}
	data.Error, data.ErrorIn, data.Form = msg, section, r.PostForm
	s.settingsView(w, r, d, code, data)
}

// splitLabels reads a comma-separated list of labels, as secret create --label does.
func splitLabels(v string) []string {
	var out []string
	for _, l := range strings.Split(v, ",") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// createSecretAction makes an enroll secret and shows it on this answer only (no redirect:
// the store keeps only its hash, so it can never be shown again).
func (s *Server) createSecretAction(w http.ResponseWriter, r *http.Request, d *dashReq) {
	name := strings.TrimSpace(r.PostForm.Get("name"))
	sec, val, err := createEnrollSecret(r.Context(), s.st, d.User.Name, name, splitLabels(r.PostForm.Get("labels")), d.Now)
	if err != nil {
		s.settingsFailed(w, r, d, err, "an enroll secret named "+strconv.Quote(name), "secrets", settingsData{})
		return
	}
	s.settingsView(w, r, d, http.StatusOK, settingsData{Created: &created{"enroll secret", sec.ID, sec.Name, val}})
}

// createTokenAction makes an API token and shows it on this answer only.
func (s *Server) createTokenAction(w http.ResponseWriter, r *http.Request, d *dashReq) {
	name := strings.TrimSpace(r.PostForm.Get("name"))
	t, val, err := createToken(r.Context(), s.st, d.User.Name, name, r.PostForm.Get("role"), d.Now)
	if err != nil {
		s.settingsFailed(w, r, d, err, "a token named "+strconv.Quote(name), "tokens", settingsData{})
		return
	}
	s.settingsView(w, r, d, http.StatusOK, settingsData{Created: &created{"API token (" + t.Role + ")", t.ID, t.Name, val}})
}

func (s *Server) revokeSecretAction(w http.ResponseWriter, r *http.Request, d *dashReq) {
	s.settingsRevoke(w, r, d, "enroll secret", "secrets", s.st.RevokeEnrollSecret)
}

func (s *Server) revokeTokenAction(w http.ResponseWriter, r *http.Request, d *dashReq) {
	s.settingsRevoke(w, r, d, "token", "tokens", s.st.RevokeToken)
}

// settingsRevoke revokes the secret or token of the path as the user, as secret revoke and
// token revoke do.
func (s *Server) settingsRevoke(w http.ResponseWriter, r *http.Request, d *dashReq, what, section string,
	revoke func(ctx context.Context, id, actor string, at time.Time) error) {
	if err := revoke(r.Context(), r.PathValue("id"), d.User.Name, d.Now); err != nil {
		s.settingsFailed(w, r, d, err, what, section, settingsData{})
		return
	}
	http.Redirect(w, r, "/settings#"+section, http.StatusSeeOther)
}

// createUserAction adds a dashboard account as `firewarden-server user add` does, with the
// password typed twice.
func (s *Server) createUserAction(w http.ResponseWriter, r *http.Request, d *dashReq) {
	f := r.PostForm
	name := strings.TrimSpace(f.Get("name"))
	err := error(&badInput{"the two passwords differ; type the same password twice"})
	if f.Get("password") == f.Get("password2") {
		err = addUser(r.Context(), s.st, d.User.Name, name, f.Get("role"), f.Get("password"), d.Now)
	}
	if err != nil {
		// The form comes back without the passwords.
		f.Del("password")
		f.Del("password2")
		s.settingsFailed(w, r, d, err, "an account named "+strconv.Quote(name), "users", settingsData{})
		return
	}
	http.Redirect(w, r, "/settings#users", http.StatusSeeOther)
}

// disableUserAction disables an account (user disable); an admin cannot disable their own, so
// that the last admin cannot lock everyone out by mistake.
func (s *Server) disableUserAction(w http.ResponseWriter, r *http.Request, d *dashReq) {
	name := r.PathValue("name")
	var err error = &badInput{"you cannot disable your own account; ask another admin"}
	if name != d.User.Name {
		err = s.st.DisableUser(r.Context(), name, d.User.Name, d.Now)
	}
	if err != nil {
		s.settingsFailed(w, r, d, err, "account "+strconv.Quote(name), "users", settingsData{})
		return
	}
	http.Redirect(w, r, "/settings#users", http.StatusSeeOther)
}

// putPolicyAction creates or changes a policy through the admin API's write path.
func (s *Server) putPolicyAction(w http.ResponseWriter, r *http.Request, d *dashReq) {
	f := r.PostForm
	req := policyJSON{Name: strings.TrimSpace(f.Get("name")), Label: strings.TrimSpace(f.Get("label")), Mode: f.Get("mode"),
		BaselineYAML: strings.ReplaceAll(f.Get("baseline_yaml"), "\r\n", "\n")}
	var err error
	if req.Priority, err = strconv.Atoi(cmp.Or(strings.TrimSpace(f.Get("priority")), "0")); err != nil {
		err = &badInput{"priority: " + strconv.Quote(f.Get("priority")) + " is not a whole number"}
	} else if req.IntervalSeconds, err = strconv.ParseInt(strings.TrimSpace(f.Get("interval_seconds")), 10, 64); err != nil {
		err = &badInput{"interval_seconds: " + strconv.Quote(f.Get("interval_seconds")) + " is not a whole number of seconds"}
	} else {
		_, err = s.savePolicy(r.Context(), d.User.Name, req)
	}
	if err != nil {
		edit := store.Policy{Name: req.Name, Label: req.Label, Priority: req.Priority, Mode: req.Mode,
			IntervalSeconds: req.IntervalSeconds, BaselineYAML: req.BaselineYAML}
		s.settingsFailed(w, r, d, err, "policy", "policies", settingsData{Edit: edit})
		return
	}
	http.Redirect(w, r, "/settings#policies", http.StatusSeeOther)
}
