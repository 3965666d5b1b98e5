package exposure

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v4"

	"github.com/firewarden/firewarden/internal/yamlnode"
)

// Limits of the compose reader.
const (
	// MaxComposeBytes is the largest compose file read.
	MaxComposeBytes = 4 << 20
	// maxComposeEntries is the most ports entries read, aliases counted each time they are
	// used, so that a file of aliases of aliases cannot make the walk long.
	maxComposeEntries = 100000
)

// ComposeReport is what a compose file publishes: the ports of its services that firewarden
// models, the entries whose exposure depends on what it does not evaluate, and what it skipped.
type ComposeReport struct {
	Listeners []Listener `json:"listeners"`
	// Conditional are the entries that publish something firewarden cannot decide from the
	// file alone (variables, a host port picked when the container starts): they get no
	// verdict, only what they depend on.
	Conditional []Conditional `json:"conditional,omitempty"`
	// Warnings name, at FILE:LINE, parts of the file that are not read.
	Warnings []string `json:"warnings,omitempty"`
}

// Conditional is a compose ports entry whose exposure depends on something outside the file.
type Conditional struct {
	// Where is FILE:LINE of the entry.
	Where string `json:"where"`
	// Service is the compose service whose entry it is.
	Service string `json:"service"`
	// Entry is the entry as written (a long-syntax entry is shown as a flow mapping).
	Entry string `json:"entry"`
	// Why says what the exposure depends on.
	Why string `json:"why"`
}

// ComposeError is a problem in a compose file at a line (0 when there is none to name).
type ComposeError struct {
	File string
	Line int
	Msg  string
}

func (e *ComposeError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// ParseCompose reads the ports that the services of a compose file publish. Of the file it reads
// services.NAME.ports (short syntax "[HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTOCOL]", ports and
// ranges, or long syntax {target, published, host_ip, protocol, mode, name, app_protocol}),
// container_name (the name a running container gets) and network_mode, following YAML aliases
// and merge keys (<<); every other key is left alone, since only these decide what is published.
// Within what it reads it is strict: a malformed entry, an unknown long-syntax key or a repeated
// key is an error naming file:line. An entry that uses variables (${PORT:-8080}) is not expanded
// but reported as Conditional, and include: and extends:, which bring in other files, are
// warnings. A short entry without a host port ("3000") publishes a random host port, which the
// listener shows as port 0.
func ParseCompose(data []byte, file string) (ComposeReport, error) {
	rep := ComposeReport{Listeners: []Listener{}}
	errf := func(n *yaml.Node, format string, args ...any) error {
		e := &ComposeError{File: file, Msg: fmt.Sprintf(format, args...)}
		if n != nil {
			e.Line = n.Line
		}
		return e
	}
	if len(data) > MaxComposeBytes {
		return rep, errf(nil, "larger than %d bytes; is this a compose file?", MaxComposeBytes)
	}
	l, err := yaml.NewLoader(bytes.NewReader(data))
	if err != nil {
		return rep, composeYAMLError(file, err)
	}
	var doc yaml.Node
	switch err := l.Load(&doc); {
	case errors.Is(err, io.EOF):
		return rep, nil
	case err != nil:
		return rep, composeYAMLError(file, err)
	}
	var extra yaml.Node
	if err := l.Load(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return rep, composeYAMLError(file, err)
		}
		return rep, errf(&extra, "a second YAML document (after ---); a compose file is one")
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		root = root.Content[0]
	}
	root = yamlnode.Deref(root)
	if root == nil || root.Kind == 0 || yamlnode.IsNull(root) || root.Kind == yaml.DocumentNode {
		return rep, nil
	}
	if root.Kind != yaml.MappingNode {
		return rep, errf(root, "a compose file is a mapping (services: ...), not %s", yamlnode.KindName(root))
	}
	c := &composeReader{file: file, errf: errf, rep: &rep}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := yamlnode.Deref(root.Content[i]), yamlnode.Deref(root.Content[i+1])
		if k == nil || v == nil {
			continue
		}
		switch k.Value {
		case "services":
			if err := c.services(v); err != nil {
				return rep, err
			}
		case "include":
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("%s:%d: include: the compose files it includes are not read; give each with its own --compose", file, k.Line))
		}
	}
	sortListeners(rep.Listeners)
	return rep, nil
}

func composeYAMLError(file string, err error) error {
	if line, msg, ok := yamlnode.SyntaxError(err); ok {
		return &ComposeError{File: file, Line: line, Msg: "not valid YAML: " + msg}
	}
	return &ComposeError{File: file, Msg: "not valid YAML"}
}

// composeReader walks one compose file.
type composeReader struct {
	file    string
	errf    func(n *yaml.Node, format string, args ...any) error
	rep     *ComposeReport
	entries int
}

