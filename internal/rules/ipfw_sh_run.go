package rules

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
)

// IPFWScriptOptions give a rule script what it would read from the machine it runs on.
type IPFWScriptOptions struct {
	// Vars is the profile given on the command line (`--set NAME=VALUE`): these variables hold
	// their value for the whole script, over rc.conf and over the script's own assignments,
	// as `readonly` variables set before it ran would. Names 1 to 9 are the script's arguments.
	Vars map[string]string
	// ReadFile reads a file by its absolute system path (under --root); nil when the script
	// may read no file: `.`, load_rc_config and `ipfw PATHNAME` are then refused.
	ReadFile func(path string) ([]byte, error)
	// Stat answers the file tests of `[ -r FILE ]` and friends under --root.
	Stat func(path string) (fs.FileInfo, error)
}

// Caps on what a script may make the expander do. A script past one is refused with the cap
// and the line, rather than followed for ever.
const (
	shMaxSteps     = 200_000 // commands run and loop iterations, in all
	shMaxExpansion = 1 << 20 // bytes of the words of one command, and of one variable
	shMaxInclude   = 8       // nesting of `.` and load_rc_config files
	shMaxCalls     = 100     // nesting of function calls
	shMaxFile      = 4 << 20 // size of a file read with `.` or as ipfw's pathname
)

// shRCGuards are variables that rc(8) scripts test before they read rc.conf, to learn whether
// a caller already did. rc(8) runs the firewall script as a new sh without exporting them, and
// rc.conf does not set them, so they start unset rather than unknown.
var shRCGuards = map[string]bool{"source_rc_confs_defined": true, "firewall_rc_config_load": true}

// shLibraries are the rc(8) function libraries whose functions the expander models itself
// (load_rc_config, source_rc_confs, checkyesno, afexists): sourcing them reads nothing.
var shLibraries = map[string]bool{"/etc/rc.subr": true, "/etc/network.subr": true}

// shBuiltinFuncs are the functions of rc.subr and defaults/rc.conf that are modelled; a
// script's own definition of one (defaults/rc.conf defines source_rc_confs) is not used.
var shBuiltinFuncs = map[string]bool{"load_rc_config": true, "source_rc_confs": true, "checkyesno": true, "afexists": true}

// shVar is a variable: its value, or why its value is not known.
type shVar struct {
	val     string
	unknown string // non-empty: the reason, with the fix
	from    string // "--set", a file path, "script"
}

// shRefusal is a script the expander will not evaluate: the line, and why.
type shRefusal struct {
	file string
	line int
	msg  string
}

func (e *shRefusal) Error() string { return fmt.Sprintf("%s:%d: %s", e.file, e.line, e.msg) }

// shUnknownErr is the use of a value the expander does not know.
type shUnknownErr struct{ msg string }

func (e *shUnknownErr) Error() string { return e.msg }

// shSubstErr is a command substitution, whose output the expander cannot know.
type shSubstErr struct{ text string }

func (e *shSubstErr) Error() string {
	return fmt.Sprintf("command substitution %s runs a program the simulator does not run", e.text)
}

// Control flow.
type (
	shReturn   struct{ status int }
	shExit     struct{ status int }
	shBreak    struct{ n int }
	shContinue struct{ n int }
)

func (shReturn) Error() string   { return "return outside a function" }
func (shExit) Error() string     { return "exit" }
func (shBreak) Error() string    { return "break outside a loop" }
func (shContinue) Error() string { return "continue outside a loop" }

// shSink receives what the script hands to ipfw.
type shSink interface {
	// ipfw is an ipfw command (program and arguments) or a raw line of ipfw arguments.
	ipfw(file string, line int, words []string, raw bool) error
	note(file string, line int, text string)
}

type shFrame struct {
	args  []string
	saved map[string]*shVar // `local` variables' outer values (nil: unset)
}

type shInterp struct {
	ctx      context.Context
	opts     IPFWScriptOptions
	sink     shSink
	vars     map[string]*shVar
	funcs    map[string]*shCmd
	status   int
	unknown  string // why the last status is not known; "" when it is
	steps    int
	rawLines int
	calls    int
	include  int
	loops    int
	frames   []*shFrame
	top      []string // the script's own arguments ($1 … from --set 1=…)
	exited   string   // "FILE:LINE" of the exit that ended the script
	file     string
	config   string // the config files read ("" none yet)
	missing  string // "FILE:LINE" where configuration was to be read but was not under --root
	profile  []string
	reported map[string]bool
	overlay  *shOverlay // the files the script wrote (ipfw_sh_overlay.go)
}

func newShInterp(ctx context.Context, opts IPFWScriptOptions, sink shSink) *shInterp {
	in := &shInterp{ctx: ctx, opts: opts, sink: sink, vars: map[string]*shVar{}, funcs: map[string]*shCmd{}, reported: map[string]bool{}, overlay: &shOverlay{files: map[string]*shFile{}}}
	for k, v := range opts.Vars {
		if n, err := strconv.Atoi(k); err == nil && n >= 1 && n <= 9 {
			// --set 1=start: the script's arguments, as `sh script start` gives them.
			for len(in.top) < n {
				in.top = append(in.top, "")
			}
			in.top[n-1] = v
			continue
		}
		in.vars[k] = &shVar{val: v, from: "--set"}
	}
	return in
}

// run reads and runs one script file.
func (in *shInterp) run(src, file string) error {
	prog, err := parseShScript(src, 1)
	if err != nil {
		var se *shSyntaxError
		if errors.As(err, &se) {
			return &shRefusal{file, se.line, se.msg}
		}
		return err
	}
	outer := in.file
	in.file = file
	defer func() { in.file = outer }()
	return in.list(prog)
}

