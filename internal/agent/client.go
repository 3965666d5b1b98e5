package agent

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/firewarden/firewarden/internal/fleet/wire"
)

// ServerURL checks the fleet server's address: https, or http only to a loopback address when
// insecureHTTP allows it (the server's `serve --insecure-http` for a test on one machine). It
// returns the URL without a trailing slash.
func ServerURL(raw string, insecureHTTP bool) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("--server %q: give the server's URL as `firewarden-server init` printed it, e.g. https://fleet.example:8443", raw)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("--server %q: give only scheme, host, port and path", raw)
	}
	if u.Scheme == "http" {
		if !insecureHTTP || !isLoopback(u.Hostname()) {
			return nil, fmt.Errorf("--server %q: plain http would send the credential in the clear; use https (http is allowed only to a loopback address with --insecure-http)", raw)
		}
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	return u, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ParseFingerprint normalises a certificate fingerprint to "SHA256:" and 64 lowercase hex
// digits. It accepts the prefix in any case or not at all, and colons between the bytes.
func ParseFingerprint(s string) (string, error) {
	h := strings.TrimSpace(s)
	if len(h) >= 7 && strings.EqualFold(h[:7], "sha256:") {
		h = h[7:]
	}
	h = strings.ToLower(strings.ReplaceAll(h, ":", ""))
	if b, err := hex.DecodeString(h); err != nil || len(b) != sha256.Size {
		return "", fmt.Errorf("--fingerprint %q: want SHA256: and 64 hex digits, as `firewarden-server init` prints it", s)
	}
	return "SHA256:" + h, nil
}

// Fingerprint is the fingerprint of a DER certificate, as the server prints its own.
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return "SHA256:" + hex.EncodeToString(sum[:])
}

// ErrPinMismatch is the server presenting a certificate other than the pinned one.
var ErrPinMismatch = errors.New("the server's certificate does not match the pinned fingerprint")

// TLSConfig verifies the server: against the pinned leaf certificate fingerprint when pin is
// set (then, and only then, the system roots and the host name are not consulted: the pin names
// the one certificate to accept), else against roots (nil: the system roots) and the host name.
func TLSConfig(pin string, roots *x509.CertPool) *tls.Config {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots}
	if pin == "" {
		return cfg
	}
	cfg.InsecureSkipVerify = true // replaced by VerifyConnection below
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return ErrPinMismatch
		}
		if got := Fingerprint(cs.PeerCertificates[0].Raw); got != pin {
			return fmt.Errorf("%w: it presented %s, pinned %s; if the server's certificate was replaced, enroll again with the new fingerprint", ErrPinMismatch, got, pin)
		}
		return nil
	}
	return cfg
}

// Client speaks the agent API.
type Client struct {
	Base *url.URL
	HTTP *http.Client
	// Credential is the host credential; set it before the client is shared, and change it
	// afterwards only with SetCredential.
	Credential string
	// UserAgent names the agent and its version.
	UserAgent string
	// Reload, when set, returns the credential agent.json holds now. A request refused as
	// unknown is sent once more with it when it differs: `agent rotate` run beside the daemon
	// changes the credential under it.
	Reload func() (string, error)

	mu      sync.Mutex // guards Credential once shared, and revoked
	revoked error      // set once the server said the credential was revoked: nothing more is sent
}

// SetCredential changes the credential of a client in use (a rotation).
func (c *Client) SetCredential(cred string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.Credential = cred
}

func (c *Client) credential() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.Credential
}

// Revoked returns the server's refusal once it said this host's credential was revoked, else
// nil. From then on the client sends nothing: only a new enrolment helps.
func (c *Client) Revoked() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.revoked
}

// reloaded is the credential agent.json holds, when it differs from the one just refused.
func (c *Client) reloaded(refused string) (string, bool) {
	if c.Reload == nil {
		return "", false
	}
	cred, err := c.Reload()
	if err != nil || cred == "" || cred == refused {
		return "", false
	}
	c.SetCredential(cred)
	return cred, true
}

// NewClient returns a client for the server at base whose TLS is verified by TLSConfig(pin,
// roots).
func NewClient(base *url.URL, pin string, roots *x509.CertPool) *Client {
	tr := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		TLSClientConfig:     TLSConfig(pin, roots),
		TLSHandshakeTimeout: 15 * time.Second,
		IdleConnTimeout:     90 * time.Second,
		MaxIdleConnsPerHost: 2,
		ForceAttemptHTTP2:   true,
	}
	return &Client{Base: base, HTTP: &http.Client{Transport: tr}}
}

