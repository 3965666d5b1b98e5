package hosttest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"howett.net/plist"

	"github.com/firewarden/firewarden/internal/host"
)

// Files of a laid-out fake Mac, as system paths under the root.
const (
	systemVersionPlist = "/System/Library/CoreServices/SystemVersion.plist"
	alfPlist           = "/Library/Preferences/com.apple.alf.plist"
	managedFirewall    = "/Library/Managed Preferences/com.apple.security.firewall.plist"
	bluetoothPlist     = "/Library/Preferences/com.apple.Bluetooth.plist"
	bluetoothKey       = "ControllerPowerState"
	hostnameFile       = "/etc/hostname"

	// StateFile is where Layout keeps the emulator state, as a path under the root. The macemu
	// stand-ins read and rewrite it on every run.
	StateFile = "/.macemu/state.json"
)

// buildOf is the ProductBuildVersion of a preset version (Apple's release builds as
// remembered, cosmetic only: firewarden reads ProductVersion).
func buildOf(version string) string {
	switch version {
	case "14.6":
		return "23G80"
	case "15.1":
		return "24B83"
	case "15.4":
		return "24E248"
	case "26.0":
		return "25A354"
	}
	return "0A000"
}

// Layout writes a fake Mac in state st under root:
//
//   - System/Library/CoreServices/SystemVersion.plist (XML; ProductName macOS, ProductVersion,
//     ProductBuildVersion), which is how firewarden detects macOS and its version;
//   - Library/Preferences/com.apple.alf.plist (binary) below macOS 15, removed from 15 on;
//   - Library/Managed Preferences/com.apple.security.firewall.plist (XML) when st.Profile is set;
//   - Library/Preferences/com.apple.Bluetooth.plist when st.BluetoothPower is set;
//   - etc/hostname ("fakemac") and the state file (StateFile);
//   - when emulator is not empty, a copy of that executable (the macemu binary) at the path of
//     every emulated program (Programs), mode 0755.
//
// Files of an earlier layout that st does not call for are removed, so a directory can be laid
// out again with another state. Layout refuses the real root "/".
func Layout(root string, st MacState, emulator string) error {
	v, err := st.validate()
	if err != nil {
		return fmt.Errorf("lay out fake mac: %w", err)
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return fmt.Errorf("lay out fake mac: %w", err)
	}
	r, err := host.NewRoot(root)
	if err != nil {
		return err
	}
	if r.IsSystem() {
		return errors.New("lay out fake mac: refusing to write over the real system root /; give a scratch directory")
	}

	sv := map[string]any{
		"ProductName":               "macOS",
		"ProductVersion":            st.Version,
		"ProductUserVisibleVersion": st.Version,
		"ProductBuildVersion":       buildOf(st.Version),
	}
	if err := writePlist(r.Path(systemVersionPlist), sv, plist.XMLFormat); err != nil {
		return err
	}
	if err := removeIfExists(r.Path(alfPlist)); err != nil {
		return err
	}
	if v.hasALFPlist() {
		if err := writeALFPlist(r, st); err != nil {
			return err
		}
	}
	if err := removeIfExists(r.Path(managedFirewall)); err != nil {
		return err
	}
	if st.Profile != nil {
		if err := writePlist(r.Path(managedFirewall), profilePlist(st.Profile), plist.XMLFormat); err != nil {
			return err
		}
	}
	if err := removeIfExists(r.Path(bluetoothPlist)); err != nil {
		return err
	}
	if st.BluetoothPower != nil {
		bt := map[string]any{bluetoothKey: int64(*st.BluetoothPower)}
		if err := writePlist(r.Path(bluetoothPlist), bt, plist.BinaryFormat); err != nil {
			return err
		}
	}
	if err := writeFileAtomic(r.Path(hostnameFile), []byte("fakemac\n"), 0o644); err != nil {
		return err
	}
	if err := saveState(r, st); err != nil {
		return err
	}
	if emulator == "" {
		return nil
	}
	for _, p := range Programs() {
		if err := installStandIn(emulator, r.Path(p)); err != nil {
			return err
		}
	}
	return nil
}