func (in *shInterp) refuse(line int, format string, args ...any) error {
	return &shRefusal{in.file, line, fmt.Sprintf(format, args...)}
}

// wrap turns an expansion error into a refusal at line, saying what depended on it.
func (in *shInterp) wrap(line int, what string, err error) error {
	var ue *shUnknownErr
	var se *shSubstErr
	switch {
	case errors.As(err, &ue):
		return in.refuse(line, "%s (it decides %s)", ue.msg, what)
	case errors.As(err, &se):
		return in.refuse(line, "%s: %s cannot be evaluated", se.Error(), what)
	}
	var r *shRefusal
	if errors.As(err, &r) {
		return err
	}
	return in.refuse(line, "%v", err)
}

func (in *shInterp) step(line int) error {
	in.steps++
	if in.steps > shMaxSteps {
		return in.refuse(line, "stopped after %d commands and loop turns (the cap on a script's work): a loop that does not end?", shMaxSteps)
	}
	if in.steps%1024 == 0 {
		if err := in.ctx.Err(); err != nil {
			return err
		}
	}
	return nil
}

func (in *shInterp) list(l []*shAndOr) error {
	for _, ao := range l {
		if err := in.andOr(ao); err != nil {
			return err
		}
	}
	return nil
}

func (in *shInterp) andOr(ao *shAndOr) error {
	if err := in.pipeline(ao.pipes[0]); err != nil {
		return err
	}
	for i, op := range ao.ops {
		next := ao.pipes[i+1]
		if in.unknown != "" {
			// Whether the right side runs is not known: harmless when it is another
			// program (it would only be noted), refused when it could add rules.
			if !shHarmless(next, in.funcs) {
				return in.refuse(next.line, "whether the command after %s runs cannot be decided: %s", op, in.unknown)
			}
			if err := in.pipeline(next); err != nil {
				return err
			}
			continue
		}
		if (op == "&&") == (in.status == 0) {
			if err := in.pipeline(next); err != nil {
				return err
			}
		}
	}
	return nil
}

// shHarmless reports that a pipeline only runs programs other than ipfw, named literally, so
// that running it or not cannot change the rules.
func shHarmless(pl *shPipe, funcs map[string]*shCmd) bool {
	for _, c := range pl.cmds {
		if c.kind != shSimple || len(c.assigns) > 0 || len(c.words) == 0 {
			return false
		}
		w := c.words[0]
		if path.Base(w) == "ipfw" && (slices.Contains(c.words, "list") || slices.Contains(c.words, "show")) {
			continue // a listing, as in `ipfw list | grep …`
		}
		if strings.ContainsAny(w, "$`'\"\\") || funcs[w] != nil || path.Base(w) == "ipfw" || shSpecial[w] || shBuiltinFuncs[w] {
			return false
		}
	}
	return true
}

// shSpecial are the builtins that change the script's state or flow.
var shSpecial = map[string]bool{".": true, "source": true, "exit": true, "return": true, "break": true, "continue": true,
	"eval": true, "exec": true, "set": true, "unset": true, "export": true, "readonly": true, "local": true, "shift": true,
	"read": true, "cd": true, "trap": true, "alias": true, "getopts": true}

func (in *shInterp) pipeline(pl *shPipe) error {
	if len(pl.cmds) > 1 {
		// A pipeline's commands run in subshells; only the last one's status counts, and
		// the simulator runs no program whose output could feed it.
		for _, c := range pl.cmds {
			if !shHarmless(&shPipe{cmds: []*shCmd{c}}, in.funcs) {
				return in.refuse(pl.line, "a pipeline (|) with a command that could change the rules is not modelled")
			}
		}
		words := make([]string, 0, len(pl.cmds))
		for _, c := range pl.cmds {
			words = append(words, path.Base(c.words[0]))
		}
		in.sink.note(in.file, pl.line, "not modelled: pipeline "+strings.Join(words, " | "))
		in.status, in.unknown = 1, fmt.Sprintf("it depends on the pipeline %s (line %d), which the simulator does not run", strings.Join(words, " | "), pl.line)
		return nil
	}
	if err := in.command(pl.cmds[0]); err != nil {
		return err
	}
	if pl.bang && in.unknown == "" {
		in.status = shBool(in.status != 0)
	}
	return nil
}

func shBool(ok bool) int {
	if ok {
		return 0
	}
	return 1
}

// cond runs a condition list and returns whether it held.
func (in *shInterp) cond(l []*shAndOr, line int, what string) (bool, error) {
	if err := in.list(l); err != nil {
		return false, err
	}
	if in.unknown != "" {
		return false, in.refuse(line, "%s cannot be decided: %s", what, in.unknown)
	}
	return in.status == 0, nil
}

