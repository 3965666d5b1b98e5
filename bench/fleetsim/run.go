package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/firewarden/firewarden/internal/fleet/wire"
)

// common are the flags every command talking to a server takes.
type common struct {
	url, fingerprint, secrets, token, state, label string
	pid                                            int
}

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.url, "url", "", "server `URL`, https://HOST:PORT (required)")
	fs.StringVar(&c.fingerprint, "fingerprint", "", "the server certificate's `SHA256:…` fingerprint, as init prints it (required)")
	fs.StringVar(&c.secrets, "secret", "", "enroll `SECRETS`, comma-separated; hosts are spread over them (each secret has its own enrollment rate limit)")
	fs.StringVar(&c.token, "token", "", "admin API `TOKEN`")
	fs.StringVar(&c.state, "state", "", "`FILE` keeping enrolled hosts' credentials, to reuse them in a later run against the same server")
	fs.StringVar(&c.label, "label", "fleetsim", "`LABEL` the simulated hosts ask for at enrollment")
	fs.IntVar(&c.pid, "server-pid", 0, "`PID` of the server, to read its memory from /proc/PID/status")
}

func (c *common) check(needSecret bool) error {
	if c.url == "" || c.fingerprint == "" {
		return errors.New("--url and --fingerprint are required (from `firewarden-server init --json`)")
	}
	if needSecret && c.secrets == "" {
		return errors.New("--secret is required to enroll hosts")
	}
	c.url = strings.TrimSuffix(c.url, "/")
	return nil
}

func (c *common) sampler() *rssSampler {
	if c.pid <= 0 {
		return nil
	}
	return &rssSampler{pid: c.pid}
}

func runReports(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("fleetsim run", flag.ContinueOnError)
	var c common
	c.register(fs)
	nHosts := fs.Int("hosts", 5000, "simulated `N` hosts")
	rate := fs.Float64("rate", 1000, "target reports (check runs) per second, over all hosts")
	dur := fs.Duration("duration", time.Minute, "how long to report at the target rate, after the warm-up")
	conns := fs.Int("conns", 32, "`K` concurrent connections (and requests in flight)")
	drift := fs.Float64("drift", 0.03, "probability that a run finds a check drifted (a run stands for an hour: 0.03 is 3 % of hosts drifting per hour)")
	alert := fs.Float64("alert", 0.002, "probability of a tamper alert per run")
	backlog := fs.Float64("backlog", 0.01, "probability that a host comes back from offline with 2 to 8 runs in one batch")
	db := fs.String("db", "", "the server's database: a SQLite file (or directory) or a postgres:// URL, to measure its size before and after")
	p99Target := fs.Duration("p99-target", 250*time.Millisecond, "p99 latency the issue asks for")
	rateTarget := fs.Float64("rate-target", 0, "reports/s the issue asks for (0: --rate)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := c.check(true); err != nil {
		return err
	}
	if *rateTarget == 0 {
		*rateTarget = *rate
	}
	checks, err := checkIDs()
	if err != nil {
		return err
	}
	tr, err := pinnedTransport(c.fingerprint, *conns)
	if err != nil {
		return err
	}
	client := &http.Client{Transport: tr, Timeout: 60 * time.Second}
	hosts, err := enrollAll(ctx, client, c.url, strings.Split(c.secrets, ","), *nHosts, *conns, c.label, c.state)
	if err != nil {
		return err
	}
	samp := c.sampler()
	sctx, stopSamp := context.WithCancel(ctx)
	defer stopSamp()
	go samp.run(sctx)

	// Warm-up: every host reports its first run (13 first transitions each), so that the
	// measured phase is the steady state of drifts and unchanged runs.
	fmt.Fprintf(os.Stderr, "fleetsim: warm-up, one run per host (%d hosts, %d checks each)\n", len(hosts), len(checks))
	w := newWorkload(client, c.url, hosts, checks, *drift, *alert, *backlog)
	wstart := time.Now()
	if err := w.warmup(ctx, *conns); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "fleetsim: warm-up took %s\n", time.Since(wstart).Round(time.Millisecond))
	w.reset()

	var before int64
	if *db != "" {
		if before, err = dbSize(ctx, *db); err != nil {
			return fmt.Errorf("database size: %w", err)
		}
	}
	fmt.Fprintf(os.Stderr, "fleetsim: reporting at %.0f runs/s for %s with %d connections\n", *rate, *dur, *conns)
	load0 := loadavg()
	var cpu0, self0 time.Duration
	if c.pid > 0 {
		cpu0 = cpuTime(c.pid)
	}
	self0 = cpuTime(os.Getpid())
	start := time.Now()
	w.load(ctx, *rate, *dur, *conns)
	elapsed := time.Since(start)
	w.loadBefore, w.loadAfter = load0, loadavg()
	w.selfCPU = cpuTime(os.Getpid()) - self0
	if c.pid > 0 {
		w.serverCPU = cpuTime(c.pid) - cpu0
	}
	// Let the last requests finish before sizing the database.
	var after int64
	if *db != "" {
		if after, err = dbSize(ctx, *db); err != nil {
			return fmt.Errorf("database size: %w", err)
		}
	}
	return w.print(os.Stdout, elapsed, *rate, *rateTarget, *p99Target, samp, *db, before, after)
}

