package exposure

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/firewarden/firewarden/internal/host"
)

// Limits of the container readers, so that a hostile or enormous `ps` output cannot exhaust
// memory (the Runner already caps the bytes of output).
const (
	// MaxContainers is the most containers read from one runtime's output.
	MaxContainers = 10000
	// MaxContainerPorts is the most published ports (a range counts each of its ports) kept from
	// one runtime, or one compose file.
	MaxContainerPorts = 1 << 16
	// maxPSLineBytes is the longest line of `docker ps --format json` read (one container).
	maxPSLineBytes = 1 << 20
	// maxPSWarnings is the most warnings about one runtime's output given one by one.
	maxPSWarnings = 20
)

// Runtime is a container runtime whose published ports ReadContainers lists.
type Runtime struct {
	// Name is "docker" or "podman".
	Name string
	// Paths are where its command-line program is installed, tried in order under the root;
	// the first that exists is run.
	Paths []string
	// Parse reads the output of `NAME ps --format json`.
	Parse func(out []byte) ([]Listener, []string, error)
}

// Runtimes returns the runtimes ReadContainers asks, in order. The paths are the packages'
// (Debian and Fedora /usr/bin, Docker's static binaries and Docker Desktop's links in
// /usr/local/bin, the snap, Homebrew, Docker Desktop's bundle and the Podman installer for macOS).
func Runtimes() []Runtime {
	return []Runtime{
		{Name: "docker", Parse: ParseDockerPS, Paths: []string{
			"/usr/bin/docker", "/usr/local/bin/docker", "/snap/bin/docker", "/opt/homebrew/bin/docker",
			"/Applications/Docker.app/Contents/Resources/bin/docker",
		}},
		{Name: "podman", Parse: ParsePodmanPS, Paths: []string{
			"/usr/bin/podman", "/usr/local/bin/podman", "/opt/podman/bin/podman", "/opt/homebrew/bin/podman",
		}},
	}
}

// PSArgs are the arguments each runtime runs with: running containers, in JSON.
var PSArgs = []string{"ps", "--format", "json"}

// ReadContainers lists the ports that the installed container runtimes publish, by running
// `docker ps --format json` and `podman ps --format json` through r. A runtime whose program
// does not exist under the root is skipped without a word; one that fails (its daemon is not
// running, permission denied on its socket) or prints what cannot be read is a warning, never
// an error, so that the host's own listeners are still reported.
func ReadContainers(ctx context.Context, r host.Runner, root host.Root) Report {
	rep := Report{Listeners: []Listener{}}
	for _, rt := range Runtimes() {
		path := ""
		for _, p := range rt.Paths {
			if root.Exists(p) {
				path = p
				break
			}
		}
		if path == "" {
			continue
		}
		cmd := host.Cmd{Path: path, Args: PSArgs}
		res, err := r.Run(ctx, cmd)
		if errors.Is(err, host.ErrNotInstalled) {
			continue // gone between the look and the run, or a dangling link
		}
		var ee *host.ExitError
		switch {
		case errors.As(err, &ee):
			why := oneLine(ee.Stderr)
			if why == "" {
				why = "(nothing on stderr)"
			}
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("%s exited with status %d: %s; its published ports are not listed", cmd, ee.Code, why))
			continue
		case err != nil:
			// The Runner's other errors (a timeout, a program that cannot start) name the argv.
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("%s; its published ports are not listed", oneLine(err.Error())))
			continue
		}
		if res.Truncated {
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("%s: output was cut at the output cap; some published ports may be missing", cmd))
		}
		ls, warns, err := rt.Parse(res.Stdout)
		for i, w := range warns {
			if i == maxPSWarnings {
				rep.Warnings = append(rep.Warnings, fmt.Sprintf("%s: %d more lines or ports skipped", cmd, len(warns)-i))
				break
			}
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("%s: %s", cmd, w))
		}
		if err != nil {
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("%s: %v; its published ports are not listed", cmd, err))
			continue
		}
		rep.Listeners = append(rep.Listeners, ls...)
	}
	sortListeners(rep.Listeners)
	return rep
}

// maxWhy bounds the bytes of a runtime's stderr quoted in a warning.
const maxWhy = 300

// oneLine puts s (a daemon's message over several lines) on one line, cut at maxWhy bytes.
func oneLine(s string) string {
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.Join(strings.Fields(l), " "); l != "" {
			lines = append(lines, l)
		}
	}
	s = strings.Join(lines, "; ")
	if len(s) > maxWhy {
		s = strings.ToValidUTF8(s[:maxWhy], "") + "…"
	}
	return s
}