func (in *shInterp) command(c *shCmd) error {
	if c.kind == shRawCmd {
		// A line of `ipfw list` output is not script work: a list of a million rules is not
		// capped, only interruptible.
		in.rawLines++
		if in.rawLines%1024 == 0 {
			if err := in.ctx.Err(); err != nil {
				return err
			}
		}
		in.status, in.unknown = 0, ""
		return in.sink.ipfw(in.file, c.line, []string{c.text}, true)
	}
	if err := in.step(c.line); err != nil {
		return err
	}
	if c.kind != shSimple && shFedHeredoc(c.redirs) {
		return in.refuse(c.line, "a here-document fed to a compound command is not modelled")
	}
	switch c.kind {
	case shSimple:
		return in.simple(c)
	case shFuncDef:
		if !shBuiltinFuncs[c.name] {
			in.funcs[c.name] = c.fn
		}
		in.status, in.unknown = 0, ""
		return nil
	case shBrace:
		return in.list(c.bodies[0])
	case shSubshell:
		// Assignments in a subshell do not reach the script; rules it adds do.
		saved := make(map[string]*shVar, len(in.vars))
		for k, v := range in.vars {
			saved[k] = v
		}
		err := in.list(c.bodies[0])
		in.vars = saved
		var ex shExit
		if errors.As(err, &ex) {
			in.status, in.unknown = ex.status, ""
			return nil
		}
		return err
	case shIf:
		for i, cond := range c.conds {
			ok, err := in.cond(cond, c.line, "the if")
			if err != nil {
				return err
			}
			if ok {
				return in.list(c.bodies[i])
			}
		}
		if c.elseOK {
			return in.list(c.bodies[len(c.conds)])
		}
		in.status, in.unknown = 0, ""
		return nil
	case shFor:
		var items []string
		if c.hasIn {
			for _, w := range c.words {
				fields, err := in.expandFields(w)
				if err != nil {
					return in.wrap(c.line, "the for loop's list", err)
				}
				items = append(items, fields...)
			}
		} else {
			items = in.args()
		}
		in.status, in.unknown = 0, ""
		for _, it := range items {
			if err := in.step(c.line); err != nil {
				return err
			}
			if err := in.assign(c.name, it, c.line); err != nil {
				return err
			}
			if brk, err := in.loopBody(c.bodies[0]); brk || err != nil {
				return err
			}
		}
		return nil
	case shWhile, shUntil:
		for {
			if err := in.step(c.line); err != nil {
				return err
			}
			ok, err := in.cond(c.conds[0], c.line, "the loop's condition")
			if err != nil {
				return err
			}
			if ok != (c.kind == shWhile) {
				in.status, in.unknown = 0, ""
				return nil
			}
			if brk, err := in.loopBody(c.bodies[0]); brk || err != nil {
				return err
			}
		}
	case shCase:
		word, err := in.expandString(c.words[0])
		if err != nil {
			return in.wrap(c.line, "the case", err)
		}
		in.status, in.unknown = 0, ""
		for _, it := range c.items {
			for _, p := range it.pats {
				pat, err := in.expandPattern(p)
				if err != nil {
					return in.wrap(it.line, "the case pattern", err)
				}
				if shMatch(pat, word) {
					return in.list(it.body)
				}
			}
		}
		return nil
	}
	return in.refuse(c.line, "command not modelled")
}

// loopBody runs one turn of a loop; brk says the loop ends (break, or break n going out).
func (in *shInterp) loopBody(body []*shAndOr) (brk bool, err error) {
	in.loops++
	defer func() { in.loops-- }()
	err = in.list(body)
	var b shBreak
	var c shContinue
	switch {
	case errors.As(err, &b):
		if b.n > 1 {
			return true, shBreak{b.n - 1}
		}
		return true, nil
	case errors.As(err, &c):
		if c.n > 1 {
			return true, shContinue{c.n - 1}
		}
		return false, nil
	}
	return false, err
}

func (in *shInterp) args() []string {
	if len(in.frames) == 0 {
		return in.top
	}
	return in.frames[len(in.frames)-1].args
}

// assign sets a variable as the script does; --set variables keep their value.
func (in *shInterp) assign(name, val string, line int) error {
	if v := in.vars[name]; v != nil && v.from == "--set" {
		return nil
	}
	if len(val) > shMaxExpansion {
		return in.refuse(line, "%s would hold more than %d bytes (the cap on a variable)", name, shMaxExpansion)
	}
	in.vars[name] = &shVar{val: val, from: in.file}
	return nil
}

func (in *shInterp) simple(c *shCmd) error {
	if len(c.words) == 0 {
		// The values are expanded before the status is reset: `v=$?` reads the last command's.
		for _, a := range c.assigns {
			if err := in.assignWord(a, c.line); err != nil {
				return err
			}
		}
		in.status, in.unknown = 0, ""
		return nil
	}
	var words []string
	for i, w := range c.words {
		if i > 0 && len(words) > 0 && (words[0] == "export" || words[0] == "readonly" || words[0] == "local") && shIsAssignment(w) {
			words = append(words, w) // expanded by the builtin, without splitting
			continue
		}
		fields, err := in.expandFields(w)
		var se *shSubstErr
		if errors.As(err, &se) && len(words) > 0 && !shMayChangeRules(words[0], in.funcs) {
			// The words of a program other than ipfw: their meaning does not matter.
			fields = []string{w}
		} else if err != nil {
			what := "which command runs"
			switch {
			case len(words) > 0 && (words[0] == "[" || words[0] == "test"):
				what = "the test"
			case len(words) > 0:
				what = "the words of " + path.Base(words[0])
			}
			return in.wrap(c.line, what, err)
		}
		words = append(words, fields...)
	}
	if n := shLen(words); n > shMaxExpansion {
		return in.refuse(c.line, "the command expands to %d bytes (the cap is %d)", n, shMaxExpansion)
	}
	if len(words) == 0 {
		in.status, in.unknown = 0, ""
		return nil // all words expanded to nothing: sh runs no command
	}
	if p := in.writesOverlay(c); p != "" && !(shFedHeredoc(c.redirs) && path.Base(words[0]) == "cat") {
		return in.refuse(c.line, "%s writes to %s, which the script wrote with a here-document; only `cat >FILE <<EOF` and `cat >>FILE <<EOF` are modelled", path.Base(words[0]), p)
	}
	if shFedHeredoc(c.redirs) {
		// A here-document fed to a command: `cat >FILE <<EOF` writes FILE (in memory); a
		// message (`cat 1>&2 <<EOF` in a usage function) changes nothing; anything else (a
		// program reading it) is not modelled.
		if done, err := in.catHeredoc(c, words); done || err != nil {
			return err
		}
		if !shMessage(words[0], c.redirs) {
			return in.refuse(c.line, "a here-document fed to %s is not modelled", path.Base(words[0]))
		}
		in.status, in.unknown = 0, ""
		return nil
	}
	return in.run1(c, words)
}

