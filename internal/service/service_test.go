package service

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"howett.net/plist"
)

// The file names are a contract with the release tool and the packages (DECISIONS12.md).
func TestFileNames(t *testing.T) {
	want := map[Init][]string{
		Systemd: {"firewarden-guard.service", "firewarden-block-expire.service", "firewarden-block-expire.timer", "firewarden-firewall.service", "firewarden-agent.service"},
		Launchd: {"org.firewarden.guard.plist", "org.firewarden.detect-live.plist", "org.firewarden.block-expire.plist", "org.firewarden.agent.plist"},
	}
	for init, names := range want {
		var got []string
		for _, n := range NamesFor(init) {
			files, err := Files(n, init, Options{Binary: DefaultBinary})
			if err != nil {
				t.Fatalf("Files(%s, %s) = %v", n, init, err)
			}
			for _, f := range files {
				got = append(got, f.Name)
			}
		}
		if diff := cmp.Diff(names, got); diff != "" {
			t.Errorf("%s file names (-want +got):\n%s", init, diff)
		}
	}
}

func TestCheck(t *testing.T) {
	for _, tt := range []struct {
		name string
		init Init
		want error
	}{
		{"guard", Systemd, nil},
		{"detect-live", Launchd, nil},
		{"detect-live", Systemd, errors.ErrUnsupported},
		{"agent", Systemd, nil},
		{"firewall", Systemd, nil},
		{"firewall", Launchd, errors.ErrUnsupported},
		{"agnet", Systemd, ErrUnknown},
		{"", Launchd, ErrUnknown},
	} {
		if err := Check(tt.name, tt.init); !errors.Is(err, tt.want) || (err == nil) != (tt.want == nil) {
			t.Errorf("Check(%q, %s) = %v, want %v", tt.name, tt.init, err, tt.want)
		}
	}
}

func TestOptionsValidate(t *testing.T) {
	for _, tt := range []struct {
		name string
		o    Options
		ok   bool
	}{
		{"plain", Options{Binary: "/usr/bin/firewarden"}, true},
		{"relative binary", Options{Binary: "firewarden"}, false},
		{"short interval", Options{Binary: "/b", Interval: 30 * time.Second}, false},
		{"fractional interval", Options{Binary: "/b", Interval: 90*time.Second + time.Millisecond}, false},
		{"newline in config", Options{Binary: "/b", Config: "/etc/a\nExecStartPre=/bin/evil"}, false},
		{"newline in args", Options{Binary: "/b", Args: []string{"--backend", "nft\n"}}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.o.Validate(); (err == nil) != tt.ok {
				t.Errorf("Validate(%+v) = %v, want ok %v", tt.o, err, tt.ok)
			}
		})
	}
}

func TestHidden(t *testing.T) {
	for in, hidden := range map[string]bool{
		"/usr/local/bin/firewarden":   false,
		"/home/ann/src/fw/firewarden": true,
		"/home":                       true,
		"/homestead/firewarden":       false,
		"/root/firewarden":            true,
		"/tmp/x":                      true,
		"/var/tmp/../lib/firewarden":  false,
		"/var/lib/firewarden":         false,
	} {
		if got := Hidden(in) != ""; got != hidden {
			t.Errorf("Hidden(%q) = %q, want hidden %v", in, Hidden(in), hidden)
		}
	}
}

func TestArgv(t *testing.T) {
	for _, tt := range []struct {
		name string
		o    Options
		want []string
	}{
		{"guard", Options{Binary: "/usr/bin/firewarden"}, []string{"/usr/bin/firewarden", "guard"}},
		{"guard", Options{Binary: "/b", Config: "/etc/fw.yaml", StateDir: "/srv/fw"}, []string{"/b", "--config", "/etc/fw.yaml", "--state-dir", "/srv/fw", "guard"}},
		{"detect-live", Options{Binary: "/b"}, []string{"/b", "detect", "--live"}},
		{"block-expire", Options{Binary: "/b", Args: []string{"--backend", "nft"}}, []string{"/b", "block", "expire", "--backend", "nft"}},
		{"agent", Options{Binary: "/b"}, []string{"/b", "agent", "run"}},
		{"firewall", Options{Binary: "/b", StateDir: "/srv/fw"}, []string{"/b", "--state-dir", "/srv/fw", "fix", "--boot"}},
	} {
		got, err := Argv(tt.name, tt.o)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Argv(%s, %+v) (-want +got):\n%s", tt.name, tt.o, diff)
		}
	}
}

