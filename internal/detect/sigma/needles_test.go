package sigma

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestNeedles(t *testing.T) {
	for _, tc := range []struct {
		name, det string
		want      []string
	}{
		{"a path gives its longest run between slashes", `sel: {Image|endswith: /usr/sbin/pfctl}`, []string{"pfctl"}},
		{"and keeps the better side", "sel:\n    Image|endswith: /socketfilterfw\n    CommandLine|contains|all: [setglobalstate, 'off']", []string{"socketfilterfw"}},
		{"all keeps the better value", "sel:\n    CommandLine|contains|all: [-d, setglobalstate]", []string{"setglobalstate"}},
		{"a value list is a union", `sel: {Image|endswith: [/arp, /netstat]}`, []string{"arp", "netstat"}},
		{"or is a union", "a: {Image: /sbin/pfctl}\nb: {Image: /bin/launchctl}\ncondition: a or b", []string{"launchctl", "pfctl"}},
		{"a longer needle holding a shorter is dropped", `sel: {CommandLine|contains: [pfctl, pfctl -d, xpfctl]}`, []string{"pfctl"}},
		{"lowered", `sel: {Image|cased: /Applications/Firewall}`, []string{"applications"}},
		{"escapes are literal", `sel: {CommandLine: 'a\*b'}`, []string{"a*b"}},
		{"wildcards split", `sel: {CommandLine: 'pfctl*-F?all'}`, []string{"pfctl"}},
		{"windash dashes split", `sel: {CommandLine|windash|contains: ' -disable'}`, []string{"disable"}},
		{"non-ascii splits", `sel: {Path|contains: 'Réseaux'}`, []string{"seaux"}},
		{"json-escaped characters split", `sel: {CommandLine|contains: 'a"bc<de&f'}`, []string{"de"}},
		{"on a tie the last run", `sel: {Image: /usr/bin}`, []string{"bin"}},
		{"keywords", "keywords: [setblockall, setstealthmode]", []string{"setblockall", "setstealthmode"}},
		{"regexp literal prefix", `sel: {CommandLine|re: 'pfctl\s+-d'}`, []string{"pfctl"}},
		{"base64 text, lowered", `sel: {CommandLine|base64|contains: 'pfctl'}`, []string{"cgzjdgw="}},
		{"not gives none", "a: {Image: /sbin/pfctl}\nb: {User: root}\ncondition: a and not b", []string{"pfctl"}},
		{"only not gives none", "a: {Image: /sbin/pfctl}\ncondition: not a", nil},
		{"or with a side without", "a: {Image: /sbin/pfctl}\nb: {User|re|i: root}\ncondition: a or b", nil},
		{"case-folded regexp", `sel: {CommandLine|re|i: 'pfctl'}`, nil},
		{"regexp without a literal prefix", `sel: {CommandLine|re: '.*pfctl'}`, nil},
		{"cidr", `sel: {Ip|cidr: 10.0.0.0/8}`, nil},
		{"number", `sel: {Uid|gt: 500}`, nil},
		{"exists", `sel: {TeamID|exists: true}`, nil},
		{"null", `sel: {TeamID: null}`, nil},
		{"empty value", `sel: {TeamID: ''}`, nil},
		{"only stars", `sel: {TeamID: '*'}`, nil},
		{"fieldref", `sel: {ParentImage|fieldref: Image}`, nil},
		{"one value without", `sel: {Image|endswith: [/pfctl, /]}`, nil},
		{"list of maps, one without", "sel:\n    - Image: /sbin/pfctl\n    - Uid|lt: 1", nil},
		{"1 of is a union", "sel_a: {Image: /sbin/pfctl}\nsel_b: {Image: /bin/launchctl}\ncondition: 1 of sel_*", []string{"launchctl", "pfctl"}},
		{"all of keeps the better", "sel_a: {Image: /sbin/pfctl}\nsel_b: {CommandLine|contains: ' -d'}\ncondition: all of sel_*", []string{"pfctl"}},
		{"conditions list is a union", "a: {Image: /sbin/pfctl}\nb: {Image: /bin/launchctl}\ncondition: [a, b]", []string{"launchctl", "pfctl"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := mustRule(t, tc.det)
			if diff := cmp.Diff(tc.want, r.Needles()); diff != "" {
				t.Errorf("Needles() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNeedlesFor(t *testing.T) {
	visible := func(fields ...string) func(string) bool {
		return func(f string) bool { return slices.Contains(fields, f) }
	}
	pr6178 := "sel:\n    Image|endswith: /socketfilterfw\n    ParentImage|endswith: /bash\n    CommandLine|contains|all: [setglobalstate, 'off']"
	for _, tc := range []struct {
		name, det string
		opts      []Option
		visible   func(string) bool
		want      []string
	}{
		{"every field", pr6178, nil, everyField, []string{"socketfilterfw"}},
		{"the best visible", pr6178, nil, visible("CommandLine", "ParentImage"), []string{"setglobalstate"}},
		{"only a derived field", pr6178, nil, visible("ParentImage"), []string{"bash"}},
		{"none visible", pr6178, nil, visible(), nil},
		{"or needs both sides visible", "a: {Image: /sbin/pfctl}\nb: {ParentImage: /bin/launchctl}\ncondition: a or b", nil, visible("Image"), nil},
		{"keywords, all fields visible", "keywords: [pfctl]", []Option{KeywordFields("CommandLine", "Raw")}, visible("CommandLine", "Raw"), []string{"pfctl"}},
		{"keywords, one field hidden", "keywords: [pfctl]", []Option{KeywordFields("CommandLine", "Raw")}, visible("CommandLine"), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := mustRule(t, tc.det, tc.opts...)
			if diff := cmp.Diff(tc.want, r.NeedlesFor(tc.visible)); diff != "" {
				t.Errorf("NeedlesFor() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
