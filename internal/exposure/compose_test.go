package exposure

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// wrow is a compose listener as one line, with where it was declared.
func wrow(l Listener) string {
	return row(l) + " " + l.Container.Where
}

var composeTests = []struct {
	name, in string
	want     []string
	cond     []Conditional
	warns    []string
	err      string
}{
	{name: "empty", in: ""},
	{name: "no services", in: "name: chat\nvolumes:\n  data:\n"},
	{
		name: "short syntax",
		in: "services:\n" +
			"  mattermost:\n" +
			"    image: mattermost/mattermost-team-edition\n" +
			"    ports:\n" +
			"      - \"8065:8065\"\n" + // 5
			"      - 127.0.0.1:8443:443\n" + // 6
			"      - \"8000-8002:8000-8002\"\n" + // 7
			"      - \"[::1]:53:53/udp\"\n" + // 8
			"      - 3000\n" + // 9
			"      - \"127.0.0.1::5000\"\n" + // 10
			"      - \"9090-9091:8080-8081\"\n" + // 11
			"      - 49100:22\n", // 12
		want: []string{
			"tcp 0.0.0.0:0 all compose:mattermost:3000 c.yaml:9",
			"tcp 127.0.0.1:0 loopback compose:mattermost:5000 c.yaml:10",
			"tcp 0.0.0.0:8000 all compose:mattermost:8000 c.yaml:7",
			"tcp 0.0.0.0:8001 all compose:mattermost:8001 c.yaml:7",
			"tcp 0.0.0.0:8002 all compose:mattermost:8002 c.yaml:7",
			"tcp 0.0.0.0:8065 all compose:mattermost:8065 c.yaml:5",
			"tcp 127.0.0.1:8443 loopback compose:mattermost:443 c.yaml:6",
			"tcp 0.0.0.0:9090 all compose:mattermost:8080 c.yaml:11",
			"tcp 0.0.0.0:9091 all compose:mattermost:8081 c.yaml:11",
			"tcp 0.0.0.0:49100 all compose:mattermost:22 c.yaml:12",
			"udp [::1]:53 loopback compose:mattermost:53 c.yaml:8",
		},
	},
	{
		name: "long syntax and container_name",
		in: "services:\n" +
			"  db:\n" +
			"    container_name: postgres\n" +
			"    ports:\n" +
			"      - target: 5432\n" + // 5
			"        published: \"5432\"\n" +
			"        host_ip: 127.0.0.1\n" +
			"        protocol: tcp\n" +
			"        mode: host\n" +
			"      - {target: 53, published: 5353, protocol: udp, name: dns, app_protocol: dns}\n" + // 10
			"      - {target: 80}\n", // 11
		want: []string{
			"tcp 0.0.0.0:0 all compose:postgres:80 c.yaml:11",
			"tcp 127.0.0.1:5432 loopback compose:postgres:5432 c.yaml:5",
			"udp 0.0.0.0:5353 all compose:postgres:53 c.yaml:10",
		},
	},
	{
		name: "variables are conditional",
		in: "services:\n" +
			"  web:\n" +
			"    ports:\n" +
			"      - \"${PORT:-8080}:80\"\n" +
			"      - $BIND:443:443\n" +
			"      - {target: 80, host_ip: \"${BIND}\"}\n" +
			"      - \"8000-9000:80\"\n" +
			"      - \"$$8080:80\"\n",
		cond: []Conditional{
			{Where: "c.yaml:4", Service: "web", Entry: `"${PORT:-8080}:80"`, Why: "it uses variables, which firewarden does not expand: what it publishes, and where, depends on their values"},
			{Where: "c.yaml:5", Service: "web", Entry: `"$BIND:443:443"`, Why: "it uses variables, which firewarden does not expand: what it publishes, and where, depends on their values"},
			{Where: "c.yaml:6", Service: "web", Entry: `{target: 80, host_ip: ${BIND}}`, Why: "it uses variables, which firewarden does not expand: what it publishes, and where, depends on their values"},
			{Where: "c.yaml:7", Service: "web", Entry: `"8000-9000:80"`, Why: "it publishes one host port of 8000-9000 on every interface, picked when the container starts"},
		},
		err: `c.yaml:8: service web: ports entry "$$8080:80": host port: "$$8080" is not a port or a range of ports`,
	},
	{
		name: "anchors, aliases and merge keys",
		in: "x-web: &web\n" +
			"  ports:\n" +
			"    - \"127.0.0.1:8080:80\"\n" +
			"services:\n" +
			"  a:\n" +
			"    <<: *web\n" +
			"  b:\n" +
			"    <<: *web\n" +
			"    ports: [\"8081:80\"]\n",
		want: []string{
			"tcp 127.0.0.1:8080 loopback compose:a:80 c.yaml:3",
			"tcp 0.0.0.0:8081 all compose:b:80 c.yaml:9",
		},
	},
	{
		name: "host network, include and extends",
		in: "include:\n  - other.yaml\n" +
			"services:\n" +
			"  dns:\n" +
			"    network_mode: host\n" +
			"    ports: [\"53:53/udp\"]\n" +
			"  web:\n" +
			"    extends: {file: base.yaml, service: web}\n",
		warns: []string{
			"c.yaml:1: include: the compose files it includes are not read; give each with its own --compose",
			"c.yaml:6: service dns: ports: do not apply with network_mode: host (the Compose specification makes it an error); the service listens on the host's own interfaces, which the host listeners show",
			"c.yaml:8: service web: extends: the ports it inherits from the service it extends are not read",
		},
	},
	{name: "not a mapping", in: "- a\n", err: `c.yaml:1: a compose file is a mapping (services: ...), not a list`},
	{name: "services a list", in: "services:\n  - web\n", err: `c.yaml:2: services should be a mapping of service names, not a list`},
	{name: "service a scalar", in: "services:\n  web: nginx\n", err: `c.yaml:2: service web should be a mapping of keys, not "nginx"`},
	{name: "ports a string", in: "services:\n  web:\n    ports: \"80:80\"\n", err: `c.yaml:3: service web: ports should be a list, not "80:80"`},
	{name: "ports twice", in: "services:\n  web:\n    ports: []\n    ports: []\n", err: `c.yaml:4: service web: "ports" is given twice; keep one`},
	{name: "unbracketed IPv6", in: "services:\n  web:\n    ports: [\"::1:6000:6000\", \"fe80::1:1:1\"]\n", want: []string{"tcp [fe80::1]:1 link-local compose:web:1 c.yaml:3", "tcp [::1]:6000 loopback compose:web:6000 c.yaml:3"}},
	{name: "unbracketed IPv6, random port", in: "services:\n  web:\n    ports: [\"::1::80\"]\n", want: []string{"tcp [::1]:0 loopback compose:web:80 c.yaml:3"}},
	{name: "bad unbracketed IPv6", in: "services:\n  web:\n    ports: [\"1:2:3:4\"]\n", err: `c.yaml:3: service web: ports entry "1:2:3:4": host address "1:2" is not an IP address`},
	{name: "bracket with too many parts", in: "services:\n  web:\n    ports: [\"[::1]:1:2:3\"]\n", err: `c.yaml:3: service web: ports entry "[::1]:1:2:3": too many colons after [IP]:`},
	{name: "bracket without ports", in: "services:\n  web:\n    ports: [\"[::1]:80\"]\n", err: `c.yaml:3: service web: ports entry "[::1]:80": after [IP]: give HOST_PORT:CONTAINER_PORT, or :CONTAINER_PORT for a random host port`},
	{name: "bad address", in: "services:\n  web:\n    ports: [\"localhost:80:80\"]\n", err: `c.yaml:3: service web: ports entry "localhost:80:80": host address "localhost" is not an IP address`},
	{name: "port zero", in: "services:\n  web:\n    ports: [\"0:80\"]\n", err: `c.yaml:3: service web: ports entry "0:80": host port: "0": ports start at 1`},
	{name: "uneven ranges", in: "services:\n  web:\n    ports: [\"80-82:80-81\"]\n", err: `c.yaml:3: service web: ports entry "80-82:80-81": host ports 80-82 and container ports 80-81 are not the same count`},
	{name: "sctp", in: "services:\n  web:\n    ports: [\"132:132/sctp\"]\n", err: `c.yaml:3: service web: ports entry "132:132/sctp": protocol "sctp" is not modelled (only tcp and udp)`},
	{name: "unknown long key", in: "services:\n  web:\n    ports:\n      - {target: 80, hostip: 127.0.0.1}\n", err: `c.yaml:4: unknown key "hostip" under a ports entry of service web; the keys are app_protocol, host_ip, mode, name, protocol, published, target`},
	{name: "long without target", in: "services:\n  web:\n    ports:\n      - {published: 80}\n", err: `c.yaml:4: service web: a long-syntax ports entry needs target: the container's port`},
	{name: "long bad mode", in: "services:\n  web:\n    ports:\n      - {target: 80, mode: global}\n", err: `c.yaml:4: service web: mode should be host or ingress, not "global"`},
	{name: "empty entry", in: "services:\n  web:\n    ports:\n      -\n", err: `c.yaml:4: service web: an empty ports entry`},
	{name: "entry a list", in: "services:\n  web:\n    ports:\n      - [80]\n", err: `c.yaml:4: service web: a ports entry should be "[HOST_IP:][HOST_PORT:]PORT[/PROTOCOL]" or a mapping {target: PORT, published: PORT, host_ip: IP}, not a list`},
	{name: "two documents", in: "services: {}\n---\nservices: {}\n", err: `c.yaml:2: a second YAML document (after ---); a compose file is one`},
	{name: "syntax", in: "services:\n  web: [\n", err: "c.yaml:"},
}

