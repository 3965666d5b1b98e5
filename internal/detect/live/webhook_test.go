package live_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/firewarden/firewarden/internal/detect/live"
	"github.com/firewarden/firewarden/internal/host/hosttest"
)

// A plain http:// webhook needs InsecureHTTP; https:// never does.
func TestWebhookPlainHTTPNeedsConsent(t *testing.T) {
	for _, tt := range []struct {
		url      string
		insecure bool
		wantErr  error
	}{
		{"http://hooks.example.com/x", false, live.ErrInsecureWebhook},
		{"HTTP://hooks.example.com/x", false, live.ErrInsecureWebhook},
		{"http://hooks.example.com/x", true, nil},
		{"https://hooks.example.com/x", false, nil},
		{"https://hooks.example.com/x", true, nil},
	} {
		t.Run(tt.url, func(t *testing.T) {
			w, err := live.NewWebhook(tt.url, live.WebhookOptions{InsecureHTTP: tt.insecure})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("NewWebhook(%q, InsecureHTTP %v) = %v, want %v", tt.url, tt.insecure, err, tt.wantErr)
			}
			if w != nil {
				w.Close()
			}
		})
	}
}

// An https:// webhook delivers over TLS and does not follow a redirect to http://.
func TestWebhookHTTPSRefusesDowngrade(t *testing.T) {
	plain := &hook{statuses: []int{200}, got: make(chan struct{}, 10)}
	plainSrv := httptest.NewServer(plain)
	defer plainSrv.Close()
	for _, tt := range []struct {
		name      string
		redirect  bool
		delivered int // requests the TLS receiver answers 200 to
	}{
		{"delivers", false, 1},
		{"redirect to http", true, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := &hook{statuses: []int{200}, got: make(chan struct{}, 10)}
			srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.redirect {
					http.Redirect(w, r, plainSrv.URL+"/stolen", http.StatusTemporaryRedirect)
					return
				}
				h.ServeHTTP(w, r)
			}))
			defer srv.Close()
			var log hosttest.Lines
			w, err := live.NewWebhook(srv.URL+"/hook", live.WebhookOptions{Client: srv.Client(), Clock: newClock(true), Log: log.Logf, Tries: 1})
			if err != nil {
				t.Fatal(err)
			}
			w.Send(testAlert("alf-global-off", t0))
			h.wait(t, tt.delivered)
			w.Close()
			if n := len(h.Bodies()); n != tt.delivered {
				t.Errorf("TLS receiver got %d alerts, want %d", n, tt.delivered)
			}
			if n := len(plain.Bodies()); n != 0 {
				t.Errorf("plain http receiver got %d alerts through a redirect, want 0", n)
			}
			if tt.redirect && !strings.Contains(log.String(), "plain http:// sends alerts unencrypted") {
				t.Errorf("log does not say why the redirect was refused:\n%s", log.String())
			}
		})
	}
}