// LoadState reads the state file of the fake Mac laid out under root, for example to inspect the
// Calls the real binary made.
func LoadState(root string) (MacState, error) {
	r, err := host.NewRoot(root)
	if err != nil {
		return MacState{}, err
	}
	data, err := os.ReadFile(r.Path(StateFile))
	if err != nil {
		return MacState{}, fmt.Errorf("load emulator state: %w (lay out the fake mac first)", err)
	}
	var st MacState
	if err := json.Unmarshal(data, &st); err != nil {
		return MacState{}, fmt.Errorf("load emulator state %s: %w", r.Path(StateFile), err)
	}
	return st, nil
}

// saveState writes the state file atomically, so a concurrent reader sees the old or the new
// state, never half of one.
func saveState(r host.Root, st MacState) error {
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("save emulator state: %w", err)
	}
	return writeFileAtomic(r.Path(StateFile), append(data, '\n'), 0o644)
}

// writeALFPlist stores the live firewall settings in com.apple.alf.plist the way socketfilterfw
// does below macOS 15: integer keys (reference §2.1), version "1.6" as in the osquery sample.
// Keys it does not own (exceptions, explicitauths, anything a test put there) are kept.
// applications stays an empty array: the real entries carry alias and code-requirement data the
// emulator does not model.
func writeALFPlist(r host.Root, st MacState) error {
	path := r.Path(alfPlist)
	dict := map[string]any{}
	if data, err := os.ReadFile(path); err == nil {
		if _, err := plist.Unmarshal(data, &dict); err != nil || dict == nil {
			dict = map[string]any{}
		}
	}
	opt, _ := loggingOptionCode(st.LoggingOpt)
	dict["globalstate"] = int64(st.GlobalState)
	dict["stealthenabled"] = b2i(st.Stealth)
	dict["loggingenabled"] = b2i(st.Logging)
	dict["loggingoption"] = int64(opt)
	dict["allowsignedenabled"] = b2i(st.AllowSigned)
	dict["allowdownloadsignedenabled"] = b2i(st.AllowSignedApp)
	dict["version"] = "1.6"
	if _, has := dict["applications"]; !has {
		dict["applications"] = []any{}
	}
	return writePlist(path, dict, plist.BinaryFormat)
}

func b2i(b bool) int64 { return choose[int64](b, 1, 0) }

// profilePlist is the managed preferences file of a firewall payload: the payload keys with
// their schema types (booleans, LoggingOption string, Applications array of BundleID/Allowed).
func profilePlist(p *FirewallProfile) map[string]any {
	d := map[string]any{}
	for key, b := range map[string]*bool{
		"EnableFirewall":    p.EnableFirewall,
		"BlockAllIncoming":  p.BlockAllIncoming,
		"EnableStealthMode": p.EnableStealthMode,
		"AllowSigned":       p.AllowSigned,
		"AllowSignedApp":    p.AllowSignedApp,
		"EnableLogging":     p.EnableLogging,
	} {
		if b != nil {
			d[key] = *b
		}
	}
	if p.LoggingOption != "" {
		d["LoggingOption"] = p.LoggingOption
	}
	if p.Applications != nil {
		apps := make([]any, len(p.Applications))
		for i, a := range p.Applications {
			apps[i] = map[string]any{"BundleID": a.BundleID, "Allowed": a.Allowed}
		}
		d["Applications"] = apps
	}
	return d
}

// writeFileAtomic replaces path with data through a temporary file in the same directory and a
// rename, creating the directory.
func writeFileAtomic(path string, data []byte, perm fs.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, perm)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// installStandIn puts a copy of the emulator executable at dst, replacing any earlier one
// through a rename so that a stand-in that is running keeps its file.
func installStandIn(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("install emulator: %w", err)
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("install emulator: %w", err)
	}
	out, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".*")
	if err != nil {
		return fmt.Errorf("install emulator: %w", err)
	}
	tmp := out.Name()
	_, err = io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o755)
	}
	if err == nil {
		err = os.Rename(tmp, dst)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("install emulator at %s: %w", dst, err)
	}
	return nil
}

func removeIfExists(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
