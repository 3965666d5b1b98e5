package detect

import (
	"path"
	"strconv"
	"strings"

	"github.com/firewarden/firewarden/internal/detect/event"
	"github.com/firewarden/firewarden/internal/detect/fold"
	"github.com/firewarden/firewarden/internal/detect/input"
)

// splitShell splits a shell word list the way sh would (quotes, escapes).
func splitShell(s string) ([]string, error) { return input.SplitCommandLine(s) }

// Command is what one program run asks of the firewall: the tool it is (by signing ID or
// resolved path, never by argv[0], which the caller chooses) and the operations its arguments
// request, normalised so that rules need not know every spelling: option clusters split, values
// lowercased, domain spellings reduced to the domain, value types reduced to numbers.
type Command struct {
	Tool    string   // socketfilterfw, pfctl, defaults, plistbuddy, plutil, launchctl, kill, killall, pkill, profiles, or the program's base name
	Argv    []string // the arguments analysed (argv[0] first)
	Actions []string // the operations, e.g. "setglobalstate=off", "flush=rules", "load", "write"
	Apps    []string // socketfilterfw application paths

	PfFile   string // pfctl -f
	PfAnchor string // pfctl -a
	PfTable  string // pfctl -t

	PlistDomain string   // com.apple.alf, com.apple.security.firewall, or the domain as given, lowercased
	PlistScope  string   // system, user, managed
	PlistSet    []string // key=value, key lowercased, value normalised ("0", "1", a lowercased string)
	PlistDelete []string // keys deleted, or "*" for the whole domain

	Targets []string // launchd labels (launchctl) or process names (kill, killall, pkill)
	Signal  string   // kill, killall, pkill: the signal name without SIG, uppercased; "TERM" by default

	Via []string // the wrappers the command was found inside (sudo, env, sh -c …), outermost first
}

// signingTools maps Apple signing identifiers to tools: a renamed or copied binary keeps its
// signing ID. Source: Jamf Protect analytics (reference/detect.md §2) for socketfilterfw, pfctl
// and launchctl; the others follow Apple's com.apple.<name> pattern and are not verified.
var signingTools = map[string]string{
	"com.apple.socketfilterfw":         "socketfilterfw",
	"com.apple.pfctl":                  "pfctl",
	"com.apple.xpc.launchctl":          "launchctl",
	"com.apple.defaults":               "defaults",
	"com.apple.plistbuddy":             "plistbuddy",
	"com.apple.plutil":                 "plutil",
	"com.apple.kill":                   "kill",
	"com.apple.killall":                "killall",
	"com.apple.pkill":                  "pkill",
	"com.apple.profiles":               "profiles",
	"com.apple.ManagedClient.profiles": "profiles",
}

// toolOf names the tool an exec runs: its signing ID when that is a known one, else the base
// name of the resolved path, lowercased.
func toolOf(p *event.Process) string {
	if t, ok := signingTools[strings.ToLower(p.SigningID)]; ok {
		return t
	}
	for id, t := range signingTools {
		if strings.EqualFold(id, p.SigningID) {
			return t
		}
	}
	name := p.Path
	if name == "" && len(p.Argv) > 0 {
		name = p.Argv[0] // no path at all (a log line): the typed name is all there is
	}
	return strings.ToLower(path.Base(name))
}

// maxWrapDepth bounds how deep wrappers are unwrapped (sudo env sh -c "sudo …").
const maxWrapDepth = 4

// Analyse returns the commands one exec event runs: the program itself, then each command it
// wraps (sudo, env, nohup, sh -c, osascript "do shell script" …), outermost first. A wrapped
// command's tool comes from its typed name: there is no image to resolve until it runs, and
// when it does run it has its own exec event.
func Analyse(ev *event.Event) []Command {
	argv := ev.Argv
	if len(argv) == 0 && ev.Path != "" {
		argv = []string{ev.Path}
	}
	first := analyseArgv(toolOf(&ev.Process), argv)
	out := []Command{first}
	var walk func(argv []string, via []string, depth int)
	walk = func(argv []string, via []string, depth int) {
		if depth >= maxWrapDepth || len(argv) == 0 {
			return
		}
		name := strings.ToLower(path.Base(argv[0]))
		for _, inner := range unwrap(name, argv) {
			if len(inner) == 0 {
				continue
			}
			v := append(append([]string(nil), via...), name)
			c := analyseArgv(strings.ToLower(path.Base(inner[0])), inner)
			c.Via = v
			out = append(out, c)
			walk(inner, v, depth+1)
		}
	}
	walk(argv, nil, 0)
	return out
}

