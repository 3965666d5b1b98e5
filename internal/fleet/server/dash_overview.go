package server

import "net/http"

func init() {
	dashRouteSets = append(dashRouteSets, func(s *Server, mux *http.ServeMux) {
		mux.Handle("GET /{$}", s.dashPage(s.overviewPage))
	})
}

// overviewPage is the landing page: fleet compliance now, per check, 90 days, newest alerts.
func (s *Server) overviewPage(w http.ResponseWriter, r *http.Request, d *dashReq) {
	s.render(w, r, d, http.StatusOK, "overview", "Overview", nil)
}
