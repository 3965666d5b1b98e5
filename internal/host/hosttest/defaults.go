package hosttest

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"howett.net/plist"
)

// defaults emulates /usr/bin/defaults read, write and delete on real plist files under the root.
// Like the real tool, it knows nothing of the firewall: writing the ALF plist changes the file
// only, not what socketfilterfw reports, which is how a test models someone tampering with the
// plist. The one exception is the Bluetooth plist, whose ControllerPowerState the emulator treats
// as live state (BluetoothPower).
func (m *Mac) defaults(args []string) outcome {
	if len(args) == 0 {
		return fail(1, defaultsUsage)
	}
	switch args[0] {
	case "read":
		return m.defaultsRead(args[1:])
	case "write":
		return m.defaultsWrite(args[1:])
	case "delete":
		return m.defaultsDelete(args[1:])
	}
	return fail(1, fmt.Sprintf("defaults: command %q is not emulated\n", args[0])) // SYNTHETIC
}

// defaultsUsage is SYNTHETIC: the real usage text is longer.
const defaultsUsage = "Command line interface to a user's defaults.\nSyntax:\n\n'defaults' [-currentHost | -host <hostname>] followed by one of the following:\n\n  read <domain>\n  read <domain> <key>\n  write <domain> <key> <value>\n  delete <domain>\n  delete <domain> <key>\n"

// defaultsFile maps a defaults domain to the system path of its plist. A domain starting with "/"
// is a path, ".plist" added (`defaults read /Library/Preferences/com.apple.alf`); any other
// domain is the calling user's, and firewarden runs as root, so it lives in
// /var/root/Library/Preferences. (`defaults read com.apple.alf` therefore does not read the
// system ALF plist, as on a real Mac.)
func defaultsFile(domain string) string {
	switch {
	case strings.HasPrefix(domain, "/"):
		if strings.HasSuffix(domain, ".plist") {
			return domain
		}
		return domain + ".plist"
	case domain == "-g" || domain == "-globalDomain" || domain == "NSGlobalDomain":
		return "/var/root/Library/Preferences/.GlobalPreferences.plist"
	}
	return "/var/root/Library/Preferences/" + domain + ".plist"
}

// defaultsStamp is the line defaults logs before an error, e.g.
// "2016-05-18 09:28:12.188 defaults[4266:54118] " (defaults-read-missing-key.txt; the trailing
// space is in the capture). Process and thread ids are made up from the call count, so that a
// run is reproducible with a fixed clock.
func (m *Mac) defaultsStamp() string {
	n := len(m.st.Calls)
	return fmt.Sprintf("%s defaults[%d:%d] \n", m.now().Format("2006-01-02 15:04:05.000"), 4000+n, 54000+n)
}

// missingPair is the failure of reading an absent file or key (defaults-read-missing-key.txt).
// Exit status 1 is UNVERIFIED (SYNTHETIC).
func (m *Mac) missingPair(domain, key string) outcome {
	return fail(1, m.defaultsStamp()+fmt.Sprintf("The domain/default pair of (%s, %s) does not exist\n", domain, key))
}

// errNotPlist marks a domain file that exists but does not decode as a plist dictionary.
var errNotPlist = errors.New("not a property list dictionary")