// unwrap returns the command lines a wrapper runs, or nil when name is not a wrapper.
func unwrap(name string, argv []string) [][]string {
	args := argv[1:]
	switch name {
	case "sudo":
		// sudo [options] [VAR=value …] command: options that take a value are listed.
		for i := 0; i < len(args); i++ {
			a := args[i]
			switch {
			case a == "--":
				return [][]string{skipAssignments(args[i+1:])}
			case strings.HasPrefix(a, "--"):
				if !strings.Contains(a, "=") && sudoLongWithValue[a] {
					i++
				}
			case strings.HasPrefix(a, "-") && len(a) > 1:
				// a cluster such as -Eu root: the first option taking a value ends it.
				for j := 1; j < len(a); j++ {
					if strings.IndexByte("ugpCTrthUD", a[j]) >= 0 {
						if j == len(a)-1 {
							i++
						}
						break
					}
				}
			default:
				return [][]string{skipAssignments(args[i:])}
			}
		}
	case "env":
		for i := 0; i < len(args); i++ {
			a := args[i]
			switch {
			case a == "--":
				return [][]string{skipAssignments(args[i+1:])}
			case a == "-u" || a == "-P" || a == "-S" || a == "-C" || a == "--unset" || a == "--chdir":
				if a == "-S" && i+1 < len(args) { // env -S "string": split like a shell would
					if inner, err := splitShell(args[i+1]); err == nil {
						return [][]string{skipAssignments(append(inner, args[i+2:]...))}
					}
				}
				i++
			case strings.HasPrefix(a, "-"):
			default:
				return [][]string{skipAssignments(args[i:])}
			}
		}
	case "nohup", "time", "command", "exec", "caffeinate", "nice", "arch", "xcrun", "timeout", "stdbuf":
		i := 0
		for i < len(args) && strings.HasPrefix(args[i], "-") {
			if (name == "nice" && args[i] == "-n") || (name == "caffeinate" && (args[i] == "-t" || args[i] == "-w")) {
				i++
			}
			i++
		}
		if name == "timeout" && i < len(args) {
			i++ // the duration
		}
		if i < len(args) {
			return [][]string{args[i:]}
		}
	case "sh", "bash", "zsh", "dash", "ksh", "tcsh", "csh", "fish":
		for i, a := range args {
			if strings.HasPrefix(a, "-") && !strings.HasPrefix(a, "--") && strings.Contains(a, "c") && i+1 < len(args) {
				return shellCommands(args[i+1])
			}
			if !strings.HasPrefix(a, "-") {
				break
			}
		}
	case "osascript":
		// Each -e is one line of the script; every do shell script in any of them runs.
		var cmds [][]string
		for i, a := range args {
			if a == "-e" && i+1 < len(args) {
				for _, s := range doShellScript(args[i+1]) {
					cmds = append(cmds, shellCommands(s)...)
				}
			}
		}
		return cmds
	}
	return nil
}

var sudoLongWithValue = map[string]bool{"--user": true, "--group": true, "--prompt": true, "--close-from": true, "--chdir": true, "--host": true, "--other-user": true, "--role": true, "--type": true}

// skipAssignments drops leading VAR=value words.
func skipAssignments(args []string) []string {
	for len(args) > 0 && strings.Contains(args[0], "=") && !strings.HasPrefix(args[0], "=") && !strings.ContainsAny(strings.SplitN(args[0], "=", 2)[0], "/ -") {
		args = args[1:]
	}
	return args
}

