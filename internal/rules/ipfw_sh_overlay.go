package rules

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"time"
)

// Installers for Mac OS X's ipfw write their rules with `cat > FILE <<EOF … EOF` and then load
// them with `ipfw -q FILE`. The expander keeps such files in memory (nothing is written to
// disk): later reads by the script (`ipfw PATHNAME`, `.`, `[ -f FILE ]`) see them first, then
// the files under --root.

// shMaxOverlay caps the bytes of all the files a script writes, together.
const shMaxOverlay = 4 << 20

// shFile is a file the script wrote, or removed.
type shFile struct {
	data    string
	unknown string // non-empty: why its contents are not known
	gone    bool   // removed: a read sees no file, not the one under --root
}

// shOverlay is the files a script wrote, by absolute path.
type shOverlay struct {
	files map[string]*shFile
	size  int
}

// get returns the file the script wrote at p, or nil when it did not touch p.
func (o *shOverlay) get(p string) *shFile {
	if o == nil || !strings.HasPrefix(p, "/") {
		return nil
	}
	return o.files[path.Clean(p)]
}

// written reports that the script wrote p and did not remove it.
func (o *shOverlay) written(p string) bool {
	f := o.get(p)
	return f != nil && !f.gone
}

// read returns the contents of a file the script wrote; ok is false when it did not touch p.
func (o *shOverlay) read(p string) (data []byte, ok bool, err error) {
	f := o.get(p)
	switch {
	case f == nil:
		return nil, false, nil
	case f.gone:
		return nil, true, fs.ErrNotExist
	case f.unknown != "":
		return nil, true, errors.New(f.unknown)
	}
	return []byte(f.data), true, nil
}

// put stores f at p; it fails, changing nothing, when the files would pass shMaxOverlay.
func (o *shOverlay) put(p string, f *shFile) error {
	p = path.Clean(p)
	size := o.size + len(f.data)
	if old := o.files[p]; old != nil {
		size -= len(old.data)
	}
	if size > shMaxOverlay {
		return fmt.Errorf("the files the script writes would hold more than %d bytes (the cap on written files)", shMaxOverlay)
	}
	o.files[p], o.size = f, size
	return nil
}

// shFileInfo answers `[ -f FILE ]` for a file the script wrote.
type shFileInfo struct {
	name string
	size int64
}

func (i shFileInfo) Name() string       { return path.Base(i.name) }
func (i shFileInfo) Size() int64        { return i.size }
func (i shFileInfo) Mode() fs.FileMode  { return 0o644 }
func (i shFileInfo) ModTime() time.Time { return time.Time{} }
func (i shFileInfo) IsDir() bool        { return false }
func (i shFileInfo) Sys() any           { return nil }

// shOutRedir splits an output redirection as written (">$conf", "1>>FILE") into whether it
// appends and its word; ok is false for anything else (input, descriptors, here-documents).
func shOutRedir(r string) (word string, appends, ok bool) {
	r = strings.TrimLeft(r, "0123456789")
	switch {
	case strings.HasPrefix(r, ">&"):
		return "", false, false
	case strings.HasPrefix(r, ">>"):
		return r[2:], true, true
	case strings.HasPrefix(r, ">|"):
		return r[2:], false, true
	case strings.HasPrefix(r, ">"):
		return r[1:], false, true
	}
	return "", false, false
}

// catHeredoc runs `cat >FILE <<EOF` (or >>FILE): the body becomes FILE in the overlay. done is
// false for another use of a here-document, which the caller handles.
func (in *shInterp) catHeredoc(c *shCmd, words []string) (done bool, err error) {
	if len(words) != 1 || words[0] != "cat" && words[0] != "/bin/cat" || len(c.docs) != 1 {
		return false, nil
	}
	var target, delim string
	appends, outs := false, 0
	for _, r := range c.redirs {
		if strings.HasPrefix(r, "<<") {
			delim = strings.TrimPrefix(strings.TrimPrefix(r, "<<"), "-")
			continue
		}
		w, app, ok := shOutRedir(r)
		if !ok || strings.IndexAny(r[:1], "023456789") >= 0 {
			return false, nil // a message to standard error, or a descriptor
		}
		target, appends = w, app
		outs++
	}
	if outs != 1 {
		return false, nil
	}
	p, err := in.expandString(target)
	if err != nil {
		return true, in.wrap(c.line, "the file cat writes", err)
	}
	switch p {
	case "/dev/null", "/dev/stdout", "/dev/stderr", "/dev/tty", "/dev/console":
		in.status, in.unknown = 0, ""
		return true, nil // a message
	}
	if !strings.HasPrefix(p, "/") {
		return true, in.refuse(c.line, "cat > %s: only an absolute path can be written (the script's working directory is not known)", p)
	}
	f := &shFile{data: c.docs[0]}
	if strings.ContainsAny(delim, "'\"\\") {
		// A quoted delimiter: the body is taken as it is written.
	} else if f.data, err = in.expandHeredoc(c.docs[0]); err != nil {
		var ue *shUnknownErr
		var se *shSubstErr
		switch {
		case errors.As(err, &ue), errors.As(err, &se):
			// Not known: it matters only if the file is read.
			f.data, f.unknown = "", fmt.Sprintf("%s was written at %s:%d with a here-document the simulator cannot expand: %v", p, in.file, c.line, err)
		default:
			return true, in.wrap(c.line, "the here-document", err)
		}
	}
	if appends {
		old, err := in.readForAppend(c.line, p)
		switch {
		case err != nil:
			f.data, f.unknown = "", err.Error()
		case f.unknown == "":
			f.data = old + f.data
		}
	}
	if err := in.overlay.put(p, f); err != nil {
		op := ">"
		if appends {
			op = ">>"
		}
		return true, in.refuse(c.line, "cat %s %s: %v", op, p, err)
	}
	in.status, in.unknown = 0, ""
	return true, nil
}

