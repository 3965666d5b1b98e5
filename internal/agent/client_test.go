package agent

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/firewarden/firewarden/internal/fleet/wire"
)

func TestServerURL(t *testing.T) {
	for _, tt := range []struct {
		raw      string
		insecure bool
		want     string // "" for refused
	}{
		{"https://fleet.example:8443", false, "https://fleet.example:8443"},
		{"https://fleet.example:8443/", false, "https://fleet.example:8443"},
		{"http://fleet.example:8443", false, ""},
		{"http://fleet.example:8443", true, ""},
		{"http://127.0.0.1:8443", false, ""},
		{"http://127.0.0.1:8443", true, "http://127.0.0.1:8443"},
		{"http://[::1]:8443", true, "http://[::1]:8443"},
		{"http://localhost:8443", true, "http://localhost:8443"},
		{"https://user:pw@fleet.example", false, ""},
		{"fleet.example:8443", false, ""},
		{"ftp://fleet.example", false, ""},
		{"", false, ""},
	} {
		u, err := ServerURL(tt.raw, tt.insecure)
		got := ""
		if err == nil {
			got = u.String()
		}
		if got != tt.want {
			t.Errorf("ServerURL(%q, %v) = %q, %v; want %q", tt.raw, tt.insecure, got, err, tt.want)
		}
	}
}

func TestParseFingerprint(t *testing.T) {
	const hex = "9f2c4a1b0d3e5f6a7b8c9d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c"
	want := "SHA256:" + hex
	colons := ""
	for i := 0; i < len(hex); i += 2 {
		if i > 0 {
			colons += ":"
		}
		colons += hex[i : i+2]
	}
	for _, tt := range []struct {
		in string
		ok bool
	}{
		{want, true},
		{strings.ToUpper(want), true},
		{"sha256:" + hex, true},
		{hex, true},
		{"SHA256:" + strings.ToUpper(colons), true},
		{"SHA256:" + hex[:62], false},
		{"SHA1:" + hex, false},
		{"SHA256:" + hex + "00", false},
		{"", false},
	} {
		got, err := ParseFingerprint(tt.in)
		if (err == nil) != tt.ok || (tt.ok && got != want) {
			t.Errorf("ParseFingerprint(%q) = %q, %v; want %q ok %v", tt.in, got, err, want, tt.ok)
		}
	}
}

// Pinning: the pinned certificate is accepted without the system roots or a matching name; any
// other is refused; without a pin the roots decide.
func TestPinning(t *testing.T) {
	srv := newFakeServer(t)
	right := Fingerprint(srv.Certificate().Raw)
	wrong := "SHA256:" + strings.Repeat("ab", 32)
	for _, tt := range []struct {
		name   string
		pin    string
		roots  bool // trust the server's certificate as a root
		host   string
		wantOK bool
		want   error
	}{
		{"right pin", right, false, "", true, nil},
		{"right pin, name not in the certificate", right, false, "localhost.invalid.example", true, nil},
		{"wrong pin", wrong, false, "", false, ErrPinMismatch},
		{"wrong pin even if the roots trust it", wrong, true, "", false, ErrPinMismatch},
		{"no pin: system roots refuse a self-signed certificate", "", false, "", false, nil},
		{"no pin: roots that hold it accept it", "", true, "", true, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			u := srv.url(t)
			var c *Client
			if tt.roots {
				c = NewClient(u, tt.pin, srv.roots())
			} else {
				c = NewClient(u, tt.pin, nil)
			}
			if tt.host != "" {
				// The same server asked for by a name its certificate does not carry.
				c.HTTP.Transport.(*http.Transport).TLSClientConfig.ServerName = tt.host
			}
			_, err := c.Enroll(context.Background(), wire.EnrollRequest{Secret: "fwe_secret", HostUUID: "x"})
			if (err == nil) != tt.wantOK {
				t.Fatalf("Enroll = %v, want ok %v", err, tt.wantOK)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("Enroll = %v, want %v", err, tt.want)
			}
			if !tt.wantOK && !tt.roots && tt.pin == "" && !strings.Contains(err.Error(), "certificate") {
				t.Errorf("Enroll = %v, want a certificate verification error", err)
			}
		})
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if len(srv.enrolls) != 3 {
		t.Errorf("server saw %d enrolments, want 3 (a refused certificate must send nothing)", len(srv.enrolls))
	}
}

func TestEnrollRefusedSecret(t *testing.T) {
	srv := newFakeServer(t)
	c := NewClient(srv.url(t), Fingerprint(srv.Certificate().Raw), nil)
	_, err := c.Enroll(context.Background(), wire.EnrollRequest{Secret: "fwe_wrong"})
	if err == nil || !strings.Contains(err.Error(), "enroll secret") {
		t.Errorf("Enroll(wrong secret) = %v, want an error about the enroll secret", err)
	}
}

func TestParseNudge(t *testing.T) {
	for _, tt := range []struct {
		line string
		want string // kind, "" for an error
	}{
		{`{"kind":"check_now"}`, wire.NudgeCheckNow},
		{`{"kind":"config_changed","id":"n1"}`, wire.NudgeConfigChanged},
		{`{"kind":"ping"}`, wire.NudgePing},
		{`{"kind":"reboot"}`, ""},
		{`{"kind":"ping","extra":1}`, ""},
		{`{"kind":"ping"}{}`, ""},
		{`not json`, ""},
	} {
		n, err := ParseNudge([]byte(tt.line))
		got := n.Kind
		if err != nil {
			got = ""
		}
		if got != tt.want {
			t.Errorf("ParseNudge(%s) = %q, %v; want %q", tt.line, n.Kind, err, tt.want)
		}
	}
}

func FuzzParseNudge(f *testing.F) {
	for _, s := range []string{`{"kind":"check_now"}`, `{"kind":"config_changed","id":"n1"}`, `{"kind":"ping"}`, `{"kind":"reboot"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		n, err := ParseNudge(line)
		if err == nil && n.Kind != wire.NudgeCheckNow && n.Kind != wire.NudgeConfigChanged && n.Kind != wire.NudgePing {
			t.Fatalf("ParseNudge(%q) accepted kind %q", line, n.Kind)
		}
	})
}

// A nudge written by the server reaches the agent through the open stream.
func TestNudgeStream(t *testing.T) {
	srv := newFakeServer(t)
	c := srv.client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	got := make(chan wire.Nudge, 1)
	srv.nudges <- wire.Nudge{Kind: wire.NudgePing}
	srv.nudges <- wire.Nudge{Kind: wire.NudgeCheckNow, ID: "n1"}
	go c.Nudges(ctx, nil, func(n wire.Nudge) { got <- n; cancel() })
	select {
	case n := <-got:
		if n.Kind != wire.NudgeCheckNow || n.ID != "n1" {
			t.Errorf("nudge = %+v, want check_now n1 (pings are not passed on)", n)
		}
	case <-ctx.Done():
		t.Fatal("no nudge arrived")
	}
}