func TestParseCompose(t *testing.T) {
	for _, tt := range composeTests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := ParseCompose([]byte(tt.in), "c.yaml")
			if tt.err != "" {
				if err == nil || (err.Error() != tt.err && !(tt.err == "c.yaml:" && strings.HasPrefix(err.Error(), "c.yaml:"))) {
					t.Fatalf("ParseCompose(%q) error = %v, want %s", tt.in, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseCompose(%q) error %v", tt.in, err)
			}
			var got []string
			for _, l := range rep.Listeners {
				got = append(got, wrow(l))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseCompose(%q) listeners (-want +got):\n%s", tt.in, diff)
			}
			if diff := cmp.Diff(tt.cond, rep.Conditional); diff != "" {
				t.Errorf("ParseCompose(%q) conditional (-want +got):\n%s", tt.in, diff)
			}
			if diff := cmp.Diff(tt.warns, rep.Warnings); diff != "" {
				t.Errorf("ParseCompose(%q) warnings (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

// A listener of a compose file carries the service, the entry as written and where it is.
func TestParseComposeContainer(t *testing.T) {
	rep, err := ParseCompose([]byte("services:\n  mattermost:\n    ports:\n      - \"8065:8065\"\n"), "compose.yaml")
	if err != nil || len(rep.Listeners) != 1 {
		t.Fatalf("ParseCompose() = %+v, %v", rep, err)
	}
	want := &Container{Runtime: "compose", Name: "mattermost", Service: "mattermost", TargetPort: 8065, Where: "compose.yaml:4", Ports: "8065:8065"}
	if diff := cmp.Diff(want, rep.Listeners[0].Container); diff != "" {
		t.Errorf("ParseCompose() container (-want +got):\n%s", diff)
	}
}

func TestParseComposeLimits(t *testing.T) {
	big := make([]byte, MaxComposeBytes+1)
	if _, err := ParseCompose(big, "c.yaml"); err == nil || err.Error() != fmt.Sprintf("c.yaml: larger than %d bytes; is this a compose file?", MaxComposeBytes) {
		t.Errorf("ParseCompose(%d bytes) error = %v, want the size limit", len(big), err)
	}
	// Every port of every protocol, twice: more listeners than the cap.
	in := "services:\n  a:\n    ports: [\"1-65535:1-65535\", \"1-65535:1-65535/udp\"]\n"
	if _, err := ParseCompose([]byte(in), "c.yaml"); err == nil || err.Error() != fmt.Sprintf("c.yaml:3: more than %d published ports", MaxContainerPorts) {
		t.Errorf("ParseCompose(every port twice) error = %v, want the cap", err)
	}
	// An alias used by many services counts each time (here entries with variables, which make no
	// listener).
	var b strings.Builder
	b.WriteString("x: &p [" + strings.TrimSuffix(strings.Repeat("\"${P}:80\",", 1000), ",") + "]\nservices:\n")
	for i := 0; i < 101; i++ {
		fmt.Fprintf(&b, "  s%d: {ports: *p}\n", i)
	}
	if _, err := ParseCompose([]byte(b.String()), "c.yaml"); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("more than %d ports entries", maxComposeEntries)) {
		t.Errorf("ParseCompose(aliases of 1000 entries in 101 services) error = %v, want the entries cap", err)
	}
}

func FuzzParseCompose(f *testing.F) {
	for _, tt := range composeTests {
		f.Add([]byte(tt.in))
	}
	if b, err := os.ReadFile("testdata/compose/compose.yaml"); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		rep, err := ParseCompose(in, "c.yaml")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "c.yaml") {
				t.Errorf("ParseCompose(%q) error %q does not name the file", in, err)
			}
			return
		}
		checkContainerListeners(t, "ParseCompose", in, rep.Listeners)
		// The fix's rewrite of an entry to loopback reads back as the same ports on loopback.
		for _, l := range rep.Listeners {
			c := l.Container
			if c.Ports == "" {
				continue
			}
			fixed := withHostIP(c.Ports, "127.0.0.1")
			ls, cond, err := shortPorts(fixed, *c)
			found := false
			for _, f := range ls {
				if f.Scope != ScopeLoopback {
					t.Errorf("withHostIP(%q) = %q publishes on %s", c.Ports, fixed, f.Addr)
				}
				found = found || (f.Addr.Port() == l.Addr.Port() && f.Container.TargetPort == c.TargetPort && f.Proto == l.Proto)
			}
			if err != nil || cond != "" || !found {
				t.Errorf("withHostIP(%q) = %q, which reads as %d listeners, %q, %v; want %s/%d -> %d on loopback", c.Ports, fixed, len(ls), cond, err, l.Proto, l.Addr.Port(), c.TargetPort)
			}
		}
		for _, c := range rep.Conditional {
			if !strings.HasPrefix(c.Where, "c.yaml:") || c.Why == "" {
				t.Errorf("ParseCompose(%q) gave conditional %+v", in, c)
			}
		}
	})
}

