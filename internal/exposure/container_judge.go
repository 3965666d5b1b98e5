package exposure

import (
	"fmt"
	"strconv"
	"strings"
)

// matchesContainer is matches for a published container port, or for an entry naming a
// container (port and protocol already compared). A container entry names only container
// ports; a process entry names a container port only when the process name is the container's
// or its compose service's name: the process that holds the port on the host (docker-proxy,
// rootlessport, conmon) is the runtime's, shared by every container, so naming it must not wave
// every container through. An entry with neither (a port alone) names whatever listens there.
func (e Expectation) matchesContainer(l Listener) bool {
	if l.Container == nil {
		return false // a host process is not a container, whatever its name
	}
	name := e.Container
	if name == "" {
		name = e.Process
	}
	if name == "" {
		return true
	}
	c := l.Container
	return name == c.Name || (c.Service != "" && name == c.Service)
}

// containerFix rewrites the fix of a published container port's judgement: what to change is
// where the port is published (the compose file's entry, or docker run's -p), not a bind
// address in the program. file names the expectation file.
func containerFix(j *Judgement, file string) {
	c := j.Container
	if c == nil || j.Verdict == Expected || j.Verdict == "" {
		return
	}
	lo := "127.0.0.1"
	if a := j.Addr.Addr().Unmap(); a.Is6() && !a.IsUnspecified() {
		lo = "[::1]"
	}
	switch j.Verdict {
	case TooWide:
		allowed, _ := ParseReach(j.Allowed)
		host, why := lo, "allows loopback only"
		if allowed == ReachLAN {
			host, why = "LAN_ADDRESS", "allows lan only; LAN_ADDRESS is this host's address on the LAN"
		}
		j.Fix = fmt.Sprintf("%s (%s:%d %s)", publishOn(c, j.Listener, host, true), file, j.ExpectLine, why)
	case Unexpected:
		stop := fmt.Sprintf("stop %s, or %s", containerWho(c), publishOn(c, j.Listener, lo, false))
		if j.Scope.Reach() == ReachLoopback {
			stop = "stop " + containerWho(c)
		}
		name := c.Name
		if c.Service != "" {
			name = c.Service
		}
		port := ""
		if j.Addr.Port() != 0 {
			port = fmt.Sprintf(", port: %d", j.Addr.Port())
		}
		j.Fix = fmt.Sprintf("%s; if it is meant to be published, add to %s: - {container: %s%s, proto: %s, scope: %s}",
			stop, file, name, port, j.Proto, j.Scope.Reach())
	}
}

// containerWho names a container in a fix.
func containerWho(c *Container) string {
	switch {
	case c.Runtime == "compose":
		return "service " + c.Service + " (" + c.Where + ")"
	case c.ID != "":
		return fmt.Sprintf("%s container %s (%s)", c.Runtime, c.Name, c.ID)
	}
	return c.Runtime + " container " + c.Name
}

// publishOn says how to publish l on host instead: the compose entry to write at its line, or
// docker run's (podman run's) -p, and the compose file a running container came from; current
// adds what it is published on now.
func publishOn(c *Container, l Listener, host string, current bool) string {
	if c.Runtime == "compose" {
		if c.Ports == "" {
			return fmt.Sprintf("in %s (service %s) set host_ip: %s on the ports entry of target %d", c.Where, c.Service, strings.Trim(host, "[]"), c.TargetPort)
		}
		return fmt.Sprintf("in %s (service %s) write %q instead of %q", c.Where, c.Service, withHostIP(c.Ports, host), c.Ports)
	}
	spec := fmt.Sprintf("%s:%s:%d", host, hostPort(l), c.TargetPort)
	if l.Proto == "udp" {
		spec += "/udp"
	}
	s := fmt.Sprintf("publish %s's port as -p %s (%s run)", c.Name, spec, c.Runtime)
	if current {
		s += " instead of " + l.Addr.String()
	}
	switch {
	case c.Ports != "" && c.ComposeFile != "":
		s += fmt.Sprintf(", that is %q instead of %q at %s", withHostIP(c.Ports, host), c.Ports, c.ComposeFile)
	case c.ComposeFile != "" && c.Service != "":
		s += fmt.Sprintf(", that is %q (or host_ip: %s in a long-syntax entry) under ports: of service %s in %s", spec, strings.Trim(host, "[]"), c.Service, c.ComposeFile)
	case c.Service != "":
		s += fmt.Sprintf(", that is %q under ports: of service %s in its compose file", spec, c.Service)
	}
	return s
}

// hostPort is l's host port for a -p spec ("" for a random one).
func hostPort(l Listener) string {
	if l.Addr.Port() == 0 {
		return ""
	}
	return strconv.Itoa(int(l.Addr.Port()))
}

// withHostIP rewrites a compose short-syntax entry to publish on host: the address it names, if
// any, is replaced, and an entry without a host port keeps a random one ("127.0.0.1::3000").
func withHostIP(entry, host string) string {
	spec, proto := entry, ""
	if i := strings.LastIndexByte(spec, '/'); i >= 0 {
		spec, proto = spec[:i], spec[i:]
	}
	if strings.HasPrefix(spec, "[") {
		if i := strings.Index(spec, "]:"); i >= 0 {
			spec = spec[i+2:]
		}
	} else {
		parts := strings.Split(spec, ":")
		switch n := len(parts); {
		case n == 1:
			spec = ":" + spec
		case n > 2:
			spec = parts[n-2] + ":" + parts[n-1]
		}
	}
	return host + ":" + spec + proto
}
