package cli

import (
	"context"
	"strings"
)

// cmdSpec describes one command, or one verb of a command: what help, the man pages and the
// completions say about it. Flags are not listed here: they are read from the flag.FlagSet the
// command's run function builds (see app.flagsOf), so what help shows is what parsing accepts.
type cmdSpec struct {
	name string
	// args is the positional part of the usage line, e.g. "RULESET" or "[FILE…]".
	args     string
	summary  string // one line, lowercase, no final stop
	desc     string // one paragraph
	examples []string
	// verbs are the command's verbs. A command with verbs and no standalone meaning sets
	// needsVerb; `detect` both runs alone and has the verb `rules`.
	verbs     []*cmdSpec
	needsVerb bool
	// run runs a top-level command with the arguments after its name (verbs included).
	run func(ctx context.Context, a *app, args []string) error
	// files says the positional arguments are file names, for completion.
	files bool
	// hidden commands are left out of help, man pages and completion.
	hidden bool
}

// commandTable lists the commands in help order. Adding a command is adding an entry here (and
// its run function, which must build its flags and call app.parse before doing anything).
func commandTable() []*cmdSpec {
	return []*cmdSpec{
		{
			name: "check", summary: "evaluate the baseline; exit 0 compliant, 1 not",
			desc: "Reads the firewall and sharing settings of this host (or of the host laid out under --root) " +
				"and compares them with the baseline: the built-in CIS Level 1 baseline, or the one given with --baseline " +
				"or in the configuration file. Nothing is changed. Each check is pass, fail, error, managed (an MDM profile " +
				"enforces it), exempt or not_applicable. Exit status 0 when compliant, 1 when not, 2 when a check could not be read.",
			examples: []string{
				"firewarden check",
				"firewarden check --only alf.enabled,alf.stealth",
				"firewarden --json check --baseline strict.yaml",
			},
			run: runCheck,
		},
		{
			name: "fix", summary: "back up, remediate what fails, re-read, report",
			desc: "Runs the checks, saves the current value of every setting it is about to change in a backup, " +
				"changes what fails, and reads every setting back (socketfilterfw exits 0 even when it refused). A setting " +
				"an MDM profile manages is never touched. --dry-run prints the exact commands instead and runs none that " +
				"write. On Linux the nftables table a fix settles is held in the state directory, and the firewall " +
				"service (installed and enabled by fix where systemd runs) puts it back at boot with --boot. Needs " +
				"root on the real system.",
			examples: []string{
				"firewarden fix --dry-run",
				"sudo firewarden fix",
				"sudo firewarden fix --only alf.stealth",
				"sudo firewarden fix --boot",
			},
			run: runFix,
		},
		{
			name: "rollback", args: "[BACKUP]", summary: "restore the settings a fix saved (default: the latest)",
			desc: "Restores the settings a fix saved in its backup, the latest one unless BACKUP names another, and " +
				"reads each back. --list shows the backups, oldest first. Needs root on the real system.",
			examples: []string{
				"firewarden rollback --list",
				"sudo firewarden rollback",
				"sudo firewarden rollback 20261122T062305Z",
			},
			run: runRollback,
		},
		{
			name: "evidence", summary: "run the checks and append an audit evidence record",
			desc: "Runs the checks like check and appends the result to the hash-chained evidence log in the state " +
				"directory, printing the record (JSON or CSV) or writing it to --out. --verify checks the chain instead: " +
				"every record's hash and its link to the one before.",
			examples: []string{
				"firewarden evidence --out /tmp/evidence.json",
				"firewarden evidence --format csv",
				"firewarden evidence --verify",
			},
			run: runEvidence,
		},
		{
			name: "baseline", summary: "print the default baseline, or a configuration profile enforcing one",
			desc: "Prints what check compares with: the built-in baseline as commented YAML to copy and edit, or a " +
				"macOS configuration profile (.mobileconfig) that enforces a baseline's firewall settings through MDM.",
			examples: []string{
				"firewarden baseline default > strict.yaml",
				"firewarden baseline profile --baseline strict.yaml --organization Example > firewall.mobileconfig",
			},
			needsVerb: true, run: runBaseline,
			verbs: []*cmdSpec{
				{
					name: "default", summary: "print the built-in baseline as commented YAML",
					desc:     "Prints the built-in CIS Level 1 baseline, every key commented, ready to copy and edit.",
					examples: []string{"firewarden baseline default", "firewarden baseline default > strict.yaml"},
				},
				{
					name: "profile", summary: "print a .mobileconfig that enforces the baseline",
					desc: "Renders the baseline (the built-in one, or --baseline FILE) as a macOS configuration profile " +
						"with a com.apple.security.firewall payload, for an MDM to install. Settings a profile cannot " +
						"express are named on stderr.",
					examples: []string{
						"firewarden baseline profile > firewall.mobileconfig",
						"firewarden baseline profile --baseline strict.yaml --identifier org.example --organization Example",
					},
				},
			},
		},
		{
			name: "logs", summary: "summarise ipfw, pf, Application Firewall, netfilter, pfSense, Windows and MikroTik firewall logs",
			desc: "Reads firewall logs and prints who was blocked, on which ports, from where and when.",
			examples: []string{
				"firewarden logs summarize /var/log/pf.log",
				"firewarden logs summarize --report classic ipfw.log",
			},
			needsVerb: true, run: runLogs,
			verbs: []*cmdSpec{
				{
					name: "summarize", args: "FILE…", files: true,
					summary: "summarise ipfw, pf, ALF, netfilter, filterlog, Windows and MikroTik logs",
					desc: "Reads ipfw, pf (pflog as tcpdump prints it), macOS Application Firewall, netfilter (iptables, " +
						"nftables, ufw, firewalld, UniFi/EdgeOS, Proxmox pve-firewall.log), pfSense/OPNsense filterlog, " +
						"Windows Firewall pfirewall.log and MikroTik RouterOS log lines, recognising the format of each line unless --format says it, and prints tables of the top " +
						"sources, destinations, ports and hours. Files may be gzip, bzip2 or zstd compressed; - reads " +
						"standard input. --report classic prints the tables of the 2005 ipfw log script, exactly.",
					examples: []string{
						"firewarden logs summarize /var/log/appfirewall.log",
						"firewarden logs summarize --format pf --top 20 pflog.txt.gz",
						"firewarden logs summarize --format windows pfirewall.log",
						"zcat ipfw.log.*.gz | firewarden logs summarize --report classic -",
					},
				},
			},
		},
		{
			name: "exposure", summary: "list what listens where, and whether it is meant to",
			desc: "Lists every listening TCP socket and bound UDP socket with its process (pid, name, path) and the " +
				"scope of its bind address: loopback, link-local, private (RFC 1918, IPv6 ULA), shared (100.64.0.0/10), " +
				"multicast, all (0.0.0.0 or ::, every interface) or public (one specific public address). On Linux it " +
				"reads /proc/net and the descriptors in /proc under the root; on macOS it runs lsof. With --expect, each " +
				"listener is expected, too_wide (an entry names it but allows a narrower scope) or unexpected (no entry " +
				"names it), and what to change is printed: the bind address, then the firewall rule that would keep " +
				"other hosts out. The FIREWALL column says whether the host's firewall lets a connection from another " +
				"host reach the listener (allowed, blocked, unknown or loopback_only; the reasons follow the table): " +
				"on macOS the Application Firewall (global state, block all, the application's entry, the automatic " +
				"allowing of signed software, checked with codesign), on Linux the running host's nftables (not under " +
				"--root). It also lists the ports Docker and Podman publish (docker ps, " +
				"podman ps; a runtime that is not installed is skipped) and, with --compose, those a compose file declares; " +
				"an expectation names them with container: NAME (the container's or compose service's name). Run it as root " +
				"to see every process. Exit 0 when nothing is too wide or unexpected, 1 when something is (or, with --expect, " +
				"a compose entry depends on variables), 2 when the sockets or a file cannot be read.",
			examples: []string{
				"sudo firewarden exposure",
				"sudo firewarden exposure --expect examples/exposure.yaml",
				"sudo firewarden exposure --expect examples/exposure.yaml --compose /srv/chat/compose.yaml",
				"firewarden --json exposure",
			},
			run: runExposure,
		},
		{
			name: "rules", summary: "simulate packets through ipfw and pf rule sets; lint them",
			desc: "Parses an ipfw or a pf rule set (recognised from the file unless --format says it) and either " +
				"evaluates packets through it, explaining which rule decided, or lints it for rules that can never match, " +
				"gaps and rule sets that would cut off your own session.",
			examples: []string{
				`firewarden rules eval pf.conf --packet "tcp 203.0.113.5:51234 -> 192.0.2.10:22 in via en0 setup"`,
				"firewarden rules lint --keep 203.0.113.5:22 pf.conf",
			},
			needsVerb: true, run: runRules,
			verbs: []*cmdSpec{
				{
					name: "eval", args: "RULESET", files: true,
					summary: "explain what an ipfw or pf rule set does to packets",
					desc: "Evaluates one packet (--packet) or a file of packets, one per line (--packets), through the " +
						"rule set and prints the verdict and the rule that decided; a verdict that rests on what neither the " +
						"rule set nor the packet decides (a table filled at run time, a condition not simulated, a packet " +
						"field not given, a line not modelled) ends with \"conditional:\" and the reasons. --explain lists " +
						"every rule considered and why it matched or not. Exit status 0, or 2 for a rule set or packet that " +
						"cannot be read, or, with --strict, for a verdict that is not exact.",
					examples: []string{
						`firewarden rules eval ipfw.rules --packet "tcp 203.0.113.5:51234 -> 192.0.2.10:22 in via en0 setup"`,
						`firewarden rules eval pf.conf --strict --packet "tcp 203.0.113.5:51234 -> 192.0.2.10:22 in via en0 flags S"`,
						`firewarden rules eval pf.conf --explain --packet "udp 198.51.100.7:5353 -> 192.0.2.10:53 in via en0"`,
						"firewarden --json rules eval pf.conf --packets packets.txt",
					},
				},
				{
					name: "lint", args: "RULESET", files: true,
					summary: "find dead rules, gaps and lock-outs in ipfw or pf",
					desc: "Reports rules that can never match (after a catch-all), a missing final deny, blocked loopback " +
						"traffic or replies, spoofable allows placed first, and, with --keep, whether loading the rule set " +
						"would cut off your own session, each with a fix; no finding rests on a rule whose match is not known. " +
						"Exit status 0 without findings, 1 with findings, 2 with --strict for a rule set with lines not modelled.",
					examples: []string{
						"firewarden rules lint /etc/pf.conf",
						"firewarden rules lint --keep 203.0.113.5:22 pf.conf",
						"firewarden rules lint --format ipfw --default deny ipfw.rules",
					},
				},
			},
		},
		{
			name: "detect", args: "FILE…", files: true,
			summary: "find firewall tampering in endpoint telemetry",
			desc: "Runs Sigma rules (a built-in pack about turning the firewall off, plus your own with --rules) over " +
				"endpoint telemetry files and prints one alert per line (ndjson with --json); - reads standard input. " +
				"--live watches this Mac instead, through eslogger or the unified log, and also alerts when the " +
				"firewall state drops without a matching event. Exit status 0 without alerts, 1 with alerts, 2 when " +
				"part of the input could not be read.",
			examples: []string{
				"firewarden detect eslogger.ndjson",
				"firewarden detect --input osquery --allow allow.yaml osquery.log",
				"sudo firewarden detect --live --webhook https://siem.example/hook",
			},
			run: runDetect,
			verbs: []*cmdSpec{
				{
					name: "rules", summary: "list the detection rules, test a rule file, or export the rules",
					desc:      "Shows the rules detect runs and the fields they can read, checks a rule file of your own, and exports the rules as portable Sigma.",
					examples:  []string{"firewarden detect rules list", "firewarden detect rules test my-rule.yml events.ndjson", "firewarden detect rules export --out sigma/"},
					needsVerb: true,
					verbs: []*cmdSpec{
						{
							name: "list", summary: "list the built-in rules and those added with --rules",
							desc: "Prints each rule's name, level and title (ndjson with --json); --fields prints the event " +
								"fields rules can read instead.",
							examples: []string{"firewarden detect rules list", "firewarden detect rules list --rules ./rules", "firewarden detect rules list --fields"},
						},
						{
							name: "test", args: "RULEFILE [EVENTS…]", files: true,
							summary: "check a rule file, and run it on events",
							desc: "Checks that the rules in RULEFILE parse and read only fields firewarden fills, then runs " +
								"them on the EVENTS files, printing each match and why. Exit status 0 without matches, 1 " +
								"with matches.",
							examples: []string{"firewarden detect rules test my-rule.yml", "firewarden detect rules test --input eslogger my-rule.yml events.ndjson"},
						},
						{
							name: "export", summary: "write the rules as portable Sigma (sigma-cli, pySigma)",
							desc: "Writes the rules (the built-in pack, plus yours with --rules) as Sigma a SIEM's converter " +
								"takes: only the fields of Sigma's taxonomy (Image, CommandLine, TargetFilename …) instead " +
								"of firewarden's own (Tool, Action, PlistSet …), ATT&CK v19 tags, the analytic as a custom " +
								"attribute. --format firewarden writes the rule files as detect reads them. One file per " +
								"rule under --out DIR, each replaced atomically, or one YAML stream on standard output. A " +
								"rule of yours that reads firewarden's own fields is refused (exit status 2).",
							examples: []string{"firewarden detect rules export --out sigma/", "firewarden detect rules export --format firewarden > rules.yml"},
						},
					},
				},
			},
		},
		{
			name: "block", summary: "the adaptive firewall: bans with a TTL, an allowlist, nftables or pf",
			desc: "Keeps bans with a time to live and an allowlist that is checked first and can never be blocked, in " +
				"block.json in the state directory, and a kernel firewall in line with both: nftables on Linux, a pf " +
				"table on macOS. Every change goes to the state first, then to the firewall; `block sync` repairs the " +
				"firewall when it fell behind. --backend dry-run prints what would change; changing a real firewall " +
				"needs root.",
			examples: []string{
				"sudo firewarden block add 203.0.113.7 --ttl 2h --reason ssh",
				"firewarden block list",
				"firewarden block add 198.51.100.0/24 --backend dry-run",
			},
			needsVerb: true, run: runBlock,
			verbs: []*cmdSpec{
				{
					name: "add", args: "ADDR|CIDR…", summary: "ban addresses or prefixes for a while",
					desc: "Bans each address or CIDR prefix for --ttl, or, without it, 15 minutes doubled for each earlier " +
						"ban of the prefix within a week, up to a week. Re-banning extends, never shortens. An allowlisted " +
						"address is refused; a range containing allowlisted addresses is banned minus those.",
					examples: []string{
						"sudo firewarden block add 203.0.113.7 --reason ssh",
						"sudo firewarden block add 198.51.100.0/24 --ttl 2h --reason scanner",
						"sudo firewarden block add 2001:db8::/64 --ttl 0",
					},
				},
				{
					name: "remove", args: "ADDR|CIDR…", summary: "lift the bans on a prefix and every prefix inside it",
					desc:     "Lifts the ban on each prefix and on every banned prefix inside it.",
					examples: []string{"sudo firewarden block remove 203.0.113.7", "sudo firewarden block remove 198.51.100.0/24"},
				},
				{
					name: "allow", args: "ADDR|CIDR…", summary: "add to the allowlist, which is never blocked",
					desc:     "Adds each prefix to the allowlist and lifts that part of any ban; an allowlisted address is never blocked.",
					examples: []string{"sudo firewarden block allow 198.51.100.10 --reason monitoring", "sudo firewarden block allow 10.0.0.0/8"},
				},
				{
					name: "unallow", args: "ADDR|CIDR…", summary: "remove from the allowlist",
					desc:     "Removes each prefix from the allowlist, by its exact prefix as `block list` shows it.",
					examples: []string{"sudo firewarden block unallow 198.51.100.10"},
				},
				{
					name: "list", summary: "show the bans, the allowlist and whether blocking is on",
					desc:     "Prints the bans with their expiry, the allowlist, and whether the drop rules are on. --json adds blocked, the exact prefixes the firewall should hold.",
					examples: []string{"firewarden block list", "firewarden --json block list"},
				},
				{
					name: "expire", summary: "remove the bans that expired",
					desc:     "One sweep: removes the bans that expired, also those that expired while nothing ran. The service `block autoconfigure` writes runs it periodically.",
					examples: []string{"sudo firewarden block expire"},
				},
				{
					name: "enable", summary: "put the drop rules in",
					desc:     "Puts the drop rules in the firewall; the bans and the kernel sets are kept as they are.",
					examples: []string{"sudo firewarden block enable"},
				},
				{
					name: "disable", summary: "take the drop rules out, keeping the bans",
					desc:     "Takes the drop rules out of the firewall without touching the bans or the kernel sets, so enable restores blocking at once.",
					examples: []string{"sudo firewarden block disable"},
				},
				{
					name: "sync", summary: "make the firewall match the state exactly",
					desc:     "Sweeps expired bans, reads what the firewall really holds and repairs it to match the state.",
					examples: []string{"sudo firewarden block sync", "firewarden block sync --backend dry-run"},
				},
				{
					name: "summary", summary: "counts, top offenders, bans by reason and by source",
					desc:     "Prints counts, the top offenders, bans by reason and by source, and the recent activity of the state.",
					examples: []string{"firewarden block summary", "firewarden --json block summary"},
				},
				{
					name: "autoconfigure", summary: "allowlist this host's addresses, install the expiry sweep",
					desc: "Allowlists loopback, this host's interface addresses, the default routers and the name servers, " +
						"then writes the periodic `block expire` as a systemd service and timer or a launchd daemon. The " +
						"files are written, not started; the command prints how to start them.",
					examples: []string{"sudo firewarden block autoconfigure", "sudo firewarden block autoconfigure --interval 5m"},
				},
			},
		},
		{
			name: "guard", summary: "daemon: ban brute-force sources seen in the auth logs",
			desc: "Follows the SSH authentication logs (the systemd journal or log files on Linux, the unified log on " +
				"macOS), counts each address's failures within a window, and bans an address that reaches the threshold " +
				"through the same state and firewall as block. It expires bans and keeps the kernel in line with the " +
				"state. Its settings are the guard: section of the configuration file (see `firewarden config print`). " +
				"SIGHUP reloads the configuration; SIGINT and SIGTERM stop it after saving.",
			examples: []string{
				"firewarden guard --print-config",
				"firewarden --config examples/firewarden.yaml guard --check-config",
				"sudo firewarden guard --backend nft",
				"firewarden guard test /var/log/auth.log",
			},
			run: runGuard,
			verbs: []*cmdSpec{
				{
					name: "test", args: "FILE|-", files: true, summary: "what the guard would make of each line of a log, and what it would ban",
					desc: "Reads a log (or standard input, -; gzip and zstd are read too) through the guard's own parser, " +
						"correlation by sshd process, forgiveness and counting, under the guard: section of the configuration " +
						"(mode, weights, threshold, window, allowlist, caps), on the lines' own timestamps, and prints for each " +
						"line what it is (a failure of a kind and an address, a login, a line it does not recognise), its weight, " +
						"the address's score and whether a later login forgave it; then a summary: lines, failures per kind, and " +
						"the addresses that would be banned, with their score. It touches neither the firewall nor the state " +
						"directory, so the allowlist of `block allow` and earlier bans do not apply. --json prints one object a " +
						"line and the summary as the last. Exit 0 when nothing would be banned, 1 when something would, 2 when " +
						"the log cannot be read.",
					examples: []string{
						"firewarden guard test examples/sshd-failures.log",
						"firewarden --config examples/guard.yaml guard test --print failures examples/sshd-failures.log",
						"journalctl -u ssh -o short-iso | firewarden --json guard test -",
					},
				},
			},
		},
		scanSpec(),
		agentSpec(),
		{
			name: "config", summary: "print the configuration in effect, or check the file",
			desc: configDescription,
			examples: []string{
				"firewarden config check",
				"firewarden --config examples/firewarden.yaml config print",
				"firewarden --state-dir /srv/fw config print",
			},
			needsVerb: true, run: runConfig,
			verbs: []*cmdSpec{
				{
					name: "print", summary: "every setting in effect and where it came from",
					desc: "Prints the configuration in effect as YAML, every key present, each value followed by a comment " +
						"naming where it came from: default, FILE:LINE or the flag that set it. A webhook URL is shown without " +
						"its path, query or user, which may hold a token.",
					examples: []string{"firewarden config print", "firewarden --config examples/firewarden.yaml config print"},
				},
				{
					name: "check", summary: "validate the file and the baseline it names",
					desc: "Reads the configuration file and the baseline it names and exits 0 with one line, or prints the " +
						"first problem as FILE:LINE and exits 2.",
					examples: []string{"firewarden config check", "firewarden --config examples/firewarden.yaml config check"},
				},
			},
		},
		{
			name: "service", summary: serviceSummary,
			desc: serviceDescription,
			examples: []string{
				"sudo firewarden service install guard --start",
				"firewarden service status guard",
				"firewarden service show block-expire --init systemd --interval 10m",
			},
			needsVerb: true, run: runService,
			verbs: []*cmdSpec{
				{
					name: "install", args: "NAME", summary: "write the service's files; start it with --start",
					desc: "Writes the unit (Linux) or LaunchDaemon plist (macOS) of NAME atomically, mode 0644, never " +
						"through a link, and reloads systemd. The service is started only with --start (restarted when its " +
						"definition changed). Running it again with the same options changes nothing. The service runs " +
						"--config FILE and --state-dir DIR when they are given here. Needs root on the real system.",
					examples: []string{"sudo firewarden service install guard --start", "sudo firewarden service install block-expire --interval 10m --start"},
				},
				{
					name: "uninstall", args: "NAME", summary: "stop the service and remove its files",
					desc:     "Stops and disables the service, removes its files and reloads systemd; exit 0 when nothing was installed.",
					examples: []string{"sudo firewarden service uninstall guard"},
				},
				{
					name: "status", args: "NAME", summary: "installed, current, enabled, running",
					desc: "Says whether the service is installed, whether its files are what this firewarden would write, " +
						"and whether it is enabled and running (with its pid). Exit 0 installed, current and running; 1 not " +
						"installed, outdated or stopped; 2 when it could not tell.",
					examples: []string{"firewarden service status guard", "firewarden --json service status block-expire"},
				},
				{
					name: "show", args: "NAME", summary: "print the service's files",
					desc:     "Prints the file(s) install would write, each after a line `# FILENAME`.",
					examples: []string{"firewarden service show guard --init systemd", "firewarden service show guard --init launchd"},
				},
				{
					name: "files", summary: "write every service's files into a directory (for packages)",
					desc:     "Writes the files of every service valid for the init system into --dir: what .deb and .rpm packages ship.",
					examples: []string{"firewarden service files --init systemd --dir dist/systemd --binary /usr/bin/firewarden"},
				},
			},
		},
		{
			name: "version", summary: "print the version",
			desc:     "Prints the release, the commit, the Go version and the platform of this build on one line, as --version does.",
			examples: []string{"firewarden version", "firewarden --version"},
			run:      runVersion,
		},
		{
			name: "help", args: "[COMMAND [VERB]]", summary: "show the commands, or the help of one command or verb",
			desc: "Without arguments, lists every command and verb. With a command (and a verb), prints its usage, " +
				"description, flags and examples, as `firewarden COMMAND [VERB] --help` does.",
			examples: []string{"firewarden help", "firewarden help block", "firewarden help rules lint"},
			run:      runHelp,
		},
		{
			name: "man", summary: "write the manual pages",
			desc: "Writes roff manual pages into --dir: firewarden.1 and one firewarden-COMMAND.1 per command, made " +
				"from the same descriptions as the help.",
			examples: []string{"firewarden man --dir /usr/local/share/man/man1", "firewarden man --dir man && man ./man/firewarden-block.1"},
			run:      runMan,
		},
		{
			name: "completion", args: "SHELL", summary: "print the shell completion script for bash, zsh or fish",
			desc: "Prints a completion script for SHELL (bash, zsh or fish). The script asks firewarden itself for " +
				"the candidates, so it completes the commands, verbs and flags of this very binary.",
			examples: []string{
				"firewarden completion bash > /etc/bash_completion.d/firewarden",
				"firewarden completion zsh > \"${fpath[1]}/_firewarden\"",
				"firewarden completion fish > ~/.config/fish/completions/firewarden.fish",
			},
			run: runCompletion,
		},
		{
			name: "__complete", args: "WORDS…", hidden: true,
			summary: "print completion candidates for the words typed so far",
			desc:    "Used by the completion scripts: prints one candidate per line for the last of WORDS.",
			run:     runComplete,
		},
	}
}