// Each plist parses back with the keys launchd needs; plutil -lint checks it too on a Mac.
func TestPlists(t *testing.T) {
	o := Options{Binary: "/usr/local/bin/firewarden", Config: "/etc/firewarden/firewarden.yaml", Interval: 10 * time.Minute}
	for _, name := range NamesFor(Launchd) {
		t.Run(name, func(t *testing.T) {
			files, err := Files(name, Launchd, o)
			if err != nil {
				t.Fatal(err)
			}
			var job map[string]any
			if _, err := plist.Unmarshal(files[0].Data, &job); err != nil {
				t.Fatalf("plist.Unmarshal = %v\n%s", err, files[0].Data)
			}
			argv, _ := Argv(name, o)
			var args []any
			for _, s := range argv {
				args = append(args, s)
			}
			want := map[string]any{
				"Label":             "org.firewarden." + name,
				"ProgramArguments":  args,
				"RunAtLoad":         true,
				"StandardOutPath":   "/Library/Logs/firewarden/" + name + ".log",
				"StandardErrorPath": "/Library/Logs/firewarden/" + name + ".log",
			}
			if name == BlockExpire {
				want["StartInterval"] = uint64(600)
			} else {
				want["KeepAlive"] = true
				want["ThrottleInterval"] = uint64(30)
			}
			if diff := cmp.Diff(want, job); diff != "" {
				t.Errorf("%s (-want +got):\n%s", files[0].Name, diff)
			}
			plutil, err := exec.LookPath("plutil")
			if err != nil {
				t.Log("no plutil here (it ships with macOS); the plist was only parsed back")
				return
			}
			p := filepath.Join(t.TempDir(), files[0].Name)
			os.WriteFile(p, files[0].Data, 0o644)
			if out, err := exec.Command(plutil, "-lint", p).CombinedOutput(); err != nil {
				t.Errorf("plutil -lint %s: %v\n%s", files[0].Name, err, out)
			}
		})
	}
}

// The units pass systemd-analyze verify, and systemd-analyze security rates each service's
// exposure below 2.0 ("OK"; 10 is an unsandboxed root service). Debian: apt-get install systemd;
// it runs offline, without systemd as PID 1.
func TestSystemdAnalyze(t *testing.T) {
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("no systemd-analyze; install it to check the units (Debian, Ubuntu: apt-get install -y systemd)")
	}
	for _, o := range []Options{
		{Binary: "/bin/true"},
		{Binary: "/bin/true", Config: "/etc/firewarden/other.yaml", StateDir: "/srv/firewarden dir", Interval: time.Hour, Args: []string{"--backend", "nft"}},
		{Binary: "/bin/true", WritableDir: "/srv/state"},
	} {
		dir := t.TempDir()
		var units []string
		for _, name := range NamesFor(Systemd) {
			files, err := Files(name, Systemd, o)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range files {
				p := filepath.Join(dir, f.Name)
				os.WriteFile(p, f.Data, 0o644)
				units = append(units, p)
			}
		}
		out, err := exec.Command(sa, append([]string{"verify", "--man=no"}, units...)...).CombinedOutput()
		if err != nil || len(out) > 0 {
			t.Errorf("systemd-analyze verify %+v: %v\n%s", o, err, out)
		}
		for _, u := range units {
			if !strings.HasSuffix(u, ".service") {
				continue
			}
			out, err := exec.Command(sa, "security", "--offline=yes", u).CombinedOutput()
			m := regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+)`).FindSubmatch(out)
			if m == nil {
				t.Errorf("systemd-analyze security %s: %v, no exposure level in\n%s", filepath.Base(u), err, out)
				continue
			}
			// The agent runs every check and, in enforce mode, every fix: it keeps more of the
			// system (CAP_SYS_PTRACE, /proc whole, IP) than the daemons that only touch nftables.
			limit := 2.0
			if filepath.Base(u) == "firewarden-agent.service" {
				limit = 2.5
			}
			if score, _ := strconv.ParseFloat(string(m[1]), 64); score >= limit {
				t.Errorf("systemd-analyze security %s = %s, want below %.1f", filepath.Base(u), m[1], limit)
			}
		}
	}
}

func TestQuoteSplit(t *testing.T) {
	for in, want := range map[string]string{
		"/usr/local/bin/firewarden":       "/usr/local/bin/firewarden",
		"/Library/Application Support/fw": `"/Library/Application Support/fw"`,
		`a"b`:                             `"a\"b"`,
		"50%":                             "50%%",
		"$HOME":                           `"$$HOME"`,
		`back\slash`:                      `"back\\slash"`,
		"semi;colon":                      `"semi;colon"`,
		"":                                `""`,
	} {
		if got := quoteWord(in); got != want {
			t.Errorf("quoteWord(%q) = %s, want %s", in, got, want)
		}
		got, err := splitExecStart("/b " + want + " x")
		if diff := cmp.Diff([]string{"/b", in, "x"}, got); err != nil || diff != "" {
			t.Errorf("splitExecStart(%q) = %v (-want +got):\n%s", want, err, diff)
		}
	}
	for _, bad := range []string{`"open`, `a"b`, `"\x"`, `50%`, `$HOME`, `a;b`, `'q'`} {
		if got, err := splitExecStart(bad); err == nil {
			t.Errorf("splitExecStart(%q) = %q, want an error", bad, got)
		}
	}
}

func FuzzSplitExecStart(f *testing.F) {
	for _, s := range []string{"/usr/bin/firewarden guard", `"/Library/Application Support/fw" 50%% "$$HOME"`, `"a\"b" ""`, `"open`, "a\tb  c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		words, err := splitExecStart(s)
		if err != nil {
			return
		}
		again, err := splitExecStart(quoteArgv(words))
		if err != nil {
			t.Fatalf("splitExecStart(quoteArgv(%q)) = %v", words, err)
		}
		if len(words) > 0 || len(again) > 0 {
			if diff := cmp.Diff(words, again); diff != "" {
				t.Errorf("round trip of %q (-first +second):\n%s", s, diff)
			}
		}
	})
}

