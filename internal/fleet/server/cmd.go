package server

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/user"
	"strings"
	"time"

	"github.com/firewarden/firewarden/internal/fleet/store"
	"github.com/firewarden/firewarden/internal/version"
)

// Streams are the command's outputs.
type Streams struct {
	Out io.Writer
	Err io.Writer
}

// Env is what the command line needs from outside: streams, a clock and the store opener
// (tests pass a fake store; main passes Open).
type Env struct {
	Streams
	Now func() time.Time
	// Open opens (creating and migrating as needed) the store: target is a PostgreSQL URL or a
	// SQLite file path.
	Open func(ctx context.Context, target string) (store.Store, error)
	// In is where user add and user passwd read the password; nil reads nothing.
	In io.Reader
	// Ready, when set, is called by serve with the bound address once it accepts connections.
	Ready func(addr string)
}

// command is one command (or verb) of firewarden-server: what help says, and how it runs.
type command struct {
	name, args, summary, desc string
	examples                  []string
	verbs                     []*command
	run                       func(ctx context.Context, e *Env, fs *flag.FlagSet, args []string) error
	flags                     func(fs *flag.FlagSet)
}

func commands() []*command {
	return []*command{
		{
			name: "init", summary: "create the data directory, database, TLS key pair, admin token and enroll secret",
			desc: "Creates the data directory (0700) with server.yaml, the SQLite database fleet.db (or migrates the " +
				"PostgreSQL database given with --db), a self-signed ECDSA P-256 certificate for this host's names and " +
				"addresses (unless --cert and --key name one), the first admin API token and an enroll secret, and prints " +
				"url, fingerprint, admin_token and enroll_secret. The token and the secret are shown only now. A data " +
				"directory that already holds a server is refused.",
			examples: []string{
				"firewarden-server init",
				"firewarden-server init --data-dir /var/lib/firewarden-server --listen :8443 --json",
				"firewarden-server init --db postgres://fleet@db.example/fleet --cert fullchain.pem --key key.pem",
			},
			flags: initFlags, run: runInit,
		},
		{
			name: "serve", summary: "serve the agent API, the admin API and /metrics over TLS",
			desc: "Serves the agent API (enroll, config, report, nudges), the admin API under /api/v1/, /metrics, and " +
				"/healthz for load balancers (no credential: 200 when the store answers, 503 when not), " +
				"with TLS on every listener, from the data directory init created. Prints the address it listens on to " +
				"stderr. --insecure-http serves plain HTTP, and only on a loopback address (for a reverse proxy on the " +
				"same host, or tests). Failed authentications are limited per client address; behind a load balancer, " +
				"--trusted-proxy names it, and only then are X-Forwarded-For (the client's address), X-Forwarded-Host and " +
				"X-Forwarded-Proto (the dashboard's address, which its forms' Origin must match) believed. The dashboard " +
				"is served on the same listener; its session cookie is Secure, so browsers reach it over HTTPS (or " +
				"http://localhost). Stops gracefully on SIGTERM or SIGINT.",
			examples: []string{
				"firewarden-server serve",
				"firewarden-server serve --data-dir /var/lib/firewarden-server --listen :443",
				"firewarden-server serve --listen 127.0.0.1:8080 --insecure-http",
				"firewarden-server serve --trusted-proxy 10.0.0.0/24",
			},
			flags: serveFlags, run: runServe,
		},
		{
			name: "token", summary: "create or revoke admin API tokens (roles admin and auditor)",
			desc: "Manages the bearer tokens of the admin API in the data directory's store. An auditor token reads " +
				"everything and changes nothing. Every change is in the audit log.",
			examples: []string{"firewarden-server token create --name alice --role auditor", "firewarden-server token revoke 0193…"},
			verbs: []*command{
				{
					name: "create", summary: "create a token and print it (shown only now)",
					desc:     "Creates an API token with the given name and role and prints its id and the token.",
					examples: []string{"firewarden-server token create --name ci --role auditor --json"},
					flags:    tokenCreateFlags, run: runTokenCreate,
				},
				{
					name: "revoke", args: "ID", summary: "revoke a token: every request with it is refused",
					desc:     "Revokes the token with the id token create printed. Requests with it get 401 at once.",
					examples: []string{"firewarden-server token revoke 0193a4c2-…"},
					flags:    dataDirFlags, run: runTokenRevoke,
				},
			},
		},
		{
			name: "secret", summary: "create or revoke enroll secrets",
			desc: "Manages the secrets agents trade for a host credential at enrollment. Revoking a secret stops new " +
				"enrollments with it; hosts already enrolled keep their credentials. Every change is in the audit log.",
			examples: []string{"firewarden-server secret create --name laptops --label laptop", "firewarden-server secret revoke 0193…"},
			verbs: []*command{
				{
					name: "create", summary: "create an enroll secret and print it (shown only now)",
					desc:     "Creates an enroll secret; hosts enrolled with it get the labels given with --label.",
					examples: []string{"firewarden-server secret create --name berlin --label office-berlin,laptop"},
					flags:    secretCreateFlags, run: runSecretCreate,
				},
				{
					name: "revoke", args: "ID", summary: "revoke an enroll secret",
					desc:     "Revokes the enroll secret with the id secret create (or init) printed.",
					examples: []string{"firewarden-server secret revoke 0193a4c2-…"},
					flags:    dataDirFlags, run: runSecretRevoke,
				},
			},
		},
		{
			name: "user", summary: "add, change, disable or list dashboard accounts (roles admin and auditor)",
			desc: "Manages the dashboard's accounts in the data directory's store. An auditor sees everything and " +
				"changes nothing. Passwords are read from stdin, one line of at least 12 characters and at most 1024 bytes, " +
				"and stored as argon2id hashes; at a terminal, user add and user passwd prompt and do not echo " +
				"it. Every change is in the audit log.",
			examples: []string{"firewarden-server user add alice --role admin", "firewarden-server user list"},
			verbs: []*command{
				{
					name: "add", args: "NAME", summary: "add an account; its password is read from stdin",
					desc: "Adds an account with the given role. NAME is 1 to 64 letters, digits, '.', '_', '-' or '@'; " +
						"names are case-sensitive. A name that exists is refused.",
					examples: []string{"printf '%s\\n' \"$PW\" | firewarden-server user add alice --role auditor"},
					flags:    userAddFlags, run: runUserAdd,
				},
				{
					name: "passwd", args: "NAME", summary: "set an account's password, read from stdin",
					desc:     "Replaces the account's password with the line read from stdin.",
					examples: []string{"firewarden-server user passwd alice"},
					flags:    dataDirFlags, run: runUserPasswd,
				},
				{
					name: "disable", args: "NAME", summary: "disable an account: it can no longer log in",
					desc:     "Disables the account for good (add a new account to give access back).",
					examples: []string{"firewarden-server user disable alice"},
					flags:    dataDirFlags, run: runUserDisable,
				},
				{
					name: "list", summary: "list the accounts with their roles and when they were disabled",
					desc:     "Lists every account, disabled ones included, in name order.",
					examples: []string{"firewarden-server user list --json"},
					flags:    userListFlags, run: runUserList,
				},
			},
		},
		{
			name: "version", summary: "print the version",
			desc:     "Prints the version of this build, like --version.",
			examples: []string{"firewarden-server version"},
			run: func(_ context.Context, e *Env, _ *flag.FlagSet, args []string) error {
				if len(args) > 0 {
					return usagef("version takes no arguments, got %q", args[0])
				}
				fmt.Fprintln(e.Out, versionLine())
				return nil
			},
		},
	}
}

