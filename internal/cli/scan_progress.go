package cli

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/firewarden/firewarden/internal/exposure/scan"
)

// progressEvery is the shortest time between two progress lines.
const progressEvery = 100 * time.Millisecond

// scanProgress returns a scan.Options.Progress that keeps one line of w (a terminal) up to
// date, at most every progressEvery and at the end of each pass: the ports done of the pass's
// total, the open ports found so far, and (after a second) the time the pass has left at its
// pace so far. now is the clock.
func scanProgress(w io.Writer, now func() time.Time) func(scan.Progress) {
	var mu sync.Mutex
	var last, passStart time.Time
	pass := -1
	return func(p scan.Progress) {
		mu.Lock()
		defer mu.Unlock()
		t := now()
		if p.Pass != pass {
			pass, passStart = p.Pass, t
		}
		if t.Sub(last) < progressEvery && p.Done != p.Total {
			return
		}
		last = t
		what := fmt.Sprintf("%d/%d ports (%d%%)", p.Done, p.Total, p.Done*100/max(p.Total, 1))
		if p.Pass > 0 {
			what = fmt.Sprintf("retry %d: %d/%d silent ports", p.Pass, p.Done, p.Total)
		}
		left := ""
		// The pace is known after a second: before, the first slot-full of tries is still
		// out and the few done say nothing of the rest.
		if el := t.Sub(passStart); p.Done > 0 && p.Done < p.Total && el >= time.Second {
			rest := time.Duration(float64(el) / float64(p.Done) * float64(p.Total-p.Done))
			left = ", about " + rest.Round(time.Second).String() + " left"
			if rest < time.Second {
				left = ", under 1s left"
			}
		}
		fmt.Fprintf(w, "\r\033[Kscan: %s, %d open%s", what, p.Open, left)
	}
}

// isTTY reports whether w is a terminal. A character device is not enough: /dev/null is one,
// and a progress line has no business in a file either.
func isTTY(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && isTerminalFd(f.Fd())
}