// The agent talks to its server: its unit waits for the network and allows IP, which every other
// unit denies.
func TestAgentUnitAllowsNetwork(t *testing.T) {
	for _, tt := range []struct {
		name       string
		want, deny []string
	}{
		{Agent, []string{"Wants=network-online.target\n", "After=network-online.target\n", "RestrictAddressFamilies=AF_UNIX AF_NETLINK AF_INET AF_INET6\n",
			// What its checks need on Linux: nftables (read, and written in enforce mode), the
			// owner of every listening socket, and the files enforce mode's fixes write.
			"CapabilityBoundingSet=CAP_NET_ADMIN CAP_SYS_PTRACE\n", "ReadWritePaths=-/etc/ssh/sshd_config.d -/etc/systemd/system\n"},
			[]string{"IPAddressDeny", "ProtectProc=invisible"}},
		{Guard, []string{"IPAddressDeny=any\n", "ProtectProc=invisible\n"}, []string{"AF_INET", "Wants=", "CAP_SYS_PTRACE", "/etc/ssh"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			files, err := Files(tt.name, Systemd, Options{Binary: DefaultBinary})
			if err != nil {
				t.Fatal(err)
			}
			unit := string(files[0].Data)
			for _, w := range tt.want {
				if !strings.Contains(unit, w) {
					t.Errorf("unit of %s lacks %q:\n%s", tt.name, w, unit)
				}
			}
			for _, d := range tt.deny {
				if strings.Contains(unit, d) {
					t.Errorf("unit of %s has %q:\n%s", tt.name, d, unit)
				}
			}
		})
	}
}

// The firewall unit puts the held table back once, early at boot: before the network, after
// what flushes the ruleset, again when nftables.service restarts or reloads; with the one
// capability and the socket families it needs.
func TestFirewallUnit(t *testing.T) {
	for _, tt := range []struct {
		name       string
		o          Options
		want, deny []string
	}{
		{"default state directory", Options{Binary: DefaultBinary}, []string{
			"DefaultDependencies=no\n",
			"Wants=network-pre.target\n",
			"Before=network-pre.target\n",
			"After=local-fs.target\n",
			"RequiresMountsFor=/var/lib/firewarden\n",
			"After=nftables.service firewalld.service ufw.service\n",
			"PartOf=nftables.service\n",
			"ReloadPropagatedFrom=nftables.service\n",
			"Conflicts=shutdown.target\n",
			"Type=oneshot\nRemainAfterExit=yes\n",
			"ExecStart=/usr/local/bin/firewarden fix --boot\n",
			"ExecReload=/usr/local/bin/firewarden fix --boot\n",
			"CapabilityBoundingSet=CAP_NET_ADMIN\n",
			"RestrictAddressFamilies=AF_UNIX AF_NETLINK\n",
			"IPAddressDeny=any\n",
			"StateDirectory=firewarden\n",
			"[Install]\n# sysinit.target",
			"WantedBy=sysinit.target\n",
		}, []string{"Restart=", "StartLimit", "network-online", "multi-user.target\n", "AF_INET", "Type=simple"}},
		{"state directory given", Options{Binary: "/usr/bin/firewarden", StateDir: "/srv/fire wall"}, []string{
			"RequiresMountsFor=\"/srv/fire wall\"\n",
			"ReadWritePaths=\"/srv/fire wall\"\n",
			"ExecStart=/usr/bin/firewarden --state-dir \"/srv/fire wall\" fix --boot\n",
		}, []string{"StateDirectory="}},
		{"state directory from the configuration", Options{Binary: "/usr/bin/firewarden", WritableDir: "/srv/fw"}, []string{
			"RequiresMountsFor=/srv/fw\n",
		}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			files, err := Files(Firewall, Systemd, tt.o)
			if err != nil {
				t.Fatal(err)
			}
			if len(files) != 1 || files[0].Name != "firewarden-firewall.service" || Unit(Firewall) != files[0].Name {
				t.Fatalf("Files(firewall) = %d files (%s), want firewarden-firewall.service alone", len(files), files[0].Name)
			}
			unit := string(files[0].Data)
			for _, w := range tt.want {
				if !strings.Contains(unit, w) {
					t.Errorf("unit lacks %q:\n%s", w, unit)
				}
			}
			for _, d := range tt.deny {
				if strings.Contains(unit, d) {
					t.Errorf("unit has %q:\n%s", d, unit)
				}
			}
		})
	}
	if _, err := Files(Firewall, Launchd, Options{Binary: DefaultBinary}); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("Files(firewall, launchd) = %v, want an error wrapping errors.ErrUnsupported", err)
	}
}