func shFedHeredoc(redirs []string) bool {
	for _, r := range redirs {
		if strings.HasPrefix(r, "<<") {
			return true
		}
	}
	return false
}

// shMessage reports that name with redirs only prints: cat, echo or printf to the terminal,
// standard error or /dev/null.
func shMessage(name string, redirs []string) bool {
	if name != "cat" && name != "echo" && name != "printf" && name != "logger" {
		return false
	}
	for _, r := range redirs {
		if strings.HasPrefix(r, "<<") {
			continue
		}
		r = strings.TrimLeft(r, "0123456789")
		switch r {
		case ">&2", ">&1", ">/dev/null", ">/dev/stderr", ">/dev/stdout", ">>/dev/null":
		default:
			return false
		}
	}
	return true
}

// shMayChangeRules reports that the command named name could add rules or change the
// script's state, so that words it cannot expand must be refused rather than noted.
func shMayChangeRules(name string, funcs map[string]*shCmd) bool {
	switch name {
	case "echo", "printf", "logger", ":", "true", "false", "sysctl", "kldload", "kldstat":
		return false
	}
	return path.Base(name) == "ipfw" || funcs[name] != nil || shSpecial[name] || shBuiltinFuncs[name] || name == "[" || name == "test"
}

func shLen(words []string) int {
	n := 0
	for _, w := range words {
		n += len(w) + 1
	}
	return n
}

func (in *shInterp) assignWord(a string, line int) error {
	name, raw, _ := strings.Cut(a, "=")
	val, err := in.expandString(raw)
	if err != nil {
		var ue *shUnknownErr
		var se *shSubstErr
		switch {
		case errors.As(err, &ue):
			// Not known: it matters only where the variable is used.
			if v := in.vars[name]; v == nil || v.from != "--set" {
				in.vars[name] = &shVar{unknown: ue.msg, from: in.file}
			}
			return nil
		case errors.As(err, &se):
			if v := in.vars[name]; v == nil || v.from != "--set" {
				in.vars[name] = &shVar{unknown: fmt.Sprintf("%s is set at %s:%d to the output of %s, a program the simulator does not run: give --set %s=VALUE", name, in.file, line, se.text, name), from: in.file}
			}
			return nil
		}
		return in.wrap(line, "the assignment to "+name, err)
	}
	return in.assign(name, val, line)
}

// run1 runs a command whose words are expanded.
func (in *shInterp) run1(c *shCmd, words []string) error {
	name := words[0]
	if fn := in.funcs[name]; fn != nil && !shBuiltinFuncs[name] {
		return in.call(c.line, fn, words[1:])
	}
	in.status, in.unknown = 0, ""
	switch name {
	case ":", "true":
		return nil
	case "false":
		in.status = 1
		return nil
	case "[", "test":
		args := words[1:]
		if name == "[" {
			if len(args) == 0 || args[len(args)-1] != "]" {
				return in.refuse(c.line, "[ without its closing ]")
			}
			args = args[:len(args)-1]
		}
		ok, err := in.test(args, c.line)
		if err != nil {
			return err
		}
		in.status = shBool(ok)
		return nil
	case "echo", "printf", "logger":
		return nil // messages: no effect on the rules
	case "exit":
		in.exited = fmt.Sprintf("%s:%d", in.file, c.line)
		return shExit{in.intArg(words, in.status)}
	case "return":
		if len(in.frames) == 0 && in.include == 0 {
			return shExit{in.intArg(words, in.status)}
		}
		return shReturn{in.intArg(words, in.status)}
	case "break", "continue":
		if in.loops == 0 {
			return in.refuse(c.line, "%s outside a loop", name)
		}
		n := in.intArg(words, 1)
		if name == "break" {
			return shBreak{max(n, 1)}
		}
		return shContinue{max(n, 1)}
	case "set":
		for _, w := range words[1:] {
			if !strings.HasPrefix(w, "-") && !strings.HasPrefix(w, "+") || w == "--" || w == "-o" || w == "+o" {
				return in.refuse(c.line, "set %s: only set's flags (set -e, set -x) are modelled", strings.Join(words[1:], " "))
			}
		}
		return nil
	case "export", "readonly", "local":
		for _, w := range words[1:] {
			if strings.HasPrefix(w, "-") {
				continue
			}
			wname, _, hasVal := strings.Cut(w, "=")
			if !isShName(wname) {
				return in.refuse(c.line, "%s %s: not a variable name", name, w)
			}
			if name == "local" && len(in.frames) > 0 {
				f := in.frames[len(in.frames)-1]
				if f.saved == nil {
					f.saved = map[string]*shVar{}
				}
				if _, ok := f.saved[wname]; !ok {
					f.saved[wname] = in.vars[wname]
				}
				if !hasVal {
					if err := in.assign(wname, "", c.line); err != nil {
						return err
					}
				}
			}
			if hasVal {
				if err := in.assignWord(w, c.line); err != nil {
					return err
				}
			}
		}
		return nil
	case "unset":
		for _, w := range words[1:] {
			if v := in.vars[w]; v != nil && v.from == "--set" {
				continue
			}
			if w == "-f" {
				continue
			}
			delete(in.vars, w)
			delete(in.funcs, w)
		}
		return nil
	case "shift":
		if f := in.frames; len(f) > 0 {
			n := min(in.intArg(words, 1), len(f[len(f)-1].args))
			f[len(f)-1].args = f[len(f)-1].args[n:]
		}
		return nil
	case ".", "source":
		if len(words) < 2 {
			return in.refuse(c.line, "%s needs a file", name)
		}
		return in.source(c.line, words[1])
	case "load_rc_config":
		sub := ""
		if len(words) > 1 {
			sub = words[1]
		}
		return in.loadConfig(c.line, sub)
	case "source_rc_confs":
		return in.loadConfig(c.line, "")
	case "checkyesno":
		if len(words) != 2 {
			return in.refuse(c.line, "checkyesno needs one variable name")
		}
		v, err := in.lookup(words[1])
		if err != nil {
			return in.wrap(c.line, "checkyesno "+words[1], err)
		}
		// rc.subr: YES, TRUE, ON, 1 in any case hold; NO, FALSE, OFF, 0 do not; anything
		// else is a warning and does not hold.
		switch strings.ToLower(v) {
		case "yes", "true", "on", "1":
			in.status = 0
		default:
			in.status = 1
		}
		return nil
	case "afexists":
		fam := strings.Join(words[1:], " ")
		in.status, in.unknown = 1, fmt.Sprintf("afexists %s asks the running kernel whether it has %s; give the answer with --set (e.g. --set ipv6_available=0 for rc.firewall, 0 meaning present)", fam, fam)
		return nil
	case "eval":
		// sh reads the words, joined, as a script: rc.subr-style scripts build assignments
		// such as `eval "$var=\${$var-$value}"`. Its commands are reported at this line.
		src := strings.Join(words[1:], " ")
		prog, err := parseShScript(src, c.line)
		if err != nil {
			return in.refuse(c.line, "eval %s: %v", src, err)
		}
		// An eval that evals itself nests like a function calling itself.
		if in.calls >= shMaxCalls {
			return in.refuse(c.line, "functions and evals nest deeper than %d (the cap on recursion)", shMaxCalls)
		}
		in.calls++
		defer func() { in.calls-- }()
		return in.list(prog)
	case "exec":
		return in.refuse(c.line, "exec is not modelled")
	}
	switch path.Base(name) {
	case "sysctl":
		in.sink.note(in.file, c.line, "not modelled: sysctl "+strings.Join(words[1:], " ")+" (a kernel setting)")
		in.unknown = "sysctl's outcome is the kernel's"
		return nil
	}
	if path.Base(name) == "ipfw" {
		return in.sink.ipfw(in.file, c.line, words, false)
	}
	switch b := path.Base(name); b {
	case "cp", "mv", "rm":
		if done, err := in.fileOp(c.line, b, words[1:]); done || err != nil {
			return err
		}
	}
	in.sink.note(in.file, c.line, "not modelled: command "+path.Base(name))
	in.status, in.unknown = 1, fmt.Sprintf("it depends on %s (line %d), a program the simulator does not run", path.Base(name), c.line)
	return nil
}

