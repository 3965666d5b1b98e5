package detect

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/firewarden/firewarden/internal/detect/event"
)

// The command lines come from reference/detect.md §3 (what weakens, look-alikes, evasions).
func TestAnalyseArgv(t *testing.T) {
	for _, tc := range []struct {
		name string
		tool string
		argv []string
		want Command
	}{
		{"global off", "socketfilterfw", []string{"socketfilterfw", "--setglobalstate", "off"},
			Command{Actions: []string{"setglobalstate=off"}}},
		{"global OFF with =", "socketfilterfw", []string{"x", "--SetGlobalState=OFF"},
			Command{Actions: []string{"setglobalstate=off"}}},
		{"getter then setter", "socketfilterfw", []string{"x", "--getglobalstate", "--setstealthmode", "off"},
			Command{Actions: []string{"getglobalstate", "setstealthmode=off"}}},
		{"add and unblock", "socketfilterfw", []string{"x", "--add", "/usr/local/bin/node", "--unblockapp", "/usr/local/bin/node"},
			Command{Actions: []string{"add", "unblockapp"}, Apps: []string{"/usr/local/bin/node", "/usr/local/bin/node"}}},
		{"kill daemon", "socketfilterfw", []string{"x", "-k"}, Command{Actions: []string{"kill"}}},
		{"pfctl -d", "pfctl", []string{"pfctl", "-d"}, Command{Actions: []string{"disable"}}},
		{"pfctl -vd cluster", "pfctl", []string{"pfctl", "-vd"}, Command{Actions: []string{"disable"}}},
		{"pfctl -Fa", "pfctl", []string{"pfctl", "-Fa"}, Command{Actions: []string{"flush=all"}}},
		{"pfctl -F r abbreviated", "pfctl", []string{"pfctl", "-F", "r"}, Command{Actions: []string{"flush=rules"}}},
		{"pfctl -F T case", "pfctl", []string{"pfctl", "-F", "T"}, Command{Actions: []string{"flush=tables"}}},
		{"pfctl -ef file", "pfctl", []string{"pfctl", "-ef", "/tmp/x.conf"}, Command{Actions: []string{"enable", "load"}, PfFile: "/tmp/x.conf"}},
		{"pfctl -D macro is not -d", "pfctl", []string{"pfctl", "-D", "ext=en0", "-s", "rules"}, Command{Actions: []string{"show"}}},
		{"pfctl -n parse only", "pfctl", []string{"pfctl", "-nf", "/etc/pf.conf"}, Command{Actions: []string{"parse"}, PfFile: "/etc/pf.conf"}},
		{"pfctl anchor load stdin", "pfctl", []string{"pfctl", "-a", "com.apple/vpn", "-f", "-"}, Command{Actions: []string{"load"}, PfFile: "-", PfAnchor: "com.apple/vpn"}},
		{"pfctl table delete", "pfctl", []string{"pfctl", "-t", "bans", "-T", "del", "1.2.3.4"}, Command{Actions: []string{"table=delete"}, PfTable: "bans"}},
		{"pfctl release token", "pfctl", []string{"pfctl", "-X", "1234567"}, Command{Actions: []string{"release-token"}}},
		{"pfctl path with -d inside", "pfctl", []string{"pfctl", "-f", "/tmp/a-d.conf"}, Command{Actions: []string{"load"}, PfFile: "/tmp/a-d.conf"}},
		{"defaults write", "defaults", []string{"defaults", "write", "/Library/Preferences/com.apple.alf", "globalstate", "-int", "0"},
			Command{Actions: []string{"write"}, PlistDomain: "com.apple.alf", PlistScope: "system", PlistSet: []string{"globalstate=0"}}},
		{"defaults write plist bool NO", "defaults", []string{"defaults", "write", "/Library/Preferences/com.apple.alf.plist", "stealthenabled", "-bool", "NO"},
			Command{Actions: []string{"write"}, PlistDomain: "com.apple.alf", PlistScope: "system", PlistSet: []string{"stealthenabled=0"}}},
		{"defaults write string 0", "defaults", []string{"defaults", "write", "/Library/Preferences/COM.APPLE.ALF", "GlobalState", "-string", "0"},
			Command{Actions: []string{"write"}, PlistDomain: "com.apple.alf", PlistScope: "system", PlistSet: []string{"globalstate=0"}}},
		{"defaults write float", "defaults", []string{"defaults", "write", "/Library/Preferences/com.apple.alf", "globalstate", "-float", "0.0"},
			Command{Actions: []string{"write"}, PlistDomain: "com.apple.alf", PlistScope: "system", PlistSet: []string{"globalstate=0"}}},
		{"defaults user domain", "defaults", []string{"defaults", "write", "com.apple.alf", "globalstate", "-int", "0"},
			Command{Actions: []string{"write"}, PlistDomain: "com.apple.alf", PlistScope: "user", PlistSet: []string{"globalstate=0"}}},
		{"defaults read", "defaults", []string{"defaults", "read", "/Library/Preferences/com.apple.alf", "globalstate"},
			Command{Actions: []string{"read"}, PlistDomain: "com.apple.alf", PlistScope: "system"}},
		{"defaults delete domain", "defaults", []string{"defaults", "delete", "/Library/Preferences/com.apple.alf"},
			Command{Actions: []string{"delete"}, PlistDomain: "com.apple.alf", PlistScope: "system", PlistDelete: []string{"*"}}},
		{"PlistBuddy set", "plistbuddy", []string{"/usr/libexec/PlistBuddy", "-c", "Set :globalstate 0", "/Library/Preferences/com.apple.alf.plist"},
			Command{Actions: []string{"set"}, PlistDomain: "com.apple.alf", PlistScope: "system", PlistSet: []string{"globalstate=0"}}},
		{"plutil replace", "plutil", []string{"plutil", "-replace", "globalstate", "-integer", "0", "/Library/Preferences/com.apple.alf.plist"},
			Command{Actions: []string{"write"}, PlistDomain: "com.apple.alf", PlistScope: "system", PlistSet: []string{"globalstate=0"}}},
		{"launchctl unload", "launchctl", []string{"launchctl", "unload", "-w", "/System/Library/LaunchDaemons/com.apple.alf.agent.plist"},
			Command{Actions: []string{"unload"}, Targets: []string{"com.apple.alf.agent"}}},
		{"launchctl bootout", "launchctl", []string{"launchctl", "bootout", "system/com.apple.pfctl"},
			Command{Actions: []string{"bootout"}, Targets: []string{"com.apple.pfctl"}}},
		{"killall", "killall", []string{"killall", "-9", "socketfilterfw"}, Command{Actions: []string{"signal"}, Targets: []string{"socketfilterfw"}, Signal: "KILL"}},
		{"pkill HUP", "pkill", []string{"pkill", "-HUP", "socketfilterfw"}, Command{Actions: []string{"signal"}, Targets: []string{"socketfilterfw"}, Signal: "HUP"}},
		{"pkill -f", "pkill", []string{"pkill", "-f", "socketfilterfw"}, Command{Actions: []string{"signal"}, Targets: []string{"socketfilterfw"}, Signal: "TERM"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := analyseArgv(tc.tool, tc.argv)
			tc.want.Tool, tc.want.Argv = tc.tool, tc.argv
			if diff := cmp.Diff(tc.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("analyseArgv(%q, %q) (-want +got):\n%s", tc.tool, tc.argv, diff)
			}
		})
	}
}