// shellCommands splits a shell script string into its simple commands: at ;, &&, ||, | and
// newlines outside quotes. A string it cannot split yields nothing.
func shellCommands(script string) [][]string {
	var out [][]string
	for _, part := range splitShellList(script) {
		words, err := splitShell(part)
		if err != nil || len(words) == 0 {
			continue
		}
		out = append(out, skipAssignments(words))
	}
	return out
}

// splitShellList cuts a script at command separators outside quotes.
func splitShellList(s string) []string {
	var parts []string
	var quote byte
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == '\\' && quote == '"' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '\\':
			i++
		case c == '\'' || c == '"':
			quote = c
		case c == ';' || c == '\n' || c == '|' || c == '&' || c == '(' || c == ')' || c == '`':
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}

// doShellScript returns the string of every AppleScript `do shell script "…"` in src. The
// phrase is found by ASCII case folding (AppleScript keywords are ASCII and case-insensitive),
// whose offsets are valid in src whatever else src holds; a mention of the phrase that is not
// followed by a string literal (in a comment, or with a variable) is skipped, not the end.
func doShellScript(src string) []string {
	const phrase = "do shell script"
	var out []string
	for from := 0; from < len(src); {
		i := fold.Index(src[from:], phrase)
		if i < 0 {
			break
		}
		from += i + len(phrase)
		rest := strings.TrimSpace(src[from:])
		if s, ok := appleScriptString(rest); ok {
			out = append(out, s)
		}
	}
	return out
}

// appleScriptString reads the string literal at the start of s: a double-quoted string in which
// a backslash escapes the next byte.
func appleScriptString(s string) (string, bool) {
	if !strings.HasPrefix(s, `"`) {
		return "", false
	}
	var b strings.Builder
	for j := 1; j < len(s); j++ {
		switch s[j] {
		case '\\':
			if j+1 < len(s) {
				j++
				b.WriteByte(s[j])
			}
		case '"':
			return b.String(), true
		default:
			b.WriteByte(s[j])
		}
	}
	return "", false
}

// analyseArgv interprets argv for tool.
func analyseArgv(tool string, argv []string) Command {
	c := Command{Tool: tool, Argv: argv}
	if len(argv) == 0 {
		return c
	}
	args := argv[1:]
	switch tool {
	case "socketfilterfw":
		c.socketfilterfw(args)
	case "pfctl":
		c.pfctl(args)
	case "defaults":
		c.defaults(args)
	case "plistbuddy":
		c.plistBuddy(args)
	case "plutil":
		c.plutil(args)
	case "launchctl":
		c.launchctl(args)
	case "kill", "killall", "pkill":
		c.kill(args)
	case "profiles":
		c.profiles(args)
	}
	return c
}

// onOff normalises a socketfilterfw switch value.
func onOff(v string) string {
	switch strings.ToLower(v) {
	case "on", "1", "yes", "true", "enable", "enabled":
		return "on"
	case "off", "0", "no", "false", "disable", "disabled":
		return "off"
	}
	return strings.ToLower(v)
}

// socketfilterfw options are evaluated in order and may be combined (usage text quoted in
// reference/detect.md §3.1). Both "--opt value" and "--opt=value" are read.
func (c *Command) socketfilterfw(args []string) {
	for i := 0; i < len(args); i++ {
		opt, val, hasVal := strings.Cut(strings.ToLower(args[i]), "=")
		next := func() string {
			if hasVal {
				return val
			}
			if i+1 < len(args) {
				i++
				return args[i]
			}
			return ""
		}
		switch opt {
		case "--setglobalstate", "--setblockall", "--setstealthmode", "--setloggingmode", "--setallowsigned", "--setallowsignedapp":
			c.Actions = append(c.Actions, opt[2:]+"="+onOff(next()))
		case "--setloggingopt":
			c.Actions = append(c.Actions, "setloggingopt="+strings.ToLower(next()))
		case "--add", "--remove", "--blockapp", "--unblockapp", "--getappblocked":
			c.Actions = append(c.Actions, opt[2:])
			c.Apps = append(c.Apps, next())
		case "-k":
			c.Actions = append(c.Actions, "kill")
		default:
			if strings.HasPrefix(opt, "--get") || opt == "--listapps" || opt == "-l" || opt == "-d" || opt == "-h" {
				c.Actions = append(c.Actions, strings.TrimLeft(opt, "-"))
			}
		}
	}
}

