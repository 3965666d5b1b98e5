package detect

import (
	"fmt"
	"strings"

	"github.com/firewarden/firewarden/internal/detect/event"
	"github.com/firewarden/firewarden/internal/detect/sigma"
)

// classes is a set of the kinds of event rules are evaluated against: what happened, on which
// system. A rule's logsource becomes the set it applies to (Rule.applies), an event the set it
// may belong to (classesOf); a rule is evaluated on an event only when the two meet. So SigmaHQ's
// Windows rules never see macOS telemetry, and a process_creation rule never sees a file event.
type classes uint16

const (
	execMacOS    classes = 1 << iota // a program run (event.Exec) on macOS
	execLinux                        // a program run on Linux
	fileMacOS                        // a file changed (event.FileModify), not by a rename
	fileLinux                        //
	renameMacOS                      // a file renamed (event.FileModify with FileFrom)
	renameLinux                      //
	profileMacOS                     // a configuration profile removed (event.ProfileRemove)
	logMacOS                         // a unified-log record (event.Log)

	allClasses = 1<<iota - 1
	macOS      = execMacOS | fileMacOS | renameMacOS | profileMacOS | logMacOS
	linux      = execLinux | fileLinux | renameLinux
	execs      = execMacOS | execLinux
	files      = fileMacOS | fileLinux | renameMacOS | renameLinux
	renames    = renameMacOS | renameLinux
)

// Logsources are the logsource values of Sigma rules that firewarden produces events for, with
// what each selects: the documentation of the mapping and the table logsourceClasses reads. A rule applies to the events that every one of its
// product, category and service selects; one that leaves a key out is not narrowed by it. A value
// not listed here selects nothing: the rule loads, is reported once as never applicable, and is
// not evaluated.
var Logsources = []struct {
	Key, Value, Doc string
	classes         classes
}{
	{"product", "macos", "every event of eslogger, osquery, the unified log and Santa; ECS documents", macOS},
	{"product", "linux", "ECS documents (Elastic Defend on Linux writes the same fields); firewarden reads no other Linux telemetry", linux},
	{"category", "process_creation", "a program run: exec events (EventType exec)", execs},
	{"category", "file_event", "a file created, written, renamed onto or removed: file events (EventType file_modify)", files},
	{"category", "file_rename", "a file renamed: the file events that name the old name (SourceFilename)", renames},
	{"category", "profile_remove", "firewarden's own (Sigma defines no category for configuration profiles): a configuration profile removed, eslogger's profile_remove (EventType profile_remove)", profileMacOS},
	{"service", "unifiedlog", "firewarden's own: unified-log records that are not eslogger messages (EventType log; the message is in CommandLine)", logMacOS},
}

// ecsProducts is the products of an ECS document: the reader does not keep host.os, and
// Elastic Defend writes the same documents on macOS and Linux.
const ecsProducts = macOS | linux

// classesOf returns the classes ev may belong to.
func classesOf(ev *event.Event) classes {
	var c classes
	switch ev.Kind {
	case event.Exec:
		c = execs
	case event.FileModify:
		c = fileMacOS | fileLinux
		if ev.FileFrom != "" {
			c = renames
		}
	case event.ProfileRemove:
		c = profileMacOS
	case event.Log:
		c = logMacOS
	default:
		return 0 // fork, exit and polled state are not evaluated
	}
	switch ev.Source {
	case "eslogger", "osquery", "unifiedlog", "santa":
		return c & macOS
	}
	return c & ecsProducts // ECS, or a source that does not say: either system
}

// logsourceClasses returns the classes a logsource selects, and when it selects none, why: the
// first key whose value firewarden never produces.
func logsourceClasses(ls sigma.Logsource) (classes, string) {
	c := classes(allClasses)
	for _, kv := range []struct{ key, value string }{{"product", ls.Product}, {"category", ls.Category}, {"service", ls.Service}} {
		if kv.value == "" {
			continue
		}
		sel, known := classes(0), false
		for _, l := range Logsources {
			if l.Key == kv.key && strings.EqualFold(l.Value, kv.value) {
				sel, known = l.classes, true
			}
		}
		if !known {
			return 0, fmt.Sprintf("%s %s is not one firewarden produces (it has %s)", kv.key, kv.value, logsourceValues(kv.key))
		}
		if c&sel == 0 {
			return 0, fmt.Sprintf("%s %s produces no event of %s", kv.key, kv.value, describeLogsource(ls, kv.key))
		}
		c &= sel
	}
	return c, ""
}

// logsourceValues lists the values firewarden produces for a logsource key.
func logsourceValues(key string) string {
	var vals []string
	for _, l := range Logsources {
		if l.Key == key {
			vals = append(vals, l.Value)
		}
	}
	return strings.Join(vals, ", ")
}

// describeLogsource names the keys of ls before key, for "service unifiedlog produces no event
// of category process_creation".
func describeLogsource(ls sigma.Logsource, key string) string {
	var parts []string
	for _, kv := range []struct{ key, value string }{{"product", ls.Product}, {"category", ls.Category}, {"service", ls.Service}} {
		if kv.key == key {
			break
		}
		if kv.value != "" {
			parts = append(parts, kv.key+" "+kv.value)
		}
	}
	return strings.Join(parts, " and ")
}
