// Command fleetsim is a load generator for firewarden-server, in the manner of Fleet's
// osquery-perf: it enrolls simulated hosts over TLS against a real running server and has them
// report realistic check runs, drifts and alerts through the agent wire API at a target rate,
// holds agents' nudge streams open and times a nudge to all of them, and seeds a store with a
// long history to time the admin API's compliance and history answers. It prints figures; it
// asserts nothing (targets are reported as met or not, never failed as a test).
//
//	fleetsim run   --url URL --fingerprint FP --secret S [--hosts N --rate R --duration D --conns K]
//	fleetsim nudge --url URL --fingerprint FP --secret S --token T --agents M
//	fleetsim seed  --db TARGET --hosts N --days D
//	fleetsim query --url URL --fingerprint FP --token T
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: fleetsim run|nudge|seed|query [FLAGS] (fleetsim CMD -h for flags)")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "run":
		err = runReports(ctx, os.Args[2:])
	case "nudge":
		err = runNudge(ctx, os.Args[2:])
	case "seed":
		err = runSeed(ctx, os.Args[2:])
	case "query":
		err = runQuery(ctx, os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q; want run, nudge, seed or query", os.Args[1])
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "fleetsim: %v\n", err)
		os.Exit(2)
	}
}
