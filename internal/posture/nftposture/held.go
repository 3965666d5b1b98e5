package nftposture

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"time"

	"github.com/firewarden/firewarden/internal/posture/nftposture/fwtable"
	"github.com/firewarden/firewarden/internal/statedir"
)

// The held table is firewarden's table as it last settled (a fix that wrote and verified it
// without waiting for confirmation, a confirmed fix, a rollback), kept in the state directory so
// that `firewarden fix --boot` can put it back into the empty kernel a reboot leaves. It is a
// snapshot in the format backups use (fwtable.Snapshot), restored exactly.

// HeldFile is the name of the held table in the state directory.
const HeldFile = "firewall-table.json"

// heldVersion is the version of the held file's format.
const heldVersion = 1

// ErrDamagedHeld is wrapped by the error for a held file that does not decode: it is refused
// whole, never restored in part.
var ErrDamagedHeld = errors.New("damaged held firewall table")

// Held is the content of HeldFile.
type Held struct {
	Version int       `json:"version"`
	At      time.Time `json:"held_at"` // when it was held
	By      string    `json:"by"`      // what settled it: "fix", "fix --confirm", "rollback BACKUP", "agent"
	// Table is firewarden's table, never Absent: when no table is settled there is no file.
	Table fwtable.Snapshot `json:"table"`
}

// DecodeHeld reads a held file: strict JSON (no unknown field, nothing after it), the current
// version, a table that check accepts (Kernel.Check: fwtable.CheckSnapshot, whether Restore
// could decode it). Any other content is an error wrapping ErrDamagedHeld.
func DecodeHeld(data []byte, check func(fwtable.Snapshot) error) (Held, error) {
	bad := func(format string, a ...any) (Held, error) {
		return Held{}, fmt.Errorf("%w: %s", ErrDamagedHeld, fmt.Sprintf(format, a...))
	}
	var h Held
	if err := fwtable.DecodeJSON(data, &h); err != nil {
		return bad("%v", err)
	}
	switch {
	case h.Version != heldVersion:
		return bad("version %d, want %d", h.Version, heldVersion)
	case h.Table.Absent || len(h.Table.Data) == 0:
		return bad("no table")
	case h.By == "" || h.At.IsZero():
		return bad("no record of when and by what it was held")
	}
	if err := check(h.Table); err != nil {
		return Held{}, fmt.Errorf("%w: %w", ErrDamagedHeld, err)
	}
	return h, nil
}

// encodeHeld is what SaveHeld writes.
func encodeHeld(h Held) ([]byte, error) {
	data, err := json.MarshalIndent(h, "", "  ")
	return append(data, '\n'), err
}

// LoadHeld reads the held table from the state directory dir: nil when there is none (no
// directory, no file); an error wrapping ErrDamagedHeld when it does not decode (DecodeHeld).
func LoadHeld(dir string, check func(fwtable.Snapshot) error) (*Held, error) {
	data, found, err := statedir.ReadExisting(dir, HeldFile)
	if err != nil || !found {
		return nil, err
	}
	h, err := DecodeHeld(data, check)
	if err != nil {
		return nil, fmt.Errorf("%s: %w; run `firewarden fix` to write and hold the table again", filepath.Join(dir, HeldFile), err)
	}
	return &h, nil
}

// SaveHeld holds snap in the state directory dir (created when missing; the file replaced
// atomically, never written through a link), or removes the held file when snap is Absent.
// What it writes must decode (DecodeHeld with check), so that a held file is never one that
// `fix --boot` would refuse.
func SaveHeld(dir string, snap fwtable.Snapshot, by string, now time.Time, check func(fwtable.Snapshot) error) error {
	d, err := statedir.Open(dir)
	if err != nil {
		return err
	}
	if snap.Absent {
		if err := d.Remove(HeldFile); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	h := Held{Version: heldVersion, At: now.UTC().Truncate(time.Second), By: by, Table: snap}
	data, err := encodeHeld(h)
	if err != nil {
		return err
	}
	if _, err := DecodeHeld(data, check); err != nil {
		return fmt.Errorf("hold table inet %s: %w", fwtable.Table, err)
	}
	return d.WriteFile(HeldFile, data)
}
