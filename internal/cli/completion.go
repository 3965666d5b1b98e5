package cli

import (
	"context"
	"flag"
	"fmt"
	"github.com/firewarden/firewarden/internal/service"
	"io"
	"slices"
	"strings"

	"github.com/firewarden/firewarden/internal/fwlog"
	"github.com/firewarden/firewarden/internal/posture/baseline"
)

// Completion works in two halves: a small script per shell that hands the words typed so far to
// the hidden `firewarden __complete WORDS…`, and that command, which answers from the command
// table and the real FlagSets. So the completions always match the binary that is installed,
// and the scripts never need regenerating when a flag is added.

// Directives __complete prints on a line of their own, after the candidates.
const (
	completeFiles = ":files" // also complete file names
	completeDirs  = ":dirs"  // complete directory names
)

// shells are the shells `firewarden completion` writes scripts for.
func shells() []string { return []string{"bash", "zsh", "fish"} }

// enumValues are the values of flags that take one of a fixed set, by "COMMAND PATH --flag"; a
// key "--flag" applies to every command. The test checks each value against the parser or the
// flag's usage.
func enumValues() map[string][]string {
	inputs := []string{"auto", "eslogger", "osquery", "unifiedlog", "santa", "ecs"}
	return map[string][]string{
		"logs summarize --format": fwlog.FormatNames(),
		"logs summarize --report": {"classic", "full"},
		"rules --format":          {"ipfw", "pf"},
		"rules --default":         {"allow", "deny"},
		"evidence --format":       {"json", "csv"},
		"detect --input":          inputs,
		"--backend":               {"nft", "pf", "dry-run", "none"},
		"--init":                  {"systemd", "launchd"},
	}
}

// valuesFor are the enum values of flag name for the command at path: the longest path prefix
// with an entry wins.
func valuesFor(path []string, name string) ([]string, bool) {
	vals := enumValues()
	for n := len(path); n >= 0; n-- {
		key := strings.TrimSpace(strings.Join(path[:n], " ") + " --" + name)
		if v, ok := vals[key]; ok {
			return v, true
		}
	}
	return nil, false
}

// completeState is where the words before the one being completed leave the command line.
type completeState struct {
	chain []*cmdSpec
	path  []string
	fs    *flag.FlagSet
	pos   []string // positional arguments after the command path
}

func (s *completeState) spec() *cmdSpec {
	if len(s.chain) == 0 {
		return nil
	}
	return s.chain[len(s.chain)-1]
}

// lookup finds a flag of the current command (the global flags and --version before a command).
func (s *completeState) lookup(name string) *flag.Flag {
	if s.fs != nil {
		if f := s.fs.Lookup(name); f != nil {
			return f
		}
	}
	return globalFlagSet().Lookup(name)
}

func (s *completeState) refresh() {
	s.fs = nil
	if len(s.path) > 0 {
		s.fs = flagsOf(s.path)
	}
	if s.fs == nil {
		if len(s.path) == 0 {
			s.fs = globalFlagSet()
		} else {
			s.fs = flag.NewFlagSet(strings.Join(s.path, " "), flag.ContinueOnError)
			var g globals
			g.register(s.fs)
		}
	}
}

