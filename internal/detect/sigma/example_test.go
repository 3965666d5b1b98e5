package sigma_test

import (
	"fmt"

	"github.com/firewarden/firewarden/internal/detect/sigma"
)

// process is an event as a caller might hold it; Values serves the fields rules read without
// allocating.
type process struct {
	image, commandLine []string
	argv               []string
}

func (p *process) Values(name string) ([]string, bool) {
	switch name {
	case "Image":
		return p.image, p.image != nil
	case "CommandLine":
		return p.commandLine, p.commandLine != nil
	case "Argv":
		return p.argv, p.argv != nil
	}
	return nil, false
}

func Example() {
	rules, err := sigma.Parse([]byte(`
title: Application Firewall Disabled Via Socketfilterfw
logsource: {category: process_creation, product: macos}
detection:
    selection:
        Image|endswith: '/socketfilterfw'
        CommandLine|contains|all: [setglobalstate, 'off']
    condition: selection
level: medium
`), "alf.yml")
	if err != nil {
		fmt.Println(err)
		return
	}
	r := rules[0]
	p := &process{
		image:       []string{"/usr/libexec/ApplicationFirewall/socketfilterfw"},
		commandLine: []string{"/usr/libexec/ApplicationFirewall/socketfilterfw --setglobalstate OFF"},
	}
	fmt.Println(r.Title, r.Level, r.Match(p))
	fmt.Println("reads", r.Fields(), "needs one of", r.Needles())
	// Output:
	// Application Firewall Disabled Via Socketfilterfw medium true
	// reads [CommandLine Image] needs one of [socketfilterfw]
}

func ExampleParse_error() {
	_, err := sigma.Parse([]byte(`
title: Broken
detection:
    selection:
        Image|endwith: /pfctl
    condition: selection
`), "broken.yml")
	fmt.Println(err)
	// Output:
	// broken.yml:5: selection: Image|endwith: unknown modifier "endwith"
}
