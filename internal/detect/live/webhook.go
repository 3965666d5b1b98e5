package live

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Webhook POSTs each alert's JSON form to a URL (Content-Type application/json). Send only
// queues: a goroutine owned by the Webhook delivers, so a slow or dead receiver never holds up
// detection. The queue is bounded; when it is full the oldest alert is dropped and counted.
// A delivery is tried up to Tries times, with back-off, after a network error, a 5xx or a 429;
// any other status ends it at once. Close delivers what is queued within a grace period.
type Webhook struct {
	url    string
	safe   string // the URL without query or credentials, for messages
	label  string
	client *http.Client
	clock  Clock
	logf   Logf
	tries  int
	grace  time.Duration

	mu      sync.Mutex
	queue   [][]byte
	max     int
	dropped int64
	closed  bool
	wake    chan struct{} // a token when the queue grew

	cancel context.CancelFunc // stops a delivery in flight (Close, after the grace)
	done   chan struct{}      // closed when the worker has ended
	drain  chan struct{}      // closed by Close: deliver what is queued, then end
}

// WebhookOptions configure NewWebhook. Zero values take the defaults.
type WebhookOptions struct {
	Client  *http.Client  // default: a client with a 10 s timeout per request
	Clock   Clock         // the back-off between tries; nil: real time
	Log     Logf          // delivery failures and drops; nil discards
	Queue   int           // queued alerts at most; default 1000
	Tries   int           // attempts per alert; default 5
	Backoff time.Duration // first wait between attempts, doubled each time; default 1 s
	Grace   time.Duration // how long Close keeps delivering; default 5 s
	// InsecureHTTP admits a plain http:// URL, and redirects from https:// to http://. Without
	// it NewWebhook refuses http:// with ErrInsecureWebhook: alerts name hosts, users and
	// command lines, and anyone on the path could read them, or drop or forge the receiver's
	// answers unseen.
	InsecureHTTP bool
}

// ErrInsecureWebhook is NewWebhook's error for a plain http:// URL without
// WebhookOptions.InsecureHTTP.
var ErrInsecureWebhook = errors.New("plain http:// sends alerts unencrypted")

// NewWebhook checks rawURL and starts the delivery goroutine; Close stops it.
func NewWebhook(rawURL string, opt WebhookOptions) (*Webhook, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("webhook URL %q: want https://… (or http://… when allowed)", rawURL)
	}
	if u.Scheme == "http" && !opt.InsecureHTTP {
		return nil, ErrInsecureWebhook
	}
	label := *u
	label.User, label.RawQuery, label.Fragment = nil, "", ""
	w := &Webhook{
		url: rawURL, safe: label.String(), label: "--webhook " + label.String(),
		client: opt.Client, clock: opt.Clock, logf: opt.Log, tries: opt.Tries, grace: opt.Grace, max: opt.Queue,
		wake: make(chan struct{}, 1), done: make(chan struct{}), drain: make(chan struct{}),
	}
	if w.client == nil {
		w.client = &http.Client{Timeout: 10 * time.Second}
	}
	if !opt.InsecureHTTP {
		// A redirect must not carry the alerts from https:// to http:// either.
		c := *w.client
		next := c.CheckRedirect
		c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
			if req.URL.Scheme != "https" {
				return fmt.Errorf("redirected to %s://%s: %w", req.URL.Scheme, req.URL.Host, ErrInsecureWebhook)
			}
			if next != nil {
				return next(req, via)
			}
			if len(via) >= 10 { // net/http's own default limit
				return errors.New("stopped after 10 redirects")
			}
			return nil
		}
		w.client = &c
	}
	if w.clock == nil {
		w.clock = realClock{}
	}
	if w.logf == nil {
		w.logf = func(string, ...any) {}
	}
	if w.tries <= 0 {
		w.tries = 5
	}
	if w.grace <= 0 {
		w.grace = 5 * time.Second
	}
	if w.max <= 0 {
		w.max = 1000
	}
	backoff := opt.Backoff
	if backoff <= 0 {
		backoff = time.Second
	}
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel = cancel
	go w.work(ctx, backoff)
	return w, nil
}