type workload struct {
	client  *http.Client
	base    string
	hosts   []*host
	checks  []string
	drift   float64
	alert   float64
	backlog float64
	next    atomic.Uint64

	mu       sync.Mutex
	lat      latencies
	byStatus map[string]int
	sample   map[string]string // one error message per status
	runs     atomic.Int64      // run records acknowledged
	records  atomic.Int64
	requests atomic.Int64
	missed   atomic.Int64 // scheduled reports no worker was free to send

	loadBefore, loadAfter string
	serverCPU, selfCPU    time.Duration
}

func newWorkload(c *http.Client, base string, hosts []*host, checks []string, drift, alert, backlog float64) *workload {
	w := &workload{client: c, base: base, hosts: hosts, checks: checks, drift: drift, alert: alert, backlog: backlog}
	w.reset()
	return w
}

func (w *workload) reset() {
	w.mu.Lock()
	w.lat, w.byStatus, w.sample = nil, map[string]int{}, map[string]string{}
	w.mu.Unlock()
	w.runs.Store(0)
	w.records.Store(0)
	w.requests.Store(0)
	w.missed.Store(0)
}

func (w *workload) warmup(ctx context.Context, conns int) error {
	var wg sync.WaitGroup
	var i atomic.Int64
	for k := 0; k < conns; k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := newSim(w.checks, uint64(k)+1, w.drift, w.alert)
			for {
				n := int(i.Add(1) - 1)
				if n >= len(w.hosts) || ctx.Err() != nil {
					return
				}
				w.report(ctx, s, w.hosts[n], false)
			}
		}()
	}
	wg.Wait()
	if bad := w.requests.Load() - int64(w.byStatus["200"]); bad > 0 {
		return fmt.Errorf("warm-up: %d of %d reports failed: %v %v", bad, w.requests.Load(), w.byStatus, w.sample)
	}
	return ctx.Err()
}

// load sends reports at rate for dur: a pacer schedules them at even intervals and conns
// workers send them; a report no worker is free to take is counted as missed (the server is
// not keeping up), not queued, so that latency is not inflated by the simulator's own queue.
func (w *workload) load(ctx context.Context, rate float64, dur time.Duration, conns int) {
	ctx, cancel := context.WithTimeout(ctx, dur)
	defer cancel()
	jobs := make(chan struct{}, conns)
	var wg sync.WaitGroup
	for k := 0; k < conns; k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := newSim(w.checks, uint64(k)+1000, w.drift, w.alert)
			for range jobs {
				for {
					h := w.hosts[w.next.Add(1)%uint64(len(w.hosts))]
					if h.mu.TryLock() { // a host has one upload at a time, as an agent does
						h.mu.Unlock()
						w.report(context.Background(), s, h, s.rng.Float64() < w.backlog)
						break
					}
				}
			}
		}()
	}
	start := time.Now()
	var sent int64
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-tick.C:
		}
		due := int64(time.Since(start).Seconds() * rate)
		for ; sent < due; sent++ {
			select {
			case jobs <- struct{}{}:
			default:
				w.missed.Add(1)
			}
		}
	}
	close(jobs)
	wg.Wait()
}