// dockerPS is the part of one line of `docker ps --format json` read: docker/cli's formatter
// prints every field as a string (cli/command/formatter/container.go, ContainerContext).
type dockerPS struct {
	ID     string
	Names  string
	Image  string
	Ports  string
	Labels string
}

// ParseDockerPS reads `docker ps --format json`: one JSON object a line, whose Ports field is
// docker/cli's display string, for example
//
//	0.0.0.0:8065->8065/tcp, :::8065->8065/tcp, 127.0.0.1:8000-8002->8000-8002/tcp, 80/tcp
//
// (Docker 28 and later bracket IPv6 addresses: [::]:8065->8065/tcp). A port without "->" is
// exposed but not published and is skipped. A line or a port that cannot be read is a warning
// naming it; more than MaxContainers lines is an error.
func ParseDockerPS(out []byte) ([]Listener, []string, error) {
	ls := []Listener{}
	var warns []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 4096), maxPSLineBytes)
	n, containers := 0, 0
	for sc.Scan() {
		n++
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		if containers++; containers > MaxContainers {
			return nil, warns, fmt.Errorf("more than %d containers", MaxContainers)
		}
		var c dockerPS
		if err := json.Unmarshal(line, &c); err != nil {
			warns = append(warns, fmt.Sprintf("output line %d is not a container in JSON (%v); line skipped", n, jsonWhy(err)))
			continue
		}
		name := c.Names
		if i := strings.IndexByte(name, ','); i >= 0 {
			name = name[:i] // legacy link names follow the container's own
		}
		base := Container{Runtime: "docker", ID: c.ID, Name: name, Image: c.Image, Where: "docker ps"}
		base.Service, base.ComposeFile = composeLabels(c.Labels)
		for _, item := range strings.Split(c.Ports, ",") {
			item = strings.TrimSpace(item)
			if item == "" || !strings.Contains(item, "->") {
				continue
			}
			got, err := parseDockerPort(item, base)
			if err != nil {
				warns = append(warns, fmt.Sprintf("output line %d: container %s: port %q: %v; port skipped", n, name, item, err))
				continue
			}
			if len(ls)+len(got) > MaxContainerPorts {
				return nil, warns, fmt.Errorf("more than %d published ports", MaxContainerPorts)
			}
			ls = append(ls, got...)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, warns, fmt.Errorf("output line %d: %v", n+1, err)
	}
	sortListeners(ls)
	return ls, warns, nil
}

// jsonWhy shortens a JSON error for a warning.
func jsonWhy(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return "invalid JSON at byte " + strconv.FormatInt(se.Offset, 10)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("field %s is a JSON %s", te.Field, te.Value)
	}
	return "invalid JSON"
}

// composeLabels reads the compose service and the compose file from docker ps's Labels string
// ("k=v,k=v"; compose sets com.docker.compose.service and com.docker.compose.project.config_files).
func composeLabels(labels string) (service, file string) {
	for _, kv := range strings.Split(labels, ",") {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "com.docker.compose.service":
			service = v
		case "com.docker.compose.project.config_files":
			file = v
		}
	}
	return service, file
}

// parseDockerPort reads one published port of docker ps's display string: HOST:PORT->PORT/PROTO,
// where HOST is an IPv4 address, an IPv6 address (bare before Docker 28, so ":::80", bracketed
// since) and both ports may be equal ranges.
func parseDockerPort(item string, base Container) ([]Listener, error) {
	pub, cont, _ := strings.Cut(item, "->")
	cont, proto, ok := strings.Cut(cont, "/")
	if !ok {
		return nil, errors.New("no /protocol after the container port")
	}
	i := strings.LastIndexByte(pub, ':')
	if i < 0 {
		return nil, errors.New("no HOST:PORT before ->")
	}
	ipText, hostPorts := pub[:i], pub[i+1:]
	ipText = strings.TrimSuffix(strings.TrimPrefix(ipText, "["), "]")
	ip, err := netip.ParseAddr(ipText)
	if err != nil || ip.Zone() != "" {
		return nil, fmt.Errorf("host address %q is not an IP address", ipText)
	}
	hFirst, hLast, err := portRange(hostPorts)
	if err != nil {
		return nil, fmt.Errorf("host port: %v", err)
	}
	cFirst, cLast, err := portRange(cont)
	if err != nil {
		return nil, fmt.Errorf("container port: %v", err)
	}
	if hLast-hFirst != cLast-cFirst {
		return nil, fmt.Errorf("host ports %s and container ports %s are not the same count", hostPorts, cont)
	}
	return publish(proto, ip, hFirst, cFirst, int(hLast-hFirst)+1, base)
}