// The fixture: the guide's Mattermost on every interface, a long-syntax and a database entry on
// loopback, and an entry whose address is a variable.
func TestParseComposeFixture(t *testing.T) {
	data, err := os.ReadFile("testdata/compose/compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rep, err := ParseCompose(data, "compose.yaml")
	if err != nil || rep.Warnings != nil {
		t.Fatalf("ParseCompose(compose.yaml) = %v, %q", err, rep.Warnings)
	}
	var got []string
	for _, l := range rep.Listeners {
		got = append(got, wrow(l))
	}
	want := []string{
		"tcp 127.0.0.1:5432 loopback compose:db:5432 compose.yaml:25",
		"tcp 0.0.0.0:8065 all compose:mattermost:8065 compose.yaml:14",
		"tcp 127.0.0.1:8443 loopback compose:mattermost:8443 compose.yaml:15",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ParseCompose(compose.yaml) (-want +got):\n%s", diff)
	}
	wantCond := []Conditional{{Where: "compose.yaml:30", Service: "calls", Entry: `"${RTCD_BIND:-0.0.0.0}:8443:8443/udp"`,
		Why: "it uses variables, which firewarden does not expand: what it publishes, and where, depends on their values"}}
	if diff := cmp.Diff(wantCond, rep.Conditional); diff != "" {
		t.Errorf("ParseCompose(compose.yaml) conditional (-want +got):\n%s", diff)
	}
}
