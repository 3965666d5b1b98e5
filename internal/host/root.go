// Package host is firewarden's seam to the system: every absolute system path is resolved under a
// root directory, the operating system is detected from files under that root, and programs run
// only through a Runner (absolute path, argv slice, timeout, output cap).
package host

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Root resolves absolute system paths ("/usr/bin/defaults") under a directory, so that a test or a
// reviewer can lay out a fake Mac in a temporary directory and run the real binary against it.
type Root struct {
	dir string
}

// NewRoot returns a Root at dir, which must be an existing directory. An empty dir means "/".
func NewRoot(dir string) (Root, error) {
	if dir == "" {
		dir = "/"
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return Root{}, fmt.Errorf("root %q: %w", dir, err)
	}
	st, err := os.Stat(abs)
	if err != nil {
		return Root{}, fmt.Errorf("root %q does not exist: give --root an existing directory", dir)
	}
	if !st.IsDir() {
		return Root{}, fmt.Errorf("root %q is not a directory: give --root an existing directory", dir)
	}
	return Root{dir: abs}, nil
}

// Dir is the root directory itself.
func (r Root) Dir() string {
	if r.dir == "" {
		return "/"
	}
	return r.dir
}

// IsSystem reports whether the root is the real system root "/".
func (r Root) IsSystem() bool { return r.Dir() == "/" }

// Path maps an absolute system path to the file under the root. Relative paths are taken as
// relative to the root too; ".." cannot climb above it.
func (r Root) Path(sys string) string {
	clean := filepath.Clean("/" + sys)
	return filepath.Join(r.Dir(), clean)
}

// ReadFile reads the file at the system path sys under the root.
func (r Root) ReadFile(sys string) ([]byte, error) {
	return os.ReadFile(r.Path(sys))
}

// Exists reports whether the system path exists under the root. Errors other than "does not
// exist" count as existing, so that a permission problem surfaces where the file is read.
func (r Root) Exists(sys string) bool {
	_, err := os.Stat(r.Path(sys))
	return err == nil || !errors.Is(err, fs.ErrNotExist)
}

// Rel turns a path under the root back into its system path; it is the inverse of Path and is
// used to show system paths in reports rather than temporary directories.
func (r Root) Rel(p string) string {
	if r.IsSystem() {
		return p
	}
	rel, err := filepath.Rel(r.Dir(), p)
	if err != nil || strings.HasPrefix(rel, "..") {
		return p
	}
	return "/" + filepath.ToSlash(rel)
}
