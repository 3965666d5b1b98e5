// Package firewall decides, for each listener of an exposure report, whether the host's firewall
// lets an inbound connection from another host reach it: on macOS from the Application Firewall
// (read with the posture adapter, internal/posture/alf). It sits apart from package exposure,
// which the posture baseline imports for its expectation lists: the firewall adapters import the
// posture packages, and exposure importing them would make a cycle.
package firewall

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/firewarden/firewarden/internal/detect/live"
	"github.com/firewarden/firewarden/internal/exposure"
	"github.com/firewarden/firewarden/internal/host"
	"github.com/firewarden/firewarden/internal/posture/alf"
)

// alfArgs are the socketfilterfw getters the reachability needs, in one run.
var alfArgs = []string{"--getglobalstate", "--getblockall", "--getallowsigned", "--listapps"}

// CodesignPath is codesign on macOS, run to tell whether an executable is signed in the way the
// Application Firewall's "automatically allow signed software" settings accept.
const CodesignPath = "/usr/bin/codesign"

// essentialServices are the executables the Application Firewall keeps letting through when
// "block all incoming connections" is on. Apple's "About the Application Firewall" (HT1810,
// support.apple.com/kb/HT1810, Mac OS X 10.5.1 and later) names them: configd (DHCP and other
// network configuration), mDNSResponder (Bonjour) and racoon (IPsec); Apple's current Platform
// Support guide ("Manage Firewall") still describes block-all as keeping only "basic internet
// services". The paths are those of the system exceptions in com.apple.alf.plist (osquery's
// alf_exceptions test plist, reference alf.md §2).
var essentialServices = map[string]string{
	"/usr/libexec/configd":    "DHCP and network configuration",
	"/usr/sbin/mDNSResponder": "Bonjour",
	"/usr/sbin/racoon":        "IPsec",
}

// ALF is what the Application Firewall (and pf beside it) say, as read for reachability.
type ALF struct {
	// Reading is socketfilterfw's output, parsed by the posture adapter.
	Reading alf.Reading
	// Err is why the settings could not be read ("" when they were); every verdict is then
	// unknown.
	Err string
	// PF is whether pf is enabled (nil when pfctl -s info could not say; PFErr says why).
	PF    *bool
	PFErr string
	// ProfileApps counts the applications a com.apple.security.firewall configuration profile
	// allows or blocks. The payload names them by bundle ID, which socketfilterfw --listapps
	// does not show and which are not matched to executables here.
	ProfileApps int
}

// ReadALF reads the Application Firewall's global state, block-all, the two "automatically allow
// signed software" settings and the application list in one socketfilterfw run (parsed by
// alf.Parse), whether pf is enabled (pfctl -s info), and the configuration profile's application
// count. It never fails: what it cannot read is in Err, PFErr and the warnings.
func ReadALF(ctx context.Context, root host.Root, r host.Runner) (ALF, []string) {
	var s ALF
	var warnings []string
	res, err := r.Run(ctx, host.Cmd{Path: alf.SocketFilterFW, Args: alfArgs})
	s.Reading = alf.Parse(res.Stdout)
	switch {
	case errors.Is(err, host.ErrNotInstalled):
		s.Err = alf.SocketFilterFW + " is missing"
	case err != nil:
		s.Err = err.Error()
	case len(s.Reading.Conflicts) > 0:
		s.Err = fmt.Sprintf("socketfilterfw contradicted itself (%q)", s.Reading.Conflicts)
	case len(s.Reading.ToolError) > 0:
		s.Err = "socketfilterfw failed: " + strings.Join(s.Reading.ToolError, "; ")
	case s.Reading.GlobalState == nil:
		s.Err = "socketfilterfw printed no global state"
	}
	if s.Err != "" {
		warnings = append(warnings, "the Application Firewall's settings could not be read ("+s.Err+"), so every FIREWALL verdict is unknown; run it with sudo")
	}

	res, err = r.Run(ctx, host.Cmd{Path: live.PfctlPath, Args: []string{"-s", "info"}})
	if err == nil {
		s.PF, err = live.ParsePfInfo(res.Stdout)
	}
	if err != nil {
		s.PFErr = err.Error()
		warnings = append(warnings, "could not tell whether pf is enabled ("+s.PFErr+"); allowed FIREWALL verdicts assume pf does not block")
	}

	data, err := root.ReadFile(alf.ProfilePath)
	switch {
	case err == nil:
		p, perr := alf.ParseProfile(data)
		if perr != nil {
			warnings = append(warnings, perr.Error()+"; applications the firewall profile may allow or block are not taken into account")
		}
		s.ProfileApps = len(p.Applications)
	case !errors.Is(err, fs.ErrNotExist):
		warnings = append(warnings, fmt.Sprintf("read %s: %v; applications a firewall profile may allow or block are not taken into account", alf.ProfilePath, errors.Unwrap(err)))
	}
	return s, warnings
}