// service is what is read of one service.
type service struct {
	ports, containerName, networkMode, extends *yaml.Node
}

func (c *composeReader) services(n *yaml.Node) error {
	if yamlnode.IsNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return c.errf(n, "services should be a mapping of service names, not %s", yamlnode.KindName(n))
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := yamlnode.Deref(n.Content[i]), yamlnode.Deref(n.Content[i+1])
		if k == nil || k.Kind != yaml.ScalarNode {
			return c.errf(n.Content[i], "services: a service's name should be a name, not %s", yamlnode.KindName(n.Content[i]))
		}
		if v == nil || yamlnode.IsNull(v) {
			continue
		}
		var s service
		if err := c.readService(k.Value, v, &s, 0); err != nil {
			return err
		}
		if err := c.service(k.Value, k, &s); err != nil {
			return err
		}
	}
	return nil
}

// readService reads the keys of a service mapping into s; keys given directly win over those a
// merge key (<<) brings, as YAML's merge says.
func (c *composeReader) readService(name string, n *yaml.Node, s *service, depth int) error {
	if n.Kind != yaml.MappingNode {
		return c.errf(n, "service %s should be a mapping of keys, not %s", name, yamlnode.KindName(n))
	}
	var merges []*yaml.Node
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := yamlnode.Deref(n.Content[i]), yamlnode.Deref(n.Content[i+1])
		if k == nil || v == nil || k.Kind != yaml.ScalarNode {
			continue
		}
		var dst **yaml.Node
		switch k.Value {
		case "<<":
			merges = append(merges, v)
			continue
		case "ports":
			dst = &s.ports
		case "container_name":
			dst = &s.containerName
		case "network_mode":
			dst = &s.networkMode
		case "extends":
			dst = &s.extends
		default:
			continue
		}
		if seen[k.Value] {
			return c.errf(k, "service %s: %q is given twice; keep one", name, k.Value)
		}
		seen[k.Value] = true
		if *dst == nil {
			*dst = v
		}
	}
	if depth >= 4 {
		return nil // merges of merges of merges: enough for any real file, and bounded
	}
	for _, m := range merges {
		ms := []*yaml.Node{m}
		if m.Kind == yaml.SequenceNode {
			ms = m.Content
		}
		for _, mm := range ms {
			mm = yamlnode.Deref(mm)
			if mm == nil || mm.Kind != yaml.MappingNode {
				return c.errf(m, "service %s: << should merge a mapping or a list of mappings, not %s", name, yamlnode.KindName(m))
			}
			var from service
			if err := c.readService(name, mm, &from, depth+1); err != nil {
				return err
			}
			for _, p := range []struct{ dst, src **yaml.Node }{
				{&s.ports, &from.ports}, {&s.containerName, &from.containerName}, {&s.networkMode, &from.networkMode}, {&s.extends, &from.extends},
			} {
				if *p.dst == nil {
					*p.dst = *p.src
				}
			}
		}
	}
	return nil
}

// service turns a service's ports into listeners.
func (c *composeReader) service(name string, key *yaml.Node, s *service) error {
	if s.extends != nil {
		c.rep.Warnings = append(c.rep.Warnings, fmt.Sprintf("%s:%d: service %s: extends: the ports it inherits from the service it extends are not read", c.file, s.extends.Line, name))
	}
	cname := name
	if n := s.containerName; n != nil && n.Kind == yaml.ScalarNode && !yamlnode.IsNull(n) && n.Value != "" && !hasVariable(n.Value) {
		cname = n.Value
	}
	if s.ports == nil || yamlnode.IsNull(s.ports) {
		return nil
	}
	if n := s.networkMode; n != nil && n.Kind == yaml.ScalarNode && n.Value == "host" {
		c.rep.Warnings = append(c.rep.Warnings, fmt.Sprintf("%s:%d: service %s: ports: do not apply with network_mode: host (the Compose specification makes it an error); the service listens on the host's own interfaces, which the host listeners show", c.file, s.ports.Line, name))
		return nil
	}
	if s.ports.Kind != yaml.SequenceNode {
		return c.errf(s.ports, "service %s: ports should be a list, not %s", name, yamlnode.KindName(s.ports))
	}
	base := Container{Runtime: "compose", Name: cname, Service: name}
	for _, item := range s.ports.Content {
		if c.entries++; c.entries > maxComposeEntries {
			return c.errf(item, "more than %d ports entries", maxComposeEntries)
		}
		line := item.Line
		v := yamlnode.Deref(item)
		if v == nil {
			continue
		}
		b := base
		b.Where = fmt.Sprintf("%s:%d", c.file, line)
		var ls []Listener
		var cond string
		var err error
		switch v.Kind {
		case yaml.ScalarNode:
			if yamlnode.IsNull(v) {
				return c.errf(item, "service %s: an empty ports entry", name)
			}
			if hasVariable(v.Value) {
				cond = "it uses variables, which firewarden does not expand: what it publishes, and where, depends on their values"
				break
			}
			b.Ports = v.Value
			ls, cond, err = shortPorts(v.Value, b)
		case yaml.MappingNode:
			ls, cond, err = c.longPorts(v, name, b)
		default:
			return c.errf(item, "service %s: a ports entry should be \"[HOST_IP:][HOST_PORT:]PORT[/PROTOCOL]\" or a mapping {target: PORT, published: PORT, host_ip: IP}, not %s", name, yamlnode.KindName(v))
		}
		if err != nil {
			var ce *ComposeError
			if errors.As(err, &ce) {
				return err
			}
			return c.errf(item, "service %s: ports entry %s: %v", name, entryText(v), err)
		}
		if cond != "" {
			c.rep.Conditional = append(c.rep.Conditional, Conditional{Where: b.Where, Service: name, Entry: entryText(v), Why: cond})
			continue
		}
		if len(c.rep.Listeners)+len(ls) > MaxContainerPorts {
			return c.errf(item, "more than %d published ports", MaxContainerPorts)
		}
		c.rep.Listeners = append(c.rep.Listeners, ls...)
	}
	return nil
}

