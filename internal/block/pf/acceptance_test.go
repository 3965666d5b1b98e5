package pf_test

import (
	"context"
	"net/netip"
	"testing"

	"github.com/firewarden/firewarden/internal/block"
	"github.com/firewarden/firewarden/internal/block/blocktest"
	"github.com/firewarden/firewarden/internal/block/pf"
	"github.com/firewarden/firewarden/internal/host"
)

// emulated is the Backend on an emulated Mac, with the suite's test hooks: Held reads the
// emulated kernel's table directly (not through the Backend's own parsing), Drift changes it
// through pfctl as an administrator would, Break makes pfctl refuse additions.
type emulated struct {
	*pf.Backend
	f *fakeMac
	r *breakable
}

func (e emulated) Held(ctx context.Context) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range e.f.table() {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, err := netip.ParseAddr(s)
			if err != nil {
				return nil, err
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p)
	}
	return out, nil
}

func (e emulated) Drift(ctx context.Context, add, remove []netip.Prefix) error {
	for _, c := range []struct {
		verb string
		ps   []netip.Prefix
	}{{"add", add}, {"delete", remove}} {
		if len(c.ps) == 0 {
			continue
		}
		args := []string{"-a", e.Anchor(), "-t", e.Table(), "-T", c.verb}
		for _, p := range c.ps {
			args = append(args, block.FormatPrefix(p))
		}
		if _, err := e.f.mac.Run(ctx, host.Cmd{Path: pf.PfctlPath, Args: args}); err != nil {
			return err
		}
	}
	return nil
}

// Break implements blocktest.Breaker: on, the next pfctl -T add is refused as the kernel
// refuses one past its table-entries limit, while deletions go through, so that a refused Apply
// has already deleted entries that it must put back (which pf then accepts).
func (e emulated) Break(on bool) { e.r.armed = on }

// breakable is the emulated Mac's pfctl, refusing one -T add when armed.
type breakable struct {
	host.Runner
	armed bool
}

func (r *breakable) Run(ctx context.Context, c host.Cmd) (host.Result, error) {
	if r.armed && allIn(c.Args, []string{"-T", "add"}) {
		r.armed = false
		argv := c.Argv()
		return host.Result{Argv: argv, ExitCode: 1, Stderr: []byte("pfctl: Cannot allocate memory.\n")},
			&host.ExitError{Argv: argv, Code: 1, Stderr: "pfctl: Cannot allocate memory.\n"}
	}
	return r.Runner.Run(ctx, c)
}

func TestAcceptance(t *testing.T) {
	blocktest.Run(t, func(t *testing.T) block.Backend {
		r := &breakable{}
		f := newFakeMac(t, nil, pf.Config{Runner: r})
		r.Runner = f.mac
		return emulated{Backend: f.b, f: f, r: r}
	})
}

var (
	_ blocktest.Lister  = emulated{}
	_ blocktest.Drifter = emulated{}
	_ blocktest.Breaker = emulated{}
)
