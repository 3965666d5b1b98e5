package rules

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// ipfwHeredocTests are scripts that write files with `cat >FILE <<EOF` and read them back
// (`ipfw PATHNAME`, `.`, `[ -f ]`, cp/mv/rm): the rules they load, their notes, or the refusal
// (a prefix). Nothing is written to disk; files are the root under --root.
var ipfwHeredocTests = []ipfwScriptCase{
	{name: "write then ipfw -q PATHNAME, variables expanded",
		script: "conf=/etc/ipfw.conf\nport=22\ncat > $conf <<EOF\n# rules by $0\nadd 100 allow tcp from any to me ${port} in\nadd 200 deny ip from any to any\nEOF\nipfw -q $conf\n",
		rules:  []string{"00100 allow tcp from any to me 22 in", "00200 deny ip from any to any"}},
	{name: "write with no blank and 1>, without --root",
		script: "cat >/tmp/a.conf <<EOF\nadd 100 deny ip from any to any\nEOF\ncat 1>/tmp/b.conf <<EOF\nadd 300 count ip from any to any\nEOF\n/sbin/ipfw /tmp/a.conf\nipfw /tmp/b.conf\n",
		rules:  []string{"00100 deny ip from any to any", "00300 count ip from any to any"}},
	{name: "the written file wins over the one under --root",
		script: "cat > /etc/ipfw.conf <<EOF\nadd 100 deny ip from any to any\nEOF\nipfw -q /etc/ipfw.conf\n",
		files:  map[string]string{"etc/ipfw.conf": "add 900 allow ip from any to any\n"},
		rules:  []string{"00100 deny ip from any to any"}},
	{name: "append after write",
		script: "f=/tmp/fw\ncat > $f <<EOF\nadd 100 deny ip from any to any\nEOF\ncat >> $f <<EOF\nadd 200 allow ip from any to any\nEOF\nipfw $f\n",
		rules:  []string{"00100 deny ip from any to any", "00200 allow ip from any to any"}},
	{name: "append to a file under --root",
		script: "cat >> /etc/ipfw.conf <<EOF\nadd 200 allow ip from any to any\nEOF\nipfw /etc/ipfw.conf\n",
		files:  map[string]string{"etc/ipfw.conf": "add 100 deny ip from any to any\n"},
		rules:  []string{"00100 deny ip from any to any", "00200 allow ip from any to any"}},
	{name: "append to a new file",
		script: "cat >> /tmp/new <<EOF\nadd 200 allow ip from any to any\nEOF\nipfw /tmp/new\n",
		files:  map[string]string{"etc/rc.conf": ""},
		rules:  []string{"00200 allow ip from any to any"}},
	{name: "append without --root is refused when read",
		script: "cat >> /etc/ipfw.conf <<EOF\nadd 200 allow ip from any to any\nEOF\nipfw /etc/ipfw.conf\n",
		err:    "s.sh:4: ipfw /etc/ipfw.conf: /etc/ipfw.conf is appended to at s.sh:1, and what it held before is on the machine: give --root"},
	{name: "quoted delimiter: no expansion, sourced later",
		script: "cat > /etc/fw.sh <<'EOF'\nipfw add $n deny ip from any to any # $(date) `id`\nEOF\nn=400\n. /etc/fw.sh\n",
		rules:  []string{"00400 deny ip from any to any"}},
	{name: "backslash-quoted delimiter",
		script: "cat > /etc/fw.sh <<\\EOF\nipfw add $n deny ip from any to any\nEOF\nn=500\n. /etc/fw.sh\n",
		rules:  []string{"00500 deny ip from any to any"}},
	{name: "unquoted delimiter: escapes as sh reads them",
		script: "n=600\ncat > /etc/fw.sh <<EOF\nipfw add \\$n deny ip from any to any\nipfw add $n count ip \\\nfrom any to any\nEOF\nn=700\n. /etc/fw.sh\n",
		rules:  []string{"00600 count ip from any to any", "00700 deny ip from any to any"}},
	{name: "<<- strips leading tabs of the body and the delimiter",
		script: "if true; then\n\tcat > /etc/ipfw.conf <<-EOF\n\t\tadd 100 deny ip from any to any\n\tadd 200 allow ip from any to any\n\tEOF\nfi\nipfw /etc/ipfw.conf\n",
		rules:  []string{"00100 deny ip from any to any", "00200 allow ip from any to any"}},
	{name: "a file written then sourced",
		script: "make() {\n\tcat > $1 <<EOF\nfw=\"ipfw -q\"\n\\$fw add 100 deny ip from any to any\nEOF\n}\nmake /tmp/rules.sh\n. /tmp/rules.sh\n",
		rules:  []string{"00100 deny ip from any to any"}},
	{name: "test -f sees the written file without --root",
		script: "[ -f /etc/ipfw.conf ] && ipfw add 100 deny ip from any to any\ncat > /etc/ipfw.conf <<EOF\nEOF\n[ -f /etc/ipfw.conf ] && ipfw add 200 deny ip from any to any\n[ -s /etc/ipfw.conf ] || ipfw add 300 deny ip from any to any\n",
		files:  map[string]string{"etc/rc.conf": ""},
		rules:  []string{"00200 deny ip from any to any", "00300 deny ip from any to any"}},
	{name: "cp, rm and mv between written files (an installer's start)",
		script: "tx=/tmp/ipfw.conf\nconf=/etc/ipfw.conf\nif [ ! -f $conf ]; then\n cat > $tx <<EOF\nadd 100 deny ip from any to any\nEOF\n cp $tx $conf\n rm -f $tx\nfi\n[ -f $tx ] && ipfw add 50 allow ip from any to any\nmv $conf /etc/ipfw2.conf\n[ -f $conf ] || ipfw -q /etc/ipfw2.conf\n",
		files:  map[string]string{"etc/rc.conf": ""},
		rules:  []string{"00100 deny ip from any to any"}},
	{name: "cp into a directory",
		script: "cat > /tmp/a <<EOF\nadd 100 deny ip from any to any\nEOF\ncp -p /tmp/a /etc/\nipfw /etc/a\n",
		rules:  []string{"00100 deny ip from any to any"}},
	{name: "a removed file is not read from --root",
		script: "cat > /etc/ipfw.conf <<EOF\nadd 100 deny ip from any to any\nEOF\nrm /etc/ipfw.conf\nipfw /etc/ipfw.conf\n",
		files:  map[string]string{"etc/ipfw.conf": "add 900 allow ip from any to any\n"},
		err:    "s.sh:5: ipfw /etc/ipfw.conf: file does not exist"},
	{name: "rm of other files is still a note",
		script: "cat > /tmp/a <<EOF\nEOF\nrm -f /tmp/a /tmp/b\nipfw add 100 deny ip from any to any\n",
		rules:  []string{"00100 deny ip from any to any"},
		notes:  []string{"s.sh:3: not modelled: rm /tmp/b (a file the script did not write)"}},
	{name: "a message is still a message",
		script: "cat >/dev/null <<EOF\nhello\nEOF\ncat 1>&2 <<EOF\nUsage\nEOF\nipfw add 100 deny ip from any to any\n",
		rules:  []string{"00100 deny ip from any to any"}},
	{name: "command substitution in the body is refused where the file is read",
		script: "cat > /etc/ipfw.conf <<EOF\nadd 100 allow ip from `cat /etc/trusted` to any\nEOF\nipfw /etc/ipfw.conf\n",
		err:    "s.sh:4: ipfw /etc/ipfw.conf: /etc/ipfw.conf was written at s.sh:1 with a here-document the simulator cannot expand: command substitution `cat /etc/trusted` runs a program the simulator does not run"},
	{name: "command substitution in a file never read is not refused",
		script: "cat > /etc/motd <<EOF\nbuilt on $(date)\nEOF\nipfw add 100 deny ip from any to any\n",
		rules:  []string{"00100 deny ip from any to any"}},
	{name: "sourcing an unexpandable file is refused",
		script: "cat > /tmp/x.sh <<EOF\nipfw add $(id -u) deny ip from any to any\nEOF\n. /tmp/x.sh\n",
		err:    "s.sh:4: read /tmp/x.sh: /tmp/x.sh was written at s.sh:1 with a here-document the simulator cannot expand"},
	{name: "relative path is refused",
		script: "cat > ipfw.conf <<EOF\nadd 100 deny ip from any to any\nEOF\n",
		err:    "s.sh:1: cat > ipfw.conf: only an absolute path can be written"},
	{name: "another write to a written file is refused",
		script: "cat > /tmp/a <<EOF\nadd 100 deny ip from any to any\nEOF\necho 'add 200 deny ip from any to any' >> /tmp/a\nipfw /tmp/a\n",
		err:    "s.sh:4: echo writes to /tmp/a, which the script wrote with a here-document"},
	{name: "a file of the machine copied over a written one is refused",
		script: "cat > /tmp/a <<EOF\nEOF\ncp /etc/b /tmp/a\n",
		err:    "s.sh:3: cp /etc/b /tmp/a: /tmp/a was written by the script and /etc/b was not"},
	{name: "cap on written files exceeded",
		script: "for i in 1 2 3 4 5; do\ncat >> /tmp/big <<EOF\n$big\nEOF\ndone\n",
		vars:   map[string]string{"big": strings.Repeat("#", 1<<20)},
		files:  map[string]string{"etc/rc.conf": ""},
		err:    fmt.Sprintf("s.sh:2: cat >> /tmp/big: the files the script writes would hold more than %d bytes (the cap on written files)", shMaxOverlay)},
	{name: "another program fed a here-document is still refused",
		script: "sed 's/a/b/' > /tmp/a <<EOF\nadd 100 deny ip from any to any\nEOF\n",
		err:    "s.sh:1: a here-document fed to sed is not modelled"},
	{name: "cat with two here-documents is refused",
		script: "cat > /tmp/a <<A <<B\nx\nA\ny\nB\n",
		err:    "s.sh:1: a here-document fed to cat is not modelled"},
}

