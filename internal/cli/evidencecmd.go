package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/firewarden/firewarden/internal/evidence"
	"github.com/firewarden/firewarden/internal/posture"
)

func runEvidence(ctx context.Context, a *app, args []string) error {
	fs := a.flagSet("evidence")
	pf := postureFlags(fs)
	out := fs.String("out", "", "write the record to `FILE` instead of stdout")
	format := fs.String("format", "json", "`json` or csv")
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
	if len(rep.Results) == 0 {
		return noChecksError(only)
	}
	rec := a.record(b, rep)
	// Render first: nothing is appended to the chain if the output cannot be produced.
	var buf bytes.Buffer
	entry := evidence.Entry{}
	if *format == "csv" {
		if err := evidence.WriteCSV(&buf, rec); err != nil {
			return err
		}
	}
	entry, err = evidence.Append(dir, rec)
	if err != nil {
		return fmt.Errorf("append to the evidence chain: %w", err)
	}
	if *format == "json" {
		if err := evidence.WriteJSON(&buf, entry); err != nil {
			return err
		}
	}
	if *out == "" {
		if _, err := a.Out.Write(buf.Bytes()); err != nil {
			return err
		}
	} else {
		if err := posture.WriteFileAtomic(*out, buf.Bytes(), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", *out, err)
		}
		fmt.Fprintf(a.Err, "evidence record %s (chain entry %d) written to %s\n", rec.RunID, entry.Seq, *out)
	}
	return exitCode(rep.ExitCode())
}