// Signature is how an executable is signed, as the Application Firewall's automatic allowing
// tells them apart.
type Signature int

// The signatures.
const (
	// SignatureUnchecked: not known (codesign could not tell).
	SignatureUnchecked Signature = iota
	// SignedByApple: Apple's own code ("anchor apple"): built-in software.
	SignedByApple
	// SignedByDeveloper: signed with a certificate Apple issued ("anchor apple generic"), such as
	// a Developer ID: downloaded signed software.
	SignedByDeveloper
	// NotSigned: unsigned, ad-hoc or self-signed, or a signature that does not verify.
	NotSigned
)

// Signer tells how the executable at path is signed; err says why it could not.
type Signer func(path string) (Signature, error)

// CodesignSigner returns a Signer that runs codesign through r, once per path:
// `codesign --verify -R=anchor apple PATH` and, when that is not met,
// `codesign --verify -R=anchor apple generic PATH`. codesign(1) exits 0 when the signature is
// valid and meets the requirement, 3 when it is valid but does not, and 1 when verification
// fails (also for unsigned code); any other outcome leaves the signature unchecked.
func CodesignSigner(ctx context.Context, r host.Runner) Signer {
	cache := map[string]sigResult{}
	check := func(p, req string) (met bool, signed bool, err error) {
		_, err = r.Run(ctx, host.Cmd{Path: CodesignPath, Args: []string{"--verify", "-R=" + req, p}})
		var ee *host.ExitError
		switch {
		case err == nil:
			return true, true, nil
		case errors.As(err, &ee) && ee.Code == 3:
			return false, true, nil
		case errors.As(err, &ee) && ee.Code == 1:
			return false, false, nil
		case errors.Is(err, host.ErrNotInstalled):
			return false, false, errors.New(CodesignPath + " is missing")
		}
		return false, false, err
	}
	return func(p string) (Signature, error) {
		if c, ok := cache[p]; ok {
			return c.sig, c.err
		}
		sig, err := func() (Signature, error) {
			met, signed, err := check(p, "anchor apple")
			switch {
			case err != nil:
				return SignatureUnchecked, err
			case met:
				return SignedByApple, nil
			case !signed:
				return NotSigned, nil
			}
			if met, _, err = check(p, "anchor apple generic"); err != nil {
				return SignatureUnchecked, err
			} else if met {
				return SignedByDeveloper, nil
			}
			return NotSigned, nil
		}()
		cache[p] = sigResult{sig, err}
		return sig, err
	}
}

type sigResult struct {
	sig Signature
	err error
}

