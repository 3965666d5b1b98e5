package alf

import (
	"fmt"

	"howett.net/plist"
)

// Paths read by the adapter (alf.md §2, §3).
const (
	SocketFilterFW = "/usr/libexec/ApplicationFirewall/socketfilterfw"
	PlistPath      = "/Library/Preferences/com.apple.alf.plist"                       // macOS 14 and earlier only
	ProfilePath    = "/Library/Managed Preferences/com.apple.security.firewall.plist" // MDM-installed payload values
)

// PlistState is the settings part of /Library/Preferences/com.apple.alf.plist (macOS 14 and
// earlier). Values are integers in that file; a nil field means the key is absent.
type PlistState struct {
	GlobalState    *int
	Stealth        *int
	Logging        *int
	LoggingOption  *int
	AllowSigned    *int
	AllowSignedApp *int
}

// ParsePlist reads the ALF plist, binary or XML.
func ParsePlist(data []byte) (PlistState, error) {
	var raw map[string]any
	if _, err := plist.Unmarshal(data, &raw); err != nil {
		return PlistState{}, fmt.Errorf("parse %s: %v", PlistPath, err)
	}
	var s PlistState
	for key, dst := range map[string]**int{
		"globalstate":                &s.GlobalState,
		"stealthenabled":             &s.Stealth,
		"loggingenabled":             &s.Logging,
		"loggingoption":              &s.LoggingOption,
		"allowsignedenabled":         &s.AllowSigned,
		"allowdownloadsignedenabled": &s.AllowSignedApp,
	} {
		v, ok := raw[key]
		if !ok {
			continue
		}
		n, ok := toInt(v)
		if !ok {
			return PlistState{}, fmt.Errorf("parse %s: %s is %T, want an integer", PlistPath, key, v)
		}
		*dst = &n
	}
	return s, nil
}

// Profile is the com.apple.security.firewall payload as the system applied it. A nil field means
// the profile does not set that key; Present is false when no profile exists at all.
type Profile struct {
	Present          bool
	EnableFirewall   *bool
	BlockAllIncoming *bool
	EnableStealth    *bool
	EnableLogging    *bool
	LoggingOption    *string
	AllowSigned      *bool
	AllowSignedApp   *bool
	Applications     []ProfileApp
}

// ProfileApp is an entry of the payload's Applications array.
type ProfileApp struct {
	BundleID string
	Allowed  bool
}

// ParseProfile reads the managed preferences file of the firewall payload. Keys are booleans in
// the payload (apple/device-management com.apple.security.firewall.yaml); integers 0/1 are
// accepted too, as the System Information view shows them that way.
func ParseProfile(data []byte) (Profile, error) {
	var raw map[string]any
	if _, err := plist.Unmarshal(data, &raw); err != nil {
		return Profile{}, fmt.Errorf("parse %s: %v", ProfilePath, err)
	}
	p := Profile{Present: true}
	for key, dst := range map[string]**bool{
		"EnableFirewall":    &p.EnableFirewall,
		"BlockAllIncoming":  &p.BlockAllIncoming,
		"EnableStealthMode": &p.EnableStealth,
		"EnableLogging":     &p.EnableLogging,
		"AllowSigned":       &p.AllowSigned,
		"AllowSignedApp":    &p.AllowSignedApp,
	} {
		v, ok := raw[key]
		if !ok {
			continue
		}
		b, ok := toBool(v)
		if !ok {
			return Profile{}, fmt.Errorf("parse %s: %s is %T, want a boolean", ProfilePath, key, v)
		}
		*dst = &b
	}
	if v, ok := raw["LoggingOption"]; ok {
		s, ok := v.(string)
		if !ok {
			return Profile{}, fmt.Errorf("parse %s: LoggingOption is %T, want a string", ProfilePath, v)
		}
		p.LoggingOption = &s
	}
	if v, ok := raw["Applications"]; ok {
		items, ok := v.([]any)
		if !ok {
			return Profile{}, fmt.Errorf("parse %s: Applications is %T, want an array", ProfilePath, v)
		}
		for i, it := range items {
			d, ok := it.(map[string]any)
			if !ok {
				return Profile{}, fmt.Errorf("parse %s: Applications[%d] is %T, want a dictionary", ProfilePath, i, it)
			}
			id, _ := d["BundleID"].(string)
			allowed, _ := toBool(d["Allowed"])
			p.Applications = append(p.Applications, ProfileApp{BundleID: id, Allowed: allowed})
		}
	}
	return p, nil
}

func toInt(v any) (int, bool) {
	switch n := v.(type) {
	case uint64:
		return int(n), true
	case int64:
		return int(n), true
	case bool:
		if n {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

func toBool(v any) (bool, bool) {
	switch b := v.(type) {
	case bool:
		return b, true
	case uint64:
		return b != 0, b <= 1
	case int64:
		return b != 0, b == 0 || b == 1
	}
	return false, false
}