// HTTPError is an answer other than 200.
type HTTPError struct {
	Status  int
	Message string // the server's {"error": …}, or the start of its body
	Code    string // the server's wire.Error code, if any
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("server answered %d: %s", e.Status, e.Message)
}

// Permanent reports whether repeating the request cannot help: the server refused the request
// itself (4xx other than 408 and 429).
func (e *HTTPError) Permanent() bool {
	return e.Status >= 400 && e.Status < 500 && e.Status != http.StatusRequestTimeout && e.Status != http.StatusTooManyRequests
}

// ErrUnauthorized is wrapped by the error for a 401 or 403: the credential is unknown, revoked or
// not allowed, and only a new enrolment helps.
var ErrUnauthorized = errors.New("the server refused this host's credential; enroll again with `firewarden agent enroll`")

// ErrRevoked is wrapped (with ErrUnauthorized) by the error for a server answer saying that this
// host's credential was revoked (wire.CodeRevoked).
var ErrRevoked = errors.New("this host's credential was REVOKED by the fleet's admin: it no longer reports, and keeps " +
	"enforcing its last policy locally; to report again, enroll again with `firewarden agent enroll --server URL --secret S` " +
	"and restart the agent")

// requestTimeout bounds each request but the nudge stream.
const requestTimeout = time.Minute

func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	if err := c.Revoked(); err != nil && path != wire.PathEnroll {
		return err
	}
	var data []byte
	if body != nil {
		var err error
		if data, err = json.Marshal(body); err != nil {
			return err
		}
	}
	send := func() (*http.Response, error) {
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(data)
		}
		req, err := c.newRequest(ctx, method, path, rd)
		if err != nil {
			return nil, err
		}
		resp, err := c.HTTP.Do(req)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", method, path, err)
		}
		return resp, nil
	}
	sentWith := c.credential()
	resp, err := send()
	if err != nil {
		return err
	}
	defer func() { resp.Body.Close() }()
	err = c.checkStatus(resp)
	if errors.Is(err, ErrUnauthorized) && !errors.Is(err, ErrRevoked) && path != wire.PathEnroll {
		if _, ok := c.reloaded(sentWith); ok {
			resp.Body.Close()
			if resp, err = send(); err != nil {
				return err
			}
			err = c.checkStatus(resp)
		}
	}
	if err != nil {
		return err
	}
	if err := wire.Decode(resp.Body, out, wire.MaxBodyBytes); err != nil {
		return fmt.Errorf("%s %s: the server's answer: %w", method, path, err)
	}
	return nil
}

func (c *Client) newRequest(ctx context.Context, method, path string, body io.Reader) (*http.Request, error) {
	u := *c.Base
	u.Path += path
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if cred := c.credential(); cred != "" && path != wire.PathEnroll {
		req.Header.Set("Authorization", "Bearer "+cred)
	}
	if c.UserAgent != "" {
		req.Header.Set("User-Agent", c.UserAgent)
	}
	return req, nil
}

// checkStatus turns an answer other than 200 into an error; one saying that this host's
// credential was revoked also stops the client for good.
func (c *Client) checkStatus(resp *http.Response) error {
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	var e wire.Error
	msg := strings.TrimSpace(string(data))
	if json.Unmarshal(data, &e) == nil && e.Error != "" {
		msg = e.Error
	}
	if len(msg) > 300 {
		msg = msg[:300]
	}
	herr := &HTTPError{Status: resp.StatusCode, Message: oneLine(msg), Code: e.Code}
	if resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusForbidden {
		return herr
	}
	if e.Code == wire.CodeRevoked && resp.Request != nil && resp.Request.URL.Path != c.Base.Path+wire.PathEnroll {
		err := fmt.Errorf("%w (%w)", ErrRevoked, &unauthorized{herr})
		c.mu.Lock()
		c.revoked = err
		c.mu.Unlock()
		return err
	}
	return fmt.Errorf("%w (%w)", ErrUnauthorized, herr)
}

// unauthorized is an HTTPError that is also ErrUnauthorized, so that a revocation is both.
type unauthorized struct{ *HTTPError }

func (u *unauthorized) Unwrap() []error { return []error{ErrUnauthorized, u.HTTPError} }

