package posture

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/firewarden/firewarden/internal/statedir"
)

// Backup is what a fix saved before it changed anything.
type Backup struct {
	ID      string    `json:"id"`
	Created time.Time `json:"created"`
	Host    string    `json:"host"`
	OS      string    `json:"os"`
	Changes []Change  `json:"changes"` // From is the value to restore

	// Damaged is set, by List, for a backup file that cannot be read; the others still list.
	Damaged string `json:"damaged,omitempty"`
}

// BackupStore keeps backups as JSON files in a directory, one per fix, named by UTC time so that
// they sort in the order they were made.
type BackupStore struct {
	Dir  string
	Host string
	OS   string
	Now  func() time.Time
}

// ErrNoBackups is returned when the store holds no backup.
var ErrNoBackups = errors.New("no backups")

// Save implements BackupSaver. The file appears whole or not at all (temp file, fsync, rename).
// The backups directory and the state directory above it are checked as statedir.Open does.
func (s *BackupStore) Save(changes []Change) (string, error) {
	now := s.Now().UTC()
	d, err := s.open()
	if err != nil {
		return "", err
	}
	id := now.Format("20060102T150405Z")
	for n := 2; ; n++ {
		_, err := d.Stat(id + ".json")
		if errors.Is(err, fs.ErrNotExist) {
			break
		}
		if err != nil {
			return "", err
		}
		id = fmt.Sprintf("%s-%d", now.Format("20060102T150405Z"), n)
	}
	b := Backup{ID: id, Created: now, Host: s.Host, OS: s.OS, Changes: changes}
	data, err := json.MarshalIndent(b, "", "  ")
	if err != nil {
		return "", err
	}
	if err := d.WriteFile(id+".json", append(data, '\n')); err != nil {
		return "", err
	}
	return id, nil
}

// open opens (creating) the backups directory, a subdirectory of a state directory.
func (s *BackupStore) open() (*statedir.Dir, error) {
	parent, err := statedir.Open(filepath.Dir(s.Dir))
	if err != nil {
		return nil, err
	}
	return parent.Sub(filepath.Base(s.Dir))
}

// existing opens the backups directory without creating it; nil when it does not exist.
func (s *BackupStore) existing() (*statedir.Dir, error) {
	parent, err := statedir.Existing(filepath.Dir(s.Dir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	d, err := parent.ExistingSub(filepath.Base(s.Dir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return d, err
}

// List returns the backups, oldest first.
func (s *BackupStore) List() ([]Backup, error) {
	d, err := s.existing()
	if err != nil || d == nil {
		return nil, err
	}
	entries, err := d.ReadDir()
	if err != nil {
		return nil, err
	}
	var out []Backup
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		id := strings.TrimSuffix(e.Name(), ".json")
		b, err := s.Load(id)
		if err != nil {
			b = Backup{ID: id, Damaged: err.Error()}
		}
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// Load reads one backup by ID, or the latest when id is "".
func (s *BackupStore) Load(id string) (Backup, error) {
	if id == "" {
		all, err := s.List()
		if err != nil {
			return Backup{}, err
		}
		if len(all) == 0 {
			return Backup{}, ErrNoBackups
		}
		if latest := all[len(all)-1]; latest.Damaged != "" {
			return Backup{}, errors.New(latest.Damaged)
		}
		return all[len(all)-1], nil
	}
	if strings.ContainsAny(id, `/\`) || strings.HasPrefix(id, ".") {
		return Backup{}, fmt.Errorf("backup %q: not a backup ID (see rollback --list)", id)
	}
	d, err := s.existing()
	if err != nil {
		return Backup{}, err
	}
	if d == nil {
		return Backup{}, fmt.Errorf("backup %q does not exist (see rollback --list)", id)
	}
	data, err := d.ReadFile(id + ".json")
	if errors.Is(err, fs.ErrNotExist) {
		return Backup{}, fmt.Errorf("backup %q does not exist (see rollback --list)", id)
	}
	if err != nil {
		return Backup{}, err
	}
	var b Backup
	if err := json.Unmarshal(data, &b); err != nil || b.ID != id || len(b.Changes) == 0 {
		why := "its ID or changes are missing"
		if err != nil {
			why = err.Error()
		}
		return Backup{}, fmt.Errorf("backup %s is damaged (%s); name another with `rollback BACKUP`", id, why)
	}
	return b, nil
}

// WriteFileAtomic writes data to path so that readers see the old file or the whole new one,
// never a part: statedir.WriteFileAtomic (a temporary file created exclusively beside it, fsync,
// rename), which refuses a link at path. It is for paths a person names (--out); files of the
// state directory go through statedir.Dir. A path that leads to something other than a regular
// file (/dev/stdout, /dev/null, a pipe a person made) is written through, never renamed over: a
// rename would replace the device node itself.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	if st, err := os.Stat(path); err == nil && !st.Mode().IsRegular() {
		if st.IsDir() {
			return fmt.Errorf("%s is a directory", path)
		}
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		if _, err := f.Write(data); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}
	return statedir.WriteFileAtomic(path, data, perm)
}
