package alf

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"howett.net/plist"

	"github.com/firewarden/firewarden/internal/posture/baseline"
)

// ProfileOptions name the generated configuration profile.
type ProfileOptions struct {
	Identifier   string // reverse-DNS prefix; default "com.firewarden"
	Organization string
}

// Mobileconfig renders a configuration profile with a com.apple.security.firewall payload that
// enforces the baseline's firewall settings through MDM (the route CIS and mSCP expect on macOS 15
// and later). Payload keys per apple/device-management com.apple.security.firewall.yaml. UUIDs
// are derived from the baseline hash, so the same baseline always yields the same profile and an
// MDM sees an update rather than a new profile. Warnings list what the payload cannot carry.
func Mobileconfig(b *baseline.Baseline, opts ProfileOptions) ([]byte, []string, error) {
	f := b.Firewall
	if f.Enabled == nil {
		return nil, nil, errors.New("the baseline does not set firewall.enabled, which the firewall payload requires (EnableFirewall)")
	}
	if opts.Identifier == "" {
		opts.Identifier = "com.firewarden"
	}
	name := b.Name
	if name == "" {
		name = "baseline"
	}
	ident := opts.Identifier + "." + strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' {
			return r
		}
		return '-'
	}, name)

	var warnings []string
	payload := map[string]any{
		"PayloadType":        "com.apple.security.firewall",
		"PayloadVersion":     1,
		"PayloadIdentifier":  ident + ".firewall",
		"PayloadUUID":        derivedUUID(b.Hash, "firewall"),
		"PayloadDisplayName": "Application Firewall",
		"EnableFirewall":     *f.Enabled,
	}
	set := func(key string, v *bool) {
		if v != nil {
			payload[key] = *v
		}
	}
	set("BlockAllIncoming", f.BlockAll)
	// CIS: EnableStealthMode must sit in the same payload as EnableFirewall, which it does here.
	set("EnableStealthMode", f.Stealth)
	set("AllowSigned", f.AllowSigned)
	set("AllowSignedApp", f.AllowDownloadedSigned)
	if f.Logging != nil {
		// Honoured on macOS 12–14; deprecated and ignored from 15, where logging is always on.
		payload["EnableLogging"] = *f.Logging
		if *f.Logging {
			payload["LoggingOption"] = "detail"
		}
		warnings = append(warnings, "EnableLogging/LoggingOption apply to macOS 12–14 only; macOS 15 and later ignore them")
	}
	if f.Apps != nil {
		apps := []map[string]any{}
		for _, set := range []struct {
			list    []baseline.App
			allowed bool
		}{{f.Apps.Allow, true}, {f.Apps.Block, false}} {
			for _, a := range set.list {
				if a.BundleID == "" {
					warnings = append(warnings, fmt.Sprintf("firewall.apps: %s has no bundle_id, so it is left out of the profile (the payload names applications by bundle ID)", a.Path))
					continue
				}
				apps = append(apps, map[string]any{"BundleID": a.BundleID, "Allowed": set.allowed})
			}
		}
		if len(apps) > 0 {
			payload["Applications"] = apps
		}
		if f.Apps.Exclusive {
			warnings = append(warnings, "firewall.apps.exclusive cannot be expressed in a profile; firewarden check still reports extra applications")
		}
	}
	if b.Services != (baseline.Services{}) || b.SIP != nil {
		warnings = append(warnings, "services and sip are not part of the firewall payload; firewarden check and fix keep enforcing them")
	}
	profile := map[string]any{
		"PayloadContent":           []any{payload},
		"PayloadDisplayName":       "firewarden: " + name,
		"PayloadDescription":       "Application Firewall settings from the firewarden baseline " + name + " (sha256 " + b.Hash[:12] + ")",
		"PayloadIdentifier":        ident,
		"PayloadType":              "Configuration",
		"PayloadUUID":              derivedUUID(b.Hash, "profile"),
		"PayloadVersion":           1,
		"PayloadScope":             "System",
		"PayloadRemovalDisallowed": true,
	}
	if opts.Organization != "" {
		profile["PayloadOrganization"] = opts.Organization
	}
	out, err := plist.MarshalIndent(profile, plist.XMLFormat, "\t")
	if err != nil {
		return nil, nil, err
	}
	return append(out, '\n'), warnings, nil
}

// derivedUUID makes a stable RFC 9562 version-8 UUID from the baseline hash and a label.
func derivedUUID(hash, label string) string {
	sum := sha256.Sum256([]byte(hash + "\x00" + label))
	u := sum[:16]
	u[6] = u[6]&0x0f | 0x80
	u[8] = u[8]&0x3f | 0x80
	s := strings.ToUpper(hex.EncodeToString(u))
	return s[0:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:]
}
