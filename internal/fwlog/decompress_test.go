package fwlog

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
)

// zstdFrame is a zstd frame (RFC 8878) holding content in one raw block, with the window
// descriptor wd: window 2^(10+wd>>3) plus wd&7 eighths. Made by hand, so a test can ask for a
// 512 MiB window without an encoder allocating one.
func zstdFrame(wd byte, content string) []byte {
	b := []byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, wd} // magic, descriptor: no content size, not single-segment
	n := len(content)
	h := 1 | n<<3 // last block, raw
	b = append(b, byte(h), byte(h>>8), byte(h>>16))
	return append(b, content...)
}

// Window descriptors.
const (
	wd1MiB   = 10 << 3 // 2^20
	wd128MiB = 17 << 3 // 2^27, the cap
	wd144MiB = 17<<3 | 1
	wd512MiB = 19 << 3 // zstd --long=29
)

const ipfwLine = "kernel: ipfw: 1 Deny TCP 203.0.113.9:4444 10.0.0.1:445 in via en0\n"

func TestZstdWindowCap(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte
		openErr uint64 // the window a WindowError from Decompress names; 0: none
		readErr bool   // a WindowError while reading
	}{
		{"1 MiB window", zstdFrame(wd1MiB, ipfwLine), 0, false},
		{"window at the cap", zstdFrame(wd128MiB, ipfwLine), 0, false},
		{"window above the cap", zstdFrame(wd144MiB, ipfwLine), 144 << 20, false},
		{"zstd --long=29", zstdFrame(wd512MiB, ipfwLine), 512 << 20, false},
		{"single segment larger than the cap", append([]byte{0x28, 0xb5, 0x2f, 0xfd, 0xa0, 0, 0, 0, 0x10}, zstdFrame(wd1MiB, "")[6:]...), 256 << 20, false},
		{"second frame above the cap", append(zstdFrame(wd1MiB, ipfwLine), zstdFrame(wd512MiB, ipfwLine)...), 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Decompress(bytes.NewReader(tt.in))
			var we *WindowError
			if tt.openErr != 0 {
				if !errors.As(err, &we) || we.Size != tt.openErr {
					t.Fatalf("Decompress = %v, want a WindowError of %d MiB", err, tt.openErr>>20)
				}
				if msg := err.Error(); !strings.Contains(msg, "over the 128 MiB cap") || !strings.Contains(msg, "zstd -d --long=31") || strings.Contains(msg, "\n") {
					t.Errorf("WindowError = %q: want one line naming the cap and what to do", msg)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decompress = %v", err)
			}
			defer r.Close()
			_, _, err = Summarize(context.Background(), []Source{{Name: "x.zst", Reader: r}}, Options{}, ModeFull)
			if got := errors.As(err, &we); got != tt.readErr {
				t.Errorf("Summarize = %v, want a WindowError: %v", err, tt.readErr)
			}
			if err != nil && !strings.Contains(err.Error(), "read x.zst: zstd window larger than the 128 MiB cap") {
				t.Errorf("Summarize = %v: want the file named", err)
			}
		})
	}
}

// event records what happened to the sources, in order.
type eventLog struct{ events []string }

// trackedReader reads r and notes its first read and its Close.
type trackedReader struct {
	name string
	r    io.Reader
	log  *eventLog
	read bool
}

func (t *trackedReader) Read(p []byte) (int, error) {
	if !t.read {
		t.read = true
		t.log.events = append(t.log.events, "read "+t.name)
	}
	return t.r.Read(p)
}

func (t *trackedReader) Close() error {
	t.log.events = append(t.log.events, "close "+t.name)
	return nil
}

// TestDecodersClosedAtEachFileEnd: Summarize releases each source as soon as it ends, before it
// reads the next, so a run over many compressed files holds one decompressor at a time.
func TestDecodersClosedAtEachFileEnd(t *testing.T) {
	var log eventLog
	var sources []Source
	for _, name := range []string{"a", "b", "c"} {
		sources = append(sources, Source{Name: name, Reader: &trackedReader{name: name, r: strings.NewReader(ipfwLine), log: &log}})
	}
	if _, _, err := Summarize(context.Background(), sources, Options{}, ModeFull); err != nil {
		t.Fatal(err)
	}
	want := []string{"read a", "close a", "read b", "close b", "read c", "close c"}
	if strings.Join(log.events, ",") != strings.Join(want, ",") {
		t.Errorf("Summarize: events %q, want %q", log.events, want)
	}
}

// TestDecoderCloseReleases: Decompress's reader drops its decompressor on Close, and a second
// Close or a read after it is harmless.
func TestDecoderCloseReleases(t *testing.T) {
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	w.Write([]byte(ipfwLine))
	w.Close()
	for name, in := range map[string][]byte{"gzip": gz.Bytes(), "zstd": zstdFrame(wd1MiB, ipfwLine), "plain": []byte(ipfwLine)} {
		r, err := Decompress(bytes.NewReader(in))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if out, err := io.ReadAll(r); err != nil || string(out) != ipfwLine {
			t.Errorf("%s: read %q, %v", name, out, err)
		}
		r.Close()
		if d := r.(*decoder); d.r != nil || d.c != nil || d.open != nil {
			t.Errorf("%s: Close kept the decompressor", name)
		}
		if n, err := r.Read(make([]byte, 8)); n != 0 || err != io.EOF {
			t.Errorf("%s: Read after Close = %d, %v; want 0, EOF", name, n, err)
		}
		if err := r.Close(); err != nil {
			t.Errorf("%s: second Close = %v", name, err)
		}
	}
}