// Enroll trades the enroll secret in req for a host credential.
func (c *Client) Enroll(ctx context.Context, req wire.EnrollRequest) (wire.EnrollResponse, error) {
	var out wire.EnrollResponse
	if err := c.do(ctx, http.MethodPost, wire.PathEnroll, req, &out); err != nil {
		var herr *HTTPError
		if errors.Is(err, ErrUnauthorized) && errors.As(err, &herr) {
			// The server says which: unknown or revoked, and what to do.
			return out, fmt.Errorf("the server refused the enroll secret: %s", herr.Message)
		}
		if errors.As(err, &herr) {
			return out, fmt.Errorf("enroll: %w", err)
		}
		return out, err
	}
	if out.HostID == "" || out.Credential == "" {
		return out, errors.New("enroll: the server's answer has no host_id or credential")
	}
	return out, nil
}

// Config fetches the host's policy.
func (c *Client) Config(ctx context.Context) (wire.AgentConfig, error) {
	var out wire.AgentConfig
	err := c.do(ctx, http.MethodGet, wire.PathConfig, nil, &out)
	return out, err
}

// Report uploads a batch and returns what the server acknowledged.
func (c *Client) Report(ctx context.Context, b wire.ReportBatch) (wire.ReportAck, error) {
	var out wire.ReportAck
	err := c.do(ctx, http.MethodPost, wire.PathReport, b, &out)
	return out, err
}

// MaxNudgeLine is the longest nudge line read; a longer one ends the stream.
const MaxNudgeLine = 4096

// nudgeIdle is how long the stream may stay silent before the agent takes it for dead: the
// server pings every wire.NudgeHeartbeat.
const nudgeIdle = 2*wire.NudgeHeartbeat + 10*time.Second

// Nudges opens the nudge stream and calls fn for each nudge but pings, until the stream ends,
// stays silent for longer than two heartbeats, or ctx is done. connected is called once the
// server answered 200.
func (c *Client) Nudges(parent context.Context, connected func(), fn func(wire.Nudge)) error {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	if err := c.Revoked(); err != nil {
		return err
	}
	watchdog := time.AfterFunc(nudgeIdle, cancel)
	defer watchdog.Stop()
	open := func() (*http.Response, error) {
		req, err := c.newRequest(ctx, http.MethodGet, wire.PathNudges, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Accept", "application/x-ndjson")
		resp, err := c.HTTP.Do(req)
		if err != nil {
			return nil, fmt.Errorf("GET %s: %w", wire.PathNudges, err)
		}
		return resp, nil
	}
	sentWith := c.credential()
	resp, err := open()
	if err != nil {
		return err
	}
	defer func() { resp.Body.Close() }()
	err = c.checkStatus(resp)
	if errors.Is(err, ErrUnauthorized) && !errors.Is(err, ErrRevoked) {
		if _, ok := c.reloaded(sentWith); ok {
			resp.Body.Close()
			if resp, err = open(); err != nil {
				return err
			}
			err = c.checkStatus(resp)
		}
	}
	if err != nil {
		return err
	}
	if connected != nil {
		connected()
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 512), MaxNudgeLine)
	for sc.Scan() {
		watchdog.Reset(nudgeIdle)
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		n, err := ParseNudge(line)
		if err != nil {
			return err
		}
		if n.Kind != wire.NudgePing {
			fn(n)
		}
	}
	switch {
	case parent.Err() != nil:
		return parent.Err()
	case ctx.Err() != nil:
		return fmt.Errorf("nudge stream: silent for %v, reconnecting", nudgeIdle)
	case sc.Err() != nil:
		return fmt.Errorf("nudge stream: %w", sc.Err())
	}
	return errors.New("nudge stream: closed by the server")
}

// ParseNudge decodes one line of the nudge stream. An unknown kind is an error: a newer server
// must not be half-understood.
func ParseNudge(line []byte) (wire.Nudge, error) {
	var n wire.Nudge
	if err := wire.Decode(bytes.NewReader(line), &n, MaxNudgeLine); err != nil {
		return n, fmt.Errorf("nudge stream: %w", err)
	}
	switch n.Kind {
	case wire.NudgeCheckNow, wire.NudgeConfigChanged, wire.NudgePing:
		return n, nil
	}
	return n, fmt.Errorf("nudge stream: unknown nudge kind %q", n.Kind)
}
