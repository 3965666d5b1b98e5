package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/firewarden/firewarden/internal/evidence"
	"github.com/firewarden/firewarden/internal/posture"
)

func runEvidence(ctx context.Context, a *app, args []string) error {
	fs := a.flagSet("evidence")
	pf := postureFlags(fs)
	out := fs.String("out", "", "write the record to `FILE` instead of stdout")
	format := fs.String("format", "json", "record `FORMAT`: json or csv")
	verify := fs.Bool("verify", false, "verify the hash chain of evidence records in the state directory")
	b, only, err := a.parsePosture(fs, pf, args)
	if err != nil {
		return err
	}
	if *format != "json" && *format != "csv" {
		return usagef("--format %q: use json or csv", *format)
	}
	dir := a.stateDir()
	if *verify {
		n, err := evidence.Verify(dir)
		var ce *evidence.ChainError
		if errors.As(err, &ce) {
			fmt.Fprintf(a.Out, "%s/%s: %v\n", dir, evidence.ChainFile, ce)
			return exitCode(posture.ExitNonCompliant)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(a.Out, "%s/%s: %d record(s), chain intact\n", dir, evidence.ChainFile, n)
		return nil
	}
	rep := a.engine().Check(ctx, a.request(b, only))
	rec := a.record(b, rep)
	// The chain stays locked from reading its tail to appending, and the record is rendered and
	// written before it is appended: a failed write leaves the chain as it was.
	chain, err := evidence.Open(dir)
	if errors.Is(err, os.ErrPermission) {
		return fmt.Errorf("open the evidence chain in %s: %w: run it as root (sudo firewarden evidence), or give --state-dir a directory you can write", dir, err)
	}
	if err != nil {
		return fmt.Errorf("open the evidence chain: %w", err)
	}
	defer chain.Close()
	entry, err := chain.Next(rec)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if *format == "csv" {
		err = evidence.WriteCSV(&buf, rec)
	} else {
		err = evidence.WriteJSON(&buf, entry)
	}
	if err != nil {
		return err
	}
	if *out != "" {
		if err := posture.WriteFileAtomic(*out, buf.Bytes(), 0o644); err != nil {
			return usagef("write %s: %v; nothing was added to the evidence chain", *out, err)
		}
	}
	if err := chain.Append(entry); err != nil {
		if *out != "" {
			os.Remove(*out)
		}
		return fmt.Errorf("append to the evidence chain: %w", err)
	}
	if *out == "" {
		if _, err := a.Out.Write(buf.Bytes()); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(a.Err, "evidence record %s (chain entry %d) written to %s\n", rec.RunID, entry.Seq, *out)
	}
	if rep.NothingEvaluated() {
		// The record is kept: the chain is the log of every run, and one that examined nothing is
		// a fact an auditor should see, not a gap. The exit status keeps it from passing for an
		// all-clear.
		fmt.Fprintf(a.Err, "firewarden: %s\n", a.nothingEvaluated(rep, "the record attests nothing about this host"))
	}
	return exitCode(rep.ExitCode())
}
