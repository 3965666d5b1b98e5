package rules

import (
	"context"
	"fmt"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

// ipfwFlowTests are sh scripts with control flow, run for a profile (vars) over a root of
// files: the rules they hand to ipfw ("NUM TEXT"), their notes, or the refusal (a prefix).
// ipfwScriptCase is a script with its profile and files under the root, and what it must load:
// its rules ("NNNNN text"), notes and profile, or an error beginning with err.
type ipfwScriptCase struct {
	name    string
	script  string
	vars    map[string]string
	files   map[string]string
	rules   []string
	notes   []string
	profile []string // nil: not checked
	err     string
}

var ipfwFlowTests = []ipfwScriptCase{
	{name: "if elif else on a profile variable",
		script: "fw=ipfw\nif [ \"$t\" = open ]; then\n $fw add 100 allow ip from any to any\nelif [ \"$t\" = closed ]; then\n $fw add 200 deny ip from any to any\nelse\n $fw add 300 count ip from any to any\nfi\n",
		vars:   map[string]string{"t": "closed"},
		rules:  []string{"00200 deny ip from any to any"}, profile: []string{`t="closed" (--set)`}},
	{name: "else branch",
		script: "if [ \"$t\" = open ]; then ipfw add 100 allow ip from any to any; else ipfw add 300 deny ip from any to any; fi\n",
		vars:   map[string]string{"t": "x"},
		rules:  []string{"00300 deny ip from any to any"}},
	{name: "test operators",
		script: "n=3\ne=\nif [ -z \"$e\" -a -n \"$n\" ]; then ipfw add 100 deny ip from any to any; fi\n" +
			"if [ $n -eq 3 ] && [ $n -lt 4 ] && [ $n -ge 3 ] && [ $n -ne 2 ] && [ $n -gt 1 ] && [ $n -le 3 ]; then ipfw add 200 deny ip from any to any; fi\n" +
			"if [ ! \"$n\" != 3 ]; then ipfw add 300 deny ip from any to any; fi\n" +
			"if test x = y -o 1 = 1; then ipfw add 400 deny ip from any to any; fi\n" +
			"if [ \"$e\" ]; then ipfw add 500 deny ip from any to any; fi\n" +
			"! [ 1 = 2 ] && ipfw add 600 deny ip from any to any\n" +
			"[ 1 = 2 ] || ipfw add 700 deny ip from any to any\n",
		rules: []string{"00100 deny ip from any to any", "00200 deny ip from any to any", "00300 deny ip from any to any",
			"00400 deny ip from any to any", "00600 deny ip from any to any", "00700 deny ip from any to any"}},
	{name: "checkyesno as rc.subr reads it",
		script: "for v in a b c d e; do if checkyesno $v; then ipfw add allow ip from any to any; else ipfw add deny ip from any to any; fi; done\n",
		vars:   map[string]string{"a": "YES", "b": "On", "c": "1", "d": "no", "e": "maybe"},
		rules: []string{"00100 allow ip from any to any", "00200 allow ip from any to any", "00300 allow ip from any to any",
			"00400 deny ip from any to any", "00500 deny ip from any to any"}},
	{name: "case with globs and alternatives",
		script: "case $t in\n[Oo][Pp][Ee][Nn]|any)\n\tipfw add 100 allow ip from any to any\n\t;;\nws*) ipfw add 200 deny ip from any to any ;;\n*)\n\tipfw add 300 count ip from any to any\n\t;;\nesac\n",
		vars:   map[string]string{"t": "workstation-2"},
		rules:  []string{"00300 count ip from any to any"}},
	{name: "case with a quoted pattern matches literally",
		script: "case \"$t\" in \"*\") ipfw add 100 deny ip from any to any;; (*) ipfw add 200 deny ip from any to any;; esac\n",
		vars:   map[string]string{"t": "x"},
		rules:  []string{"00200 deny ip from any to any"}},
	{name: "for over words and a variable, nested with case",
		script: "fw='/sbin/ipfw -q'\nfor i in 192.0.2.1 $nets; do\n  for j in ${svc}; do\n    case $j in\n    [0-9]*/[Tt][Cc][Pp]) $fw add allow tcp from $i to me ${j%/[Tt][Cc][Pp]} ;;\n    [0-9]*/udp) $fw add allow udp from $i to me ${j%/udp} ;;\n    esac\n  done\ndone\n",
		vars:   map[string]string{"nets": "198.51.100.0/24", "svc": "22/tcp 53/udp"},
		rules: []string{"00100 allow tcp from 192.0.2.1 to me 22", "00200 allow udp from 192.0.2.1 to me 53",
			"00300 allow tcp from 198.51.100.0/24 to me 22", "00400 allow udp from 198.51.100.0/24 to me 53"}},
	{name: "for over an empty list runs nothing",
		script: "for i in $none; do ipfw add 100 allow ip from $i to any; done\nipfw add 200 deny ip from any to any\n",
		vars:   map[string]string{"none": ""},
		rules:  []string{"00200 deny ip from any to any"}},
	{name: "functions with arguments, return and local",
		script: "allow_port() {\n  local p=$1\n  [ \"$p\" = 23 ] && return 1\n  ${fwcmd} add allow tcp from any to me $p\n}\nfwcmd=ipfw\np=outer\nallow_port 22\nallow_port 23 || ipfw add deny tcp from any to me 23\n[ \"$p\" = outer ] && ipfw add 900 deny ip from any to any\n",
		rules:  []string{"00100 allow tcp from any to me 22", "00200 deny tcp from any to me 23", "00900 deny ip from any to any"}},
	{name: "function defined before, called after",
		script: "setup_loopback() {\n\t${fwcmd} add 100 pass all from any to any via lo0\n\t${fwcmd} add 200 deny all from any to 127.0.0.0/8\n}\nfwcmd=\"/sbin/ipfw -q\"\n${fwcmd} -f flush\nsetup_loopback\n",
		rules:  []string{"00100 pass all from any to any via lo0", "00200 deny all from any to 127.0.0.0/8"}},
	{name: "parameter expansions",
		script: "v=\na=${u:-22}\nb=${v:=53}\nc=${w:+x}${a:+25}\nd=/etc/rc.conf\nipfw add 100 allow tcp from any to me $a,$b,$v,$c\nipfw add 200 allow udp from any to me ${#d}\n",
		vars:   map[string]string{"u": "", "w": ""},
		rules:  []string{"00100 allow tcp from any to me 22,53,53,25", "00200 allow udp from any to me 12"}},
	{name: "prefix and suffix removal",
		script: "x=22/tcp\ny=a/b/c\nipfw add 100 allow ${x#*/} from any to me ${x%/*}\n[ ${y##*/} = c ] && [ ${y%%/*} = a ] && [ ${y#*/} = b/c ] && [ ${y%/*} = a/b ] && ipfw add 200 deny ip from any to any\n",
		rules:  []string{"00100 allow tcp from any to me 22", "00200 deny ip from any to any"}},
	{name: "no-ops, messages, set -e",
		script: "set -e\n:\necho \"loading\" > /dev/stderr\nlogger -t fw loading\nprintf '%s\\n' x\nipfw -q add 100 deny ip from any to any 2>/dev/null\n",
		rules:  []string{"00100 deny ip from any to any"}},
	{name: "exit ends the script",
		script: "ipfw add 100 deny ip from any to any\nexit 0\nipfw add 200 allow ip from any to any\n",
		rules:  []string{"00100 deny ip from any to any"}},
	{name: "sysctl is noted",
		script: "sysctl net.inet.ip.fw.verbose=1 >/dev/null\nipfw add 100 deny ip from any to any\n/sbin/sysctl -w net.inet.tcp.blackhole=2\n",
		rules:  []string{"00100 deny ip from any to any"},
		notes: []string{"s.sh:1: not modelled: sysctl net.inet.ip.fw.verbose=1 (a kernel setting)",
			"s.sh:3: not modelled: sysctl -w net.inet.tcp.blackhole=2 (a kernel setting)"}},
	{name: "--set holds over the script's assignment",
		script: "t=open\ncase $t in open) ipfw add 100 allow ip from any to any;; *) ipfw add 100 deny ip from any to any;; esac\n",
		vars:   map[string]string{"t": "closed"},
		rules:  []string{"00100 deny ip from any to any"}},
	{name: "source a file under the root",
		script: ". /etc/fw.conf\nipfw add 100 allow tcp from $trusted to me 22\n",
		files:  map[string]string{"etc/fw.conf": "trusted=203.0.113.7\n"},
		rules:  []string{"00100 allow tcp from 203.0.113.7 to me 22"}},
	{name: "source a missing file",
		script: "source /etc/fw.conf\n",
		files:  map[string]string{},
		err:    "s.sh:1: read /etc/fw.conf under --root: file does not exist"},
	{name: "source without a root",
		script: ". /etc/fw.conf\n",
		err:    "s.sh:1: reading /etc/fw.conf needs the machine's files: give --root"},
	{name: "source a relative path",
		script: ". fw.conf\n",
		files:  map[string]string{},
		err:    "s.sh:1: . fw.conf: only an absolute path"},
	{name: "file tests under the root",
		script: "[ -r /etc/a ] && ipfw add 100 deny ip from any to any\n[ -f /etc ] || ipfw add 200 deny ip from any to any\n[ -d /etc ] && ipfw add 300 deny ip from any to any\n[ -e /nope ] || ipfw add 400 deny ip from any to any\n[ -s /etc/a ] && ipfw add 500 deny ip from any to any\n",
		files:  map[string]string{"etc/a": "x"},
		rules: []string{"00100 deny ip from any to any", "00200 deny ip from any to any", "00300 deny ip from any to any",
			"00400 deny ip from any to any", "00500 deny ip from any to any"}},
	{name: "load_rc_config reads defaults, rc.conf, rc.conf.local and rc.conf.d",
		script:  ". /etc/rc.subr\nload_rc_config ipfw\nipfw add 100 allow tcp from $a to me $b\nipfw add 200 deny ip from $c to any\n",
		files:   map[string]string{"etc/defaults/rc.conf": "a=192.0.2.1\nb=25\nc=10.0.0.0/8\n", "etc/rc.conf": "b=22\n", "etc/rc.conf.local": "c=172.16.0.0/12\n", "etc/rc.conf.d/ipfw": "a=192.0.2.9\n"},
		rules:   []string{"00100 allow tcp from 192.0.2.9 to me 22", "00200 deny ip from 172.16.0.0/12 to any"},
		profile: []string{`a="192.0.2.9" (/etc/rc.conf.d/ipfw)`, `b="22" (/etc/rc.conf)`, `c="172.16.0.0/12" (/etc/rc.conf.local)`}},
	{name: "after rc.conf is read, a variable it does not set is empty",
		script: "load_rc_config ipfw\nif [ -n \"$natd_interface\" ]; then ipfw add 50 deny ip from any to any; fi\nipfw add 100 allow ip from any to any\n",
		files:  map[string]string{"etc/rc.conf": "firewall_enable=YES\n"},
		rules:  []string{"00100 allow ip from any to any"}, profile: []string{`natd_interface="" (unset)`}},
	{name: "rc.conf not under the root: a profile variable is refused",
		script: "load_rc_config ipfw\ncase ${firewall_type} in open) ipfw add 100 allow ip from any to any;; esac\n",
		files:  map[string]string{},
		err:    "s.sh:2: firewall_type is not set: the script reads rc.conf (s.sh:1), which is not under --root; give --set firewall_type=VALUE or --root with its etc/rc.conf (it decides the case)"},
	{name: "rc.conf not under the root: --set answers",
		script: "load_rc_config ipfw\ncase ${firewall_type} in open) ipfw add 100 allow ip from any to any;; esac\n",
		vars:   map[string]string{"firewall_type": "open"}, files: map[string]string{},
		rules: []string{"00100 allow ip from any to any"}},
	{name: "a condition on an unset variable is refused",
		script: "if [ \"$firewall_type\" = open ]; then ipfw add 100 allow ip from any to any; fi\n",
		err:    "s.sh:1: firewall_type is not set: assign it in the script, or give --set firewall_type=VALUE (the simulator does not read the environment) (it decides the test)"},
	{name: "a for list on an unset variable is refused",
		script: "for i in $hosts; do ipfw add allow ip from $i to any; done\n",
		err:    "s.sh:1: hosts is not set"},
	{name: "afexists asks the kernel",
		script: "afexists inet6\nv6=$?\nif [ $v6 -eq 0 ]; then ipfw add 100 deny ip from any to ::1; fi\n",
		err:    "s.sh:3: afexists inet6 asks the running kernel"},
	{name: "afexists answered by --set",
		script: "afexists inet6\nipv6_available=$?\nif [ $ipv6_available -eq 0 ]; then ipfw add 100 deny ip from any to ::1; fi\nipfw add 200 allow ip from any to any\n",
		vars:   map[string]string{"ipv6_available": "1"},
		rules:  []string{"00200 allow ip from any to any"}},
	{name: "command substitution in a rule is refused",
		script: "ipfw add 100 allow ip from `cat /etc/trusted` to me\n",
		err:    "s.sh:1: command substitution `cat /etc/trusted` runs a program the simulator does not run: the words of ipfw cannot be evaluated"},
	{name: "command substitution through a variable is refused where it is used",
		script: "me=$(ifconfig em0 | awk '/inet /{print $2}')\nipfw add 100 allow tcp from any to $me 22\n",
		err:    "s.sh:2: me is set at s.sh:1 to the output of $(ifconfig em0 | awk '/inet /{print $2}'), a program the simulator does not run: give --set me=VALUE (it decides the words of ipfw)"},
	{name: "--set answers a command substitution",
		script: "me=$(ifconfig em0 | awk '/inet /{print $2}')\nipfw add 100 allow tcp from any to $me 22\n",
		vars:   map[string]string{"me": "192.0.2.10"},
		rules:  []string{"00100 allow tcp from any to 192.0.2.10 22"}},
	{name: "command substitution in a message is harmless",
		script: "echo \"loaded on $(hostname)\"\nipfw add 100 deny ip from any to any\n",
		rules:  []string{"00100 deny ip from any to any"}},
	{name: "if on a program's outcome is refused",
		script: "if kldstat -q -m ipfw; then ipfw add 100 deny ip from any to any; fi\n",
		err:    "s.sh:1: the if cannot be decided: it depends on kldstat (line 1), a program the simulator does not run"},
	{name: "if on a pipeline is refused",
		script: "if echo \"$x\" | grep -q '^[0-9]'; then ipfw add 100 deny ip from any to any; fi\n",
		vars:   map[string]string{"x": "em0"},
		err:    "s.sh:1: the if cannot be decided: it depends on the pipeline echo | grep (line 1)"},
	{name: "&& after an unknown outcome with ipfw on the right is refused",
		script: "kldstat -q -m ipfw && ipfw add 100 deny ip from any to any\n",
		err:    "s.sh:1: whether the command after && runs cannot be decided"},
	{name: "|| after an unknown outcome with another program is noted",
		script: "kldstat -q -m ipfw || kldload ipfw\nipfw add 100 deny ip from any to any\n",
		rules:  []string{"00100 deny ip from any to any"},
		notes:  []string{"s.sh:1: not modelled: command kldstat", "s.sh:1: not modelled: command kldload"}},
	{name: "while with a counter the simulator cannot compute is refused",
		script: "while read x; do ipfw add allow ip from $x to any; done < /etc/hosts.allow\n",
		err:    "s.sh:1: the loop's condition cannot be decided: it depends on read"},
	{name: "until, break and continue",
		script: "for i in 1 2 3 4; do\n  [ $i = 2 ] && continue\n  [ $i = 4 ] && break\n  ipfw add ${i}00 deny ip from any to any\ndone\nuntil true; do ipfw add 900 deny ip from any to any; done\n",
		rules:  []string{"00100 deny ip from any to any", "00300 deny ip from any to any"}},
	{name: "subshell assignments stay inside",
		script: "x=a\n(x=b; ipfw add 100 deny ip from any to any)\n[ $x = a ] && ipfw add 200 deny ip from any to any\n",
		rules:  []string{"00100 deny ip from any to any", "00200 deny ip from any to any"}},
	{name: "brace group and bash's function keyword",
		script: "function lo {\n  ipfw add 100 allow ip from any to any via lo0\n}\n{ lo; ipfw add 200 deny ip from any to any; }\n",
		rules:  []string{"00100 allow ip from any to any via lo0", "00200 deny ip from any to any"}},
	{name: "ipfw pathname reads a file under the root",
		script: "ipfw -q /etc/ipfw.rules\n",
		files:  map[string]string{"etc/ipfw.rules": "# rules\n-q flush\nadd 100 allow tcp from any to me 22 setup # ssh\nadd deny ip from any to any\n"},
		rules:  []string{"00100 allow tcp from any to me 22 setup", "00200 deny ip from any to any"}},
	{name: "arguments from --set 1=",
		script: "case \"$1\" in start) ipfw add 100 deny ip from any to any;; *) echo usage; exit 1;; esac\n",
		vars:   map[string]string{"1": "start"},
		rules:  []string{"00100 deny ip from any to any"}},
	{name: "an exit before any rule is said",
		script: "case \"$1\" in start) ipfw add 100 deny ip from any to any;; *) echo usage; exit 1;; esac\n",
		err:    "s.sh: no ipfw rule found in 3 statements; the script exits at s.sh:1 (its arguments are given as --set 1=VALUE)"},
	{name: "eval runs its words as a script",
		script: "var=port\nvalue=22\neval \"$var=\\${$var-$value}\"\neval \"ipfw add 100 allow tcp from any to me $port\"\n",
		rules:  []string{"00100 allow tcp from any to me 22"}},
	{name: "a default for an unset variable is used",
		script: "ipfw add 100 allow tcp from any to me ${port:-22}\nipfw add 200 allow tcp from any to me ${p2-25}\n",
		rules:  []string{"00100 allow tcp from any to me 22", "00200 allow tcp from any to me 25"}},
	{name: "a default does not answer a variable rc.conf could set",
		script: "load_rc_config ipfw\nipfw add 100 allow tcp from any to me ${port:-22}\n",
		files:  map[string]string{},
		err:    "s.sh:2: port is not set: the script reads rc.conf (s.sh:1), which is not under --root"},
	{name: "suffix removal of an unset variable is refused",
		script: "ipfw add 100 allow tcp from any to me ${port%/tcp}\n",
		err:    "s.sh:1: port is not set"},
	{name: "eval of something that does not parse",
		script: "eval 'if true'\n",
		err:    "s.sh:1: eval if true: if at line 1: want then, found end of file"},
	{name: "here-document fed to another program is refused",
		script: "sort > /etc/ipfw.conf <<EOF\nadd 100 deny ip from any to any\nEOF\nipfw -q /etc/ipfw.conf\n",
		err:    "s.sh:1: a here-document fed to sort is not modelled"},
	{name: "here-document as a message",
		script: "usage() {\n\tcat 1>&2 <<-'EOF'\n\tUsage: $0 start|stop\n\tEOF\n\texit 1\n}\n[ 1 = 2 ] && usage\nipfw add 100 deny ip from any to any\ncat >&2 <<EOF\nloaded\nEOF\nipfw add 200 deny ip from any to any\n",
		rules:  []string{"00100 deny ip from any to any", "00200 deny ip from any to any"}},
	{name: "here-document not closed",
		script: "cat <<EOF\nx\n",
		err:    "s.sh:1: here-document <<EOF is not closed by a line EOF"},
	{name: "arithmetic is refused",
		script: "n=$((100+1))\nipfw add $n deny ip from any to any\n",
		err:    "s.sh:1: arithmetic expansion $((100+1)) is not modelled"},
	{name: "unclosed if",
		script: "if true; then\nipfw add 100 deny ip from any to any\n",
		err:    "s.sh:3: if at line 1: want elif, else or fi, found end of file"},
	{name: "unclosed quote",
		script: "x=\"abc\nipfw add 100 deny ip from any to any\n",
		err:    "s.sh:1: quote \" left open"},
	{name: "loop cap",
		script: "while true; do :; done\n",
		err:    "s.sh:1: stopped after 200000 commands and loop turns (the cap on a script's work)"},
	{name: "recursion cap",
		script: "f() { f; }\nf\n",
		err:    "s.sh:1: functions nest deeper than 100 calls (the cap on recursion)"},
	{name: "eval recursion cap",
		script: "x='eval \"$x\"'\neval \"$x\"\n",
		err:    "s.sh:2: functions and evals nest deeper than 100 (the cap on recursion)"},
	{name: "include depth cap",
		script: ". /etc/a\n",
		files:  map[string]string{"etc/a": ". /etc/a\n"},
		err:    "/etc/a:1: . /etc/a: files include each other deeper than 8 (the cap)"},
	{name: "expansion cap",
		script: "x=0123456789abcdef\nfor i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17; do x=$x$x; done\n",
		err:    "s.sh:2: a word expands to more than 1048576 bytes (the cap)"},
	{name: "set with arguments is refused",
		script: "set -- a b\n",
		err:    "s.sh:1: set -- a b: only set's flags"},
	{name: "raw ipfw list lines inside a script",
		script: "fw=ipfw\n00100 allow ip from any to any via lo0\n00200 deny ip from any to any\n$fw add 300 allow ip from any to any\n",
		rules:  []string{"00100 allow ip from any to any via lo0", "00200 deny ip from any to any", "00300 allow ip from any to any"}},
}

// A long `ipfw list` is not script work: it is not stopped by the cap on commands.
func TestIPFWLongList(t *testing.T) {
	var b strings.Builder
	for i := range shMaxSteps + 10 {
		fmt.Fprintf(&b, "%05d deny tcp from any to any %d\n", i/4+1, i%60000+1) // in order, as ipfw lists them
	}
	rs, err := ParseIPFW([]byte(b.String()), "long.list", builtinServices)
	if err != nil {
		t.Fatalf("ParseIPFW(%d rules) error = %v", shMaxSteps+10, err)
	}
	if len(rs.Rules) != shMaxSteps+10 {
		t.Errorf("ParseIPFW(%d rules) read %d rules", shMaxSteps+10, len(rs.Rules))
	}
}

// testRoot serves files (paths without the leading /) as ReadFile and Stat would under --root.
func testRoot(files map[string]string) (func(string) ([]byte, error), func(string) (fs.FileInfo, error)) {
	if files == nil {
		return nil, nil
	}
	m := fstest.MapFS{}
	for p, text := range files {
		m[p] = &fstest.MapFile{Data: []byte(text)}
	}
	clean := func(p string) string {
		if p = strings.TrimPrefix(p, "/"); p == "" {
			return "."
		}
		return p
	}
	return func(p string) ([]byte, error) { return fs.ReadFile(m, clean(p)) },
		func(p string) (fs.FileInfo, error) { return fs.Stat(m, clean(p)) }
}

func TestIPFWScriptFlow(t *testing.T) {
	for _, tt := range ipfwFlowTests {
		t.Run(tt.name, func(t *testing.T) { checkScriptCase(t, tt) })
	}
}

// checkScriptCase parses tt's script and compares what it loads with tt.
func checkScriptCase(t *testing.T, tt ipfwScriptCase) {
	t.Helper()
	read, stat := testRoot(tt.files)
	rs, err := ParseIPFWScript(context.Background(), []byte(tt.script), "s.sh", builtinServices, IPFWScriptOptions{Vars: tt.vars, ReadFile: read, Stat: stat})
	if tt.err != "" {
		if err == nil || !strings.HasPrefix(err.Error(), tt.err) {
			t.Fatalf("ParseIPFWScript() error = %v, want %s…", err, tt.err)
		}
		return
	}
	if err != nil {
		t.Fatalf("ParseIPFWScript() error = %v", err)
	}
	var got []string
	for _, r := range rs.Rules {
		got = append(got, fmt.Sprintf("%05d %s", r.Num, r.Text))
	}
	if diff := cmp.Diff(tt.rules, got); diff != "" {
		t.Errorf("rules (-want +got):\n%s", diff)
	}
	var notes []string
	for _, n := range rs.Notes {
		notes = append(notes, n.String())
	}
	if diff := cmp.Diff(tt.notes, notes); diff != "" {
		t.Errorf("notes (-want +got):\n%s", diff)
	}
	if tt.profile != nil {
		if diff := cmp.Diff(tt.profile, rs.Profile); diff != "" {
			t.Errorf("profile (-want +got):\n%s", diff)
		}
	}
}

func TestShMatch(t *testing.T) {
	tests := []struct {
		pat, s string
		want   bool
	}{
		{"*", "", true}, {"*", "a/b", true}, {"[Yy][Ee][Ss]", "Yes", true}, {"[Yy][Ee][Ss]", "yep", false},
		{"[0-9A-Za-z]*/[Tt][Cc][Pp]", "22/tcp", true}, {"[0-9A-Za-z]*/[Tt][Cc][Pp]", "/tcp", false},
		{"*[0-9A-Za-z]", "22", true}, {"*[0-9A-Za-z]", "22/", false}, {"a?c", "abc", true}, {"a?c", "ac", false},
		{"[!a]*", "bx", true}, {"[!a]*", "ax", false}, {"[^a]", "b", true}, {"\\*", "*", true}, {"\\*", "x", false},
		{"*:/etc/rc.conf:*", ":/etc/rc.conf:", true}, {"[", "[", true}, {"[]]", "]", true}, {"a*b*c", "aXbYbZc", true},
		{"a*b*c", "aXbYbZ", false},
	}
	for _, tt := range tests {
		if got := shMatch(tt.pat, tt.s); got != tt.want {
			t.Errorf("shMatch(%q, %q) = %v, want %v", tt.pat, tt.s, got, tt.want)
		}
	}
}

// FuzzScriptFlow runs scripts with control flow over a small root: never a panic, never past
// the caps, every rule numbered in range and every note placed.
func FuzzScriptFlow(f *testing.F) {
	for _, tt := range ipfwFlowTests {
		f.Add(tt.script, "t=open svc=22/tcp")
	}
	read, stat := testRoot(map[string]string{"etc/rc.conf": "firewall_type=open\n", "etc/a": "ipfw add 100 deny ip from any to any\n"})
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
