package cli

import (
	"context"
	"fmt"

	"github.com/firewarden/firewarden/internal/posture/alf"
	"github.com/firewarden/firewarden/internal/posture/baseline"
)

func runBaseline(_ context.Context, a *app, args []string) error {
	if len(args) == 0 || (args[0] != "default" && args[0] != "profile") {
		return usagef("baseline needs one of: default, profile")
	}
	verb := args[0]
	fs := a.flagSet("baseline " + verb)
	// Only profile renders a baseline: default prints the built-in one and takes no flags.
	var bpath, ident, org *string
	if verb == "profile" {
		bpath = fs.String("baseline", "", "baseline `FILE` to render (default: the built-in one)")
		ident = fs.String("identifier", "com.firewarden", "reverse-DNS `PREFIX` for the profile's PayloadIdentifier")
		org = fs.String("organization", "", "PayloadOrganization `NAME`")
	}
	pos, err := a.parse(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("baseline %s takes no arguments, got %q", verb, pos[0])
	}
	if verb == "default" {
		_, err := a.Out.Write(baseline.DefaultYAML())
		return err
	}
	b, err := a.loadBaseline(*bpath)
	if err != nil {
		return err
	}
	data, warnings, err := alf.Mobileconfig(b, alf.ProfileOptions{Identifier: *ident, Organization: *org})
	if err != nil {
		return usagef("baseline profile: %v", err)
	}
	for _, w := range warnings {
		fmt.Fprintf(a.Err, "firewarden: note: %s\n", w)
	}
	_, err = a.Out.Write(data)
	return err
}