// Reach says whether the Application Firewall lets an inbound TCP or UDP connection from another
// host reach l. The Application Firewall filters by application, not by port: it decides, in
// this order, from its global state (off: everything is allowed), block-all (only the essential
// services pass), the application's own entry in its list (matched on the executable's path),
// and the "automatically allow built-in / downloaded signed software" settings (sig tells how
// the executable is signed). An application with none of these is asked about: macOS shows the
// logged-in user a dialog at its first incoming connection (Apple HT1810), so its verdict is
// unknown.
//
// What this does not cover: the Application Firewall filters TCP and UDP only (HT1810); pf,
// when it is enabled, filters before it ("if ipfw blocks an incoming packet, the Application
// Firewall will not process it", HT1810), and its rules are not evaluated here, so an allowed
// verdict then carries a caveat; a configuration profile's applications are named by bundle ID
// and not matched here (a caveat too).
func (s *ALF) Reach(l exposure.Listener, sig Signer) exposure.Reachability {
	if l.Scope == exposure.ScopeLoopback {
		return loopbackOnly()
	}
	r := s.alfVerdict(l, sig)
	if r.Verdict != exposure.FirewallBlocked {
		switch {
		case s.PF != nil && *s.PF:
			r.Caveats = append(r.Caveats, "pf is enabled and may block it before the Application Firewall sees it; pf's rules are not evaluated here")
		case s.PF == nil:
			r.Caveats = append(r.Caveats, "whether pf is enabled is unknown; if it is, its rules may block it")
		}
	}
	return r
}

func (s *ALF) alfVerdict(l exposure.Listener, sig Signer) exposure.Reachability {
	rd := &s.Reading
	unknown := func(why string) exposure.Reachability {
		return exposure.Reachability{Verdict: exposure.FirewallUnknown, Why: why}
	}
	if s.Err != "" {
		return unknown("the Application Firewall's settings could not be read: " + s.Err)
	}
	if *rd.GlobalState == 0 {
		return exposure.Reachability{Verdict: exposure.FirewallAllowed, Why: "the Application Firewall is off"}
	}
	// Block-all from --getblockall, or from State 2 when that line is absent (as the alf.block_all
	// check reads it).
	blockAll := *rd.GlobalState == 2
	if rd.BlockAll != nil {
		blockAll = *rd.BlockAll
	}
	if blockAll {
		if what, ok := essentialServices[l.Path]; ok {
			return exposure.Reachability{Verdict: exposure.FirewallAllowed, Why: fmt.Sprintf("block all incoming connections is on, but %s (%s) is one of the essential services macOS still lets through", l.Path, what)}
		}
		if l.Path == "" && isEssentialName(l.Process) {
			return unknown("block all incoming connections is on, and " + l.Process + " may be one of the essential services macOS still lets through, but its executable is not known")
		}
		return exposure.Reachability{Verdict: exposure.FirewallBlocked, Why: "block all incoming connections is on"}
	}
	if l.Path == "" {
		return unknown("the executable is not known (run as root), so it cannot be matched to the Application Firewall's application list")
	}
	if !rd.AppsListed {
		return unknown("socketfilterfw printed no application list")
	}
	if rd.AppsByName {
		return unknown("socketfilterfw listed the applications by name, not by path, so they cannot be matched to " + l.Path)
	}
	if r, ok := s.appEntry(l.Path); ok {
		return r
	}
	r := s.autoAllow(l.Path, sig)
	if s.ProfileApps > 0 && r.Verdict != exposure.FirewallBlocked {
		r.Caveats = append(r.Caveats, fmt.Sprintf("a firewall configuration profile allows or blocks %d applications by bundle ID, which are not matched to executables here", s.ProfileApps))
	}
	return r
}

