package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/firewarden/firewarden/internal/fleet/wire"
)

// runNudge holds M agents' nudge streams open at once, reads the server's memory, then nudges
// the label they share through the admin API and times how long until every stream has the
// nudge.
func runNudge(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("fleetsim nudge", flag.ContinueOnError)
	var c common
	c.register(fs)
	agents := fs.Int("agents", 10000, "`M` agents holding a nudge stream open")
	dialers := fs.Int("dialers", 64, "streams opened at a time")
	rounds := fs.Int("rounds", 3, "nudges to send, one after the other")
	wait := fs.Duration("wait", 30*time.Second, "how long to wait for a nudge to reach every stream")
	memTarget := fs.Int64("mem-target", 400, "server memory the issue allows, in MB")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := c.check(true); err != nil {
		return err
	}
	if c.token == "" {
		return fmt.Errorf("--token (the admin token) is required to send the nudge")
	}
	tr, err := pinnedTransport(c.fingerprint, *dialers)
	if err != nil {
		return err
	}
	client := &http.Client{Transport: tr, Timeout: 60 * time.Second}
	hosts, err := enrollAll(ctx, client, c.url, strings.Split(c.secrets, ","), *agents, *dialers, c.label, c.state)
	if err != nil {
		return err
	}
	samp := c.sampler()
	var before int64
	if samp != nil {
		before, _, _ = memStatus(samp.pid)
	}

	// One connection per stream: a transport without a connection limit.
	st, err := pinnedTransport(c.fingerprint, 0)
	if err != nil {
		return err
	}
	st.MaxIdleConns, st.MaxIdleConnsPerHost = 0, 0
	sc := &http.Client{Transport: st}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var (
		mu       sync.Mutex
		sentAt   time.Time                // when the current round's nudge was sent
		arrived  = map[string]latencies{} // by nudge ID: how long after sentAt each stream had it
		up       atomic.Int64
		failed   atomic.Int64
		firstErr atomic.Value
	)
	var wg sync.WaitGroup
	sem := make(chan struct{}, *dialers)
	t0 := time.Now()
	for _, h := range hosts {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			req, _ := http.NewRequestWithContext(sctx, http.MethodGet, c.url+wire.PathNudges, nil)
			req.Header.Set("Authorization", "Bearer "+h.Cred)
			resp, err := sc.Do(req)
			if err != nil || resp.StatusCode != http.StatusOK {
				<-sem
				failed.Add(1)
				if err == nil {
					err = fmt.Errorf("GET %s: %s", wire.PathNudges, resp.Status)
					resp.Body.Close()
				}
				firstErr.CompareAndSwap(nil, err.Error())
				return
			}
			defer resp.Body.Close()
			rd := bufio.NewScanner(resp.Body)
			first := true
			for rd.Scan() {
				var n wire.Nudge
				if json.Unmarshal(rd.Bytes(), &n) != nil {
					continue
				}
				if first {
					first = false
					up.Add(1)
					<-sem
				}
				if n.Kind != wire.NudgeCheckNow {
					continue
				}
				at := time.Now()
				mu.Lock()
				arrived[n.ID] = append(arrived[n.ID], at.Sub(sentAt))
				mu.Unlock()
			}
			if first {
				<-sem
				failed.Add(1)
			}
		}()
	}
	// Wait until every stream is up (its first ping read) or has failed.
	for up.Load()+failed.Load() < int64(len(hosts)) {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		time.Sleep(50 * time.Millisecond)
	}
	connectTime := time.Since(t0)
	time.Sleep(2 * time.Second) // let the server settle before reading its memory
	fmt.Printf("agents              %d nudge streams open (%d failed) in %s\n", up.Load(), failed.Load(), connectTime.Round(time.Millisecond))
	if e := firstErr.Load(); e != nil {
		fmt.Printf("  failed e.g.       %s\n", e)
	}
	if samp != nil {
		rss, hwm, _ := memStatus(samp.pid)
		fmt.Printf("server memory       VmRSS %s with the streams open (%s before; +%.1f KiB per stream), VmHWM %s\n",
			mib(rss), mib(before), float64(rss-before)/1024/float64(max(up.Load(), 1)), mib(hwm))
		fmt.Printf("target              %d streams within %d MB: %s\n", *agents, *memTarget, met(up.Load() == int64(*agents) && rss <= *memTarget*1000*1000))
	}
	ac := &http.Client{Transport: tr, Timeout: 60 * time.Second}
	worst := time.Duration(0)
	for r := 0; r < *rounds; r++ {
		mu.Lock()
		sentAt = time.Now()
		mu.Unlock()
		var resp struct {
			Nudge string `json:"nudge"`
			Label string `json:"label"`
		}
		body := map[string]string{"label": c.label}
		if code, err := doJSON(ctx, ac, http.MethodPost, c.url+"/api/v1/nudge", c.token, body, &resp); err != nil {
			return fmt.Errorf("nudge: %d %v", code, err)
		}
		answered := time.Since(sentAt)
		deadline := time.Now().Add(*wait)
		var lat latencies
		for {
			mu.Lock()
			lat = append(lat[:0], arrived[resp.Nudge]...)
			mu.Unlock()
			if int64(len(lat)) >= up.Load() || time.Now().After(deadline) {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		n := len(lat)
		lat.summary() // sorts
		var last time.Duration
		if n > 0 {
			last = lat[n-1]
		}
		if int64(n) < up.Load() {
			last = *wait
		}
		worst = max(worst, last)
		fmt.Printf("nudge %d             to label %q (POST answered in %s): reached %d of %d streams, the last after %s; per stream %s\n",
			r+1, resp.Label, ms(answered), n, up.Load(), ms(last), lat.summary())
		time.Sleep(time.Second)
	}
	fmt.Printf("machine load        %s (1, 5, 15 min)\n", loadavg())
	fmt.Printf("target              a nudge to all %d within 5 s: %s (slowest round %s)\n", *agents, met(worst < 5*time.Second && up.Load() == int64(*agents)), ms(worst))
	if samp != nil {
		fmt.Printf("server memory       %s\n", samp)
	}
	cancel()
	wg.Wait()
	fmt.Fprintln(os.Stderr, "fleetsim: streams closed")
	return nil
}
