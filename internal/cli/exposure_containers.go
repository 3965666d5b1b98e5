package cli

import (
	"errors"
	"fmt"
	"os"

	"github.com/firewarden/firewarden/internal/exposure"
)

// readComposeFiles reads and parses the files of --compose; a file that cannot be read or parsed
// is a usage error (exit 2) naming it.
func readComposeFiles(files []string) (exposure.ComposeReport, error) {
	var all exposure.ComposeReport
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			return all, usagef("read the compose file: %v", errors.Unwrap(err))
		}
		if st.Size() > exposure.MaxComposeBytes {
			return all, usagef("%s: larger than %d bytes; is this a compose file?", f, exposure.MaxComposeBytes)
		}
		data, err := os.ReadFile(f)
		if err != nil {
			return all, usagef("read the compose file: %v", errors.Unwrap(err))
		}
		rep, err := exposure.ParseCompose(data, f)
		if err != nil {
			return all, usagef("%v", err)
		}
		all.Listeners = append(all.Listeners, rep.Listeners...)
		all.Conditional = append(all.Conditional, rep.Conditional...)
		all.Warnings = append(all.Warnings, rep.Warnings...)
	}
	return all, nil
}

func hasContainers(js []exposure.Judgement) bool {
	for _, j := range js {
		if j.Container != nil {
			return true
		}
	}
	return false
}

// containerColumn is the CONTAINER cell: runtime:name, and a compose file's FILE:LINE.
func containerColumn(c *exposure.Container) string {
	switch {
	case c == nil:
		return "-"
	case c.Runtime == "compose":
		return "compose:" + c.Name + " (" + c.Where + ")"
	}
	return c.Runtime + ":" + c.Name
}

func conditionalCount(sum exposureSummary) string {
	if sum.Conditional == 0 {
		return ""
	}
	return fmt.Sprintf(", %d conditional", sum.Conditional)
}

// printConditional lists the compose entries that get no verdict, with what they depend on.
func printConditional(a *app, conds []exposure.Conditional) {
	for _, c := range conds {
		fmt.Fprintf(a.Out, "conditional %s: service %s, ports entry %s: %s; write the address and port literally to have it judged\n", c.Where, c.Service, c.Entry, c.Why)
	}
}
