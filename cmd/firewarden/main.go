// Command firewarden keeps a host firewall in the state an organisation promised its auditors.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/firewarden/firewarden/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], cli.Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}, os.Getenv, cli.InterruptGrace)
	stop()
	os.Exit(code)
}
