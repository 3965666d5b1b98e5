package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/firewarden/firewarden/internal/fwlog"
	"github.com/firewarden/firewarden/internal/host"
)

func runLogs(ctx context.Context, a *app, args []string) error {
	if len(args) == 0 || args[0] != "summarize" {
		return usagef("logs needs a verb: firewarden logs summarize [--format %s] [--report classic|full] [--top N] FILE…", strings.Join(fwlog.FormatNames(), "|"))
	}
	flags := a.flagSet("logs summarize")
	format := flags.String("format", "auto", "log `FORMAT`: "+orList(fwlog.FormatNames()))
	report := flags.String("report", "full", "which report, `KIND`: classic (the 2005 article's tables) or full")
	top := flags.Int("top", 10, "`N` rows per table; 0 for all")
	showMalformed := flags.Int("show-malformed", 0, "print `N` lines that could not be read")
	maxKeys := flags.Int("max-keys", fwlog.DefaultMaxKeys, "distinct keys per table before counts turn approximate (`N`)")
	files, err := a.parse(flags, args[1:])
	if err != nil {
		return err
	}
	f, ok := fwlog.ParseFormat(*format)
	if !ok {
		return usagef("--format %q: use %s", *format, orList(fwlog.FormatNames()))
	}
	mode := fwlog.ModeFull
	switch *report {
	case "full":
	case "classic":
		mode = fwlog.ModeClassic
		if f != fwlog.FormatUnknown && f != fwlog.FormatIPFW {
			return usagef("--report classic reads ipfw logs only, not --format %s", *format)
		}
		maxSet := false
		flags.Visit(func(fl *flag.Flag) { maxSet = maxSet || fl.Name == "max-keys" })
		if maxSet {
			return usagef("--report classic is exact, as the 2005 script was; it takes no --max-keys")
		}
	default:
		return usagef("--report %q: use classic or full", *report)
	}
	if *top < 0 || *showMalformed < 0 || *maxKeys < 1 {
		return usagef("--top and --show-malformed take 0 or more, --max-keys 1 or more")
	}
	if len(files) == 0 {
		return usagef("logs summarize needs at least one FILE (- for standard input)")
	}
	root, err := host.NewRoot(a.g.root)
	if err != nil {
		return usagef("%v", err)
	}

	// Open everything first: a missing file is reported before any work or output.
	var sources []fwlog.Source
	var counters []*fwlog.Counter
	var total int64
	var closers []io.Closer
	defer func() {
		for _, c := range closers {
			c.Close()
		}
	}()
	stdinSeen := false
	for _, name := range files {
		var r io.Reader
		var size int64 // of a regular file, a hint for the summary's tables
		if name == "-" {
			if stdinSeen {
				return usagef("- (standard input) is given twice; it can be read once")
			}
			stdinSeen = true
			if a.In == nil {
				return usagef("no standard input to read for -")
			}
			r = a.In
		} else {
			fh, err := os.Open(name)
			if err != nil {
				return usagef("open %s: %v", name, errors.Unwrap(err))
			}
			closers = append(closers, fh)
			if st, err := fh.Stat(); err == nil {
				if st.IsDir() {
					return usagef("%s is a directory; give log files", name)
				}
				total += st.Size()
				size = st.Size()
			}
			r = fh
		}
		c := &fwlog.Counter{R: r}
		counters = append(counters, c)
		dr, err := fwlog.Decompress(c)
		if err != nil {
			return usagef("%s: %v", name, err)
		}
		closers = append(closers, dr)
		if fwlog.Compressed(dr) {
			size = 0
		}
		sources = append(sources, fwlog.Source{Name: name, Reader: dr, Size: size})
	}

	stop := a.progress(counters, total)
	sum, classic, err := fwlog.Summarize(ctx, sources, fwlog.Options{Format: f, MaxKeys: *maxKeys, Examples: *showMalformed}, mode)
	stop()
	if err != nil {
		return err
	}

	if mode == fwlog.ModeClassic {
		if a.g.json {
			err = writeJSON(a.Out, classic.Tables())
		} else {
			_, err = classic.WriteTo(a.Out)
		}
		if err == nil && classic.Rows() == 0 {
			fmt.Fprintf(a.Err, "firewarden: logs summarize: no ipfw line in %s: --report classic reads ipfw logs only; is it the right file?\n", strings.Join(files, ", "))
			return exitCode(1)
		}
		return err
	}
	services := fwlog.BuiltinServices()
	if data, err := root.ReadFile("/etc/services"); err == nil {
		services = fwlog.ParseServices(data)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("read /etc/services: %w", err)
	}
	rep := sum.Report(*top, services)
	rep.Inputs = files
	if a.g.json {
		err = writeJSON(a.Out, rep)
	} else {
		err = rep.WriteText(a.Out)
	}
	if err == nil && rep.Parsed == 0 {
		// An empty summary is no all-clear: the input may not be a firewall log at all.
		fmt.Fprintf(a.Err, "firewarden: logs summarize: %s\n", noFirewallLine(rep))
		return exitCode(1)
	}
	return err
}

// noFirewallLine says why a summary counted nothing, naming the inputs and what their lines were.
func noFirewallLine(rep fwlog.Report) string {
	counts := []string{fmt.Sprintf("%d lines", rep.Lines)}
	for _, c := range []struct {
		n    int64
		what string
	}{{rep.Malformed, "malformed"}, {rep.Unrecognised, "not firewall lines"}, {rep.Blank, "blank"}} {
		if c.n > 0 {
			counts = append(counts, fmt.Sprintf("%d %s", c.n, c.what))
		}
	}
	in := strings.Join(rep.Inputs, ", ")
	if rep.Malformed > 0 {
		return fmt.Sprintf("no firewall line could be read in %s: %s; --show-malformed N prints the malformed ones", in, strings.Join(counts, ", "))
	}
	return fmt.Sprintf("no line of any known firewall log format (%s) in %s: %s; is it the right file?", strings.Join(fwlog.FormatNames()[1:], ", "), in, strings.Join(counts, ", "))
}

// progress reports bytes read on stderr twice a second while it is a terminal, and stays quiet
// otherwise. The returned func stops it and clears the line.
func (a *app) progress(counters []*fwlog.Counter, total int64) func() {
	f, ok := a.Err.(*os.File)
	if !ok {
		return func() {}
	}
	if st, err := f.Stat(); err != nil || st.Mode()&os.ModeCharDevice == 0 {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				fmt.Fprint(f, "\r\033[K")
				return
			case <-tick.C:
				var n int64
				for _, c := range counters {
					n += c.N.Load()
				}
				msg := "firewarden: read " + mb(n)
				if total > 0 {
					msg += " of " + mb(total) + " (" + strconv.Itoa(int(100*n/max(total, 1))) + "%)"
				}
				fmt.Fprint(f, "\r\033[K"+msg)
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

func mb(n int64) string { return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MiB" }
