package service

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// unit renders the .service of d. Every hardening line carries a comment saying why it is there
// and why it does not break firewarden; systemd reads "#" lines as comments.
func (d def) unit(o Options) []byte {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("# %s: firewarden's definition of its %s service (`firewarden service show %s`).", UnitPrefix+d.name+".service", d.name, d.name)
	w("# Change it with a drop-in (`systemctl edit %s`) rather than by editing this file.", UnitPrefix+d.name+".service")
	w("[Unit]")
	w("Description=%s", d.description)
	w("Documentation=man:firewarden(1)")
	if d.boot {
		d.bootOrdering(w, o)
	} else if d.network {
		w("# The agent reports to a server: start it once the network is up (and ask for that).")
		w("Wants=network-online.target")
		w("After=%s", strings.Join(d.after, " "))
	} else if len(d.after) > 0 {
		w("# Ordering only: a ruleset loaded later with \"flush ruleset\" would drop firewarden's table.")
		w("# No network-online.target: firewarden reads logs and speaks netlink, so waiting for the")
		w("# network would only leave the host unguarded for longer at boot.")
		w("After=%s", strings.Join(d.after, " "))
	}
	if !d.periodic && !d.boot {
		w("# A broken configuration stops the restarts after 5 tries in 5 minutes instead of")
		w("# looping; `systemctl reset-failed` and a start try again.")
		w("StartLimitIntervalSec=300")
		w("StartLimitBurst=5")
	}
	w("")
	w("[Service]")
	switch {
	case d.boot:
		w("# It runs once and exits; the unit stays active so that a restart or reload of")
		w("# nftables.service reaches it (PartOf=, ReloadPropagatedFrom=) and runs it again.")
		w("Type=oneshot")
		w("RemainAfterExit=yes")
	case d.periodic:
		w("Type=oneshot")
	default:
		w("Type=simple")
	}
	w("ExecStart=%s", quoteArgv(d.argv(o)))
	if d.boot {
		w("ExecReload=%s", quoteArgv(d.argv(o)))
	}
	if !d.periodic && !d.boot {
		if d.network {
			w("# Stopped by SIGTERM, the agent leaves its spool whole and exits.")
		} else {
			w("# Stopped by SIGTERM, the daemon saves its bans before it exits.")
		}
		w("Restart=on-failure")
		w("RestartSec=10s")
	}
	w("")
	w("# Sandbox. firewarden runs as root for netlink; these lines take away what it never needs.")
	switch {
	case o.StateDir != "" || o.WritableDir != "":
		dir := o.StateDir
		if dir == "" {
			dir = o.WritableDir
		}
		w("# The whole file system is read-only except the state directory (bans, write-ahead log).")
		w("ProtectSystem=strict")
		w("ReadWritePaths=%s", quoteWord(dir))
	default:
		w("# The whole file system is read-only except the state directory (bans, write-ahead log):")
		w("# StateDirectory= creates /var/lib/firewarden (root, 0700) and makes it writable.")
		w("ProtectSystem=strict")
		w("StateDirectory=firewarden")
		w("StateDirectoryMode=0700")
	}
	if len(d.writable) > 0 {
		w("# Writable besides (\"-\": a directory that does not exist is no error):")
		var dirs []string
		for _, dir := range d.writable {
			w("#   %s: %s", dir, writableReasons[dir])
			dirs = append(dirs, "-"+quoteWord(dir))
		}
		w("ReadWritePaths=%s", strings.Join(dirs, " "))
	}
	w("# Home directories are hidden; a fresh private /tmp; no device nodes but the pseudo ones.")
	w("ProtectHome=yes")
	w("PrivateTmp=yes")
	w("PrivateDevices=yes")
	w("PrivateMounts=yes")
	if d.seesProcesses {
		w("# /proc is left whole: the exposure checks name the process behind every listening socket.")
	} else {
		w("# Other processes are invisible in /proc; firewarden never looks at them.")
		w("ProtectProc=invisible")
	}
	w("# Neither firewarden nor a program it runs (journalctl) can gain privileges.")
	w("NoNewPrivileges=yes")
	if len(d.caps) == 0 {
		w("# Root keeps no capability: it reads settings and writes its own state directory only.")
	} else {
		w("# Root keeps only these capabilities:")
	}
	for _, c := range sortedCaps(d.caps) {
		w("#   %s", capReasons[c])
	}
	w("CapabilityBoundingSet=%s", strings.Join(sortedCaps(d.caps), " "))
	w("# Read-only /proc/sys and /sys. nftables needs no sysctl: sets and rules go over netlink.")
	w("ProtectKernelTunables=yes")
	w("# No explicit module loading. The kernel still loads nf_tables and its set types itself")
	w("# when a netlink request needs them (request_module runs modprobe outside this sandbox).")
	w("ProtectKernelModules=yes")
	w("ProtectKernelLogs=yes")
	w("ProtectControlGroups=yes")
	w("ProtectClock=yes")
	w("ProtectHostname=yes")
	if d.network {
		w("# AF_INET and AF_INET6 for the fleet server, AF_NETLINK for the interface list, AF_UNIX for")
		w("# the journal.")
		w("RestrictAddressFamilies=%s", strings.Join(d.families, " "))
	} else {
		w("# AF_NETLINK for nftables and the interface list, AF_UNIX for the journal; no IP sockets.")
		w("RestrictAddressFamilies=%s", strings.Join(d.families, " "))
		w("# And no IP traffic even if a socket slipped through (needs cgroup BPF; ignored without).")
		w("IPAddressDeny=any")
	}
	w("RestrictNamespaces=yes")
	w("RestrictRealtime=yes")
	w("RestrictSUIDSGID=yes")
	w("LockPersonality=yes")
	w("# Go never needs writable and executable memory.")
	w("MemoryDenyWriteExecute=yes")
	w("SystemCallArchitectures=native")
	w("# The system calls of an ordinary service; anything else fails with EPERM instead of")
	w("# killing the daemon.")
	w("SystemCallFilter=@system-service")
	w("# Not even chown, setuid or setrlimit (Go tolerates the EPERM of its setrlimit at start).")
	w("SystemCallFilter=~@privileged @resources")
	w("SystemCallErrorNumber=EPERM")
	w("UMask=0077")
	switch {
	case d.boot:
		w("")
		w("[Install]")
		w("# sysinit.target, as nftables.service itself: every boot reaches it, rescue mode too, so the")
		w("# table is back whatever target the host boots into (multi-user.target would leave rescue")
		w("# mode with a network and no firewarden table).")
		w("WantedBy=sysinit.target")
	case !d.periodic:
		w("")
		w("[Install]")
		w("WantedBy=multi-user.target")
	}
	return []byte(b.String())
}

