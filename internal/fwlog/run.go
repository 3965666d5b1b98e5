package fwlog

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/klauspost/compress/zstd"
)

// Decompress returns a reader of r's content, unpacking gzip, bzip2 and zstd, which it
// recognises by their magic bytes rather than by file name.
func Decompress(r io.Reader) (io.ReadCloser, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	magic, _ := br.Peek(4)
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		zr.Multistream(true)
		return zr, nil
	case bytes.HasPrefix(magic, []byte("BZh")):
		return io.NopCloser(bzip2.NewReader(br)), nil
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, fmt.Errorf("zstd: %w", err)
		}
		return zr.IOReadCloser(), nil
	}
	return io.NopCloser(br), nil
}

// Source is one input: a name for messages and a reader of its (decompressed) lines.
type Source struct {
	Name   string
	Reader io.Reader
}

// Counter counts bytes as they are read, for progress reports.
type Counter struct {
	R io.Reader
	N atomic.Int64
}

func (c *Counter) Read(p []byte) (int, error) {
	n, err := c.R.Read(p)
	c.N.Add(int64(n))
	return n, err
}

// Mode chooses what Summarize computes.
type Mode uint8

// Modes.
const (
	ModeFull    Mode = iota // the full report
	ModeClassic             // only the 2005 article's tables
)

const chunkSize = 1 << 20

type chunk struct {
	seq  int64
	data []byte
}

// Summarize reads every source in order, splitting the text into chunks at line ends and
// handing them to one worker per CPU, each with its own summary; the summaries are merged at the
// end. Lines keep their global order through seq numbers, so first and last timestamps and the
// malformed examples come out as in a sequential read.
func Summarize(ctx context.Context, sources []Source, opts Options, mode Mode) (*Summary, *Classic, error) {
	workers := runtime.GOMAXPROCS(0)
	// The cap bounds the whole run: each worker holds its share, the merge at most all of it.
	if opts.MaxKeys <= 0 {
		opts.MaxKeys = DefaultMaxKeys
	}
	opts.MaxKeys = max(opts.MaxKeys/workers, 1)
	chunks := make(chan chunk, workers*2)
	free := make(chan []byte, workers*3)
	for range workers * 3 {
		free <- make([]byte, chunkSize)
	}
	sums := make([]*Summary, workers)
	classics := make([]*Classic, workers)
	var wg sync.WaitGroup
	for w := range workers {
		sums[w], classics[w] = NewSummary(opts), NewClassic()
		wg.Add(1)
		go func(s *Summary, c *Classic) {
			defer wg.Done()
			for ch := range chunks {
				data, line := ch.data, int64(0)
				for len(data) > 0 {
					i := bytes.IndexByte(data, '\n')
					var l []byte
					if i < 0 {
						l, data = data, nil
					} else {
						l, data = data[:i], data[i+1:]
					}
					if mode == ModeClassic {
						c.Add(l)
						s.Lines++
					} else {
						s.Line(l, ch.seq<<32|line)
					}
					line++
				}
				recycle(free, ch.data)
			}
		}(sums[w], classics[w])
	}

	err := feed(ctx, sources, chunks, free)
	close(chunks)
	wg.Wait()
	if err != nil {
		return nil, nil, err
	}
	total := NewSummary(Options{Format: opts.Format, MaxKeys: opts.MaxKeys * workers, Examples: opts.Examples})
	for w := range workers {
		total.Merge(sums[w])
		if w > 0 {
			classics[0].Merge(classics[w])
		}
	}
	return total, classics[0], nil
}

// MaxLine is the longest line kept whole; the rest of a longer one is dropped and the line is
// counted as not read, so a binary file cannot make the reader hold it all.
const MaxLine = 1 << 20

// feed reads the sources into chunks that end at a line end.
func feed(ctx context.Context, sources []Source, chunks chan<- chunk, free chan []byte) error {
	var seq int64
	var carry []byte
	skipping := false // inside an over-long line, dropping bytes up to its end
	for _, src := range sources {
		for {
			if err := ctx.Err(); err != nil {
				return err
			}
			buf := <-free
			n := copy(buf, carry)
			carry = carry[:0]
			m, err := fill(src.Reader, buf[n:])
			n += m
			eof := err == io.EOF
			if err != nil && !eof {
				if err == io.ErrUnexpectedEOF {
					err = fmt.Errorf("unexpected end of data (a truncated compressed file?)")
				}
				return fmt.Errorf("read %s: %w", src.Name, err)
			}
			data := buf[:n]
			if skipping {
				i := bytes.IndexByte(data, '\n')
				if i < 0 {
					recycle(free, buf)
					if eof {
						break
					}
					continue
				}
				data, skipping = data[i+1:], false
			}
			if !eof {
				i := bytes.LastIndexByte(data, '\n')
				if i < 0 {
					if len(data) >= MaxLine {
						// Keep the line's start so it is counted (and shown) as not read.
						chunks <- chunk{seq, append(append(make([]byte, 0, 4097), data[:4096]...), '\n')}
						seq++
						skipping = true
						recycle(free, buf)
						continue
					}
					carry = append(carry, data...)
					recycle(free, buf)
					continue
				}
				carry = append(carry, data[i+1:]...)
				data = data[:i+1]
			}
			if len(data) > 0 {
				chunks <- chunk{seq, data}
				seq++
			} else {
				recycle(free, buf)
			}
			if eof {
				break
			}
		}
		if len(carry) > 0 && !skipping {
			// The last line of a file without a final newline ends at the file's end.
			chunks <- chunk{seq, append(make([]byte, 0, len(carry)), carry...)}
			seq++
		}
		carry, skipping = carry[:0], false
	}
	return nil
}

// fill reads until buf is full or the reader ends. Unlike io.ReadFull it returns the reader's
// own error, so a decompressor's io.ErrUnexpectedEOF (a truncated file) is not mistaken for the
// end of the data.
func fill(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

func recycle(free chan []byte, buf []byte) {
	select { // extra buffers (a grown one) are dropped
	case free <- buf[:cap(buf)]:
	default:
	}
}