// complete returns the candidates for the last of words (the word under the cursor, possibly
// empty), given the words before it, one per line, plus a directive line for file names.
func complete(words []string) []string {
	if len(words) == 0 {
		words = []string{""}
	}
	cur, before := words[len(words)-1], words[:len(words)-1]
	s := &completeState{}
	s.refresh()
	expectValue := "" // the flag whose value cur is
	for i := 0; i < len(before); i++ {
		w := before[i]
		if w == "--" {
			return nil
		}
		if len(w) > 1 && w[0] == '-' {
			name, _, hasValue := strings.Cut(strings.TrimLeft(w, "-"), "=")
			if f := s.lookup(name); f != nil && !isBoolFlag(f) && !hasValue {
				if i == len(before)-1 {
					expectValue = name
				}
				i++
			}
			continue
		}
		switch c := s.spec(); {
		case c == nil:
			top := findCommand(w)
			if top == nil {
				return nil
			}
			s.chain, s.path = []*cmdSpec{top}, []string{w}
			s.refresh()
		case len(s.pos) == 0 && c.verb(w) != nil:
			s.chain, s.path = append(s.chain, c.verb(w)), append(s.path, w)
			s.refresh()
		default:
			s.pos = append(s.pos, w)
		}
	}
	if expectValue != "" {
		return s.values(expectValue, cur, "")
	}
	if strings.HasPrefix(cur, "-") {
		if name, val, ok := strings.Cut(strings.TrimLeft(cur, "-"), "="); ok {
			// The candidates keep what was typed before the value, one dash or two.
			return s.values(name, val, cur[:len(cur)-len(val)])
		}
		return s.flags(cur)
	}
	return s.words(cur)
}

// flags are the flags of the current command starting with cur, as --name.
func (s *completeState) flags(cur string) []string {
	var out []string
	s.fs.VisitAll(func(f *flag.Flag) {
		if strings.HasPrefix("--"+f.Name, cur) {
			out = append(out, "--"+f.Name)
		}
	})
	if len(s.path) == 0 && strings.HasPrefix("--help", cur) {
		out = append(out, "--help")
	}
	return out
}

// values completes the value of flag name: enum values, check IDs (after the last comma), or
// file and directory names where the placeholder says FILE or DIR. prefix goes before each.
func (s *completeState) values(name, cur, prefix string) []string {
	f := s.lookup(name)
	if f == nil {
		return nil
	}
	var out []string
	if name == "only" {
		done, last := "", cur
		if i := strings.LastIndex(cur, ","); i >= 0 {
			done, last = cur[:i+1], cur[i+1:]
		}
		given := strings.Split(done, ",")
		for _, id := range baseline.CheckIDs() {
			if strings.HasPrefix(id, last) && !slices.Contains(given, id) {
				out = append(out, prefix+done+id)
			}
		}
		return out
	}
	if vals, ok := valuesFor(s.path, name); ok {
		for _, v := range vals {
			if strings.HasPrefix(v, cur) {
				out = append(out, prefix+v)
			}
		}
		return out
	}
	switch placeholder, _ := flag.UnquoteUsage(f); placeholder {
	case "FILE":
		return []string{completeFiles}
	case "DIR":
		return []string{completeDirs}
	}
	return nil
}

// words completes a command, a verb or a positional argument.
func (s *completeState) words(cur string) []string {
	var out []string
	add := func(names ...string) {
		for _, n := range names {
			if strings.HasPrefix(n, cur) {
				out = append(out, n)
			}
		}
	}
	c := s.spec()
	switch {
	case c == nil:
		for _, c := range visibleCommands() {
			add(c.name)
		}
		return out
	case c.name == "completion" && len(s.chain) == 1 && len(s.pos) == 0:
		add(shells()...)
		return out
	case c.name == "help" && len(s.chain) == 1:
		return helpWords(s, cur)
	case len(s.chain) == 2 && s.chain[0].name == "service" && c.name != "files" && len(s.pos) == 0:
		add(service.Names()...)
		return out
	}
	if len(s.pos) == 0 {
		add(c.verbNames()...)
	}
	if c.files && !c.needsVerb {
		out = append(out, completeFiles)
	}
	return out
}

// helpWords completes `firewarden help COMMAND VERB`: the words after help are a path.
func helpWords(s *completeState, cur string) []string {
	var names []string
	if len(s.pos) == 0 {
		for _, c := range visibleCommands() {
			names = append(names, c.name)
		}
	} else if chain, n := resolve(s.pos); chain != nil && n == len(s.pos) {
		names = chain[len(chain)-1].verbNames()
	}
	var out []string
	for _, n := range names {
		if strings.HasPrefix(n, cur) {
			out = append(out, n)
		}
	}
	return out
}

