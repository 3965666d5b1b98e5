package nftposture

import (
	"bufio"
	"bytes"
	"errors"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"

	"github.com/firewarden/firewarden/internal/posture"
	"github.com/firewarden/firewarden/internal/posture/nftposture/ruleset"
)

// Files that say ufw or firewalld manage the firewall (their own state, under --root).
const (
	UFWConf     = "/etc/ufw/ufw.conf"
	SystemdUnit = "/etc/systemd/system" // enabled units are links in its *.wants directories
)

// owners is who owns the host firewall.
type owners struct {
	// manager is the tool that manages the firewall and fights changes made behind its back
	// ("ufw", "firewalld"), or "".
	manager string
	// why says what showed it, for Detail: "ufw owns the host firewall (ENABLED=yes in
	// /etc/ufw/ufw.conf; ufw.service enabled; its tables ip filter, ip6 filter)".
	why      string
	evidence []posture.Evidence
}

// readOwners reads ufw's and firewalld's state under the root and the owners of the tables.
func (p *Provider) readOwners(a ruleset.Analysis) owners {
	var o owners
	tables := map[string][]string{}
	for _, t := range a.Tables {
		tables[t.Owner] = append(tables[t.Owner], t.Family+" "+t.Name)
	}

	var ufw []string
	data, err := p.root.ReadFile(UFWConf)
	switch {
	case err == nil:
		o.evidence = append(o.evidence, posture.FileEvidence(UFWConf, data, nil))
		if v, ok := confValue(data, "ENABLED"); ok && strings.EqualFold(v, "yes") {
			ufw = append(ufw, "ENABLED=yes in "+UFWConf)
		}
	case !errors.Is(err, fs.ErrNotExist):
		o.evidence = append(o.evidence, posture.FileEvidence(UFWConf, nil, err))
	}
	if u := p.enabledUnit("ufw.service"); u != "" {
		ufw = append(ufw, "ufw.service enabled ("+u+")")
	}
	if ts := tables[ruleset.OwnerUFW]; len(ts) > 0 {
		ufw = append(ufw, "its tables "+strings.Join(ts, ", "))
	}

	var firewalld []string
	if u := p.enabledUnit("firewalld.service"); u != "" {
		firewalld = append(firewalld, "firewalld.service enabled ("+u+")")
	}
	if ts := tables[ruleset.OwnerFirewalld]; len(ts) > 0 {
		firewalld = append(firewalld, "its tables "+strings.Join(ts, ", "))
	}

	// ufw counts once its own switch is on or its rules are loaded; an enabled unit alone
	// (ufw.conf ENABLED=no) loads nothing.
	ufwOn := len(tables[ruleset.OwnerUFW]) > 0 || slices.ContainsFunc(ufw, func(s string) bool { return strings.HasPrefix(s, "ENABLED=yes") })
	switch {
	case ufwOn:
		o.manager, o.why = ruleset.OwnerUFW, "ufw owns the host firewall ("+strings.Join(ufw, "; ")+")"
	case len(firewalld) > 0:
		o.manager, o.why = ruleset.OwnerFirewalld, "firewalld owns the host firewall ("+strings.Join(firewalld, "; ")+")"
	}
	return o
}

// enabledUnit returns the link that enables unit under /etc/systemd/system (as the root shows
// it), or "".
func (p *Provider) enabledUnit(unit string) string {
	matches, _ := filepath.Glob(filepath.Join(p.root.Path(SystemdUnit), "*.wants", unit))
	if len(matches) == 0 {
		return ""
	}
	return p.root.Rel(matches[0])
}

// confValue reads KEY=value (optionally quoted) from a shell-style configuration file.
func confValue(data []byte, key string) (string, bool) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		k, v, ok := strings.Cut(line, "=")
		if !ok || strings.TrimSpace(k) != key {
			continue
		}
		return strings.Trim(strings.TrimSpace(v), `"'`), true
	}
	return "", false
}
