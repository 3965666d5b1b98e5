package nftposture

import (
	"testing"

	"github.com/firewarden/firewarden/internal/host"
)

func TestDefaultDenyItem(t *testing.T) {
	tests := []struct {
		os   host.OS
		want string
	}{
		{host.OS{Kind: host.Linux, Name: "Debian GNU/Linux 12 (bookworm)", Version: "12", Major: 12}, "CIS Debian 12 4.3.8"},
		{host.OS{Kind: host.Linux, Name: "Ubuntu 24.04.1 LTS", Version: "24.04", Major: 24, Minor: 4}, "CIS Ubuntu 24.04 4.3.8"},
		{host.OS{Kind: host.Linux, Name: "Ubuntu 22.04.5 LTS", Version: "22.04", Major: 22, Minor: 4}, "CIS Ubuntu 22.04 4.2.8"},
		// No benchmark number of its own was found: the Ubuntu 22.04 item, named as such.
		{host.OS{Kind: host.Linux, Name: "Debian GNU/Linux 11 (bullseye)", Version: "11", Major: 11}, "CIS Ubuntu 22.04 4.2.8"},
		{host.OS{Kind: host.Linux, Name: "Fedora Linux 41", Version: "41", Major: 41}, "CIS Ubuntu 22.04 4.2.8"},
	}
	for _, tt := range tests {
		if got := defaultDenyItem(tt.os); got != tt.want {
			t.Errorf("defaultDenyItem(%s) = %q, want %q", tt.os.Name, got, tt.want)
		}
		if got := controls(IDEnabled, tt.os)[0]; got != tt.want {
			t.Errorf("controls(%s, %s)[0] = %q, want %q", IDEnabled, tt.os.Name, got, tt.want)
		}
	}
}