// versionLine is firewarden's version line with this binary's name.
func versionLine() string {
	return "firewarden-server " + strings.TrimPrefix(version.Line(), "firewarden ")
}

// Main runs firewarden-server with args (without the program name) and returns the exit
// status: 0, or 2 with one line on stderr for bad input or a failure.
func Main(ctx context.Context, args []string, e *Env) int {
	if e.Now == nil {
		e.Now = time.Now
	}
	err := dispatch(ctx, e, args)
	var ue *usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(e.Err, "firewarden-server: %s\n", ue.msg)
	default:
		fmt.Fprintf(e.Err, "firewarden-server: %s\n", strings.Join(strings.Fields(err.Error()), " "))
	}
	return 2
}

func dispatch(ctx context.Context, e *Env, args []string) error {
	if len(args) == 0 {
		writeOverview(e.Out)
		return nil
	}
	switch args[0] {
	case "--version", "-version":
		fmt.Fprintln(e.Out, versionLine())
		return nil
	case "-h", "--help", "-help":
		writeOverview(e.Out)
		return nil
	case "help":
		return runHelp(e, args[1:])
	}
	if strings.HasPrefix(args[0], "-") {
		return usagef("flag %s before a command; flags follow the command (`firewarden-server help`)", args[0])
	}
	chain, rest, err := resolve(args)
	if err != nil {
		return err
	}
	c := chain[len(chain)-1]
	fs := flagSetOf(chain)
	if err := parseInterspersed(fs, rest); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			writeHelp(e.Out, chain)
			return err
		}
		return usagef("%s: %v; see `firewarden-server help %s`", pathOf(chain), err, pathOf(chain))
	}
	return c.run(ctx, e, fs, fs.Args())
}