// pfctlOpts is pfctl's getopt string: a letter followed by ':' takes a value. From the macOS
// pfctl(8) synopsis (reference/detect.md §3.1) plus Apple's -E and -X token.
const pfctlOpts = "a:AdD:eEf:F:ghi:k:K:mMnNOo:p:qrRs:t:T:vx:X:z"

// Flush modifiers and table commands in pfctl's own order; pfctl takes the first that the given
// word is a prefix of ("may be abbreviated", pfctl(8)). Matched case-insensitively as well, so
// that "-F TABLES" still reads as a flush of tables.
var (
	pfFlushMods = []string{"nat", "queue", "rules", "Sources", "states", "info", "Tables", "osfp", "all"}
	pfTableCmds = []string{"kill", "flush", "add", "delete", "load", "replace", "show", "test", "zero", "expire"}
)

func pfLookup(word string, list []string) string {
	if word == "" {
		return ""
	}
	for _, m := range list {
		if strings.HasPrefix(m, word) {
			return strings.ToLower(m)
		}
	}
	for _, m := range list {
		if strings.HasPrefix(strings.ToLower(m), strings.ToLower(word)) {
			return strings.ToLower(m)
		}
	}
	return strings.ToLower(word)
}

// pfctl parses the arguments as getopt would: clusters such as -Fa, -ef and -vd are split,
// an option's value may be attached (-fFILE) or the next word, and "--" ends the options. A bare
// word after the options is ignored, as pfctl ignores it.
func (c *Command) pfctl(args []string) {
	parseOnly := false
	var load bool
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		if len(a) < 2 || a[0] != '-' {
			continue
		}
		for j := 1; j < len(a); j++ {
			o := a[j]
			k := strings.IndexByte(pfctlOpts, o)
			if k < 0 {
				break // an unknown option: pfctl prints usage and does nothing
			}
			val := ""
			if k+1 < len(pfctlOpts) && pfctlOpts[k+1] == ':' {
				if j+1 < len(a) {
					val = a[j+1:]
				} else if i+1 < len(args) {
					i++
					val = args[i]
				}
				j = len(a)
			}
			switch o {
			case 'd':
				c.Actions = append(c.Actions, "disable")
			case 'e':
				c.Actions = append(c.Actions, "enable")
			case 'E':
				c.Actions = append(c.Actions, "enable-ref")
			case 'X':
				c.Actions = append(c.Actions, "release-token")
			case 'F':
				c.Actions = append(c.Actions, "flush="+pfLookup(val, pfFlushMods))
			case 'f':
				load = true
				c.PfFile = val
			case 'a':
				c.PfAnchor = val
			case 't':
				c.PfTable = val
			case 'T':
				c.Actions = append(c.Actions, "table="+pfLookup(val, pfTableCmds))
			case 'k':
				c.Actions = append(c.Actions, "kill-states")
			case 'K':
				c.Actions = append(c.Actions, "kill-sources")
			case 's':
				c.Actions = append(c.Actions, "show")
			case 'n':
				parseOnly = true
			}
		}
	}
	if load {
		if parseOnly {
			c.Actions = append(c.Actions, "parse")
		} else {
			c.Actions = append(c.Actions, "load")
		}
	}
}

