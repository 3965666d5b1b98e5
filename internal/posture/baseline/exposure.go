package baseline

import (
	"errors"

	"go.yaml.in/yaml/v4"

	"github.com/firewarden/firewarden/internal/exposure"
)

// Exposure holds the wants of the exposure checks (the baseline's `exposure:` section): the
// listeners the host is meant to have, in the format of `firewarden exposure --expect`.
type Exposure struct {
	// Expect lists the intended listeners, with lines of the baseline file. Empty (`expect: []`)
	// means nothing may listen, not even on loopback.
	Expect []exposure.Expectation
}

// exposureKeys is what the exposure section's list is called in messages.
const exposureKeys = "exposure.expect"

func (e *Exposure) decode(n *yaml.Node) error {
	set := false
	err := mapping(n, "exposure", map[string]func(*yaml.Node) error{
		"expect": func(n *yaml.Node) error {
			set = true
			return e.decodeExpect(n)
		},
	})
	if err != nil {
		return err
	}
	if !set {
		return &Error{Line: n.Line, Msg: "exposure: expect is required: the listeners this host is meant to have, such as - {process: sshd, port: 22, scope: any}"}
	}
	return nil
}

// decodeExpect reads the list with the parser of expectation files, so that both files take the
// same entries; its errors become the baseline's, at the baseline's lines.
func (e *Exposure) decodeExpect(n *yaml.Node) error {
	if n.Kind != yaml.SequenceNode {
		if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
			// A key with nothing under it is more likely an unfinished list than a promise that
			// nothing listens: make the author say which.
			return &Error{Line: n.Line, Msg: exposureKeys + " is empty; list the intended listeners, or write expect: [] if nothing may listen"}
		}
		return typeErr(n, exposureKeys, "a list of listeners (- {process: NAME, port: N, scope: loopback|lan|any})")
	}
	exps, err := exposure.ExpectFromNode(n, "")
	var ee *exposure.ExpectError
	switch {
	case errors.As(err, &ee):
		return &Error{Line: ee.Line, Msg: exposureKeys + ": " + ee.Msg}
	case err != nil:
		return &Error{Line: n.Line, Msg: exposureKeys + ": " + err.Error()}
	}
	if exps == nil {
		exps = []exposure.Expectation{}
	}
	e.Expect = exps
	return nil
}