// appEntry finds path in the application list: an entry for the executable itself, or for the
// application bundle whose main executable (BUNDLE.app/Contents/MacOS/…) it is. An executable
// elsewhere inside a listed bundle is unknown: the firewall identifies code by its signature,
// and a helper tool is not the bundle's main executable.
func (s *ALF) appEntry(p string) (exposure.Reachability, bool) {
	state := func(a alf.App) string {
		if a.Allowed {
			return exposure.FirewallAllowed
		}
		return exposure.FirewallBlocked
	}
	for _, a := range s.Reading.Apps {
		if a.Path == p {
			return exposure.Reachability{Verdict: state(a), Why: fmt.Sprintf("%s is %s in the Application Firewall", a.Path, state(a))}, true
		}
	}
	for _, a := range s.Reading.Apps {
		bundle := strings.TrimSuffix(a.Path, "/")
		if !strings.HasSuffix(bundle, ".app") || !strings.HasPrefix(p, bundle+"/") {
			continue
		}
		if rest := strings.TrimPrefix(p, bundle+"/Contents/MacOS/"); rest != p && !strings.Contains(rest, "/") {
			return exposure.Reachability{Verdict: state(a), Why: fmt.Sprintf("%s is %s in the Application Firewall", bundle, state(a))}, true
		}
		return exposure.Reachability{Verdict: exposure.FirewallUnknown, Why: fmt.Sprintf("%s is %s in the Application Firewall, but %s is not its main executable, and the firewall judges code by its own signature", bundle, state(a), p)}, true
	}
	return exposure.Reachability{}, false
}

// autoAllow decides an executable the application list does not name, from the "automatically
// allow" settings and its signature.
func (s *ALF) autoAllow(p string, sig Signer) exposure.Reachability {
	rd := &s.Reading
	notListed := exposure.Reachability{Verdict: exposure.FirewallUnknown, Why: p + " is not in the Application Firewall's list"}
	if rd.AllowSigned == nil || rd.AllowSignedApp == nil {
		notListed.Why += ", and socketfilterfw did not say whether signed software is allowed automatically"
		return notListed
	}
	notListed.Why += " and not allowed automatically: macOS asks the logged-in user to allow or deny it at its first incoming connection"
	if !*rd.AllowSigned && !*rd.AllowSignedApp {
		return notListed
	}
	var on []string
	if *rd.AllowSigned {
		on = append(on, "built-in")
	}
	if *rd.AllowSignedApp {
		on = append(on, "downloaded")
	}
	var kind Signature
	var err error
	if sig != nil {
		kind, err = sig(p)
	}
	switch {
	case kind == SignedByApple && *rd.AllowSigned:
		return exposure.Reachability{Verdict: exposure.FirewallAllowed, Why: p + " is built-in software signed by Apple, which the Application Firewall allows automatically"}
	case kind == SignedByDeveloper && *rd.AllowSignedApp:
		return exposure.Reachability{Verdict: exposure.FirewallAllowed, Why: p + " is signed with an Apple-issued certificate (such as a Developer ID), and the Application Firewall allows downloaded signed software automatically"}
	case kind == SignatureUnchecked:
		why := "allowed if signed (not verified here"
		if err != nil {
			why += ": " + err.Error()
		}
		return exposure.Reachability{Verdict: exposure.FirewallUnknown, Why: fmt.Sprintf("%s is not in the Application Firewall's list; %s software is allowed automatically: %s)", p, strings.Join(on, " and "), why)}
	}
	return notListed
}

func isEssentialName(proc string) bool {
	for p := range essentialServices {
		if path.Base(p) == proc {
			return true
		}
	}
	return false
}

// AddMac fills every listener's Firewall with the Application Firewall's verdict, and adds
// to the report's warnings what could not be read. It never fails: unreadable settings make the
// verdicts unknown.
func AddMac(ctx context.Context, root host.Root, r host.Runner, rep *exposure.Report) {
	s, warnings := ReadALF(ctx, root, r)
	rep.Warnings = append(rep.Warnings, warnings...)
	sig := CodesignSigner(ctx, r)
	for i := range rep.Listeners {
		if rep.Listeners[i].Container != nil {
			// A container's published port is held on the host by the runtime's own process,
			// which has its own row: the entry from the runtime gets no verdict of its own.
			continue
		}
		reach := s.Reach(rep.Listeners[i], sig)
		rep.Listeners[i].Firewall = &reach
	}
}
