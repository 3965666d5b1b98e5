package cli

import (
	"context"
	"fmt"

	"github.com/firewarden/firewarden/internal/posture/alf"
	"github.com/firewarden/firewarden/internal/posture/baseline"
)

func runBaseline(_ context.Context, a *app, args []string) error {
	fs := a.flagSet("baseline")
	bpath := fs.String("baseline", "", "baseline `FILE` to render (default: the built-in one)")
	ident := fs.String("identifier", "com.firewarden", "reverse-DNS `PREFIX` for the profile's PayloadIdentifier")
	org := fs.String("organization", "", "PayloadOrganization `NAME`")
	pos, err := a.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("baseline needs one of: default, profile")
	}
	switch pos[0] {
	case "default":
		_, err := a.Out.Write(baseline.DefaultYAML())
		return err
	case "profile":
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
	return usagef("baseline %q: use default or profile", pos[0])
}
