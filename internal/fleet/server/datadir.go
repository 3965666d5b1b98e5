package server

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v4"
)

// Files in the data directory (DECISIONS13.md).
const (
	ConfigFile = "server.yaml"
	SQLiteFile = "fleet.db"
	CertFile   = "tls/cert.pem"
	KeyFile    = "tls/key.pem"
)

// DefaultDataDir is where `go run ./cmd/firewarden-server init` puts everything; packages pass
// --data-dir /var/lib/firewarden-server.
const DefaultDataDir = "firewarden-server"

// DefaultListen listens on every address: agents are remote.
const DefaultListen = ":8443"

// DefaultRetentionDays is how long run records are kept; transitions and current state stay.
const DefaultRetentionDays = 90

// fileConfig is server.yaml: what init decided, so that serve needs no flags. Paths are
// relative to the data directory unless absolute.
type fileConfig struct {
	Listen        string `yaml:"listen"`
	DB            string `yaml:"db,omitempty"` // empty: SQLite in fleet.db
	Cert          string `yaml:"cert"`
	Key           string `yaml:"key"`
	RetentionDays int    `yaml:"retention_days"`
}

func readConfig(dir string) (fileConfig, error) {
	path := filepath.Join(dir, ConfigFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return fileConfig{}, usagef("%s has no %s; create the server with `firewarden-server init --data-dir %s`", dir, ConfigFile, dir)
	}
	if err != nil {
		return fileConfig{}, err
	}
	var c fileConfig
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return fileConfig{}, usagef("%s: %s", path, strings.Join(strings.Fields(err.Error()), " "))
	}
	if c.RetentionDays <= 0 {
		c.RetentionDays = DefaultRetentionDays
	}
	if c.Cert == "" {
		c.Cert = CertFile
	}
	if c.Key == "" {
		c.Key = KeyFile
	}
	return c, nil
}

func writeConfig(dir string, c fileConfig) error {
	var buf bytes.Buffer
	buf.WriteString("# firewarden-server configuration, written by init. Flags of serve override it.\n")
	enc := yaml.NewEncoder(&buf)
	if err := enc.Encode(c); err != nil {
		return err
	}
	_ = enc.Close()
	return writeFileAtomic(filepath.Join(dir, ConfigFile), buf.Bytes(), 0o600)
}

// inDir resolves a path of server.yaml against the data directory.
func inDir(dir, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

// isPostgres reports whether a --db value names PostgreSQL rather than a SQLite file.
func isPostgres(db string) bool {
	return strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://")
}

// dbTarget is what the store opener gets: the PostgreSQL URL, or the SQLite file's path.
func dbTarget(dir, db string) string {
	switch {
	case db == "":
		return filepath.Join(dir, SQLiteFile)
	case isPostgres(db):
		return db
	default:
		return inDir(dir, strings.TrimPrefix(db, "sqlite:"))
	}
}

// writeFileAtomic writes data to path through a temporary file, fsynced and renamed, so that a
// crash leaves either the old file or the new one.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// usageError is bad input: exit status 2 with one line.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

// redact hides the password of a database URL in messages.
func redact(u string) string {
	at := strings.LastIndexByte(u, '@')
	scheme := strings.Index(u, "://")
	if at < 0 || scheme < 0 {
		return u
	}
	userinfo := u[scheme+3 : at]
	if name, _, ok := strings.Cut(userinfo, ":"); ok {
		return u[:scheme+3] + name + ":xxxxx" + u[at:]
	}
	return u
}
