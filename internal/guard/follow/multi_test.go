package follow

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// funcSource is a Source made of a function.
type funcSource struct {
	name string
	run  func(ctx context.Context, emit func(Line)) error
}

func (s funcSource) Name() string                                   { return s.name }
func (s funcSource) Run(ctx context.Context, emit func(Line)) error { return s.run(ctx, emit) }

// counting emits n lines "NAME i" from one reused buffer, overwriting it after every emit, then
// ends with err.
func counting(name string, n int, err error) funcSource {
	return funcSource{name: name, run: func(ctx context.Context, emit func(Line)) error {
		buf := make([]byte, 0, 64)
		for i := range n {
			buf = fmt.Appendf(buf[:0], "%s %d", name, i)
			emit(Line{Text: buf, Source: name})
			copy(buf, "XXXXXXXXXXXX") // the Line contract: Text is the source's again
		}
		return err
	}}
}

func TestMultiSerialisesAndKeepsOrder(t *testing.T) {
	const n = 2000
	m := NewMulti([]Source{counting("a", n, nil), counting("b", n, nil), counting("c", n, nil)}, MultiOptions{})
	var inside atomic.Int32
	per := map[string][]string{}
	err := m.Run(t.Context(), func(l Line) {
		if inside.Add(1) != 1 {
			t.Error("emit called while another call was running")
		}
		per[l.Source] = append(per[l.Source], string(l.Text))
		inside.Add(-1)
	})
	if err != nil {
		t.Errorf("Run() = %v, want nil when every source ended without error", err)
	}
	for _, name := range []string{"a", "b", "c"} {
		want := make([]string, n)
		for i := range want {
			want[i] = fmt.Sprintf("%s %d", name, i)
		}
		if diff := cmp.Diff(want, per[name]); diff != "" {
			t.Errorf("source %s's lines (-want +got):\n%s", name, diff)
		}
	}
	if got := m.Name(); got != "multi(a,b,c)" {
		t.Errorf("Name() = %q, want multi(a,b,c)", got)
	}
}

// A failing source is reported at once; the others go on, and Run ends with nil on cancel.
func TestMultiOneFails(t *testing.T) {
	errBroken := errors.New("broken")
	reported := make(chan string, 1)
	waiter := funcSource{name: "waiter", run: func(ctx context.Context, emit func(Line)) error {
		<-reported // emits only after the other source's failure was reported
		emit(Line{Text: []byte("still here"), Source: "waiter"})
		<-ctx.Done()
		return nil
	}}
	var mu sync.Mutex
	var errs []string
	m := NewMulti([]Source{counting("bad", 1, errBroken), waiter}, MultiOptions{OnError: func(src Source, err error) {
		mu.Lock()
		errs = append(errs, src.Name()+": "+err.Error())
		mu.Unlock()
		reported <- src.Name()
	}})
	ctx, cancel := context.WithCancel(t.Context())
	var got []string
	err := m.Run(ctx, func(l Line) {
		got = append(got, string(l.Text))
		if string(l.Text) == "still here" {
			cancel()
		}
	})
	if err != nil {
		t.Errorf("Run() = %v, want nil", err)
	}
	if diff := cmp.Diff([]string{"bad 0", "still here"}, got); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"bad: broken"}, errs); diff != "" {
		t.Errorf("OnError calls (-want +got):\n%s", diff)
	}
}

func TestMultiAllFail(t *testing.T) {
	m := NewMulti([]Source{counting("a", 0, errors.New("no journal")), counting("b", 0, errors.New("no file"))}, MultiOptions{})
	err := m.Run(t.Context(), func(Line) {})
	if err == nil || !strings.Contains(err.Error(), "a: no journal") || !strings.Contains(err.Error(), "b: no file") {
		t.Errorf("Run() = %v, want both sources' errors", err)
	}
	if err := NewMulti(nil, MultiOptions{}).Run(t.Context(), func(Line) {}); err == nil {
		t.Error("Run() without sources = nil, want an error")
	}
}

// Cancelling stops sources blocked in emit too: Run stops taking lines only when all have ended.
func TestMultiCancel(t *testing.T) {
	endless := funcSource{name: "endless", run: func(ctx context.Context, emit func(Line)) error {
		for ctx.Err() == nil {
			emit(Line{Text: []byte("x"), Source: "endless"})
		}
		return nil
	}}
	ctx, cancel := context.WithCancel(t.Context())
	n := 0
	err := NewMulti([]Source{endless, endless}, MultiOptions{}).Run(ctx, func(Line) {
		if n++; n == 100 {
			cancel()
		}
	})
	if err != nil {
		t.Errorf("Run() = %v, want nil", err)
	}
}
