package hosttest

import (
	"fmt"
	"slices"
	"strings"
)

// ioregPath is where macOS keeps ioreg.
const ioregPath = "/usr/sbin/ioreg"

// DefaultPlatformUUID is the IOPlatformUUID of an emulated Mac whose state names none.
const DefaultPlatformUUID = "3F1C2B7A-9D4E-5A61-8C2F-0B7E4D19A6C3"

// ioreg answers `ioreg -rd1 -c IOPlatformExpertDevice`, the one query firewarden makes (the
// agent's stable host identity). The layout is ioreg's: a "+-o NAME  <class …>" line, then the
// properties between braces, one `"key" = value` per line, data as <hex>. The property set is
// abridged to a few of those an Apple silicon Mac prints, and the object id, serial number and
// timings are SYNTHETIC; firewarden reads only the IOPlatformUUID line.
func (m *Mac) ioreg(args []string) outcome {
	if !slices.Equal(args, []string{"-rd1", "-c", "IOPlatformExpertDevice"}) && !slices.Equal(args, []string{"-r", "-d", "1", "-c", "IOPlatformExpertDevice"}) {
		// SYNTHETIC: the emulator knows only this query.
		return fail(1, "ioreg: the emulator answers only -rd1 -c IOPlatformExpertDevice\n")
	}
	uuid := m.st.PlatformUUID
	if uuid == "" {
		uuid = DefaultPlatformUUID
	}
	var b strings.Builder
	fmt.Fprintf(&b, "+-o J314sAP  <class IOPlatformExpertDevice, id 0x100000110, registered, matched, active, busy 0 (%d ms), retain 37>\n", 48213)
	b.WriteString("    {\n")
	for _, kv := range [][2]string{
		{"IOPolledInterface", `"AppleARMWatchdogTimerHibernateHandler is not serializable"`},
		{"#address-cells", "<02000000>"},
		{"AAPL,phandle", "<01000000>"},
		{"IOPlatformSerialNumber", `"C02XK0AAJG5J"`},
		{"IOConsoleSecurityInterest", `"IOCommand is not serializable"`},
		{"clock-frequency", "<00366e01>"},
		{"model", `<"MacBookPro18,3">`},
		{"manufacturer", `<"Apple Inc.">`},
		{"IOPlatformUUID", `"` + uuid + `"`},
		{"target-type", `<"J314s">`},
		{"platform-name", `<"t6000">`},
		{"name", `<"device-tree">`},
	} {
		fmt.Fprintf(&b, "      %q = %s\n", kv[0], kv[1])
	}
	b.WriteString("    }\n    \n")
	return ok(b.String())
}