// portRange reads "N" or "N-M" (N ≤ M, ports 0 to 65535; docker ps shows 0 for a port it could
// not publish).
func portRange(s string) (first, last uint16, err error) {
	a, b, isRange := strings.Cut(s, "-")
	f, err1 := strconv.ParseUint(a, 10, 16)
	l := f
	var err2 error
	if isRange {
		l, err2 = strconv.ParseUint(b, 10, 16)
	}
	if err1 != nil || err2 != nil || l < f {
		return 0, 0, fmt.Errorf("%q is not a port or a range of ports", s)
	}
	return uint16(f), uint16(l), nil
}

// publish makes the listeners of n ports published from host port hp and container port cp on,
// bound to ip. proto is tcp or udp; sctp, which the host's tables here do not list, is an error.
func publish(proto string, ip netip.Addr, hp, cp uint16, n int, base Container) ([]Listener, error) {
	if proto != "tcp" && proto != "udp" {
		return nil, fmt.Errorf("protocol %q is not modelled (only tcp and udp)", proto)
	}
	if n > MaxContainerPorts {
		return nil, fmt.Errorf("a range of %d ports", n)
	}
	ls := make([]Listener, 0, n)
	for k := 0; k < n; k++ {
		c := base
		c.TargetPort = cp + uint16(k)
		port := hp
		if hp != 0 {
			port = hp + uint16(k)
		}
		ls = append(ls, Listener{Proto: proto, Addr: netip.AddrPortFrom(ip, port), Scope: Classify(ip), Container: &c})
	}
	return ls, nil
}

// podmanPS is the part of one container of `podman ps --format json` read: podman prints a JSON
// array of its ListContainer type (pkg/domain/entities/types/container_ps.go), whose Ports are
// libnetwork's PortMapping (containers/common libnetwork/types/network.go).
type podmanPS struct {
	ID     string `json:"Id"`
	Names  []string
	Image  string
	Ports  []podmanPort
	Labels map[string]string
}

// podmanPort is libnetwork's PortMapping: an empty host_ip is every interface, range 0 or 1 is
// one port, protocol may list several ("tcp,udp") and is tcp when empty.
type podmanPort struct {
	HostIP        string `json:"host_ip"`
	ContainerPort uint16 `json:"container_port"`
	HostPort      uint16 `json:"host_port"`
	Range         uint16 `json:"range"`
	Protocol      string `json:"protocol"`
}

// ParsePodmanPS reads `podman ps --format json`: one JSON array of containers, each with a list
// of port mappings. A mapping that cannot be read is a warning naming its container; output that
// is not such an array, or more than MaxContainers containers, is an error.
func ParsePodmanPS(out []byte) ([]Listener, []string, error) {
	ls := []Listener{}
	var warns []string
	if len(bytes.TrimSpace(out)) == 0 {
		return ls, nil, nil // no containers: some versions print nothing
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
		return nil, nil, errors.New("output is not a JSON list of containers")
	}
	for n := 1; dec.More(); n++ {
		if n > MaxContainers {
			return nil, warns, fmt.Errorf("more than %d containers", MaxContainers)
		}
		var c podmanPS
		if err := dec.Decode(&c); err != nil {
			return nil, warns, fmt.Errorf("container %d: %s", n, jsonWhy(err))
		}
		name := ""
		if len(c.Names) > 0 {
			name = c.Names[0]
		}
		base := Container{Runtime: "podman", ID: shortID(c.ID), Name: name, Image: c.Image, Where: "podman ps"}
		base.Service = c.Labels["com.docker.compose.service"]
		base.ComposeFile = c.Labels["com.docker.compose.project.config_files"]
		for _, p := range c.Ports {
			got, err := p.listeners(base)
			if err != nil {
				warns = append(warns, fmt.Sprintf("container %s: port mapping %s: %v; mapping skipped", name, p, err))
				continue
			}
			if len(ls)+len(got) > MaxContainerPorts {
				return nil, warns, fmt.Errorf("more than %d published ports", MaxContainerPorts)
			}
			ls = append(ls, got...)
		}
	}
	if _, err := dec.Token(); err != nil {
		return nil, warns, errors.New("output is not a JSON list of containers (no closing ])")
	}
	sortListeners(ls)
	return ls, warns, nil
}

// shortID cuts a container ID to the 12 characters both runtimes show.
func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

func (p podmanPort) String() string {
	return fmt.Sprintf("{host_ip: %q, host_port: %d, container_port: %d, range: %d, protocol: %q}", p.HostIP, p.HostPort, p.ContainerPort, p.Range, p.Protocol)
}

