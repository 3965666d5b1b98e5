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
func (s *BackupStore) Save(changes []Change) (string, error) {
	now := s.Now().UTC()
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return "", err
	}
	id := now.Format("20060102T150405Z")
	for n := 2; ; n++ {
		if _, err := os.Stat(filepath.Join(s.Dir, id+".json")); errors.Is(err, fs.ErrNotExist) {
			break
		}
		id = fmt.Sprintf("%s-%d", now.Format("20060102T150405Z"), n)
	}
	b := Backup{ID: id, Created: now, Host: s.Host, OS: s.OS, Changes: changes}
	data, err := json.MarshalIndent(b, "", "  ")
	if err != nil {
		return "", err
	}
	if err := WriteFileAtomic(filepath.Join(s.Dir, id+".json"), append(data, '\n'), 0o600); err != nil {
		return "", err
	}
	return id, nil
}

// List returns the backups, oldest first.
func (s *BackupStore) List() ([]Backup, error) {
	entries, err := os.ReadDir(s.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Backup
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") {
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
	data, err := os.ReadFile(filepath.Join(s.Dir, id+".json"))
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
// never a part: a temporary file in the same directory, fsync, rename. A path that exists and is
// not a regular file (/dev/stdout, /dev/null, a FIFO) is written through, never renamed over: a
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
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