// Name implements Sink.
func (w *Webhook) Name() string { return w.label }

// Send implements Sink: it queues the alert and returns at once.
func (w *Webhook) Send(a Alert) error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return errors.New("closed")
	}
	if len(w.queue) >= w.max {
		w.queue[0] = nil
		w.queue = w.queue[1:]
		w.dropped++
		if w.dropped == 1 || w.dropped%100 == 0 {
			w.logf("%s: queue full (%d alerts): dropped the oldest, %d dropped so far", w.label, w.max, w.dropped)
		}
	}
	w.queue = append(w.queue, a.JSON)
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
	return nil
}

// Dropped is how many alerts the full queue pushed out.
func (w *Webhook) Dropped() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.dropped
}

// Close stops taking alerts, delivers what is queued for up to the grace period, then stops
// the delivery goroutine and waits for it.
func (w *Webhook) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	w.mu.Unlock()
	close(w.drain)
	// The grace bounds real waiting at shutdown, like an I/O deadline: wall-clock time.
	grace := time.NewTimer(w.grace)
	defer grace.Stop()
	select {
	case <-w.done:
	case <-grace.C:
		w.cancel()
		<-w.done
	}
	w.cancel()
	w.mu.Lock()
	defer w.mu.Unlock()
	var lost []string
	if n := len(w.queue); n > 0 {
		lost = append(lost, fmt.Sprintf("%d alert(s) not delivered at shutdown", n))
	}
	if w.dropped > 0 {
		lost = append(lost, fmt.Sprintf("%d alert(s) dropped while the queue was full", w.dropped))
	}
	if len(lost) > 0 {
		return errors.New(strings.Join(lost, "; "))
	}
	return nil
}

// work delivers queued alerts in order until drained (after Close) or stopped.
func (w *Webhook) work(ctx context.Context, backoff time.Duration) {
	defer close(w.done)
	failing := false
	for {
		w.mu.Lock()
		var body []byte
		if len(w.queue) > 0 {
			body = w.queue[0]
			w.queue[0] = nil
			w.queue = w.queue[1:]
		}
		w.mu.Unlock()
		if body == nil {
			select {
			case <-w.wake:
				continue
			case <-w.drain:
				// Closed: nothing more can be queued; one last look, then end.
				w.mu.Lock()
				empty := len(w.queue) == 0
				w.mu.Unlock()
				if empty {
					return
				}
				continue
			case <-ctx.Done():
				return
			}
		}
		err := w.deliver(ctx, body, backoff)
		switch {
		case ctx.Err() != nil:
			w.mu.Lock()
			w.queue = append([][]byte{body}, w.queue...) // counted as not delivered by Close
			w.mu.Unlock()
			return
		case err != nil:
			failing = true
			w.logf("%s: gave up on an alert: %v", w.label, err)
		case failing:
			failing = false
			w.logf("%s: delivering again", w.label)
		}
	}
}

// deliver POSTs one alert, retrying network errors, 5xx and 429 with back-off.
func (w *Webhook) deliver(ctx context.Context, body []byte, backoff time.Duration) error {
	var last error
	for try := 1; try <= w.tries; try++ {
		retry, err := w.post(ctx, body)
		if err == nil {
			return nil
		}
		last = fmt.Errorf("try %d of %d: %w", try, w.tries, err)
		if !retry || try == w.tries {
			break
		}
		if !sleep(ctx, w.clock, backoff) {
			return last
		}
		backoff *= 2
	}
	return last
}

// post makes one request and reports whether a failure is worth retrying.
func (w *Webhook) post(ctx context.Context, body []byte) (retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "firewarden")
	resp, err := w.client.Do(req)
	if err != nil {
		// The URL may carry a token: report the error without it.
		if ue, ok := err.(*url.Error); ok {
			return true, fmt.Errorf("POST %s: %w", w.safe, ue.Err)
		}
		return true, err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // let the connection be reused
	resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return false, nil
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		return true, fmt.Errorf("status %s", resp.Status)
	default:
		return false, fmt.Errorf("status %s (not retried)", resp.Status)
	}
}

var _ Sink = (*Webhook)(nil)
