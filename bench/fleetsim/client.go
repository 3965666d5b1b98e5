package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/firewarden/firewarden/internal/fleet/wire"
)

// pinnedTransport trusts exactly the certificate whose SHA-256 fingerprint is fp, as
// `agent enroll --fingerprint` does. maxConns bounds the connections (0: one per request in
// flight, as nudge streams need).
func pinnedTransport(fp string, maxConns int) (*http.Transport, error) {
	want, err := parseFingerprint(fp)
	if err != nil {
		return nil, err
	}
	tc := &tls.Config{
		InsecureSkipVerify: true, // replaced by the pin check below
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 {
				return errors.New("server sent no certificate")
			}
			got := sha256.Sum256(raw[0])
			if subtle.ConstantTimeCompare(got[:], want) != 1 {
				return fmt.Errorf("server certificate fingerprint SHA256:%x does not match the pinned one", got)
			}
			return nil
		},
		MinVersion: tls.VersionTLS12,
	}
	return &http.Transport{
		TLSClientConfig:     tc,
		DialContext:         (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxConnsPerHost:     maxConns,
		MaxIdleConns:        max(maxConns, 100),
		MaxIdleConnsPerHost: max(maxConns, 100),
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 30 * time.Second,
	}, nil
}

func parseFingerprint(fp string) ([]byte, error) {
	s := strings.ToLower(strings.TrimPrefix(strings.TrimPrefix(fp, "SHA256:"), "sha256:"))
	s = strings.ReplaceAll(s, ":", "")
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != sha256.Size {
		return nil, fmt.Errorf("--fingerprint %q: want SHA256: and 64 hex digits, as `firewarden-server init` prints", fp)
	}
	return b, nil
}

// host is one simulated agent: its identity, its sequence numbers and evidence chain, the
// status of each check as it last ran, and the records it has not had acknowledged yet (its
// spool).
type host struct {
	mu        sync.Mutex
	ID        string `json:"host_id"`
	Cred      string `json:"credential"`
	UUID      string `json:"uuid"`
	seq       uint64
	chainSeq  uint64
	chainHash string
	status    []string
	enforce   bool
	spool     []wire.Record
	runs      int // run records in the spool
}

// enrollAll enrolls n hosts with conns requests at a time, retrying 429s, or loads them from
// state (a JSON file of earlier enrollments against the same server) and enrolls only the rest.
func enrollAll(ctx context.Context, c *http.Client, base string, secrets []string, n, conns int, label, state string) ([]*host, error) {
	var hosts []*host
	if state != "" {
		if data, err := os.ReadFile(state); err == nil {
			if err := json.Unmarshal(data, &hosts); err != nil {
				return nil, fmt.Errorf("%s: %v; delete it to enroll afresh", state, err)
			}
		}
	}
	if len(hosts) > n {
		hosts = hosts[:n]
	}
	start := time.Now()
	have := len(hosts)
	out := make([]*host, n)
	copy(out, hosts)
	var next atomic.Int64
	next.Store(int64(have))
	var wg sync.WaitGroup
	var firstErr error
	var errOnce sync.Once
	for w := 0; w < conns; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				h, err := enroll(ctx, c, base, secrets[i%len(secrets)], i, label)
				if err != nil {
					errOnce.Do(func() { firstErr = err })
					return
				}
				out[i] = h
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if n > have {
		el := time.Since(start)
		fmt.Fprintf(os.Stderr, "fleetsim: enrolled %d hosts in %s (%.0f/s)\n", n-have, el.Round(time.Millisecond), float64(n-have)/el.Seconds())
		if state != "" {
			data, _ := json.Marshal(out)
			if err := os.WriteFile(state, data, 0o600); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

func enroll(ctx context.Context, c *http.Client, base, secret string, i int, label string) (*host, error) {
	uuid := fmt.Sprintf("FLEETSIM-%08d-%d", i, time.Now().UnixNano())
	req := wire.EnrollRequest{
		Secret: secret, HostUUID: uuid, Hostname: fmt.Sprintf("mac-%06d.sim", i),
		OS: "macOS", OSVersion: macVersions[i%len(macVersions)], AgentVersion: "fleetsim",
	}
	if label != "" {
		req.Labels = []string{label}
	}
	var resp wire.EnrollResponse
	for attempt := 0; ; attempt++ {
		code, err := doJSON(ctx, c, http.MethodPost, base+wire.PathEnroll, "", req, &resp)
		if code == http.StatusTooManyRequests && attempt < 1000 {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(200 * time.Millisecond):
			}
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("enroll host %d: %w", i, err)
		}
		return &host{ID: resp.HostID, Cred: resp.Credential, UUID: uuid}, nil
	}
}

var macVersions = []string{"14.7.2", "15.3.1", "15.4", "26.0"}

// doJSON sends body (nil: none) and decodes a 200 answer into out. It returns the status code,
// and an error for anything but 200.
func doJSON(ctx context.Context, c *http.Client, method, url, bearer string, body, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, fmt.Errorf("%s %s: %s: %s", method, url, resp.Status, strings.TrimSpace(string(data)))
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: %v", method, url, err)
		}
	}
	return resp.StatusCode, nil
}