func TestAnalyseWrappers(t *testing.T) {
	for _, tc := range []struct {
		name string
		argv []string
		want []string // tool and via of each command after the first
	}{
		{"sudo", []string{"sudo", "-u", "root", "/sbin/pfctl", "-d"}, []string{"pfctl via sudo"}},
		{"sudo env", []string{"sudo", "env", "FOO=1", "pfctl", "-d"}, []string{"env via sudo", "pfctl via sudo,env"}},
		{"sh -c list", []string{"/bin/sh", "-c", "pfctl -d; socketfilterfw --setglobalstate off"}, []string{"pfctl via sh", "socketfilterfw via sh"}},
		{"bash -lc quoted", []string{"bash", "-lc", "'/sbin/pfctl' '-Fa'"}, []string{"pfctl via bash"}},
		{"osascript", []string{"osascript", "-e", `do shell script "pfctl -d" with administrator privileges`}, []string{"pfctl via osascript"}},
		{"osascript upper case", []string{"osascript", "-e", `DO SHELL SCRIPT "pfctl -d"`}, []string{"pfctl via osascript"}},
		// Ⱥ lowers (Unicode) to a longer rune: the phrase's offset must hold in the original.
		{"osascript growing rune", []string{"osascript", "-e", `ȺȺ do shell script "pfctl -d"`}, []string{"pfctl via osascript"}},
		{"osascript growing rune no string", []string{"osascript", "-e", "ȺȺ do shell script"}, nil},
		{"osascript second mention", []string{"osascript", "-e", `-- do shell script x` + "\n" + `do shell script "pfctl -d"`}, []string{"pfctl via osascript"}},
		{"osascript two lines", []string{"osascript", "-e", `set x to 1`, "-e", `do shell script "pfctl -d"`}, []string{"pfctl via osascript"}},
		{"nohup", []string{"nohup", "pfctl", "-d"}, []string{"pfctl via nohup"}},
		{"not a wrapper", []string{"pfctl", "-s", "rules"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := &event.Event{Kind: event.Exec, Process: event.Process{Path: "/usr/bin/" + tc.argv[0], Argv: tc.argv}}
			cmds := Analyse(ev)
			var got []string
			for _, c := range cmds[1:] {
				got = append(got, c.Tool+" via "+joinComma(c.Via))
			}
			if diff := cmp.Diff(tc.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Analyse(%q) (-want +got):\n%s", tc.argv, diff)
			}
		})
	}
}

