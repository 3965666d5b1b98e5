// Command firewarden-server is the fleet server firewarden agents report to.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/firewarden/firewarden/internal/fleet/server"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := server.Main(ctx, os.Args[1:], &server.Env{Streams: server.Streams{Out: os.Stdout, Err: os.Stderr}, In: os.Stdin, Open: server.Open})
	stop()
	os.Exit(code)
}
