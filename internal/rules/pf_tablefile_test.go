package rules

import (
	"strings"
	"testing"
)

// A table file that is not there (a rule set read off its host, such as pfSense's /etc/bogons)
// leaves the table's contents unknown: the rule set loads, the notes say which file, and a
// verdict that rests on the table is conditional, whichever way it goes.
func TestPFTableFileMissing(t *testing.T) {
	conf := "table <bogons> persist file \"/etc/bogons\"\n" +
		"block in quick on en0 from <bogons>\n" +
		"pass in on en0 proto tcp to port 22\n"
	rs, err := ParsePF([]byte(conf), "t.conf", pfMapLoader(nil))
	if err != nil {
		t.Fatalf("ParsePF with a missing table file = %v, want it read with the table unknown", err)
	}
	notes := strings.Join(rs.Notes(), "\n")
	if !strings.Contains(notes, "t.conf:1: table <bogons>: file /etc/bogons is not found (under --root), so its contents are unknown") {
		t.Errorf("Notes() = %q, want the missing table file named", notes)
	}
	for _, tt := range []struct{ pkt, action string }{
		{"tcp 203.0.113.5:51234 -> 192.0.2.10:22 in via en0 setup", "allow"},
		{"tcp 198.51.100.1:51234 -> 192.0.2.10:22 in via en0 setup", "allow"},
	} {
		p := pfPkt(t, tt.pkt)
		v := rs.Eval(&p)
		if v.Action.String() != tt.action || !strings.Contains(v.Unsure, "table <bogons>") {
			t.Errorf("Eval(%s) = %s resting on %q, want %s resting on table <bogons>", tt.pkt, v.Action, v.Unsure, tt.action)
		}
	}
}
