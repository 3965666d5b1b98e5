package follow

import (
	"context"
	"sync"
	"testing"
	"time"
)

// patience bounds every wait for another goroutine in these tests (real time). It guards against
// a hang and is never part of what is asserted.
const patience = 10 * time.Second

// never is a poll interval that never comes during a test: with it, whatever arrives was brought
// by a change notification or by the first check.
const never = time.Hour

// collector keeps what a source emits. Lines are copied, as the Line contract asks.
type collector struct {
	mu      sync.Mutex
	lines   []Line
	changed chan struct{} // closed and replaced at every line
}

func newCollector() *collector { return &collector{changed: make(chan struct{})} }

func (c *collector) emit(l Line) {
	if len(l.Text) == 0 {
		return // a mark (see Line.Pos)
	}
	l.Text = append([]byte(nil), l.Text...)
	c.mu.Lock()
	c.lines = append(c.lines, l)
	close(c.changed)
	c.changed = make(chan struct{})
	c.mu.Unlock()
}

// texts returns the lines so far.
func (c *collector) texts() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, len(c.lines))
	for i, l := range c.lines {
		out[i] = string(l.Text)
	}
	return out
}

// wait blocks until at least n lines have come and returns all lines so far.
func (c *collector) wait(t *testing.T, n int) []string {
	t.Helper()
	deadline := time.After(patience)
	for {
		c.mu.Lock()
		got, ch := len(c.lines), c.changed
		c.mu.Unlock()
		if got >= n {
			return c.texts()
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("waited for %d lines, have %d: %q", n, got, c.texts())
		}
	}
}

// running is a Source running in the background.
type running struct {
	cancel context.CancelFunc
	done   chan error
}

func start(t *testing.T, src Source, emit func(Line)) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- src.Run(ctx, emit) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(patience):
			t.Errorf("%s: Run did not return after cancel", src.Name())
		}
	})
	return r
}

// stop cancels the source and returns what Run returned.
func (r *running) stop(t *testing.T) error {
	t.Helper()
	r.cancel()
	return r.wait(t)
}

// wait returns what Run returned, without cancelling.
func (r *running) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-r.done:
		r.done <- err // for the cleanup
		return err
	case <-time.After(patience):
		t.Fatal("Run did not return")
		return nil
	}
}
