package main

import (
	"archive/tar"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"time"
)

// writeTarGz writes files into a gzipped tar whose bytes depend only on the files' contents,
// their Dst and Mode, and mtime: entries sorted by name, each parent directory entered once
// before its children, owner root:root (0:0), every time mtime, and a gzip header without a
// name or a time. Two runs over the same inputs therefore give the same bytes, whatever the
// umask, the owner or the times of the files on disk.
func writeTarGz(w io.Writer, files []file, mtime time.Time) error {
	zw, err := gzip.NewWriterLevel(w, gzip.BestCompression)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(zw)
	mtime = mtime.UTC().Truncate(time.Second)
	for _, e := range tarEntries(files) {
		h := &tar.Header{
			Name:    e.Dst,
			Mode:    int64(e.Mode.Perm()),
			ModTime: mtime,
			Uname:   "root",
			Gname:   "root",
			Format:  tar.FormatPAX,
		}
		if e.Src == "" {
			h.Typeflag = tar.TypeDir
			h.Name += "/"
			if err := tw.WriteHeader(h); err != nil {
				return err
			}
			continue
		}
		if err := copyIntoTar(tw, h, e.Src); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return zw.Close()
}

// tarEntries is files sorted by Dst with an entry (Src "", mode 0755) for every directory
// that holds them, each before its contents.
func tarEntries(files []file) []file {
	seen := map[string]bool{}
	var out []file
	for _, f := range files {
		for d := path.Dir(f.Dst); d != "." && d != "/" && !seen[d]; d = path.Dir(d) {
			seen[d] = true
			out = append(out, file{Dst: d, Mode: 0o755})
		}
		out = append(out, f)
	}
	slices.SortFunc(out, func(a, b file) int { return strings.Compare(a.Dst, b.Dst) })
	return out
}

func copyIntoTar(tw *tar.Writer, h *tar.Header, src string) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%s: not a regular file", src)
	}
	h.Typeflag = tar.TypeReg
	h.Size = st.Size()
	if err := tw.WriteHeader(h); err != nil {
		return err
	}
	_, err = io.Copy(tw, f)
	return err
}

// gzipFile writes src compressed to dst with a header that holds neither the name nor the time,
// as `gzip -n` does, so the man pages in the packages are the same bytes in every build.
func gzipFile(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	zw, err := gzip.NewWriterLevel(out, gzip.BestCompression)
	if err != nil {
		out.Close()
		return err
	}
	if _, err := io.Copy(zw, in); err != nil {
		out.Close()
		return err
	}
	if err := zw.Close(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// file is one file of a tarball or a package.
type file struct {
	Dst    string      // path inside the tarball (relative) or the package (absolute)
	Src    string      // the file on disk; "" for a directory entry
	Mode   fs.FileMode // permission bits recorded, whatever the file on disk has
	Config bool        // a configuration file the package manager keeps on upgrade
}