func (p podmanPort) listeners(base Container) ([]Listener, error) {
	ip := netip.IPv4Unspecified()
	if p.HostIP != "" {
		var err error
		if ip, err = netip.ParseAddr(p.HostIP); err != nil || ip.Zone() != "" {
			return nil, fmt.Errorf("host_ip %q is not an IP address", p.HostIP)
		}
	}
	n := int(p.Range)
	if n == 0 {
		n = 1
	}
	if int(p.ContainerPort)+n-1 > 65535 || int(p.HostPort)+n-1 > 65535 {
		return nil, errors.New("the range goes past port 65535")
	}
	protos := p.Protocol
	if protos == "" {
		protos = "tcp"
	}
	var ls []Listener
	for _, proto := range strings.Split(protos, ",") {
		got, err := publish(strings.TrimSpace(proto), ip, p.HostPort, p.ContainerPort, n, base)
		if err != nil {
			return nil, err
		}
		ls = append(ls, got...)
	}
	return ls, nil
}

// isProxy reports whether a process is one that holds a published port's host socket for a
// container runtime: Docker's userland proxy, rootless Podman's rootlessport and pasta
// (pasta.avx2 is its AVX2 build) or slirp4netns, conmon (which rootful Podman hands the ports it
// reserves), and on a Mac Docker Desktop's backend and vpnkit, and podman machine's gvproxy.
func isProxy(process string) bool {
	switch process {
	case "docker-proxy", "rootlessport", "pasta", "pasta.avx2", "slirp4netns", "conmon",
		"com.docker.backend", "com.docker.vpnkit", "vpnkit-bridge", "gvproxy":
		return true
	}
	return false
}

// sameContainer reports whether a and b are the same published port of the same container.
func sameContainer(a, b *Container) bool {
	return a.Runtime == b.Runtime && a.ID == b.ID && a.Name == b.Name && a.TargetPort == b.TargetPort
}

// MergeContainers adds the runtimes' published ports to the host's listeners. A host socket that
// a runtime's proxy holds for a published port (same protocol and port, and the same address or
// both unspecified) is the same listener: it takes the container's identity, and the runtime's
// entry is not listed a second time. The result is sorted.
func MergeContainers(hostLs, contLs []Listener) []Listener {
	out := make([]Listener, 0, len(hostLs)+len(contLs))
	out = append(out, hostLs...)
	for _, c := range contLs {
		merged := false
		// Exact addresses first, so that 0.0.0.0 and :: entries each find their own socket;
		// then the proxy's other unspecified addresses, of either family (a runtime may list
		// only 0.0.0.0 for a proxy that also holds ::).
		for _, loose := range []bool{false, true} {
			for i := range out[:len(hostLs)] {
				h := &out[i]
				if !isProxy(h.Process) || h.Proto != c.Proto || h.Addr.Port() != c.Addr.Port() {
					continue
				}
				if h.Container != nil && !sameContainer(h.Container, c.Container) {
					continue
				}
				ha, ca := h.Addr.Addr().Unmap(), c.Addr.Addr().Unmap()
				if ha == ca || (loose && ha.IsUnspecified() && ca.IsUnspecified()) {
					if h.Container == nil {
						cc := *c.Container
						h.Container = &cc
					}
					merged = true
				}
			}
		}
		if !merged {
			out = append(out, c)
		}
	}
	sortListeners(out)
	return out
}

// MergeCompose adds the ports a compose file declares to the listeners. A declared port that a
// running container of the same service (or name) publishes (same protocol, the same host port
// or for a random one the same container port, and the same address or both unspecified) is
// the same listener: the running one takes the entry's FILE:LINE and text, for its fix, and the
// declaration is not listed a second time. The result is sorted.
func MergeCompose(ls, compose []Listener) []Listener {
	out := append([]Listener(nil), ls...)
	n := len(out)
	for _, d := range compose {
		dc := d.Container
		merged := false
		for i := range out[:n] {
			r := &out[i]
			rc := r.Container
			if rc == nil || rc.Runtime == "compose" || r.Proto != d.Proto || (rc.Service != dc.Service && rc.Name != dc.Name) {
				continue
			}
			if d.Addr.Port() != 0 && r.Addr.Port() != d.Addr.Port() || d.Addr.Port() == 0 && rc.TargetPort != dc.TargetPort {
				continue
			}
			ra, da := r.Addr.Addr().Unmap(), d.Addr.Addr().Unmap()
			if ra != da && !(ra.IsUnspecified() && da.IsUnspecified()) {
				continue
			}
			cc := *rc
			cc.ComposeFile, cc.Ports = dc.Where, dc.Ports
			r.Container = &cc
			merged = true
		}
		if !merged {
			out = append(out, d)
		}
	}
	sortListeners(out)
	return out
}
