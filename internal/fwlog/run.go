package fwlog

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/klauspost/compress/zstd"
)

// MaxZstdWindow caps the window of a zstd frame, the history its decoder must hold: 128 MiB.
// zstd's own default levels use at most 8 MiB (level 19) and `zstd --long` 128 MiB; a larger
// window (`--long=28` and up, or a hostile header) would let a 40 KB file take gigabytes. Above
// it the file is refused with WindowError rather than read.
const MaxZstdWindow = 128 << 20

// WindowError says a zstd file needs a larger window than MaxZstdWindow. Size is the window the
// frame asks for, 0 when the decoder found out only while reading.
type WindowError struct{ Size uint64 }

func (e *WindowError) Error() string {
	size := "larger than"
	if e.Size > 0 {
		size = "of " + mib(e.Size) + ", over"
	}
	return "zstd window " + size + " the " + mib(MaxZstdWindow) + " cap (a file made with zstd --long=28 or more): " +
		"decompress it first (zstd -d --long=31) and summarize the result"
}

func mib(n uint64) string { return strconv.FormatUint(n>>20, 10) + " MiB" }

// Decompress returns a reader of r's content, unpacking gzip, bzip2 and zstd, which it
// recognises by their magic bytes rather than by file name. Its Close releases the decompressor
// and its buffers; Summarize calls it as soon as the content ends, so a run over many files holds
// one decompressor's memory at a time (gzip 32 KiB of window, bzip2 about 4 MiB, zstd at most
// MaxZstdWindow). A zstd frame with a larger window is refused with a WindowError: the first
// frame's here, before anything is read, a later one's by the reader.
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
		return &decoder{r: zr, c: zr}, nil
	case bytes.HasPrefix(magic, []byte("BZh")):
		return &decoder{r: bzip2.NewReader(br)}, nil
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		// The frame header is at most 18 bytes; a shorter file is left to the decoder's error.
		head, _ := br.Peek(18)
		var h zstd.Header
		var window uint64
		if h.Decode(head) == nil && !h.Skippable {
			if window = frameWindow(h); window > MaxZstdWindow {
				return nil, &WindowError{Size: window}
			}
		}
		// The decoder is made at the first Read: it takes its window's worth of memory as soon
		// as it reads a frame, and a run opens every file before it reads the first.
		open := func() (io.ReadCloser, error) {
			zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
				zstd.WithDecoderMaxWindow(MaxZstdWindow), zstd.WithDecoderMaxMemory(MaxZstdWindow))
			if err != nil {
				return nil, fmt.Errorf("zstd: %w", err)
			}
			return zr.IOReadCloser(), nil
		}
		return &decoder{open: open, zstd: true, collect: window >= collectWindow}, nil
	}
	return &decoder{r: br, plain: true}, nil
}

// Compressed reports whether r, a reader Decompress returned, unpacks its input (so that the
// input's size says nothing of the content's).
func Compressed(r io.Reader) bool {
	d, ok := r.(*decoder)
	return ok && !d.plain
}

// frameWindow is the history a zstd frame needs: its window, or for a single-segment frame
// (no window descriptor) its whole content.
func frameWindow(h zstd.Header) uint64 {
	if h.SingleSegment {
		return h.FrameContentSize
	}
	return h.WindowSize
}

// decoder is Decompress's reader. Close drops the decompressor, so that its buffers can be
// freed while the caller still holds the decoder; reading after Close reports io.EOF.
type decoder struct {
	r       io.Reader
	c       io.Closer
	open    func() (io.ReadCloser, error) // makes r and c at the first Read
	zstd    bool
	collect bool // collect garbage after Close: the window was large
	plain   bool // not compressed: the content is the input
}

// collectWindow is the zstd window from which closing a decoder runs the garbage collector. The
// window turns to garbage all at once, and without a collection the next file's decoder takes
// another window's worth before the collector's pacing frees it: six 128 MiB-window files then
// peak at 550 MB instead of 160 MB. One collection per such file costs a few milliseconds.
const collectWindow = 32 << 20

func (d *decoder) Read(p []byte) (int, error) {
	if d.open != nil {
		rc, err := d.open()
		d.open = nil
		if err != nil {
			return 0, err
		}
		d.r, d.c = rc, rc
	}
	if d.r == nil {
		return 0, io.EOF
	}
	n, err := d.r.Read(p)
	if d.zstd && (errors.Is(err, zstd.ErrWindowSizeExceeded) || errors.Is(err, zstd.ErrDecoderSizeExceeded)) {
		err = &WindowError{}
	}
	return n, err
}

func (d *decoder) Close() error {
	var err error
	if d.c != nil {
		err = d.c.Close()
		if d.collect {
			runtime.GC()
		}
	}
	d.r, d.c, d.open = nil, nil, nil
	return err
}

