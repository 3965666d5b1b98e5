package live

import (
	"fmt"
	"io"
	"os"

	"github.com/firewarden/firewarden/internal/statedir"
)

// Writer writes each alert as one line to W: its text, or its JSON form when JSON is set. It
// is the standard-output sink.
type Writer struct {
	W     io.Writer
	JSON  bool
	Label string // for diagnostics; "stdout" when empty
}

// Name implements Sink.
func (w *Writer) Name() string {
	if w.Label == "" {
		return "stdout"
	}
	return w.Label
}

// Send implements Sink.
func (w *Writer) Send(a Alert) error {
	line := append([]byte(a.Text), '\n')
	if w.JSON {
		line = append(append([]byte(nil), a.JSON...), '\n')
	}
	_, err := w.W.Write(line)
	return err
}

// Close implements Sink; the writer is not its to close.
func (w *Writer) Close() error { return nil }

// File appends each alert to a file as one JSON line (the --json form): a file of alerts is
// read by programs (a log shipper, jq), and JSON keeps every field. The file is created with
// mode 0600, since alerts name users and command lines.
type File struct {
	path string
	f    *os.File
}

// OpenFile opens (or creates) path for appending. A root daemon appending at a path in a
// directory others can write to must not be led elsewhere: a link at path is refused, never
// followed, and so is anything but a regular file (a FIFO would block the detector).
func OpenFile(path string) (*File, error) {
	f, err := statedir.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	return &File{path: path, f: f}, nil
}

// Name implements Sink.
func (f *File) Name() string { return "--out " + f.path }

// Send implements Sink: one write per line, so that concurrent appenders (O_APPEND) never
// interleave within a line.
func (f *File) Send(a Alert) error {
	line := append(append(make([]byte, 0, len(a.JSON)+1), a.JSON...), '\n')
	if _, err := f.f.Write(line); err != nil {
		return fmt.Errorf("append alert: %w", err)
	}
	return nil
}

// Close implements Sink.
func (f *File) Close() error { return f.f.Close() }

var (
	_ Sink = (*Writer)(nil)
	_ Sink = (*File)(nil)
)