// readDomain loads the plist of a domain. A missing file is (nil, nil).
func (m *Mac) readDomain(domain string) (map[string]any, error) {
	data, err := os.ReadFile(m.root.Path(defaultsFile(domain)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var dict map[string]any
	if _, err := plist.Unmarshal(data, &dict); err != nil {
		return nil, fmt.Errorf("%s: %w: %v", defaultsFile(domain), errNotPlist, err)
	}
	if dict == nil {
		dict = map[string]any{}
	}
	return dict, nil
}

func (m *Mac) defaultsRead(args []string) outcome {
	if len(args) == 0 || len(args) > 2 {
		return fail(1, defaultsUsage)
	}
	domain := args[0]
	dict, err := m.readDomain(domain)
	if errors.Is(err, errNotPlist) {
		// SYNTHETIC: a damaged plist; the real tool's text is not captured.
		return fail(1, m.defaultsStamp()+fmt.Sprintf("Domain %s could not be read: %v\n", domain, err))
	}
	if err != nil {
		return outcome{err: err}
	}
	if len(args) == 1 {
		if dict == nil {
			return fail(1, m.defaultsStamp()+fmt.Sprintf("Domain %s does not exist\n", domain)) // SYNTHETIC
		}
		return ok(formatPlistValue(dict, 0, true) + "\n")
	}
	v, present := dict[args[1]]
	if !present {
		return m.missingPair(domain, args[1])
	}
	return ok(formatPlistValue(v, 0, true) + "\n")
}

// parseDefaultsValue reads the value arguments of defaults write: "-int 1", "-bool true",
// "-string x", "-float 0.5", or a bare value, which defaults takes as a string.
func parseDefaultsValue(args []string) (any, error) {
	if len(args) == 1 && !strings.HasPrefix(args[0], "-") {
		return args[0], nil
	}
	if len(args) != 2 {
		return nil, fmt.Errorf("want one value after the key, optionally preceded by its type")
	}
	typ, val := args[0], args[1]
	switch typ {
	case "-int", "-integer":
		n, err := strconv.ParseInt(val, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not an integer", val)
		}
		return n, nil
	case "-float":
		f, err := strconv.ParseFloat(val, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a number", val)
		}
		return f, nil
	case "-bool", "-boolean":
		switch strings.ToLower(val) {
		case "true", "yes", "1":
			return true, nil
		case "false", "no", "0":
			return false, nil
		}
		return nil, fmt.Errorf("%q is not a boolean", val)
	case "-string":
		return val, nil
	}
	return nil, fmt.Errorf("value type %s is not emulated", typ)
}

func (m *Mac) defaultsWrite(args []string) outcome {
	if len(args) < 3 {
		return fail(1, defaultsUsage)
	}
	domain, key := args[0], args[1]
	val, err := parseDefaultsValue(args[2:])
	if err != nil {
		// SYNTHETIC: the real tool prints its usage text.
		return fail(1, m.defaultsStamp()+"Could not parse the value: "+err.Error()+"\nDefaults have not been changed.\n")
	}
	dict, err := m.readDomain(domain)
	if errors.Is(err, errNotPlist) {
		dict = nil // the real tool replaces a damaged domain file (SYNTHETIC)
	} else if err != nil {
		return outcome{err: err}
	}
	if dict == nil {
		dict = map[string]any{}
	}
	dict[key] = val
	if err := writePlist(m.root.Path(defaultsFile(domain)), dict, plist.BinaryFormat); err != nil {
		return outcome{err: err}
	}
	m.syncFromFile(domain, key, val, true)
	return ok("")
}

// defaultsDelete removes a key, or the whole domain. The failure text for a missing domain or
// key is SYNTHETIC.
func (m *Mac) defaultsDelete(args []string) outcome {
	if len(args) == 0 || len(args) > 2 {
		return fail(1, defaultsUsage)
	}
	domain := args[0]
	path := m.root.Path(defaultsFile(domain))
	dict, err := m.readDomain(domain)
	if err != nil {
		return outcome{err: err}
	}
	if dict == nil {
		return fail(1, m.defaultsStamp()+fmt.Sprintf("Domain (%s) not found.\nDefaults have not been changed.\n", domain))
	}
	if len(args) == 1 {
		if err := os.Remove(path); err != nil {
			return outcome{err: err}
		}
		m.syncFromFile(domain, bluetoothKey, nil, false)
		return ok("")
	}
	key := args[1]
	if _, present := dict[key]; !present {
		return fail(1, m.defaultsStamp()+fmt.Sprintf("Domain (%s) not found.\nDefaults have not been changed.\n", domain))
	}
	delete(dict, key)
	if err := writePlist(path, dict, plist.BinaryFormat); err != nil {
		return outcome{err: err}
	}
	m.syncFromFile(domain, key, nil, false)
	return ok("")
}

// syncFromFile carries a defaults change into the state where the emulator treats the file as
// the live setting: ControllerPowerState of the Bluetooth plist.
func (m *Mac) syncFromFile(domain, key string, val any, present bool) {
	if defaultsFile(domain) != bluetoothPlist || key != bluetoothKey {
		return
	}
	if !present {
		m.st.BluetoothPower = nil
		return
	}
	switch v := val.(type) {
	case int64:
		m.st.BluetoothPower = new(int(v))
	case bool:
		m.st.BluetoothPower = new(choose(v, 1, 0))
	}
}

// bareString matches strings defaults prints without quotes inside a dictionary or array.
var bareString = regexp.MustCompile(`^[A-Za-z0-9_]+$`)

// formatPlistValue renders a value the way defaults read does: the old-style (OpenStep) text
// format, bools as 1/0, a top-level string unquoted. Indentation and the rendering of data and
// dates are approximations (SYNTHETIC); scalars read by key, which is what firewarden parses, are
// exact (`defaults read ... globalstate` prints "1", reference §2.2).
func formatPlistValue(v any, depth int, top bool) string {
	indent := strings.Repeat("    ", depth)
	switch x := v.(type) {
	case bool:
		return choose(x, "1", "0")
	case uint64:
		return strconv.FormatUint(x, 10)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case string:
		if top || bareString.MatchString(x) {
			return x
		}
		return strconv.Quote(x)
	case []byte:
		return fmt.Sprintf("{length = %d, bytes = 0x%x}", len(x), x)
	case time.Time:
		return x.UTC().Format("2006-01-02 15:04:05 +0000")
	case []any:
		var b strings.Builder
		b.WriteString("(\n")
		for i, e := range x {
			b.WriteString(indent + "    " + formatPlistValue(e, depth+1, false))
			if i < len(x)-1 {
				b.WriteString(",")
			}
			b.WriteString("\n")
		}
		b.WriteString(indent + ")")
		return b.String()
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		var b strings.Builder
		b.WriteString("{\n")
		for _, k := range keys {
			name := k
			if !bareString.MatchString(k) {
				name = strconv.Quote(k)
			}
			fmt.Fprintf(&b, "%s    %s = %s;\n", indent, name, formatPlistValue(x[k], depth+1, false))
		}
		b.WriteString(indent + "}")
		return b.String()
	}
	return fmt.Sprint(v)
}

// writePlist encodes v and replaces the file at path atomically, creating its directory.
func writePlist(path string, v any, format int) error {
	var buf bytes.Buffer
	enc := plist.NewEncoderForFormat(&buf, format)
	if format == plist.XMLFormat {
		enc.Indent("\t")
	}
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("encode %s: %w", filepath.Base(path), err)
	}
	return writeFileAtomic(path, buf.Bytes(), 0o644)
}