// hasVariable reports whether s interpolates a variable ($VAR, ${VAR}); "$$" is a literal "$".
func hasVariable(s string) bool {
	return strings.Contains(strings.ReplaceAll(s, "$$", ""), "$")
}

// entryText shows an entry in a message: a short entry quoted, a long one as a flow mapping.
func entryText(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode {
		return strconv.Quote(n.Value)
	}
	var parts []string
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := yamlnode.Deref(n.Content[i]), yamlnode.Deref(n.Content[i+1])
		if k == nil || v == nil {
			continue
		}
		val := v.Value
		if v.Kind != yaml.ScalarNode {
			val = yamlnode.KindName(v)
		}
		parts = append(parts, k.Value+": "+val)
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// shortPorts reads a short-syntax entry: [HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTOCOL], where
// an IPv6 HOST_IP may be in brackets, and both ports may be ranges of the same length, or a host
// range for one container port (the host port is then picked when the container starts, so the
// entry is conditional).
func shortPorts(spec string, base Container) (ls []Listener, cond string, err error) {
	proto := "tcp"
	if i := strings.LastIndexByte(spec, '/'); i >= 0 {
		spec, proto = spec[:i], spec[i+1:]
	}
	ip := netip.IPv4Unspecified()
	rest := spec
	if strings.HasPrefix(spec, "[") {
		end := strings.Index(spec, "]:")
		if end < 0 {
			return nil, "", errors.New("an IPv6 address in brackets should be followed by :PORT")
		}
		if ip, err = parseHostIP(spec[1:end]); err != nil {
			return nil, "", err
		}
		rest = spec[end+2:]
		if !strings.Contains(rest, ":") {
			return nil, "", errors.New("after [IP]: give HOST_PORT:CONTAINER_PORT, or :CONTAINER_PORT for a random host port")
		}
	}
	parts := strings.Split(rest, ":")
	var hostPorts, contPorts string
	switch {
	case len(parts) == 1:
		contPorts = parts[0]
	case len(parts) == 2:
		hostPorts, contPorts = parts[0], parts[1]
	case len(parts) == 3 && rest == spec:
		if ip, err = parseHostIP(parts[0]); err != nil {
			return nil, "", err
		}
		hostPorts, contPorts = parts[1], parts[2]
	case rest == spec:
		// An IPv6 address without brackets ("::1:6000:6000", an example of the Compose
		// specification): the last two parts are the ports, the rest the address, as
		// docker/go-connections' ParsePortSpec splits it.
		if ip, err = parseHostIP(strings.Join(parts[:len(parts)-2], ":")); err != nil {
			return nil, "", err
		}
		hostPorts, contPorts = parts[len(parts)-2], parts[len(parts)-1]
	default:
		return nil, "", errors.New("too many colons after [IP]:")
	}
	cFirst, cLast, err := composePortRange(contPorts)
	if err != nil {
		return nil, "", fmt.Errorf("container port: %v", err)
	}
	if hostPorts == "" {
		// No host port: each container port gets a random host port.
		return publishRandom(proto, ip, cFirst, cLast, base)
	}
	hFirst, hLast, err := composePortRange(hostPorts)
	if err != nil {
		return nil, "", fmt.Errorf("host port: %v", err)
	}
	switch {
	case hLast-hFirst == cLast-cFirst:
		ls, err = publish(proto, ip, hFirst, cFirst, int(hLast-hFirst)+1, base)
		return ls, "", err
	case cFirst == cLast:
		if _, err := publish(proto, ip, hFirst, cFirst, 1, base); err != nil {
			return nil, "", err
		}
		return nil, fmt.Sprintf("it publishes one host port of %s on %s, picked when the container starts", hostPorts, scopePhrase(ip)), nil
	}
	return nil, "", fmt.Errorf("host ports %s and container ports %s are not the same count", hostPorts, contPorts)
}

// scopePhrase names where an address publishes, for a conditional entry.
func scopePhrase(ip netip.Addr) string {
	if ip.IsUnspecified() {
		return "every interface"
	}
	return ip.String() + " (" + string(Classify(ip)) + ")"
}

// publishRandom makes the listeners of container ports first to last published on random host
// ports (port 0) of ip.
func publishRandom(proto string, ip netip.Addr, first, last uint16, base Container) ([]Listener, string, error) {
	var ls []Listener
	for p := int(first); p <= int(last); p++ {
		got, err := publish(proto, ip, 0, uint16(p), 1, base)
		if err != nil {
			return nil, "", err
		}
		ls = append(ls, got...)
	}
	return ls, "", nil
}

// parseHostIP reads a compose host address (no zone).
func parseHostIP(s string) (netip.Addr, error) {
	ip, err := netip.ParseAddr(s)
	if err != nil || ip.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("host address %q is not an IP address", s)
	}
	return ip, nil
}