// readForAppend returns what FILE holds before `cat >> FILE` adds to it: the overlay's file, the
// one under --root, or nothing if there is none.
func (in *shInterp) readForAppend(line int, p string) (string, error) {
	data, ok, err := in.overlay.read(p)
	switch {
	case ok && errors.Is(err, fs.ErrNotExist):
		return "", nil
	case ok:
		return string(data), err
	case in.opts.ReadFile == nil:
		return "", fmt.Errorf("%s is appended to at %s:%d, and what it held before is on the machine: give --root", p, in.file, line)
	}
	b, err := in.opts.ReadFile(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("%s is appended to at %s:%d, and reading it under --root failed: %v", p, in.file, line, shPathErr(err))
	}
	return string(b), nil
}

// expandHeredoc expands the body of a here-document whose delimiter is not quoted: parameters
// and commands as between double quotes, except that `"` and `\"` stay as they are.
func (in *shInterp) expandHeredoc(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); {
		switch c := s[i]; {
		case c == '\\' && i+1 < len(s) && strings.IndexByte("$\\`\n", s[i+1]) >= 0:
			if s[i+1] != '\n' {
				b.WriteByte(s[i+1])
			}
			i += 2
		case c == '$' || c == '`':
			j, err := shSkipDollar(s, i)
			if err != nil {
				return "", err
			}
			if j == i+1 && c == '$' {
				n := in.paramLen(s[i:])
				if n == 1 {
					b.WriteByte('$')
					i++
					continue
				}
				j = i + n
			}
			val, err := in.dollar(s[i:j])
			if err != nil {
				return "", err
			}
			b.WriteString(val)
			i = j
		default:
			b.WriteByte(c)
			i++
		}
		if b.Len() > shMaxOverlay {
			return "", fmt.Errorf("it expands to more than %d bytes (the cap on written files)", shMaxOverlay)
		}
	}
	return b.String(), nil
}

// shFileOpFlags are the options of cp, mv and rm that change nothing the simulator sees.
const shFileOpFlags = "fpvrRi"

// fileOp runs cp, mv and rm where they touch a file the script wrote. done is false when they
// do not (the caller notes them as programs it does not run).
func (in *shInterp) fileOp(line int, name string, args []string) (done bool, err error) {
	var ops []string
	flagsOK := true
	for i, a := range args {
		if a == "--" {
			ops = append(ops, args[i+1:]...)
			break
		}
		if strings.HasPrefix(a, "-") && len(a) > 1 && len(ops) == 0 {
			if strings.Trim(a[1:], shFileOpFlags) != "" {
				flagsOK = false
			}
			continue
		}
		ops = append(ops, a)
	}
	involved := false
	for _, o := range ops {
		if in.overlay.written(o) {
			involved = true
		}
	}
	if !involved {
		return false, nil
	}
	cmd := name + " " + strings.Join(args, " ")
	if !flagsOK {
		return true, in.refuse(line, "%s: only the options -%s are modelled on a file the script wrote", cmd, shFileOpFlags)
	}
	in.status, in.unknown = 0, ""
	if name == "rm" {
		for _, o := range ops {
			if in.overlay.written(o) {
				_ = in.overlay.put(o, &shFile{gone: true}) // smaller: never over the cap
			} else {
				in.sink.note(in.file, line, "not modelled: rm "+o+" (a file the script did not write)")
			}
		}
		return true, nil
	}
	if len(ops) != 2 {
		return true, in.refuse(line, "%s: only %s of one file the script wrote to one path is modelled", cmd, name)
	}
	src, dst := ops[0], ops[1]
	if !in.overlay.written(src) {
		return true, in.refuse(line, "%s: %s was written by the script and %s was not; putting a file of the machine in its place is not modelled", cmd, dst, src)
	}
	if !strings.HasPrefix(dst, "/") {
		return true, in.refuse(line, "%s: only an absolute path can be written (the script's working directory is not known)", cmd)
	}
	if strings.HasSuffix(dst, "/") {
		dst += path.Base(src)
	} else if !in.overlay.written(dst) && in.opts.Stat != nil {
		if fi, err := in.opts.Stat(dst); err == nil && fi.IsDir() {
			dst = path.Join(dst, path.Base(src))
		}
	}
	f := *in.overlay.get(src)
	if path.Clean(src) == path.Clean(dst) {
		return true, nil
	}
	if err := in.overlay.put(dst, &f); err != nil {
		return true, in.refuse(line, "%s: %v", cmd, err)
	}
	if name == "mv" {
		_ = in.overlay.put(src, &shFile{gone: true})
	}
	return true, nil
}

// writesOverlay returns a file the script wrote that c's output redirections write to: a
// write the expander does not model, which would leave the overlay stale.
func (in *shInterp) writesOverlay(c *shCmd) string {
	if in.overlay.size == 0 && len(in.overlay.files) == 0 {
		return ""
	}
	for _, r := range c.redirs {
		w, _, ok := shOutRedir(r)
		if !ok {
			continue
		}
		// A target that does not expand is left to the command, as before files were written.
		if p, err := in.expandString(w); err == nil && in.overlay.written(p) {
			return p
		}
	}
	return ""
}