// Source is one input: a name for messages and a reader of its (decompressed) lines. When the
// reader is also an io.Closer, Summarize closes it as soon as its content ends.
type Source struct {
	Name   string
	Reader io.Reader
	// Size is how many bytes Reader yields, when known (0: unknown). It is only a hint: with
	// the sizes of all sources, Summarize sizes the connection table's index once from how fast
	// it fills, rather than doubling it (and rehashing every row) again and again.
	Size int64
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
	seq   int64
	data  []byte
	where *chunkWhere // the worker sets its lines
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
	// The connection rows go to total's store, which holds the whole cap (see aggregate); the
	// workers' own tables (rules, interfaces, …) share it.
	total := NewSummary(opts)
	opts.MaxKeys = max(opts.MaxKeys/workers, 1)
	chunks := make(chan chunk, workers*2)
	free := make(chan []byte, workers*3)
	// One slab for the buffers, in huge pages: the reads would otherwise fault in every 4 KiB.
	slab := hugeSlice[byte](workers * 3 * chunkSize)
	for i := range workers * 3 {
		free <- slab[i*chunkSize : (i+1)*chunkSize : (i+1)*chunkSize]
	}
	sums := make([]*Summary, workers)
	classics := make([]*Classic, workers)
	batches := make(chan *connBatch, workers*3)
	spare := make(chan *connBatch, workers*3)
	aggDone := make(chan struct{})
	go func() {
		defer close(aggDone)
		aggregate(total, workers, batches, free, spare, inputSize(sources))
	}()
	var wg sync.WaitGroup
	for w := range workers {
		sums[w], classics[w] = NewSummary(opts), NewClassic()
		wg.Add(1)
		go func(w int, s *Summary, c *Classic) {
			defer wg.Done()
			for ch := range chunks {
				if mode != ModeClassic {
					b := takeBatch(spare)
					b.seq, b.worker, b.data = ch.seq, w, ch.data
					s.emit = b
				}
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
				ch.where.lines = line
				if b := s.emit; b != nil {
					s.flushPorts()
					s.keepLast()
					s.emit = nil
					b.acts = append(b.acts, s.actNames[s.sentActs:]...)
					s.sentActs = len(s.actNames)
					batches <- b // the aggregator recycles the chunk's buffer
				} else {
					recycle(free, ch.data)
				}
			}
		}(w, sums[w], classics[w])
	}

	var where []*chunkWhere
	err := feed(ctx, sources, chunks, free, &where)
	close(chunks)
	wg.Wait()
	close(batches)
	<-aggDone
	if err != nil {
		return nil, nil, err
	}
	// Each chunk starts after the lines of the chunks of its source before it (the workers
	// counted them as they read them: the reader does not look at the lines).
	src, before := -1, int64(0)
	for _, w := range where {
		if w.src != src {
			src, before = w.src, 0
		}
		w.line = before
		before += w.lines
	}
	// Malformed and unrecognised examples learn their file and line from their chunk.
	for w := range workers {
		for i := range sums[w].examples {
			ex := &sums[w].examples[i]
			if c := ex.seq >> 32; c < int64(len(where)) {
				ex.file, ex.lineNo = sources[where[c].src].Name, where[c].line+ex.seq&0xffffffff+1
			}
		}
	}
	// The read buffers, idle now, hold the report's outside sums (see outside4).
	total.cs.scratch = unsafe.Slice((*outSum)(unsafe.Pointer(unsafe.SliceData(slab))), len(slab)/int(unsafe.Sizeof(outSum{})))
	for w := range workers {
		total.Merge(sums[w])
		if w > 0 {
			classics[0].Merge(classics[w])
		}
	}
	return total, classics[0], nil
}

// inputSize is the bytes of all the sources, 0 when any is unknown.
func inputSize(sources []Source) int64 {
	var n int64
	for _, s := range sources {
		if s.Size <= 0 {
			return 0
		}
		n += s.Size
	}
	return n
}

// MaxLine is the longest line kept whole; the rest of a longer one is dropped and the line is
// counted as not read, so a binary file cannot make the reader hold it all.
const MaxLine = 1 << 20

// chunkWhere says where a chunk starts: its source (an index into the sources) and how many
// lines of that source come before it (line, set once all are read from the lines of each).
type chunkWhere struct {
	src         int
	line, lines int64
}

// feed reads the sources into chunks that end at a line end, and records in where, indexed by
// chunk seq, each chunk's source (the worker that reads it adds its lines).
func feed(ctx context.Context, sources []Source, chunks chan<- chunk, free chan []byte, where *[]*chunkWhere) error {
	var seq int64
	var carry []byte
	skipping := false // inside an over-long line, dropping bytes up to its end
	send := func(si int, data []byte) {
		w := &chunkWhere{src: si}
		*where = append(*where, w)
		chunks <- chunk{seq, data, w}
		seq++
	}
	for si, src := range sources {
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
						send(si, append(append(make([]byte, 0, 4097), data[:4096]...), '\n'))
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
				send(si, data)
			} else {
				recycle(free, buf)
			}
			if eof {
				break
			}
		}
		// Release the source's decompressor now, not at the end of the run: zstd's can hold
		// up to MaxZstdWindow.
		if c, ok := src.Reader.(io.Closer); ok {
			c.Close()
		}
		if len(carry) > 0 && !skipping {
			// The last line of a file without a final newline ends at the file's end.
			send(si, append(make([]byte, 0, len(carry)), carry...))
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
