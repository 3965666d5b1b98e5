package main

import (
	"bufio"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// memStatus reads VmRSS and VmHWM (bytes) of a process from /proc/PID/status.
func memStatus(pid int) (rss, hwm int64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		f := strings.Fields(v) // "123456 kB"
		if len(f) < 1 {
			continue
		}
		n, _ := strconv.ParseInt(f[0], 10, 64)
		if k == "VmRSS" {
			rss = n << 10
		} else {
			hwm = n << 10
		}
	}
	return rss, hwm, sc.Err()
}

// rssSampler follows a process's resident memory once a second and keeps the largest seen.
type rssSampler struct {
	pid  int
	mu   sync.Mutex
	peak int64
	last int64
}

func (r *rssSampler) run(ctx context.Context) {
	if r == nil {
		return
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		r.sample()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (r *rssSampler) sample() {
	rss, _, err := memStatus(r.pid)
	if err != nil {
		return
	}
	r.mu.Lock()
	r.last = rss
	r.peak = max(r.peak, rss)
	r.mu.Unlock()
}

func (r *rssSampler) String() string {
	if r == nil {
		return "not measured (no --server-pid)"
	}
	r.sample()
	_, hwm, _ := memStatus(r.pid)
	r.mu.Lock()
	defer r.mu.Unlock()
	return fmt.Sprintf("now %s, peak sampled %s, VmHWM %s", mib(r.last), mib(r.peak), mib(hwm))
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// dbSize is the database's size on disk: pg_database_size for a postgres:// URL, else the
// total size of the files at path (a SQLite file with its -wal and -shm, or a directory).
func dbSize(ctx context.Context, target string) (int64, error) {
	if strings.HasPrefix(target, "postgres://") || strings.HasPrefix(target, "postgresql://") {
		conn, err := pgx.Connect(ctx, target)
		if err != nil {
			return 0, err
		}
		defer conn.Close(ctx)
		var n int64
		err = conn.QueryRow(ctx, "SELECT pg_database_size(current_database())").Scan(&n)
		return n, err
	}
	var total int64
	paths := []string{target}
	if fi, err := os.Stat(target); err == nil && !fi.IsDir() {
		paths = append(paths, target+"-wal", target+"-shm")
	}
	for _, p := range paths {
		filepath.WalkDir(p, func(_ string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				if fi, err := d.Info(); err == nil {
					total += fi.Size()
				}
			}
			return nil
		})
	}
	return total, nil
}

// latencies is a set of durations to summarise.
type latencies []time.Duration

func (l latencies) pct(p float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	i := int(p*float64(len(l))+0.5) - 1
	return l[min(max(i, 0), len(l)-1)]
}

func (l latencies) summary() string {
	slices.Sort(l)
	if len(l) == 0 {
		return "no samples"
	}
	return fmt.Sprintf("p50 %s, p90 %s, p99 %s, max %s (%d samples)", ms(l.pct(0.5)), ms(l.pct(0.9)), ms(l.pct(0.99)), ms(l[len(l)-1]), len(l))
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

func met(ok bool) string {
	if ok {
		return "MET"
	}
	return "NOT MET"
}

// loadavg is the machine's 1-minute load average, from /proc/loadavg: the figures mean little
// when other work shares the CPUs.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// cpuTime is the user+system CPU time a process has used, from /proc/PID/stat (clock ticks
// of 1/100 s, as Linux reports them to user space).
func cpuTime(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces; the fields after its ")" are fixed.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	k, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+k) * 10 * time.Millisecond
}