// findCommand is the top-level command called name, or nil.
func findCommand(name string) *cmdSpec {
	for _, c := range commandTable() {
		if c.name == name {
			return c
		}
	}
	return nil
}

// verb is the verb of c called name, or nil.
func (c *cmdSpec) verb(name string) *cmdSpec {
	for _, v := range c.verbs {
		if v.name == name {
			return v
		}
	}
	return nil
}

// verbNames are the names of c's verbs, in help order.
func (c *cmdSpec) verbNames() []string {
	var names []string
	for _, v := range c.verbs {
		names = append(names, v.name)
	}
	return names
}

// resolve follows path (a command, then verbs) through the table and returns the specs along
// it, or nil when the first name is not a command. It stops at the first name that is not a
// verb; n is how many names it used.
func resolve(path []string) (chain []*cmdSpec, n int) {
	if len(path) == 0 {
		return nil, 0
	}
	c := findCommand(path[0])
	if c == nil {
		return nil, 0
	}
	chain = []*cmdSpec{c}
	for _, name := range path[1:] {
		v := c.verb(name)
		if v == nil {
			break
		}
		chain, c = append(chain, v), v
	}
	return chain, len(chain)
}

// pathOf is the command path a FlagSet is named after: "rules eval" is [rules eval].
func pathOf(flagSetName string) []string { return strings.Fields(flagSetName) }

// visibleCommands are the commands help, man pages and completion show.
func visibleCommands() []*cmdSpec {
	var out []*cmdSpec
	for _, c := range commandTable() {
		if !c.hidden {
			out = append(out, c)
		}
	}
	return out
}