// composePortRange reads "N" or "N-M" with ports 1 to 65535.
func composePortRange(s string) (first, last uint16, err error) {
	first, last, err = portRange(s)
	if err == nil && first == 0 {
		err = fmt.Errorf("%q: ports start at 1", s)
	}
	return first, last, err
}

// longPorts reads a long-syntax entry.
func (c *composeReader) longPorts(n *yaml.Node, svc string, base Container) ([]Listener, string, error) {
	var target, published, hostIP, proto *yaml.Node
	set := func(dst **yaml.Node) func(v *yaml.Node) error {
		return func(v *yaml.Node) error {
			if v.Kind != yaml.ScalarNode {
				return c.errf(v, "service %s: a ports entry's values are scalars, not %s", svc, yamlnode.KindName(v))
			}
			*dst = v
			return nil
		}
	}
	var mode, name, app *yaml.Node
	m := yamlnode.Mapping{
		Where:  "a ports entry of service " + svc,
		Errorf: c.errf,
		Keys: map[string]func(v *yaml.Node) error{
			"target": set(&target), "published": set(&published), "host_ip": set(&hostIP), "protocol": set(&proto),
			"mode": set(&mode), "name": set(&name), "app_protocol": set(&app),
		},
	}
	if err := m.Walk(n); err != nil {
		return nil, "", err
	}
	for _, v := range []*yaml.Node{target, published, hostIP, proto, mode} {
		if v != nil && hasVariable(v.Value) {
			return nil, "it uses variables, which firewarden does not expand: what it publishes, and where, depends on their values", nil
		}
	}
	if target == nil || yamlnode.IsNull(target) {
		return nil, "", c.errf(n, "service %s: a long-syntax ports entry needs target: the container's port", svc)
	}
	cp, err := strconv.ParseUint(target.Value, 10, 16)
	if err != nil || cp == 0 {
		return nil, "", c.errf(target, "service %s: target should be a port from 1 to 65535, not %s", svc, yamlnode.KindName(target))
	}
	ip := netip.IPv4Unspecified()
	if hostIP != nil && !yamlnode.IsNull(hostIP) && hostIP.Value != "" {
		if ip, err = parseHostIP(hostIP.Value); err != nil {
			return nil, "", c.errf(hostIP, "service %s: %v", svc, err)
		}
	}
	p := "tcp"
	if proto != nil && !yamlnode.IsNull(proto) && proto.Value != "" {
		p = proto.Value
	}
	if mode != nil && mode.Value != "host" && mode.Value != "ingress" {
		return nil, "", c.errf(mode, "service %s: mode should be host or ingress, not %s", svc, yamlnode.KindName(mode))
	}
	if published == nil || yamlnode.IsNull(published) || published.Value == "" {
		return publishRandom(p, ip, uint16(cp), uint16(cp), base)
	}
	hFirst, hLast, err := composePortRange(published.Value)
	if err != nil {
		return nil, "", c.errf(published, "service %s: published: %v", svc, err)
	}
	if hFirst != hLast {
		if _, err := publish(p, ip, hFirst, uint16(cp), 1, base); err != nil {
			return nil, "", c.errf(n, "service %s: %v", svc, err)
		}
		return nil, fmt.Sprintf("it publishes one host port of %s on %s, picked when the container starts", published.Value, scopePhrase(ip)), nil
	}
	ls, err := publish(p, ip, hFirst, uint16(cp), 1, base)
	if err != nil {
		return nil, "", c.errf(n, "service %s: %v", svc, err)
	}
	return ls, "", nil
}