func TestIPFWScriptHeredoc(t *testing.T) {
	for _, tt := range ipfwHeredocTests {
		t.Run(tt.name, func(t *testing.T) { checkScriptCase(t, tt) })
	}
}

// FuzzScriptHeredoc runs FuzzScriptFlow's checks on scripts seeded from the here-document
// table: never a panic, every refusal placed, every rule numbered in range.
func FuzzScriptHeredoc(f *testing.F) {
	for _, tt := range ipfwHeredocTests {
		if len(tt.script) < 4096 {
			f.Add(tt.script, "n=100 conf=/etc/ipfw.conf")
		}
	}
	read, stat := testRoot(map[string]string{"etc/rc.conf": "", "etc/ipfw.conf": "add 100 deny ip from any to any\n"})
	f.Fuzz(func(t *testing.T, script, vars string) {
		v := map[string]string{}
		for _, kv := range strings.Fields(vars) {
			if k, val, ok := strings.Cut(kv, "="); ok {
				v[k] = val
			}
		}
		rs, err := ParseIPFWScript(context.Background(), []byte(script), "s.sh", builtinServices, IPFWScriptOptions{Vars: v, ReadFile: read, Stat: stat})
		if err != nil {
			if !strings.Contains(err.Error(), ":") {
				t.Fatalf("ParseIPFWScript(%q) error %q does not say where", script, err)
			}
			return
		}
		for _, r := range rs.Rules {
			if r.Num < 1 || r.Num > 65535 {
				t.Fatalf("ParseIPFWScript(%q): rule number %d out of range", script, r.Num)
			}
		}
		for _, n := range rs.Notes {
			if n.Line < 1 || n.File == "" || n.Text == "" {
				t.Fatalf("ParseIPFWScript(%q): note %+v", script, n)
			}
		}
	})
}
