package host

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"

	"howett.net/plist"
)

// Kind names an operating system family.
type Kind string

// Operating system families firewarden knows.
const (
	MacOS   Kind = "macos"
	Linux   Kind = "linux"
	Unknown Kind = "unknown"
)

// Paths that identify the operating system under a root. SystemVersion.plist is present on every
// Mac and carries ProductVersion, so detection needs no program run.
const (
	SystemVersionPlist = "/System/Library/CoreServices/SystemVersion.plist"
	OSRelease          = "/etc/os-release"
)

// OS describes the operating system found under a root.
type OS struct {
	Kind    Kind   `json:"kind"`
	Name    string `json:"name"`    // "macOS", "Debian GNU/Linux 12 (bookworm)"
	Version string `json:"version"` // "15.4.1", "12"
	Build   string `json:"build,omitempty"`
	Major   int    `json:"-"`
	Minor   int    `json:"-"`
	Patch   int    `json:"-"`
}

// AtLeast reports whether the version is major.minor or later.
func (o OS) AtLeast(major, minor int) bool {
	if o.Major != major {
		return o.Major > major
	}
	return o.Minor >= minor
}

// String is "macOS 15.4.1" and the like.
func (o OS) String() string {
	if o.Kind == Unknown {
		return "unknown OS"
	}
	if o.Kind == Linux {
		return o.Name
	}
	return strings.TrimSpace(o.Name + " " + o.Version)
}

// Detect finds the operating system under the root: macOS when SystemVersion.plist exists, Linux
// when /etc/os-release exists, otherwise Unknown. A present but unreadable or malformed file is an
// error, because guessing would run the wrong checks.
func Detect(r Root) (OS, error) {
	data, err := r.ReadFile(SystemVersionPlist)
	switch {
	case err == nil:
		return parseSystemVersion(data)
	case !errors.Is(err, fs.ErrNotExist):
		return OS{}, fmt.Errorf("read %s: %w", SystemVersionPlist, err)
	}
	data, err = r.ReadFile(OSRelease)
	switch {
	case err == nil:
		return parseOSRelease(data), nil
	case !errors.Is(err, fs.ErrNotExist):
		return OS{}, fmt.Errorf("read %s: %w", OSRelease, err)
	}
	return OS{Kind: Unknown}, nil
}

func parseSystemVersion(data []byte) (OS, error) {
	var sv struct {
		ProductName         string `plist:"ProductName"`
		ProductVersion      string `plist:"ProductVersion"`
		ProductBuildVersion string `plist:"ProductBuildVersion"`
	}
	if _, err := plist.Unmarshal(data, &sv); err != nil {
		return OS{}, fmt.Errorf("parse %s: %v", SystemVersionPlist, err)
	}
	if sv.ProductVersion == "" {
		return OS{}, fmt.Errorf("parse %s: no ProductVersion key", SystemVersionPlist)
	}
	o := OS{Kind: MacOS, Name: sv.ProductName, Version: sv.ProductVersion, Build: sv.ProductBuildVersion}
	if o.Name == "" {
		o.Name = "macOS"
	}
	var ok bool
	if o.Major, o.Minor, o.Patch, ok = parseVersion(sv.ProductVersion); !ok {
		return OS{}, fmt.Errorf("parse %s: ProductVersion %q is not a version number", SystemVersionPlist, sv.ProductVersion)
	}
	return o, nil
}

// parseVersion reads "15", "15.4" or "15.4.1".
func parseVersion(v string) (major, minor, patch int, ok bool) {
	parts := strings.Split(v, ".")
	if len(parts) == 0 || len(parts) > 3 {
		return 0, 0, 0, false
	}
	nums := [3]int{}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return 0, 0, 0, false
		}
		nums[i] = n
	}
	return nums[0], nums[1], nums[2], true
}

func parseOSRelease(data []byte) OS {
	vals := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		if !ok || strings.HasPrefix(k, "#") {
			continue
		}
		vals[k] = strings.Trim(v, `"'`)
	}
	o := OS{Kind: Linux, Name: vals["PRETTY_NAME"], Version: vals["VERSION_ID"]}
	if o.Name == "" {
		o.Name = strings.TrimSpace(vals["NAME"] + " " + o.Version)
	}
	if o.Name == "" {
		o.Name = "Linux"
	}
	o.Major, o.Minor, o.Patch, _ = parseVersion(o.Version)
	return o
}
