package config

import (
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/firewarden/firewarden/internal/guard"
)

// Write prints f as a configuration file with every key present, each value followed by
// "  # " and origin(key): where it came from ("default", "FILE:LINE", "--state-dir"). key is
// the dotted name File.Lines uses. Parse of the output is f, but for a webhook URL, whose path
// and query are not shown: they may hold a token.
func Write(w io.Writer, f *File, origin func(key string) string) error {
	var b strings.Builder
	b.WriteString("# firewarden configuration: every key with its value in effect and where it came from\n")
	b.WriteString("# (default, FILE:LINE, or the flag that set it). baseline \"\": the built-in baseline.\n")
	fmt.Fprintf(&b, "baseline: %s  # %s\n", guard.YAMLString(f.Baseline), origin("baseline"))
	fmt.Fprintf(&b, "state_dir: %s  # %s\n", guard.YAMLString(f.StateDir), origin("state_dir"))
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	if err := WriteGuard(w, f.Guard, origin); err != nil {
		return err
	}
	b.Reset()
	l := f.Live
	val := func(key, value string) {
		fmt.Fprintf(&b, "    %s: %s  # %s\n", key, value, origin("detect.live."+key))
	}
	b.WriteString("detect:\n  live:\n")
	val("out", guard.YAMLString(l.Out))
	val("syslog", guard.YAMLString(l.Syslog))
	if hidden := redact(l.Webhook); hidden != l.Webhook {
		fmt.Fprintf(&b, "    webhook: %s  # %s (path and query not shown: they may hold a token)\n", guard.YAMLString(hidden), origin("detect.live.webhook"))
	} else {
		val("webhook", guard.YAMLString(l.Webhook))
	}
	val("webhook_insecure_http", strconv.FormatBool(l.WebhookInsecureHTTP))
	val("poll", formatPoll(l.Poll))
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteGuard prints the guard section of a configuration file as Write does.
func WriteGuard(w io.Writer, g *guard.Config, origin func(key string) string) error {
	if _, err := io.WriteString(w, "guard:\n"); err != nil {
		return err
	}
	return g.WriteYAML(w, "  ", func(key string) string { return origin("guard." + key) })
}

// redact keeps the scheme and host of a webhook URL and drops the rest.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		if raw == "" {
			return ""
		}
		return "(not shown)"
	}
	if u.User == nil && (u.Path == "" || u.Path == "/") && u.RawQuery == "" && u.Fragment == "" {
		return raw
	}
	return u.Scheme + "://" + u.Host + "/…"
}

// formatPoll prints 1m, 90s as 1m30s, 2h rather than 1m0s.
func formatPoll(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