// resolve finds the command and verb args name.
func resolve(args []string) (chain []*command, rest []string, err error) {
	list := commands()
	for len(args) > 0 && (len(chain) == 0 || !strings.HasPrefix(args[0], "-")) {
		var c *command
		for _, x := range list {
			if x.name == args[0] {
				c = x
			}
		}
		if c == nil {
			if len(chain) == 0 {
				return nil, nil, usagef("unknown command %q%s; commands: %s (`firewarden-server help`)", args[0], didYouMean(args[0], list), names(list))
			}
			if len(chain[len(chain)-1].verbs) > 0 {
				return nil, nil, usagef("%s: unknown verb %q%s; verbs: %s", pathOf(chain), args[0], didYouMean(args[0], list), names(list))
			}
			break
		}
		chain = append(chain, c)
		args = args[1:]
		if len(c.verbs) == 0 {
			break
		}
		list = c.verbs
	}
	last := chain[len(chain)-1]
	if len(last.verbs) > 0 {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			return chain, args, nil
		}
		return nil, nil, usagef("%s needs a verb: %s", pathOf(chain), names(last.verbs))
	}
	return chain, args, nil
}

// didYouMean names the command closest to a mistyped one, if one is close.
func didYouMean(typed string, cs []*command) string {
	best, dist := "", 3
	for _, c := range cs {
		if d := editDistance(typed, c.name); d < dist {
			best, dist = c.name, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %s?)", best)
}

// editDistance is the Levenshtein distance between two short words.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

func names(cs []*command) string {
	var n []string
	for _, c := range cs {
		n = append(n, c.name)
	}
	return strings.Join(n, ", ")
}

func pathOf(chain []*command) string {
	var n []string
	for _, c := range chain {
		n = append(n, c.name)
	}
	return strings.Join(n, " ")
}

func flagSetOf(chain []*command) *flag.FlagSet {
	fs := flag.NewFlagSet(pathOf(chain), flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if f := chain[len(chain)-1].flags; f != nil {
		f(fs)
	}
	return fs
}

// parseInterspersed parses flags wherever they are among the positional arguments.
func parseInterspersed(fs *flag.FlagSet, args []string) error {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	return fs.Parse(append([]string{"--"}, pos...))
}

func writeOverview(w io.Writer) {
	fmt.Fprintln(w, "firewarden-server: the fleet server firewarden agents report to")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Usage: firewarden-server COMMAND [FLAGS]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Start here: firewarden-server init && firewarden-server serve")
	fmt.Fprintln(w, "Run `firewarden-server help COMMAND` for a command's flags and examples; --version prints the version.")
}

func runHelp(e *Env, args []string) error {
	if len(args) == 0 {
		writeOverview(e.Out)
		return nil
	}
	chain, rest, err := resolve(append(args, "--help"))
	if err != nil {
		return err
	}
	if len(rest) > 1 {
		return usagef("help: %s has no verb %q", pathOf(chain), rest[0])
	}
	writeHelp(e.Out, chain)
	return nil
}

func writeHelp(w io.Writer, chain []*command) {
	c := chain[len(chain)-1]
	fs := flagSetOf(chain)
	usage := "firewarden-server " + pathOf(chain)
	if len(c.verbs) > 0 {
		usage += " VERB"
	}
	hasFlags := false
	fs.VisitAll(func(*flag.Flag) { hasFlags = true })
	if hasFlags {
		usage += " [FLAGS]"
	}
	if c.args != "" {
		usage += " " + c.args
	}
	fmt.Fprintf(w, "%s\n\nUsage: %s\n\n%s\n", c.summary, usage, wrapText(c.desc, 96))
	if len(c.verbs) > 0 {
		fmt.Fprintln(w, "\nVerbs:")
		for _, v := range c.verbs {
			fmt.Fprintf(w, "  %-8s %s\n", v.name, v.summary)
		}
	}
	if hasFlags {
		fmt.Fprintln(w, "\nFlags:")
		fs.VisitAll(func(f *flag.Flag) {
			ph, usage := flag.UnquoteUsage(f)
			syn := "--" + f.Name
			if b, ok := f.Value.(interface{ IsBoolFlag() bool }); !ok || !b.IsBoolFlag() {
				syn += " " + ph
			}
			if f.DefValue != "" && f.DefValue != "false" {
				usage += " (default " + f.DefValue + ")"
			}
			fmt.Fprintf(w, "  %-22s %s\n", syn, usage)
		})
	}
	if len(c.examples) > 0 {
		fmt.Fprintln(w, "\nExamples:")
		for _, ex := range c.examples {
			fmt.Fprintf(w, "  %s\n", ex)
		}
	}
}

func wrapText(s string, width int) string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(s) {
		if line != "" && len(line)+1+len(word) > width {
			lines = append(lines, line)
			line = word
			continue
		}
		if line != "" {
			line += " "
		}
		line += word
	}
	if line != "" {
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n")
}

// flags ----------------------------------------------------------------------------------

func dataDirFlags(fs *flag.FlagSet) {
	fs.String("data-dir", DefaultDataDir, "the server's data directory `DIR`")
}

func initFlags(fs *flag.FlagSet) {
	dataDirFlags(fs)
	fs.String("db", "", "database `URL`: postgres://… for PostgreSQL (default SQLite in DIR/fleet.db)")
	fs.String("listen", DefaultListen, "address serve listens on (`ADDR`), recorded in server.yaml")
	fs.String("cert", "", "TLS certificate chain `FILE` (PEM) to use instead of a self-signed one")
	fs.String("key", "", "TLS private key `FILE` (PEM) of --cert")
	fs.Bool("json", false, "print the result as JSON")
}

func serveFlags(fs *flag.FlagSet) {
	dataDirFlags(fs)
	fs.String("db", "", "database `URL` (default: server.yaml's, else SQLite in DIR/fleet.db)")
	fs.String("listen", "", "address to listen on (`ADDR`; default: server.yaml's, else "+DefaultListen+")")
	fs.Bool("insecure-http", false, "serve plain HTTP; refused unless --listen is a loopback address")
	fs.String("trusted-proxy", "", "load balancers' addresses (`CIDRS`, comma-separated) whose X-Forwarded-For names the client (for the per-address limit on failed authentication) and X-Forwarded-Host and -Proto the dashboard's address")
}

func tokenCreateFlags(fs *flag.FlagSet) {
	dataDirFlags(fs)
	fs.String("name", "", "`NAME` of the token, as the audit log names its actions (required)")
	fs.String("role", store.RoleAdmin, "`ROLE`: admin, or auditor (read only)")
	fs.Bool("json", false, "print the result as JSON")
}

func secretCreateFlags(fs *flag.FlagSet) {
	dataDirFlags(fs)
	fs.String("name", "", "`NAME` of the secret (required)")
	fs.String("label", "", "`LABELS`, comma-separated, given to every host enrolled with this secret")
	fs.Bool("json", false, "print the result as JSON")
}

func str(fs *flag.FlagSet, name string) string {
	if f := fs.Lookup(name); f != nil {
		return f.Value.String()
	}
	return ""
}

func boolFlag(fs *flag.FlagSet, name string) bool { return str(fs, name) == "true" }

// isSet reports whether name was given on the command line.
func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == name {
			set = true
		}
	})
	return set
}

// cliActor names a person at the server's console in the audit log.
func cliActor() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return "cli:" + u.Username
	}
	return "cli:uid" + fmt.Sprint(os.Getuid())
}