func joinComma(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += ","
		}
		out += x
	}
	return out
}

// A renamed copy of pfctl keeps its signing ID; argv[0] is whatever the caller typed.
func TestToolBySigningID(t *testing.T) {
	p := event.Process{Path: "/tmp/notpf", SigningID: "com.apple.pfctl", Argv: []string{"ls"}}
	if got := toolOf(&p); got != "pfctl" {
		t.Errorf("toolOf(%+v) = %q, want pfctl", p, got)
	}
	p = event.Process{Path: "/usr/libexec/ApplicationFirewall/socketfilterfw", Argv: []string{"innocent"}}
	if got := toolOf(&p); got != "socketfilterfw" {
		t.Errorf("toolOf(%+v) = %q, want socketfilterfw", p, got)
	}
}

func FuzzAnalyse(f *testing.F) {
	f.Add("pfctl\x00-Fa", "/sbin/pfctl")
	f.Add("sudo\x00sh\x00-c\x00pfctl -d; defaults write com.apple.alf globalstate -int 0", "/usr/bin/sudo")
	f.Add("osascript\x00-e\x00do shell script \"pfctl -d\"", "/usr/bin/osascript")
	f.Add("defaults\x00write\x00/Library/Preferences/com.apple.alf\x00globalstate\x00-bool", "/usr/bin/defaults")
	f.Fuzz(func(t *testing.T, args, path string) {
		argv := splitNUL(args)
		ev := &event.Event{Kind: event.Exec, Process: event.Process{Path: path, Argv: argv}}
		cmds := Analyse(ev)
		if len(cmds) == 0 {
			t.Fatalf("Analyse(%q) returned no command", argv)
		}
		for _, c := range cmds {
			if len(c.Via) > maxWrapDepth {
				t.Fatalf("Analyse(%q): wrapped %d deep", argv, len(c.Via))
			}
		}
	})
}

func splitNUL(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == 0 {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return out
}