func (in *shInterp) intArg(words []string, def int) int {
	if len(words) < 2 {
		return def
	}
	n, err := strconv.Atoi(words[1])
	if err != nil {
		return def
	}
	return n
}

func (in *shInterp) call(line int, fn *shCmd, args []string) error {
	if in.calls >= shMaxCalls {
		return in.refuse(line, "functions nest deeper than %d calls (the cap on recursion)", shMaxCalls)
	}
	in.calls++
	f := &shFrame{args: args}
	in.frames = append(in.frames, f)
	loops := in.loops
	in.loops = 0
	err := in.command(fn)
	in.loops = loops
	in.frames = in.frames[:len(in.frames)-1]
	in.calls--
	for k, v := range f.saved {
		if v == nil {
			delete(in.vars, k)
		} else {
			in.vars[k] = v
		}
	}
	var r shReturn
	if errors.As(err, &r) {
		in.status, in.unknown = r.status, ""
		return nil
	}
	return err
}

// source runs `. FILE`: the rc(8) libraries are modelled, other files are read under --root.
func (in *shInterp) source(line int, file string) error {
	if shLibraries[file] {
		in.status, in.unknown = 0, ""
		return nil
	}
	if !strings.HasPrefix(file, "/") {
		return in.refuse(line, ". %s: only an absolute path can be read (under --root)", file)
	}
	data, err := in.read(line, file)
	if err != nil {
		return err
	}
	if isRCConf(file) {
		in.config = strings.TrimPrefix(in.config+" "+file, " ")
	}
	return in.include1(line, file, data)
}

func isRCConf(file string) bool {
	return file == "/etc/rc.conf" || file == "/etc/rc.conf.local" || file == "/etc/defaults/rc.conf" || strings.HasPrefix(file, "/etc/rc.conf.d/")
}

func (in *shInterp) read(line int, file string) ([]byte, error) {
	if data, ok, err := in.overlay.read(file); ok {
		if err != nil {
			return nil, in.refuse(line, "read %s: %v", file, err)
		}
		return data, nil
	}
	if in.opts.ReadFile == nil {
		return nil, in.refuse(line, "reading %s needs the machine's files: give --root", file)
	}
	data, err := in.opts.ReadFile(file)
	if err != nil {
		return nil, in.refuse(line, "read %s under --root: %v", file, shPathErr(err))
	}
	if len(data) > shMaxFile {
		return nil, in.refuse(line, "%s is %d bytes, over the cap of %d for a file the script reads", file, len(data), shMaxFile)
	}
	return data, nil
}

func shPathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func (in *shInterp) include1(line int, file string, data []byte) error {
	if in.include >= shMaxInclude {
		return in.refuse(line, ". %s: files include each other deeper than %d (the cap)", file, shMaxInclude)
	}
	in.include++
	err := in.run(string(data), file)
	in.include--
	var r shReturn
	if errors.As(err, &r) {
		in.status, in.unknown = r.status, ""
		return nil
	}
	return err
}