// plistDomain reduces a defaults domain or plist path to (domain, scope): "com.apple.alf" for
// com.apple.alf, /Library/Preferences/com.apple.alf(.plist) and ~/Library/Preferences/…; the
// scope tells whether the write reaches the system file (user domains do not affect the firewall).
func plistDomain(s string) (string, string) {
	low := strings.ToLower(strings.TrimSpace(s))
	scope := "system"
	switch {
	case strings.Contains(low, "/managed preferences/"):
		scope = "managed"
	case strings.HasPrefix(low, "~") || strings.HasPrefix(low, "/users/") || strings.HasPrefix(low, "/var/root/"):
		scope = "user"
	case !strings.Contains(low, "/"):
		// A bare domain: defaults writes the user domain unless run as root, where it is root's;
		// the firewall reads /Library/Preferences. Bare com.apple.alf is still the intent.
		scope = "user"
	}
	low = strings.TrimSuffix(path.Base(low), ".plist")
	return low, scope
}

// plistValue normalises a value given with a defaults or plutil type flag.
func plistValue(typ, v string) string {
	lv := strings.ToLower(strings.TrimSpace(v))
	switch strings.TrimLeft(strings.ToLower(typ), "-") {
	case "bool", "boolean":
		switch lv {
		case "yes", "true", "1":
			return "1"
		case "no", "false", "0":
			return "0"
		}
	case "int", "integer", "float", "real":
		if f, err := strconv.ParseFloat(lv, 64); err == nil {
			return strconv.FormatFloat(f, 'f', -1, 64)
		}
	}
	switch lv { // untyped and -string: numbers and booleans still read as numbers by the daemon
	case "yes", "true":
		return "1"
	case "no", "false":
		return "0"
	}
	if f, err := strconv.ParseFloat(lv, 64); err == nil {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return lv
}

// defaults [-currentHost | -host name] verb domain …
func (c *Command) defaults(args []string) {
	i := 0
	for i < len(args) && strings.HasPrefix(args[i], "-") {
		if strings.EqualFold(args[i], "-host") {
			i++
		}
		i++
	}
	if i >= len(args) {
		return
	}
	verb := strings.ToLower(args[i])
	rest := args[i+1:]
	if len(rest) > 0 && strings.EqualFold(rest[0], "-app") && len(rest) > 1 {
		rest = rest[1:]
	}
	if len(rest) > 0 {
		c.PlistDomain, c.PlistScope = plistDomain(rest[0])
	}
	c.Actions = append(c.Actions, verb)
	switch verb {
	case "write":
		if len(rest) == 2 { // defaults write domain '{ plist }': the whole domain replaced
			c.Actions = append(c.Actions, "replace")
			return
		}
		if len(rest) < 3 {
			return
		}
		key, vals := strings.ToLower(rest[1]), rest[2:]
		typ := ""
		if strings.HasPrefix(vals[0], "-") && len(vals) > 1 {
			typ, vals = vals[0], vals[1:]
		}
		c.PlistSet = append(c.PlistSet, key+"="+plistValue(typ, vals[0]))
	case "delete", "remove":
		if len(rest) >= 2 {
			c.PlistDelete = append(c.PlistDelete, strings.ToLower(rest[1]))
		} else if len(rest) == 1 {
			c.PlistDelete = append(c.PlistDelete, "*")
		}
	case "import":
		c.Actions = append(c.Actions, "replace")
	}
}

// PlistBuddy -c "Set :key value" [-c …] file
func (c *Command) plistBuddy(args []string) {
	var cmds []string
	for i := 0; i < len(args); i++ {
		switch {
		case args[i] == "-c" && i+1 < len(args):
			cmds = append(cmds, args[i+1])
			i++
		case strings.HasPrefix(args[i], "-"):
		default:
			c.PlistDomain, c.PlistScope = plistDomain(args[i])
		}
	}
	for _, cmd := range cmds {
		words := strings.Fields(cmd)
		if len(words) == 0 {
			continue
		}
		verb := strings.ToLower(words[0])
		key := ""
		if len(words) > 1 {
			key = strings.ToLower(strings.TrimLeft(words[1], ":"))
		}
		c.Actions = append(c.Actions, verb)
		switch verb {
		case "set":
			if len(words) > 2 {
				c.PlistSet = append(c.PlistSet, key+"="+plistValue("", strings.Join(words[2:], " ")))
			}
		case "add":
			if len(words) > 3 {
				c.PlistSet = append(c.PlistSet, key+"="+plistValue(words[2], strings.Join(words[3:], " ")))
			}
		case "delete":
			if key == "" {
				key = "*"
			}
			c.PlistDelete = append(c.PlistDelete, key)
		case "clear", "merge", "import":
			c.Actions = append(c.Actions, "replace")
		}
	}
}

// plutil -replace key -type value file | -insert … | -remove key file
func (c *Command) plutil(args []string) {
	for i := 0; i < len(args); i++ {
		switch a := strings.ToLower(args[i]); a {
		case "-replace", "-insert":
			c.Actions = append(c.Actions, "write")
			if i+3 < len(args) {
				c.PlistSet = append(c.PlistSet, strings.ToLower(args[i+1])+"="+plistValue(args[i+2], args[i+3]))
				i += 3
			}
		case "-remove":
			c.Actions = append(c.Actions, "delete")
			if i+1 < len(args) {
				c.PlistDelete = append(c.PlistDelete, strings.ToLower(args[i+1]))
				i++
			}
		}
	}
	if n := len(args); n > 0 && !strings.HasPrefix(args[n-1], "-") {
		c.PlistDomain, c.PlistScope = plistDomain(args[n-1])
	}
}

// launchctl verb [options] target…: targets become labels (com.apple.alf.agent from
// /System/Library/LaunchDaemons/com.apple.alf.agent.plist or system/com.apple.alf.agent).
func (c *Command) launchctl(args []string) {
	if len(args) == 0 {
		return
	}
	verb := strings.ToLower(args[0])
	c.Actions = append(c.Actions, verb)
	for _, a := range args[1:] {
		if strings.HasPrefix(a, "-") {
			continue
		}
		low := strings.ToLower(a)
		if verb == "kill" && c.Signal == "" {
			c.Signal = signalName(low)
			continue
		}
		if i := strings.LastIndexByte(low, '/'); i >= 0 {
			low = low[i+1:]
		}
		low = strings.TrimSuffix(low, ".plist")
		if low == "system" || low == "gui" || low == "user" || low == "" {
			continue // "bootout system PATH": the domain alone
		}
		c.Targets = append(c.Targets, low)
	}
}

// signalName normalises a signal given as a number or name: "9" and "SIGKILL" are "KILL".
func signalName(s string) string {
	s = strings.TrimPrefix(strings.ToUpper(s), "SIG")
	names := map[string]string{"1": "HUP", "2": "INT", "3": "QUIT", "6": "ABRT", "9": "KILL", "15": "TERM", "17": "STOP", "19": "CONT", "30": "USR1", "31": "USR2"}
	if n, ok := names[s]; ok {
		return n
	}
	return s
}

// kill, killall, pkill: the signal and the targets (process names, or pids for kill).
func (c *Command) kill(args []string) {
	c.Signal = "TERM"
	c.Actions = append(c.Actions, "signal")
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-s" || a == "--signal":
			if i+1 < len(args) {
				c.Signal = signalName(args[i+1])
				i++
			}
		case strings.HasPrefix(a, "-") && len(a) > 1:
			w := a[1:]
			if c.Tool == "pkill" && strings.Trim(w, "flinoqvx") == "" {
				continue // pkill flags such as -f, -x
			}
			if strings.HasPrefix(w, "-") {
				continue
			}
			if c.Tool != "pkill" || strings.ToUpper(w) == w || w[0] >= '0' && w[0] <= '9' {
				c.Signal = signalName(w)
			}
		default:
			c.Targets = append(c.Targets, strings.ToLower(path.Base(a)))
		}
	}
}

// profiles remove -identifier X | profiles -R -p X
func (c *Command) profiles(args []string) {
	for i, a := range args {
		switch strings.ToLower(a) {
		case "remove", "-r":
			c.Actions = append(c.Actions, "remove")
		case "-identifier", "-p":
			if i+1 < len(args) {
				c.Targets = append(c.Targets, strings.ToLower(args[i+1]))
			}
		case "-all":
			c.Targets = append(c.Targets, "*")
		}
	}
}