// report has h run its checks (several times for a host back from offline) and upload its
// spool, as an agent does: the records stay spooled until the server acknowledges them.
func (w *workload) report(ctx context.Context, s *sim, h *host, backlog bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := time.Now().UTC()
	n := 1
	if backlog {
		n = 2 + s.rng.IntN(7)
	}
	for j := n - 1; j >= 0; j-- {
		s.next(h, now.Add(-time.Duration(j)*time.Millisecond))
	}
	batch := h.spool
	if len(batch) > wire.MaxBatchRecords {
		batch = batch[:wire.MaxBatchRecords]
	}
	body, _ := json.Marshal(wire.ReportBatch{Records: batch})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, w.base+wire.PathReport, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+h.Cred)
	req.Header.Set("Content-Type", "application/json")
	t0 := time.Now()
	resp, err := w.client.Do(req)
	var ack wire.ReportAck
	status, msg := "", ""
	if err != nil {
		status, msg = "transport", err.Error()
	} else {
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		status = fmt.Sprint(resp.StatusCode)
		if resp.StatusCode == http.StatusOK {
			if err := json.Unmarshal(data, &ack); err != nil {
				status, msg = "bad-ack", err.Error()
			}
		} else {
			msg = strings.TrimSpace(string(data))
		}
	}
	d := time.Since(t0)
	w.requests.Add(1)
	if status == "200" {
		// Drop what the server holds from the spool, counting the runs among it.
		keep := h.spool[:0]
		for _, r := range h.spool {
			if r.Seq <= ack.AckedSeq {
				w.records.Add(1)
				if r.Kind == wire.KindRun {
					w.runs.Add(1)
				}
				continue
			}
			keep = append(keep, r)
		}
		h.spool = keep
	}
	w.mu.Lock()
	w.lat = append(w.lat, d)
	w.byStatus[status]++
	if msg != "" && w.sample[status] == "" {
		w.sample[status] = msg
	}
	w.mu.Unlock()
}

func (w *workload) print(out io.Writer, elapsed time.Duration, rate, rateTarget float64, p99Target time.Duration, samp *rssSampler, db string, before, after int64) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	secs := elapsed.Seconds()
	runs := w.runs.Load()
	got := float64(runs) / secs
	fmt.Fprintf(out, "hosts               %d (13 checks per run: %s)\n", len(w.hosts), strings.Join(w.checks, " "))
	fmt.Fprintf(out, "duration            %s at a target of %.0f reports/s\n", elapsed.Round(time.Millisecond), rate)
	fmt.Fprintf(out, "reports/s           %.1f sustained (%d runs acknowledged; %d records, %.1f records/s; %d requests, %.1f/s)\n",
		got, runs, w.records.Load(), float64(w.records.Load())/secs, w.requests.Load(), float64(w.requests.Load())/secs)
	fmt.Fprintf(out, "missed              %d scheduled reports found no free connection\n", w.missed.Load())
	fmt.Fprintf(out, "ingest latency      %s\n", w.lat.summary())
	var codes []string
	for k := range w.byStatus {
		codes = append(codes, k)
	}
	sort.Strings(codes)
	var parts []string
	for _, k := range codes {
		parts = append(parts, fmt.Sprintf("%s: %d", k, w.byStatus[k]))
	}
	fmt.Fprintf(out, "responses           %s\n", strings.Join(parts, ", "))
	for _, k := range codes {
		if m := w.sample[k]; m != "" {
			fmt.Fprintf(out, "  %s e.g.          %s\n", k, m)
		}
	}
	fmt.Fprintf(out, "server memory       %s\n", samp)
	if w.serverCPU > 0 {
		fmt.Fprintf(out, "server CPU          %.1f s (%.0f%% of one core; %.2f ms per report)\n", w.serverCPU.Seconds(),
			100*w.serverCPU.Seconds()/secs, float64(w.serverCPU)/float64(time.Millisecond)/float64(max(runs, 1)))
	}
	fmt.Fprintf(out, "simulator CPU       %.1f s (%.0f%% of one core)\n", w.selfCPU.Seconds(), 100*w.selfCPU.Seconds()/secs)
	fmt.Fprintf(out, "machine load        %s before, %s after (1, 5, 15 min; %d CPUs)\n", w.loadBefore, w.loadAfter, runtime.NumCPU())
	if db != "" {
		fmt.Fprintf(out, "database size       before %s, after %s, +%s\n", mib(before), mib(after), mib(after-before))
		if runs > 0 {
			perRun := float64(after-before) / float64(runs)
			// One run stands for one hourly check-in: 24 a day per host.
			fmt.Fprintf(out, "storage             %.0f B per run ingested, so %.1f KiB per host per day at an hourly interval (runs kept for the retention period; transitions kept for ever)\n",
				perRun, perRun*24/1024)
		}
	}
	p99 := w.lat.pct(0.99)
	fmt.Fprintf(out, "target              %.0f reports/s with p99 < %s: %s (%.1f reports/s, p99 %s)\n", rateTarget, p99Target,
		met(got >= rateTarget && p99 < p99Target && w.byStatus["200"] == int(w.requests.Load())), got, ms(p99))
	return nil
}