// loadConfig reads rc.conf as rc.subr's load_rc_config does: /etc/defaults/rc.conf, then the
// files its rc_conf_files names (/etc/rc.conf, /etc/rc.conf.local), then /etc/rc.conf.d/NAME.
// If none is under --root the configuration is not known, and from here on a variable the
// script did not set is unknown rather than empty.
func (in *shInterp) loadConfig(line int, name string) error {
	in.status, in.unknown = 0, ""
	exists := func(f string) bool {
		if in.opts.Stat == nil {
			return false
		}
		_, err := in.opts.Stat(f)
		return err == nil
	}
	read := 0
	files := []string{"/etc/defaults/rc.conf"}
	for i := 0; i < len(files); i++ {
		f := files[i]
		if exists(f) {
			data, err := in.read(line, f)
			if err != nil {
				return err
			}
			if err := in.include1(line, f, data); err != nil {
				return err
			}
			read++
			if !strings.Contains(in.config, f) {
				in.config = strings.TrimPrefix(in.config+" "+f, " ")
			}
		}
		if i == 0 {
			list := "/etc/rc.conf /etc/rc.conf.local"
			if v := in.vars["rc_conf_files"]; v != nil && v.unknown == "" {
				list = v.val
			}
			files = append(files, strings.Fields(list)...)
			if name != "" && isShName(strings.ReplaceAll(name, "-", "_")) {
				files = append(files, "/etc/rc.conf.d/"+name)
			}
		}
	}
	if read == 0 && in.config == "" {
		in.missing = fmt.Sprintf("%s:%d", in.file, line)
	}
	return nil
}

// lookup returns a variable's value for a use that matters.
func (in *shInterp) lookup(name string) (string, error) {
	if v := in.vars[name]; v != nil {
		if v.unknown != "" {
			return "", &shUnknownErr{v.unknown}
		}
		if v.from == "--set" || isRCConf(v.from) {
			in.used(name, v.val, v.from)
		}
		return v.val, nil
	}
	switch {
	case in.config != "" && in.missing == "":
		if !shRCGuards[name] {
			in.used(name, "", "unset")
		}
		return "", nil
	case shRCGuards[name] && in.missing == "":
		return "", nil
	case in.missing != "":
		return "", &shUnknownErr{fmt.Sprintf("%s is not set: the script reads rc.conf (%s), which is not under --root; give --set %s=VALUE or --root with its etc/rc.conf", name, in.missing, name)}
	}
	return "", &shUnknownErr{fmt.Sprintf("%s is not set: assign it in the script, or give --set %s=VALUE (the simulator does not read the environment)", name, name)}
}

func (in *shInterp) used(name, val, from string) {
	if in.reported[name] || shRCGuards[name] {
		return
	}
	in.reported[name] = true
	in.profile = append(in.profile, fmt.Sprintf("%s=%q (%s)", name, val, from))
}

// special returns the value of $?, $#, $1… .
func (in *shInterp) special(name string) (string, error) {
	switch name {
	case "?":
		if in.unknown != "" {
			return "", &shUnknownErr{in.unknown}
		}
		return strconv.Itoa(in.status), nil
	case "#":
		return strconv.Itoa(len(in.args())), nil
	case "@", "*":
		return strings.Join(in.args(), " "), nil
	case "0":
		return in.file, nil
	}
	if n, err := strconv.Atoi(name); err == nil && n >= 1 {
		// The script is run with the arguments given as --set 1=…, else none: rc(8) passes
		// the firewall type only for `service ipfw start TYPE`.
		if a := in.args(); n <= len(a) {
			return a[n-1], nil
		}
		return "", nil
	}
	return "", &shUnknownErr{fmt.Sprintf("$%s is the shell's own state, which the simulator does not model", name)}
}

// Expansion.

// shField is an expanded word: its bytes and which of them were quoted (for patterns).
type shField struct {
	b       []byte
	q       []bool
	present bool // a word even if empty (`""`)
}

func (f *shField) add(s string, quoted bool) {
	f.b = append(f.b, s...)
	for range len(s) {
		f.q = append(f.q, quoted)
	}
	f.present = true
}

// expandFields expands a word of a command: unquoted expansions are split at blanks.
func (in *shInterp) expandFields(w string) ([]string, error) {
	fields, err := in.expand(w, true)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(fields))
	for _, f := range fields {
		out = append(out, string(f.b))
	}
	return out, nil
}

// expandString expands a word without splitting (an assignment's value, a case word).
func (in *shInterp) expandString(w string) (string, error) {
	fields, err := in.expand(w, false)
	if err != nil || len(fields) == 0 {
		return "", err
	}
	return string(fields[0].b), nil
}