// runComplete is the hidden `firewarden __complete WORDS…` the completion scripts call.
func runComplete(_ context.Context, a *app, args []string) error {
	if a.describe {
		a.described = a.flagSet("__complete")
		return errDescribe
	}
	// Not a.parse: the words are the user's command line, flags included, not ours.
	for _, c := range complete(args) {
		fmt.Fprintln(a.Out, c)
	}
	return nil
}

// runCompletion is `firewarden completion SHELL`.
func runCompletion(_ context.Context, a *app, args []string) error {
	pos, err := a.parse(a.flagSet("completion"), args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("completion needs one SHELL: %s", orList(shells()))
	}
	return writeCompletion(a.Out, pos[0])
}

func writeCompletion(w io.Writer, shell string) error {
	var script string
	switch shell {
	case "bash":
		script = bashCompletion
	case "zsh":
		script = zshCompletion
	case "fish":
		script = fishCompletion
	default:
		if s := suggest(shell, shells()); s != "" {
			return usagef("completion: unknown shell %q; did you mean %q?", shell, s)
		}
		return usagef("completion: unknown shell %q; use %s", shell, orList(shells()))
	}
	_, err := io.WriteString(w, script)
	return err
}

// bashCompletion joins the words bash split at "=" (COMP_WORDBREAKS) back into one, asks the
// binary, and strips what bash will not replace from each candidate.
const bashCompletion = `# bash completion for firewarden; generated by ` + "`firewarden completion bash`" + `
_firewarden() {
    local i w joined=() cur=${COMP_WORDS[COMP_CWORD]}
    for ((i = 1; i <= COMP_CWORD; i++)); do
        w=${COMP_WORDS[i]}
        if [[ ${#joined[@]} -gt 0 && ( $w == "=" || ${joined[${#joined[@]}-1]} == *= ) ]]; then
            joined[${#joined[@]}-1]+=$w
        else
            joined+=("$w")
        fi
    done
    local last=${joined[${#joined[@]}-1]}
    [[ $cur == "=" ]] && cur=""
    local strip=$(( ${#last} - ${#cur} ))
    COMPREPLY=()
    local c
    while IFS= read -r c; do
        case $c in
        :files) while IFS= read -r w; do COMPREPLY+=("$w"); done < <(compgen -f -- "$cur") ;;
        :dirs) while IFS= read -r w; do COMPREPLY+=("$w"); done < <(compgen -d -- "$cur") ;;
        ?*) COMPREPLY+=("${c:strip}") ;;
        esac
    done < <("${COMP_WORDS[0]}" __complete "${joined[@]}" 2>/dev/null)
}
complete -o filenames -F _firewarden firewarden
`

// zshCompletion keeps empty words ("${(@)…}"): the word under the cursor is often empty.
const zshCompletion = `#compdef firewarden
# zsh completion for firewarden; generated by ` + "`firewarden completion zsh`" + `
_firewarden() {
    local -a cands
    local c files=0 dirs=0
    for c in "${(@f)$(${words[1]} __complete "${(@)words[2,CURRENT]}" 2>/dev/null)}"; do
        [[ -n $c ]] || continue
        case $c in
        :files) files=1 ;;
        :dirs) dirs=1 ;;
        *) cands+=("$c") ;;
        esac
    done
    (( ${#cands} )) && compadd -Q -- "${cands[@]}"
    (( files )) && _files
    (( dirs )) && _files -/
    return 0
}
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
    _firewarden "$@"
else
    compdef _firewarden firewarden
fi
`

const fishCompletion = `# fish completion for firewarden; generated by ` + "`firewarden completion fish`" + `
function __firewarden_complete
    set -l words (commandline -opc)
    set -e words[1]
    for c in (firewarden __complete $words (commandline -ct) 2>/dev/null)
        switch $c
            case :files
                __fish_complete_path (commandline -ct)
            case :dirs
                __fish_complete_directories (commandline -ct)
            case '*'
                echo $c
        end
    end
end
complete -c firewarden -f -a '(__firewarden_complete)'
`