// bootOrdering writes the [Unit] ordering of a boot service: early, before any network is
// configured, after whatever flushes the ruleset at boot.
func (d def) bootOrdering(w func(string, ...any), o Options) {
	dir := o.StateDir
	if dir == "" {
		dir = o.WritableDir
	}
	if dir == "" {
		dir = "/var/lib/firewarden"
	}
	w("# Early boot: without the default dependencies (which wait for basic.target), the table is")
	w("# back before any interface is configured. network-pre.target is pulled in so that network")
	w("# managers wait for it, and this unit runs before it.")
	w("DefaultDependencies=no")
	w("Wants=network-pre.target")
	w("Before=network-pre.target")
	w("# The held table is read from the state directory: its file system must be mounted.")
	w("After=local-fs.target")
	w("RequiresMountsFor=%s", quoteWord(dir))
	w("# Ordering only: these load rulesets at boot, nftables.service with \"flush ruleset\", which")
	w("# would wipe the table put back before them.")
	w("After=%s", strings.Join(d.after, " "))
	w("# `systemctl restart nftables` flushes the ruleset (stop) and loads /etc/nftables.conf")
	w("# (start), and `systemctl reload nftables` runs nft -f on a file that usually starts with")
	w("# \"flush ruleset\": either one restarts or reloads this unit after it, so that the table")
	w("# comes back.")
	w("PartOf=nftables.service")
	w("ReloadPropagatedFrom=nftables.service")
	w("# Stopped at shutdown like other units (DefaultDependencies=no leaves that out); stopping")
	w("# it changes nothing: the table stays until the kernel goes.")
	w("Conflicts=shutdown.target")
	w("Before=shutdown.target")
}

// timer renders the .timer of a periodic d.
func (d def) timer(o Options) []byte {
	secs := int64(o.interval() / time.Second)
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("# %s: firewarden's definition of its %s timer (`firewarden service show %s`).", UnitPrefix+d.name+".timer", d.name, d.name)
	w("[Unit]")
	w("Description=%s, every %s", d.description, shortInterval(o.interval()))
	w("Documentation=man:firewarden(1)")
	w("")
	w("[Timer]")
	w("# The first run one interval after boot, then one interval after each run.")
	w("OnBootSec=%ds", secs)
	w("OnUnitActiveSec=%ds", secs)
	w("AccuracySec=10s")
	w("")
	w("[Install]")
	w("WantedBy=timers.target")
	return []byte(b.String())
}

// shortInterval is "15m", "2h" or "90s": the largest whole unit.
func shortInterval(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return fmt.Sprintf("%ds", d/time.Second)
}

// quoteArgv renders argv for ExecStart=.
func quoteArgv(argv []string) string {
	words := make([]string, len(argv))
	for i, s := range argv {
		words[i] = quoteWord(s)
	}
	return strings.Join(words, " ")
}

// quoteWord quotes one ExecStart= word when it needs it (systemd.service(5), "Command lines":
// C-style escapes inside double quotes; "%" starts a specifier and is doubled; "$" starts an
// environment variable and is doubled).
func quoteWord(s string) string {
	s = strings.ReplaceAll(s, "%", "%%")
	if s != "" && !strings.ContainsAny(s, " \t\"'\\$;") {
		return s
	}
	r := strings.NewReplacer("\\", "\\\\", "\"", "\\\"", "$", "$$")
	return "\"" + r.Replace(s) + "\""
}

// errQuote is returned by splitExecStart for a line it cannot read back.
var errQuote = errors.New("unterminated quote or escape")

// splitExecStart reads back what quoteArgv wrote: words separated by spaces or tabs, double
// quotes with \\ and \" escapes, "%%" for "%" and "$$" for "$". It reads a unit that may have
// been edited by hand, so it fails rather than guesses on anything else quoteArgv never writes.
func splitExecStart(line string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord, quoted := false, false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quoted && c == '\\':
			if i+1 >= len(line) || (line[i+1] != '\\' && line[i+1] != '"') {
				return nil, errQuote
			}
			i++
			cur.WriteByte(line[i])
		case quoted && c == '"':
			quoted = false
		case c == '"' && !inWord:
			quoted, inWord = true, true
		case !quoted && (c == ' ' || c == '\t'):
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case (c == '%' || c == '$') && i+1 < len(line) && line[i+1] == c:
			i++
			cur.WriteByte(c)
			inWord = true
		case c == '%' || c == '$' || (!quoted && (c == '\\' || c == '"' || c == '\'' || c == ';')):
			return nil, fmt.Errorf("%w: %q at byte %d", errQuote, c, i)
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if quoted {
		return nil, errQuote
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}