// expandPattern expands a case pattern: quoted bytes match themselves.
func (in *shInterp) expandPattern(w string) (string, error) {
	fields, err := in.expand(w, false)
	if err != nil || len(fields) == 0 {
		return "", err
	}
	var b strings.Builder
	for i, c := range fields[0].b {
		if fields[0].q[i] && strings.IndexByte("*?[\\", c) >= 0 {
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	return b.String(), nil
}

func (in *shInterp) expand(w string, split bool) ([]shField, error) {
	var out []shField
	cur := shField{}
	end := func() {
		if cur.present {
			out = append(out, cur)
		}
		cur = shField{}
	}
	addUnquoted := func(s string) {
		if !split {
			cur.add(s, false)
			return
		}
		for i := 0; i < len(s); i++ {
			if c := s[i]; c == ' ' || c == '\t' || c == '\n' {
				end()
				continue
			}
			cur.add(s[i:i+1], false)
		}
	}
	for i := 0; i < len(w); {
		c := w[i]
		switch c {
		case '\\':
			if i+1 < len(w) {
				cur.add(w[i+1:i+2], true)
			}
			i += 2
		case '\'':
			j := strings.IndexByte(w[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("quote ' left open")
			}
			cur.add(w[i+1:i+1+j], true)
			i += j + 2
		case '"':
			j, err := shSkipDouble(w, i)
			if err != nil {
				return nil, err
			}
			cur.present = true
			if err := in.expandDouble(w[i+1:j-1], &cur); err != nil {
				return nil, err
			}
			i = j
		case '$', '`':
			j, err := shSkipDollar(w, i)
			if err != nil {
				return nil, err
			}
			if j == i+1 && c == '$' {
				n := in.paramLen(w[i:])
				if n == 1 {
					cur.add("$", false)
					i++
					continue
				}
				j = i + n
			}
			val, err := in.dollar(w[i:j])
			if err != nil {
				return nil, err
			}
			addUnquoted(val)
			i = j
		default:
			cur.add(w[i:i+1], false)
			i++
		}
		if len(cur.b) > shMaxExpansion {
			return nil, fmt.Errorf("a word expands to more than %d bytes (the cap)", shMaxExpansion)
		}
	}
	end()
	return out, nil
}

// paramLen returns the length of `$name`, `$1`, `$?` at the start of s (1 for a lone `$`).
func (in *shInterp) paramLen(s string) int {
	if len(s) < 2 {
		return 1
	}
	switch {
	case isShNameStart(s[1]):
		n := 2
		for n < len(s) && (isShNameStart(s[n]) || s[n] >= '0' && s[n] <= '9') {
			n++
		}
		return n
	case strings.IndexByte("0123456789@*#?$!-", s[1]) >= 0:
		return 2
	}
	return 1
}

func (in *shInterp) expandDouble(s string, cur *shField) error {
	for i := 0; i < len(s); {
		switch c := s[i]; {
		case c == '\\' && i+1 < len(s) && strings.IndexByte("\"$\\`\n", s[i+1]) >= 0:
			if s[i+1] != '\n' {
				cur.add(s[i+1:i+2], true)
			}
			i += 2
		case c == '$' || c == '`':
			j, err := shSkipDollar(s, i)
			if err != nil {
				return err
			}
			if j == i+1 && c == '$' {
				n := in.paramLen(s[i:])
				if n == 1 {
					cur.add("$", true)
					i++
					continue
				}
				j = i + n
			}
			val, err := in.dollar(s[i:j])
			if err != nil {
				return err
			}
			cur.add(val, true)
			i = j
		default:
			cur.add(s[i:i+1], true)
			i++
		}
	}
	return nil
}

// dollar expands one `$…` or a backquoted command.
func (in *shInterp) dollar(s string) (string, error) {
	switch {
	case s[0] == '`', strings.HasPrefix(s, "$("):
		if strings.HasPrefix(s, "$((") {
			return "", fmt.Errorf("arithmetic expansion %s is not modelled", s)
		}
		return "", &shSubstErr{s}
	case strings.HasPrefix(s, "${"):
		return in.braced(s[2 : len(s)-1])
	}
	name := s[1:]
	if isShName(name) {
		return in.lookup(name)
	}
	return in.special(name)
}

// braced expands the inside of `${…}`: a name, `#name`, or a name with one of
// :- - := = :+ + :? ? # ## % %% and a word.
func (in *shInterp) braced(s string) (string, error) {
	if strings.HasPrefix(s, "#") && len(s) > 1 {
		v, err := in.braced(s[1:])
		return strconv.Itoa(len(v)), err
	}
	n := 0
	for n < len(s) && (isShNameStart(s[n]) || n > 0 && s[n] >= '0' && s[n] <= '9') {
		n++
	}
	if n == 0 && len(s) > 0 && strings.IndexByte("0123456789@*#?$!-", s[0]) >= 0 {
		n = 1
		for s[0] >= '0' && s[0] <= '9' && n < len(s) && s[n] >= '0' && s[n] <= '9' {
			n++
		}
	}
	if n == 0 {
		return "", fmt.Errorf("${%s} is not a parameter expansion the simulator reads", s)
	}
	name, op := s[:n], s[n:]
	get := func() (string, bool, error) {
		if !isShName(name) {
			v, err := in.special(name)
			return v, true, err
		}
		v := in.vars[name]
		if v == nil {
			if op != "" && strings.IndexByte(":-=+?", op[0]) >= 0 && in.missing == "" {
				// ${x-default} and friends say what unset means; the environment is taken
				// as empty. After rc.conf could not be read, x may be set there: unknown.
				return "", false, nil
			}
			_, err := in.lookup(name)
			if err != nil {
				return "", false, err
			}
			return "", false, nil
		}
		val, err := in.lookup(name)
		return val, true, err
	}
	if op == "" {
		v, _, err := get()
		return v, err
	}
	var word string
	for _, o := range []string{":-", ":=", ":+", ":?", "##", "%%", "-", "=", "+", "?", "#", "%"} {
		if strings.HasPrefix(op, o) {
			op, word = o, op[len(o):]
			break
		}
	}
	if word == "" && op == s[n:] && !strings.ContainsAny(op[:1], "-=+?#%") {
		return "", fmt.Errorf("${%s} is not a parameter expansion the simulator reads", s)
	}
	val, set, err := get()
	if err != nil {
		return "", err
	}
	expandWord := func() (string, error) { return in.expandString(word) }
	switch op {
	case ":-", "-":
		if !set || (op == ":-" && val == "") {
			return expandWord()
		}
		return val, nil
	case ":=", "=":
		if !set || (op == ":=" && val == "") {
			w, err := expandWord()
			if err != nil {
				return "", err
			}
			if !isShName(name) {
				return "", fmt.Errorf("${%s}: cannot assign to $%s", s, name)
			}
			if v := in.vars[name]; v == nil || v.from != "--set" {
				in.vars[name] = &shVar{val: w, from: in.file}
			}
			return w, nil
		}
		return val, nil
	case ":+", "+":
		if set && (op == "+" || val != "") {
			return expandWord()
		}
		return "", nil
	case ":?", "?":
		if !set || (op == ":?" && val == "") {
			return "", &shUnknownErr{fmt.Sprintf("${%s}: %s is not set, and the script stops there; give --set %s=VALUE", s, name, name)}
		}
		return val, nil
	case "#", "##", "%", "%%":
		pat, err := in.expandPattern(word)
		if err != nil {
			return "", err
		}
		return shTrim(val, pat, op), nil
	}
	return "", fmt.Errorf("${%s} is not a parameter expansion the simulator reads", s)
}

// shTrim removes the shortest (# %) or longest (## %%) prefix (#) or suffix (%) of val that
// matches pat.
func shTrim(val, pat, op string) string {
	switch op {
	case "#":
		for i := 0; i <= len(val); i++ {
			if shMatch(pat, val[:i]) {
				return val[i:]
			}
		}
	case "##":
		for i := len(val); i >= 0; i-- {
			if shMatch(pat, val[:i]) {
				return val[i:]
			}
		}
	case "%":
		for i := len(val); i >= 0; i-- {
			if shMatch(pat, val[i:]) {
				return val[:i]
			}
		}
	case "%%":
		for i := 0; i <= len(val); i++ {
			if shMatch(pat, val[i:]) {
				return val[:i]
			}
		}
	}
	return val
}

// test evaluates the arguments of `test` / `[ … ]`.
func (in *shInterp) test(args []string, line int) (bool, error) {
	t := &shTest{in: in, args: args, line: line}
	ok, err := t.or()
	if err != nil {
		return false, err
	}
	if t.pos != len(args) {
		return false, in.refuse(line, "test: unexpected %q", args[t.pos])
	}
	return ok, nil
}

type shTest struct {
	in   *shInterp
	args []string
	pos  int
	line int
}

func (t *shTest) peek() string {
	if t.pos < len(t.args) {
		return t.args[t.pos]
	}
	return ""
}

func (t *shTest) or() (bool, error) {
	a, err := t.and()
	for err == nil && t.pos < len(t.args) && t.peek() == "-o" {
		t.pos++
		var b bool
		b, err = t.and()
		a = a || b
	}
	return a, err
}

func (t *shTest) and() (bool, error) {
	a, err := t.not()
	for err == nil && t.pos < len(t.args) && t.peek() == "-a" {
		t.pos++
		var b bool
		b, err = t.not()
		a = a && b
	}
	return a, err
}

func (t *shTest) not() (bool, error) {
	if t.peek() == "!" && t.pos+1 < len(t.args) {
		t.pos++
		v, err := t.not()
		return !v, err
	}
	return t.primary()
}

var shBinary = map[string]bool{"=": true, "==": true, "!=": true, "-eq": true, "-ne": true, "-lt": true, "-le": true, "-gt": true, "-ge": true}

func (t *shTest) primary() (bool, error) {
	rest := len(t.args) - t.pos
	if rest == 0 {
		return false, nil
	}
	a := t.args[t.pos]
	if a == "(" {
		return false, t.in.refuse(t.line, "test with parentheses is not modelled")
	}
	if rest >= 3 && shBinary[t.args[t.pos+1]] {
		x, op, y := a, t.args[t.pos+1], t.args[t.pos+2]
		t.pos += 3
		switch op {
		case "=", "==":
			return x == y, nil
		case "!=":
			return x != y, nil
		}
		xi, err1 := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
		yi, err2 := strconv.ParseInt(strings.TrimSpace(y), 10, 64)
		if err1 != nil || err2 != nil {
			return false, t.in.refuse(t.line, "test %s %s %s: %s needs two integers", x, op, y, op)
		}
		switch op {
		case "-eq":
			return xi == yi, nil
		case "-ne":
			return xi != yi, nil
		case "-lt":
			return xi < yi, nil
		case "-le":
			return xi <= yi, nil
		case "-gt":
			return xi > yi, nil
		}
		return xi >= yi, nil
	}
	if rest >= 2 && len(a) == 2 && a[0] == '-' && strings.IndexByte("znrfdesxwLhp", a[1]) >= 0 {
		arg := t.args[t.pos+1]
		t.pos += 2
		switch a[1] {
		case 'z':
			return arg == "", nil
		case 'n':
			return arg != "", nil
		}
		return t.file(a, arg)
	}
	t.pos++
	return a != "", nil
}

// file answers a file test under --root.
func (t *shTest) file(op, name string) (bool, error) {
	if name == "" {
		return false, nil
	}
	if !strings.HasPrefix(name, "/") {
		return false, t.in.refuse(t.line, "test %s %s: only absolute paths are looked up (under --root)", op, name)
	}
	if f := t.in.overlay.get(name); f != nil {
		if f.gone {
			return false, nil
		}
		return t.fileInfo(op, shFileInfo{name, int64(len(f.data))}), nil
	}
	if t.in.opts.Stat == nil {
		return false, t.in.refuse(t.line, "test %s %s needs the machine's files: give --root", op, name)
	}
	fi, err := t.in.opts.Stat(name)
	if err != nil {
		return false, nil
	}
	return t.fileInfo(op, fi), nil
}

// fileInfo answers the file test op for an existing file.
func (t *shTest) fileInfo(op string, fi fs.FileInfo) bool {
	switch op {
	case "-f":
		return fi.Mode().IsRegular()
	case "-d":
		return fi.IsDir()
	case "-s":
		return fi.Size() > 0
	case "-x":
		return fi.Mode()&0o111 != 0
	case "-L", "-h":
		return fi.Mode()&fs.ModeSymlink != 0
	case "-p":
		return fi.Mode()&fs.ModeNamedPipe != 0
	}
	return true // -r, -w, -e: the simulator reads as root
}
