package ruleset

import (
	"fmt"
	"strings"
)

// Format lists the whole ruleset in nft-like syntax: tables, sets, chains with their hook,
// priority and policy, and every rule with its handle. What the analysis does not model is
// marked "# not modelled: …" after the rule. The listing is evidence of what the kernel held;
// it is not meant to be loaded back with nft -f.
func Format(rs *Ruleset) string {
	var b strings.Builder
	if rs == nil {
		return ""
	}
	for _, t := range rs.Tables {
		c := newCompiler(t)
		fmt.Fprintf(&b, "table %s %s { # owner %s\n", t.Family, t.Name, OwnerOf(t))
		if t.Dormant {
			b.WriteString("\tflags dormant\n")
		}
		for _, s := range t.Sets {
			if s.Anonymous {
				continue
			}
			kind, typ := "set", s.KeyType
			if s.Map {
				kind = "map"
			}
			if s.Verdicts {
				typ = "verdict map"
				if s.KeyType != "" {
					typ = s.KeyType + " : verdict"
				}
			}
			fmt.Fprintf(&b, "\t%s %s { # type %s", kind, s.Name, typ)
			if s.Interval {
				b.WriteString(", flags interval")
			}
			b.WriteString("\n")
			fmt.Fprintf(&b, "\t\telements = %s\n", setElements(s, setField(s), 0))
			b.WriteString("\t}\n")
		}
		for _, ch := range t.Chains {
			fmt.Fprintf(&b, "\tchain %s {\n", ch.Name)
			if ch.Hook != "" {
				dev := ""
				if ch.Device != "" {
					dev = fmt.Sprintf(" device %q", ch.Device)
				}
				fmt.Fprintf(&b, "\t\ttype %s hook %s%s priority %d; policy %s;\n", ch.Type, ch.Hook, dev, ch.Priority, ch.Policy)
			}
			for _, r := range ch.Rules {
				cr := c.compile(r)
				var parts, notes []string
				for _, st := range cr.steps {
					parts = append(parts, st.text)
					if st.kind == stOther && st.note != "" {
						notes = append(notes, st.note)
					}
					if st.cond != nil {
						notes = append(notes, st.cond.notes...)
					}
				}
				line := strings.Join(parts, " ")
				if r.Comment != "" {
					line += fmt.Sprintf(" comment %q", r.Comment)
				}
				fmt.Fprintf(&b, "\t\t%s # handle %d", line, r.Handle)
				if len(notes) > 0 {
					fmt.Fprintf(&b, " # not modelled: %s", strings.Join(notes, "; "))
				}
				b.WriteString("\n")
			}
			b.WriteString("\t}\n")
		}
		b.WriteString("}\n")
	}
	return b.String()
}

// setField guesses, from a named set's key type, the field its keys are compared with, so
// that its elements print as nft prints them.
func setField(s *Set) field {
	switch s.KeyType {
	case "ipv4_addr":
		return field{kind: fkPayload, base: 1, off: 12, len: 4, fam: 4}
	case "ipv6_addr":
		return field{kind: fkPayload, base: 1, off: 8, len: 16, fam: 6}
	case "inet_service":
		return field{kind: fkPayload, base: 2, off: 2, len: 2}
	case "ifname":
		return field{kind: fkMeta, key: metaIIFName}
	}
	return field{kind: fkImm}
}
