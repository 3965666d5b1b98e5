package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// runQuery times the admin API's answers over a seeded fleet: fleet compliance now and as of
// instants in the past (whole fleet, a label, a check), and hosts' histories.
func runQuery(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("fleetsim query", flag.ContinueOnError)
	var c common
	c.register(fs)
	n := fs.Int("n", 10, "requests per question")
	days := fs.Int("days", 90, "days of history the store holds, to choose instants within")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := c.check(false); err != nil {
		return err
	}
	if c.token == "" {
		return fmt.Errorf("--token is required")
	}
	tr, err := pinnedTransport(c.fingerprint, 4)
	if err != nil {
		return err
	}
	cl := &http.Client{Transport: tr, Timeout: 120 * time.Second}
	var hosts struct {
		Hosts []struct {
			ID string `json:"id"`
		} `json:"hosts"`
	}
	if _, err := doJSON(ctx, cl, http.MethodGet, c.url+"/api/v1/hosts?limit=200", c.token, nil, &hosts); err != nil {
		return err
	}
	if len(hosts.Hosts) == 0 {
		return fmt.Errorf("the server has no hosts; seed it first")
	}
	var comp struct {
		Hosts int `json:"hosts"`
	}
	if _, err := doJSON(ctx, cl, http.MethodGet, c.url+"/api/v1/compliance", c.token, nil, &comp); err != nil {
		return err
	}
	fmt.Printf("fleet               %d hosts enrolled now; machine load %s\n", comp.Hosts, loadavg())
	now := time.Now().UTC()
	at := func(d time.Duration) string { return url.QueryEscape(now.Add(-d).Format(time.RFC3339)) }
	day := 24 * time.Hour
	questions := []struct {
		name, path string
		target     time.Duration
	}{
		{"compliance now (fleet)", "/api/v1/compliance", 200 * time.Millisecond},
		{"compliance at now-1d (fleet)", "/api/v1/compliance?at=" + at(day), 200 * time.Millisecond},
		{"compliance at now-45d (fleet)", "/api/v1/compliance?at=" + at(45*day), 200 * time.Millisecond},
		{"compliance at now-89d+37m (fleet)", "/api/v1/compliance?at=" + at(time.Duration(*days-1)*day-37*time.Minute), 200 * time.Millisecond},
		{"compliance now (label mac)", "/api/v1/compliance?label=mac", 200 * time.Millisecond},
		{"compliance at now-45d (check alf.enabled)", "/api/v1/compliance?check=alf.enabled&at=" + at(45*day), 200 * time.Millisecond},
		{"host history (90 days)", "", 50 * time.Millisecond},
	}
	for _, q := range questions {
		var lat latencies
		for i := 0; i < *n; i++ {
			p := q.path
			if p == "" {
				p = "/api/v1/hosts/" + hosts.Hosts[(i*37)%len(hosts.Hosts)].ID + "/history"
			}
			t0 := time.Now()
			if _, err := doJSON(ctx, cl, http.MethodGet, c.url+p, c.token, nil, nil); err != nil {
				return err
			}
			lat = append(lat, time.Since(t0))
			time.Sleep(60 * time.Millisecond) // the admin API allows 20 requests/s per token
		}
		first := lat[0]
		fmt.Printf("%-42s first %s, %s; < %s: %s\n", q.name, ms(first), lat.summary(), ms(q.target), met(lat[len(lat)-1] < q.target))
	}
	return nil
}
