// Command geneslogger writes a synthetic `eslogger exec fork exit` stream for the detect
// benchmark: N JSON lines shaped like the real macOS 15 exec record in
// fixtures/detect/eslogger-v9-macos15-exec.json (audit tokens as objects, version 9) with about
// 30% of sessions in the macOS 26 shape (version 10: audit tokens as 8-int arrays
// [auid, euid, egid, ruid, rgid, pid, asid, pidversion], cs_validation_category), every object's
// keys in a random order and every '/' written as `\/`, as eslogger does.
//
// The stream is a process tree: Terminal sessions, VS Code helpers, launchd's XPC services and a
// management agent fork children that exec unrelated programs (git through the /usr/bin shim,
// clang under make, python3, node, ls, mdworker_shared …) and exit, interleaved, with increasing
// pids and RFC 3339 nanosecond times, about 1 ms apart.
//
// A complete `eslogger exec fork exit` capture is only about 45% execs (a process forks once,
// exits once and execs 1.5 times on average here). The benchmark wants nearly every line to be
// an unrelated exec, so by default 60% of the processes (-execonly) come without their fork and
// exit lines, as from Macs whose eslogger subscribes to exec alone: the stream is then about two
// thirds execs and one third forks and exits. Those processes never exit in the stream, and pids
// never repeat unless -pidmax is set, so a process table that only forgets on exit would grow.
//
// Among them it places exactly -positives firewall-weakening execs (socketfilterfw
// --setglobalstate off, pfctl -d, pfctl -Fa, defaults write /Library/Preferences/com.apple.alf
// globalstate -int 0, launchctl bootout system/com.apple.alf.agent, in turn, from a root shell
// and from a management script) and -lookalikes read-only look-alikes (socketfilterfw
// --getglobalstate, pfctl -s rules, defaults read /Library/Preferences/com.apple.alf
// globalstate). No other line runs a firewall tool, though some run defaults, launchctl, plutil,
// PlistBuddy or killall on other things. A summary goes to stderr.
//
// Output is deterministic for a given seed.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"time"
)

func main() {
	lines := flag.Int("lines", 1_000_000, "lines to write")
	seed := flag.Uint64("seed", 1, "random seed")
	positives := flag.Int("positives", 100, "firewall-weakening execs to place in the stream")
	lookalikes := flag.Int("lookalikes", 200, "read-only look-alike execs (socketfilterfw --getglobalstate, pfctl -s rules, defaults read …alf)")
	pidMax := flag.Int("pidmax", 0, "wrap pids after this one, as macOS does after 99998 (0: pids only increase)")
	execOnly := flag.Float64("execonly", 0.6, "share of processes from Macs whose eslogger subscribes to exec only (no fork or exit lines); 0 is a complete complete eslogger exec fork exit capture")
	flag.Parse()
	if *lines < 0 || *positives < 0 || *lookalikes < 0 {
		fmt.Fprintln(os.Stderr, "geneslogger: -lines, -positives and -lookalikes must be 0 or more")
		os.Exit(2)
	}
	if 3*(*positives+*lookalikes)+64 > *lines && *positives+*lookalikes > 0 {
		fmt.Fprintln(os.Stderr, "geneslogger: too few -lines for the requested positives and look-alikes")
		os.Exit(2)
	}
	out := bufio.NewWriterSize(os.Stdout, 1<<20)
	g := newGen(*seed, out)
	g.execOnly = *execOnly
	g.pidMax = *pidMax
	g.run(*lines, *positives, *lookalikes)
	if err := out.Flush(); err != nil {
		fmt.Fprintln(os.Stderr, "geneslogger:", err)
		os.Exit(1)
	}
	s := g.stats
	fmt.Fprintf(os.Stderr, "geneslogger: lines=%d bytes=%d exec=%d fork=%d exit=%d v10=%d positives=%d lookalikes=%d\n",
		s.lines, s.bytes, s.execs, s.forks, s.exits, s.v10, s.positives, s.lookalikes)
}

// ES event types (es_event_type_t).
const (
	evExec = 9
	evFork = 11
	evExit = 15
)

// image is an executable on disk.
type image struct {
	path, signingID, teamID string // teamID "" is written as null (Apple binaries)
	platform                bool
	cdhash                  string
	csFlags                 int
	cpuSub                  int
	st                      fstat
}

// fstat is the stat block eslogger writes for a file.
type fstat struct {
	size, ino, uid, gid, mode, nlink, blocks, dev, rdev, blksize int
	birth, mtime, ctime, atime                                   string
}

func newImage(path, signingID, teamID string, platform bool) *image {
	h := fnv.New64a()
	h.Write([]byte(path))
	x := h.Sum64()
	im := &image{path: path, signingID: signingID, teamID: teamID, platform: platform}
	im.cdhash = strings.ToUpper(fmt.Sprintf("%016x%016x%08x", x, x*0x9E3779B97F4A7C15, uint32(x>>7)))
	im.csFlags = 570556931
	if !platform {
		im.csFlags = 570491649
	}
	if platform {
		im.cpuSub = 2 // arm64e
	}
	size := 30_000 + int(x%4_000_000)
	uid, gid := 0, 0
	if strings.HasPrefix(path, "/opt/homebrew/") || strings.HasPrefix(path, "/Users/") {
		uid, gid = 501, 80
	}
	day := int(x % 200)
	birth := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(day)*24*time.Hour + time.Duration(x%86_400_000_000_000))
	im.st = fstat{
		size: size, ino: 1_000_000 + int(x%90_000_000), uid: uid, gid: gid, mode: 33261, nlink: 1,
		blocks: (size + 511) / 512, dev: 16777234, blksize: 4096,
		birth: stamp(birth), mtime: stamp(birth), ctime: stamp(birth.Add(time.Duration(x % 7_000_000_000))),
		atime: stamp(time.Date(2025, 8, 7, 9, 0, 0, 0, time.UTC).Add(time.Duration(x % 3_600_000_000_000))),
	}
	return im
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000000Z") }

// token is an audit token.
type token struct{ auid, euid, egid, ruid, rgid, pid, asid, pidver int }

// file is a path with its stat block (cwd, tty, script).
type file struct {
	path string
	st   fstat
}

// proc is a process as the stream knows it.
type proc struct {
	tok, parentTok, respTok token
	ppid, origPPID          int
	groupID, sessionID      int
	img                     *image
	start                   string // start_time, microseconds
	tty                     *file  // nil: null
	cwd                     *file
	env                     []string // environment its children inherit
	v10                     bool
	thread                  int
	kind                    sessionKind
	budget                  int // children it will still spawn (temporary spawners: make, git, scripts)
	weight                  float64
}

type sessionKind int

const (
	kNone sessionKind = iota
	kTerminal
	kRootShell
	kVSCode
	kLaunchd
	kJamf
	kMake
	kScript
	kNode
	kGit
)

// step is one event of a lifecycle.
type step struct {
	kind   int    // evFork, evExec, evExit
	img    *image // exec: the new image
	argv   []string
	script *file // exec of a #! script
	dyld   string
	spawn  sessionKind // exec: the process becomes a spawner of this kind
	budget int
	envAdd []string // exec: added to the inherited environment
	tag    int      // 1 positive, 2 look-alike
	user   int      // exec: 0 keeps the credentials; -1 switches to root, n > 0 to that uid
}

// life is one process from fork to exit.
type life struct {
	parent *proc
	p      *proc
	steps  []step
	i      int
	quiet  bool // its fork is not in the stream
}

type stats struct {
	lines, bytes, execs, forks, exits, v10, positives, lookalikes int
}

type gen struct {
	rng      *rand.Rand
	w        *bufio.Writer
	b        []byte
	now      int64 // unix ns
	base     int64 // now at the start
	execOnly float64
	pidMax   int
	mach     int64
	gseq     int
	seq      [16]int
	nextPID  int
	nextVer  int
	nextTID  int
	stats    stats

	spawners []*proc
	active   []*life
	urgent   []*life // special lifecycles advanced first, on consecutive lines

	im map[string]*image
	// sessions used for the special lifecycles
	rootShell, jamfScript *proc
	launchd               *proc
}

func newGen(seed uint64, w *bufio.Writer) *gen {
	g := &gen{
		rng: rand.New(rand.NewPCG(seed, 0xe5109)), w: w, b: make([]byte, 0, 16<<10),
		now:     time.Date(2025, 8, 7, 13, 21, 35, 880814738, time.UTC).UnixNano(),
		mach:    289350913517,
		nextPID: 2400, nextVer: 140000, nextTID: 500000,
		im: map[string]*image{},
	}
	g.base = g.now
	g.catalogue()
	return g
}

func (g *gen) image(path string) *image {
	im := g.im[path]
	if im == nil {
		panic("geneslogger: no image " + path)
	}
	return im
}

func (g *gen) catalogue() {
	apple := func(path, id string) { g.im[path] = newImage(path, id, "", true) }
	clt := func(path, id string) { g.im[path] = newImage(path, id, "", false) }
	other := func(path, id, team string) { g.im[path] = newImage(path, id, team, false) }
	for _, p := range []string{"zsh", "bash", "sh", "ls", "cat", "ps", "cp", "mv", "rm", "mkdir", "chmod", "date", "echo", "launchctl"} {
		id := "com.apple." + p
		if p == "launchctl" {
			id = "com.apple.xpc.launchctl"
		}
		apple("/bin/"+p, id)
	}
	for _, p := range []string{"grep", "sed", "awk", "env", "head", "tail", "wc", "tr", "sort", "uniq", "xargs", "find", "less", "vim",
		"ssh", "curl", "uname", "sw_vers", "basename", "dirname", "defaults", "plutil", "killall", "login", "open", "osascript",
		"codesign", "ditto", "tar", "which", "id", "stat", "mktemp", "security", "dscl", "mdls", "file", "diff", "zip", "unzip", "sudo"} {
		apple("/usr/bin/"+p, "com.apple."+p)
	}
	for _, p := range []string{"git", "python3", "clang", "make", "cc", "xcodebuild", "swift", "strip", "lldb"} {
		apple("/usr/bin/"+p, "com.apple.dt.xcode_select.tool-shim")
	}
	apple("/usr/bin/xcrun", "com.apple.dt.xcrun")
	for _, p := range []string{"sysctl", "ioreg", "system_profiler", "scutil", "networksetup", "softwareupdate", "lsof", "kextstat", "spctl"} {
		apple("/usr/sbin/"+p, "com.apple."+p)
	}
	apple("/usr/libexec/PlistBuddy", "com.apple.PlistBuddy")
	apple("/usr/libexec/xpcproxy", "com.apple.xpc.proxy")
	apple("/sbin/launchd", "com.apple.xpc.launchd")
	apple("/usr/libexec/path_helper", "com.apple.path_helper")
	apple("/System/Library/Frameworks/CoreServices.framework/Frameworks/Metadata.framework/Versions/A/Support/mdworker_shared", "com.apple.mdworker_shared")
	apple("/System/Library/Frameworks/WebKit.framework/Versions/A/XPCServices/com.apple.WebKit.WebContent.xpc/Contents/MacOS/com.apple.WebKit.WebContent", "com.apple.WebKit.WebContent")
	apple("/System/Library/Frameworks/QuickLookThumbnailing.framework/Support/com.apple.quicklook.ThumbnailsAgent", "com.apple.quicklook.ThumbnailsAgent")
	apple("/System/Library/CoreServices/ReportCrash", "com.apple.ReportCrash")
	apple("/usr/libexec/nsurlsessiond", "com.apple.nsurlsessiond")
	apple("/System/Library/PrivateFrameworks/SkyLight.framework/Versions/A/Resources/WindowServer", "com.apple.WindowServer")
	apple("/System/Applications/Utilities/Terminal.app/Contents/MacOS/Terminal", "com.apple.Terminal")
	// Firewall tools: only the special lifecycles run them.
	apple("/usr/libexec/ApplicationFirewall/socketfilterfw", "com.apple.socketfilterfw")
	apple("/sbin/pfctl", "com.apple.pfctl")
	const cltBin = "/Library/Developer/CommandLineTools/usr/bin/"
	for _, p := range []string{"git", "clang", "cc", "make", "ld", "strip", "lldb", "swift-frontend", "xcodebuild", "swift"} {
		clt(cltBin+p, "com.apple."+p)
	}
	clt("/Library/Developer/CommandLineTools/usr/libexec/git-core/git-remote-https", "com.apple.git-remote-https")
	clt("/Library/Developer/CommandLineTools/Library/Frameworks/Python3.framework/Versions/3.9/Resources/Python.app/Contents/MacOS/Python", "com.apple.python3")
	other("/opt/homebrew/Cellar/node/22.9.0/bin/node", "node", "")
	other("/opt/homebrew/Cellar/python@3.12/3.12.7/Frameworks/Python.framework/Versions/3.12/Resources/Python.app/Contents/MacOS/Python", "org.python.python", "")
	other("/opt/homebrew/Cellar/go/1.23.2/libexec/bin/go", "a.out", "")
	other("/opt/homebrew/Cellar/ripgrep/14.1.1/bin/rg", "rg-55554944a1f0c28d3ab23d6e80fbb8e9d5c8f0e1", "")
	other("/opt/homebrew/Cellar/portable-ruby/3.3.5/bin/ruby", "ruby", "")
	other("/Applications/Visual Studio Code.app/Contents/Frameworks/Code Helper (Plugin).app/Contents/MacOS/Code Helper (Plugin)", "com.github.Electron.helper", "UBF8T346G9")
	other("/Applications/Visual Studio Code.app/Contents/Resources/app/node_modules/@vscode/ripgrep/bin/rg", "rg", "UBF8T346G9")
	other("/usr/local/jamf/bin/jamf", "com.jamfsoftware.jamf", "483DWKW443")
}

func (g *gen) intn(n int) int { return g.rng.IntN(n) }

func (g *gen) pick(xs ...string) string { return xs[g.intn(len(xs))] }

func (g *gen) pid() int {
	p := g.nextPID
	g.nextPID += 1 + g.intn(3)
	if g.pidMax > 0 && g.nextPID > g.pidMax {
		g.nextPID = 3000 // XNU wraps to a low pid and skips those in use; the sessions sit below 3000
	}
	return p
}

func (g *gen) ver() int {
	g.nextVer += 1 + g.intn(4)
	return g.nextVer
}

func (g *gen) tid() int {
	g.nextTID += 1 + g.intn(40)
	return g.nextTID
}

func (g *gen) startTime() string {
	return time.Unix(0, g.now-int64(g.intn(3_000_000))).UTC().Format("2006-01-02T15:04:05.000000Z")
}

func (g *gen) dir(path string, uid int) *file {
	h := fnv.New64a()
	h.Write([]byte(path))
	x := h.Sum64()
	t := time.Date(2025, 8, 7, 12, 0, 0, 0, time.UTC).Add(-time.Duration(x % (90 * 24 * 3_600_000_000_000)))
	return &file{path: path, st: fstat{size: 64 + int(x%4000), ino: 100_000 + int(x%20_000_000), uid: uid, gid: 20, mode: 16877,
		nlink: 2 + int(x%80), dev: 16777234, blksize: 4096, birth: stamp(t.Add(-400 * time.Hour)), mtime: stamp(t), ctime: stamp(t), atime: stamp(t.Add(time.Hour))}}
}

func (g *gen) ttyFile(n int, uid int) *file {
	t := stamp(time.Unix(0, g.now-int64(g.intn(1_000_000_000_000))))
	return &file{path: fmt.Sprintf("/dev/ttys%03d", n), st: fstat{ino: 1200 + n, uid: uid, gid: 4, mode: 8592, nlink: 1, dev: 1333267060,
		rdev: 268435456 + n, blksize: 65536, birth: "1970-01-01T00:00:00.000000000Z", mtime: t, ctime: t, atime: t}}
}

func uuid(r *rand.Rand) string {
	return fmt.Sprintf("%08X-%04X-%04X-%04X-%012X", r.Uint32(), r.Uint32()&0xffff, 0x4000|r.Uint32()&0x0fff, 0x8000|r.Uint32()&0x3fff, r.Uint64()&0xffffffffffff)
}

// run writes n lines.
func (g *gen) run(n, positives, lookalikes int) {
	g.setup()
	type special struct {
		at  int
		tag int
		k   int
	}
	var specials []special
	for i := range positives {
		specials = append(specials, special{at: 64 + (i*2+1)*(n-128)/(2*positives), tag: 1, k: i})
	}
	for i := range lookalikes {
		specials = append(specials, special{at: 64 + (i*2+1)*(n-128)/(2*lookalikes) + 7, tag: 2, k: i})
	}
	// Sort by line (insertion sort is fine for a few hundred).
	for i := 1; i < len(specials); i++ {
		for j := i; j > 0 && specials[j].at < specials[j-1].at; j-- {
			specials[j], specials[j-1] = specials[j-1], specials[j]
		}
	}
	for g.stats.lines < n {
		line := g.stats.lines
		g.now += int64(g.intn(2_000_000)) // 1 ms apart on average
		if len(specials) > 0 && line >= specials[0].at && len(g.urgent) == 0 && n-line >= 2 {
			s := specials[0]
			specials = specials[1:]
			g.urgent = append(g.urgent, g.specialLife(s.tag, s.k))
		}
		var l *life
		if len(g.urgent) > 0 {
			l = g.urgent[0]
		} else {
			l = g.next()
		}
		g.advance(l)
		if l.i == len(l.steps) {
			g.remove(l)
		}
		if len(g.urgent) > 0 && l == g.urgent[0] && (l.i >= 2 || l.i == len(l.steps)) {
			// The special exec is out; its exit comes in the normal interleaving.
			g.urgent = g.urgent[1:]
			if l.i < len(l.steps) {
				g.active = append(g.active, l)
			}
		}
	}
}

func (g *gen) remove(l *life) {
	for i, a := range g.active {
		if a == l {
			g.active[i] = g.active[len(g.active)-1]
			g.active = g.active[:len(g.active)-1]
			return
		}
	}
}

// next picks the lifecycle that writes the next line, starting new ones to keep about 40 in
// flight.
func (g *gen) next() *life {
	for len(g.active) < 24 || (len(g.active) < 64 && g.intn(3) == 0) {
		if l := g.newLife(); l != nil {
			g.active = append(g.active, l)
		}
	}
	for tries := 0; ; tries++ {
		l := g.active[g.intn(len(g.active))]
		st := l.steps[l.i]
		if st.kind == evExit && l.p.budget > 0 && tries < 100 {
			continue // a spawner exits once its children are out
		}
		return l
	}
}

// setup creates the long-lived sessions. Their creation is written at the start of the
// stream, as `eslogger` started before the user logged in would see it.
func (g *gen) setup() {
	g.launchd = &proc{tok: token{4294967295, 0, 0, 0, 0, 1, 100000, 1}, img: g.image("/sbin/launchd"), kind: kLaunchd, weight: 9,
		groupID: 1, sessionID: 1, start: "2025-08-06T07:12:09.114200Z", thread: 101}
	g.launchd.respTok = g.launchd.tok
	g.launchd.cwd = g.dir("/", 0)
	g.launchd.env = []string{}
	g.spawners = append(g.spawners, g.launchd)
	terminal := token{501, 501, 20, 501, 20, 938, 100013, 2424}
	users := []struct {
		name string
		uid  int
	}{{"alice", 501}, {"bob", 502}}
	for i := range 8 {
		u := users[i%len(users)]
		v10 := i == 2 || i == 5
		t := terminal
		t.auid, t.euid, t.ruid = u.uid, u.uid, u.uid
		sess := &proc{tok: t, respTok: t, parentTok: g.launchd.tok, ppid: 1, origPPID: 1, groupID: 938, sessionID: 938, thread: g.tid(),
			start: "2025-08-07T08:02:41.552310Z", img: g.image("/System/Applications/Utilities/Terminal.app/Contents/MacOS/Terminal"), v10: v10, kind: kNone}
		home := "/Users/" + u.name
		cwd := g.dir(home+"/"+g.pick("src/firewarden", "src/website", "Documents/notes", "src/infra/terraform", "src/ios-app", "Downloads", "src/ml-experiments"), u.uid)
		sess.cwd = cwd
		sess.tty = g.ttyFile(i+1, u.uid)
		sess.env = g.terminalEnv(u.name, u.uid, cwd.path)
		root := i == 0
		l := g.lifeFrom(sess, []step{{kind: evExec, img: g.image("/usr/bin/login"), argv: []string{"login", "-pf", u.name}},
			{kind: evExec, img: g.image("/bin/zsh"), argv: []string{"-zsh"}, spawn: kTerminal}})
		g.runNow(l)
		if root {
			// sudo -s in that window: a root shell the special lifecycles run from.
			r := g.lifeFrom(l.p, []step{{kind: evExec, img: g.image("/usr/bin/sudo"), argv: []string{"sudo", "-s"}},
				{kind: evExec, img: g.image("/bin/zsh"), argv: []string{"/bin/zsh"}, spawn: kRootShell, user: -1}})
			g.runNow(r)
			g.rootShell = r.p
			g.rootShell.weight = 0.2
		}
	}
	for i := range 2 {
		u := users[0]
		t := token{u.uid, u.uid, 20, u.uid, 20, 1900 + g.intn(400), 100013, 9000 + g.intn(1000)}
		host := &proc{tok: t, respTok: t, img: g.image("/Applications/Visual Studio Code.app/Contents/Frameworks/Code Helper (Plugin).app/Contents/MacOS/Code Helper (Plugin)"), kind: kVSCode, weight: 3, v10: i == 1}
		host.cwd = g.dir("/Users/alice/src/firewarden", u.uid)
		host.env = g.vscodeEnv(u.name, u.uid)
		host.ppid, host.origPPID, host.groupID, host.sessionID = t.pid-3, t.pid-3, t.pid-3, 1
		host.start = g.startTime()
		host.thread = g.tid()
		host.parentTok = token{u.uid, u.uid, 20, u.uid, 20, t.pid - 3, 100013, t.pidver - 5}
		g.spawners = append(g.spawners, host)
	}
	jt := token{4294967295, 0, 0, 0, 0, 1400, 100000, 3100}
	jamf := &proc{tok: jt, respTok: jt, parentTok: g.launchd.tok, ppid: 1, origPPID: 1, groupID: 1400, sessionID: 1400,
		img: g.image("/usr/local/jamf/bin/jamf"), kind: kJamf, weight: 0.3, start: g.startTime(), thread: g.tid(), v10: true}
	jamf.cwd = g.dir("/", 0)
	jamf.env = []string{"PATH=/usr/bin:/bin:/usr/sbin:/sbin", "XPC_SERVICE_NAME=com.jamfsoftware.task.Every 15 Minutes", "XPC_FLAGS=0x0", "SHELL=/bin/sh", "HOME=/var/root", "LOGNAME=root", "USER=root", "TMPDIR=/var/folders/zz/zyxvpxvq6csfxvn_n0000000000000/T/", "__CF_USER_TEXT_ENCODING=0x0:0:0"}
	g.spawners = append(g.spawners, jamf)
	// A long-running management script the look-alikes and some positives come from.
	s := g.lifeFrom(jamf, []step{{kind: evExec, img: g.image("/bin/bash"), argv: []string{"/bin/bash", "/Library/Application Support/JAMF/tmp/Firewall Compliance.sh", "/", "MAC-" + strconv.Itoa(1000+g.intn(9000)), "root"},
		script: g.dir("/Library/Application Support/JAMF/tmp/Firewall Compliance.sh", 0), spawn: kScript}})
	g.runNow(s)
	g.jamfScript = s.p
	g.jamfScript.weight = 0.1
	g.jamfScript.budget = 1 << 30
}

// runNow writes a whole lifecycle at once (session setup).
func (g *gen) runNow(l *life) {
	for l.i < len(l.steps) {
		g.now += int64(g.intn(2_000_000))
		g.advance(l)
	}
}

func (g *gen) terminalEnv(user string, uid int, cwd string) []string {
	r := g.rng
	return []string{
		"TERM_PROGRAM=Apple_Terminal", "SHELL=/bin/zsh", "TERM=xterm-256color",
		"TMPDIR=/var/folders/" + g.pick("xz", "7d", "k3", "m1") + "/" + fmt.Sprintf("%x", r.Uint64())[:8] + "_" + fmt.Sprintf("%x", r.Uint64())[:12] + "0000gn/T/",
		"TERM_PROGRAM_VERSION=455.1", "TERM_SESSION_ID=" + uuid(r), "USER=" + user,
		"SSH_AUTH_SOCK=/private/tmp/com.apple.launchd." + fmt.Sprintf("%x", r.Uint64())[:10] + "/Listeners",
		"PATH=/opt/homebrew/bin:/opt/homebrew/sbin:/usr/local/bin:/System/Cryptexes/App/usr/bin:/usr/bin:/bin:/usr/sbin:/sbin:/var/run/com.apple.security.cryptexd/codex.system/bootstrap/usr/local/bin:/var/run/com.apple.security.cryptexd/codex.system/bootstrap/usr/bin:/var/run/com.apple.security.cryptexd/codex.system/bootstrap/usr/appleinternal/bin:/Users/" + user + "/go/bin",
		"__CFBundleIdentifier=com.apple.Terminal", "PWD=" + cwd, "XPC_FLAGS=0x0", "XPC_SERVICE_NAME=0", "SHLVL=1",
		"HOME=/Users/" + user, "LOGNAME=" + user, "OLDPWD=/Users/" + user, "HOMEBREW_PREFIX=/opt/homebrew",
		"HOMEBREW_CELLAR=/opt/homebrew/Cellar", "HOMEBREW_REPOSITORY=/opt/homebrew", "INFOPATH=/opt/homebrew/share/info:",
		"GOPATH=/Users/" + user + "/go", "EDITOR=vim", "LANG=en_US.UTF-8", "LESS=-R",
		"__CF_USER_TEXT_ENCODING=0x" + strings.ToUpper(strconv.FormatInt(int64(uid), 16)) + ":0x0:0x0",
	}
}

func (g *gen) vscodeEnv(user string, uid int) []string {
	return []string{
		"USER=" + user, "HOME=/Users/" + user, "LOGNAME=" + user, "SHELL=/bin/zsh",
		"PATH=/opt/homebrew/bin:/opt/homebrew/sbin:/usr/local/bin:/System/Cryptexes/App/usr/bin:/usr/bin:/bin:/usr/sbin:/sbin",
		"TMPDIR=/var/folders/xz/3n8q0d5s1bq7w2p4k9m6h0c40000gn/T/", "XPC_FLAGS=0x0", "XPC_SERVICE_NAME=application.com.microsoft.VSCode.81744811.81744817",
		"__CFBundleIdentifier=com.microsoft.VSCode", "ELECTRON_RUN_AS_NODE=1", "VSCODE_AMD_ENTRYPOINT=vs/workbench/api/node/extensionHostProcess",
		"VSCODE_HANDLES_UNCAUGHT_ERRORS=true", "VSCODE_NLS_CONFIG={\"userLocale\":\"en-us\",\"osLocale\":\"en-us\",\"resolvedLanguage\":\"en\",\"defaultMessagesFile\":\"/Applications/Visual Studio Code.app/Contents/Resources/app/out/nls.messages.json\",\"locale\":\"en-us\",\"availableLanguages\":{}}",
		"VSCODE_CODE_CACHE_PATH=/Users/" + user + "/Library/Application Support/Code/CachedData/384ff7382de624fb94dbaf6da11977bba1ecd427",
		"VSCODE_CRASH_REPORTER_PROCESS_TYPE=extensionHost", "VSCODE_CWD=/", "VSCODE_IPC_HOOK=/Users/" + user + "/Library/Application Support/Code/1.95-main.sock",
		"VSCODE_PID=1822", "GIT_ASKPASS=/Applications/Visual Studio Code.app/Contents/Resources/app/extensions/git/dist/askpass.sh",
		"VSCODE_GIT_ASKPASS_NODE=/Applications/Visual Studio Code.app/Contents/Frameworks/Code Helper (Plugin).app/Contents/MacOS/Code Helper (Plugin)",
		"VSCODE_GIT_ASKPASS_MAIN=/Applications/Visual Studio Code.app/Contents/Resources/app/extensions/git/dist/askpass-main.js",
		"VSCODE_GIT_IPC_HANDLE=/var/folders/xz/3n8q0d5s1bq7w2p4k9m6h0c40000gn/T/vscode-git-1f2e3d4c5b.sock",
		"LANG=en_US.UTF-8", "LC_ALL=en_US.UTF-8", "__CF_USER_TEXT_ENCODING=0x" + strings.ToUpper(strconv.FormatInt(int64(uid), 16)) + ":0x0:0x0",
	}
}

// lifeFrom forks a child of parent that then runs steps; the fork is the first step.
func (g *gen) lifeFrom(parent *proc, steps []step) *life {
	c := *parent
	c.tok.pid = g.pid()
	c.parentTok = parent.tok
	c.ppid, c.origPPID = parent.tok.pid, parent.tok.pid
	c.groupID = c.tok.pid
	if parent.kind == kLaunchd {
		c.v10 = g.intn(10) < 3 // launchd's children come from several Macs of the fleet
		c.sessionID = c.tok.pid
		c.tty = nil
		c.respTok = c.tok // set again after the fork's pidversion
	} else if parent.sessionID == 0 {
		c.sessionID = c.tok.pid
	}
	if parent.kind == kTerminal || parent.kind == kRootShell {
		c.sessionID = parent.tok.pid
	}
	c.start = ""
	c.kind = kNone
	c.budget = 0
	c.weight = 0
	c.env = parent.env
	return &life{parent: parent, p: &c, steps: append([]step{{kind: evFork}}, steps...)}
}

func (g *gen) advance(l *life) {
	st := l.steps[l.i]
	l.i++
	p := l.p
	switch st.kind {
	case evFork:
		p.tok.pidver = g.ver()
		p.start = g.startTime()
		p.thread = g.tid()
		if l.parent.kind == kLaunchd {
			p.respTok = p.tok
		}
		if l.parent.budget > 0 {
			l.parent.budget--
		}
		if l.quiet {
			g.advance(l) // the fork is not in the stream: write the first exec instead
			return
		}
		g.line(evFork, l.parent, p.v10, func() { g.forkEvent(p) })
	case evExec:
		t := *p
		t.img = st.img
		t.tok.pidver = g.ver()
		switch {
		case st.user < 0:
			t.tok.ruid, t.tok.euid, t.tok.rgid, t.tok.egid = 0, 0, 0, 0
		case st.user > 0:
			t.tok.ruid, t.tok.euid, t.tok.rgid, t.tok.egid, t.tok.auid = st.user, st.user, 20, 20, st.user
		}
		if l.parent.kind == kLaunchd && t.respTok.pid == t.tok.pid {
			t.respTok = t.tok
		}
		env := execEnv(p.env, st)
		g.line(evExec, p, p.v10, func() { g.execEvent(&t, st, env) })
		t.env = env
		if st.spawn != kNone {
			t.kind = st.spawn
			t.budget = st.budget
			t.weight = 4
			switch st.spawn {
			case kTerminal:
				t.weight = 3
			case kRootShell, kScript:
				t.weight = 0.2
			}
			g.spawners = append(g.spawners, l.p)
		}
		*p = t
		g.stats.execs++
		switch st.tag {
		case 1:
			g.stats.positives++
		case 2:
			g.stats.lookalikes++
		}
	case evExit:
		g.line(evExit, p, p.v10, func() {
			g.b = append(g.b, `{"exit":{"stat":`...)
			if g.intn(12) == 0 {
				g.b = append(g.b, "256"...)
			} else {
				g.b = append(g.b, '0')
			}
			g.b = append(g.b, "}}"...)
		})
		if p.kind != kNone {
			g.dropSpawner(p)
		}
	}
}

func execEnv(parent []string, st step) []string {
	if st.argv == nil {
		return parent
	}
	env := parent
	if len(st.envAdd) > 0 {
		env = append(append([]string(nil), parent...), st.envAdd...)
	}
	return env
}

func (g *gen) dropSpawner(p *proc) {
	for i, s := range g.spawners {
		if s == p {
			g.spawners = append(g.spawners[:i], g.spawners[i+1:]...)
			return
		}
	}
}

// line writes one eslogger record; body writes the value of "event".
func (g *gen) line(evType int, p *proc, v10 bool, body func()) {
	g.b = g.b[:0]
	g.gseq++
	g.seq[evType]++
	var perm [12]int
	order := g.perm(perm[:12])
	g.b = append(g.b, '{')
	for i, f := range order {
		if i > 0 {
			g.b = append(g.b, ',')
		}
		switch f {
		case 0:
			g.b = append(g.b, `"action":{"result":{"result":{"auth":0},"result_type":0}}`...)
		case 1:
			g.b = append(g.b, `"event_type":`...)
			g.b = strconv.AppendInt(g.b, int64(evType), 10)
		case 2:
			g.b = append(g.b, `"global_seq_num":`...)
			g.b = strconv.AppendInt(g.b, int64(g.gseq), 10)
		case 3:
			g.b = append(g.b, `"action_type":1`...)
		case 4:
			g.b = append(g.b, `"mach_time":`...)
			g.b = strconv.AppendInt(g.b, g.mach+(g.now-g.base)*3/125, 10) // 24 MHz ticks
		case 5:
			g.b = append(g.b, `"process":`...)
			g.process(p, v10)
		case 6:
			g.b = append(g.b, `"time":"`...)
			g.b = time.Unix(0, g.now).UTC().AppendFormat(g.b, "2006-01-02T15:04:05.000000000Z")
			g.b = append(g.b, '"')
		case 7:
			g.b = append(g.b, `"seq_num":`...)
			g.b = strconv.AppendInt(g.b, int64(g.seq[evType]), 10)
		case 8:
			g.b = append(g.b, `"version":`...)
			if v10 {
				g.b = append(g.b, "10"...)
			} else {
				g.b = append(g.b, '9')
			}
		case 9:
			g.b = append(g.b, `"event":`...)
			body()
		case 10:
			g.b = append(g.b, `"thread":{"thread_id":`...)
			g.b = strconv.AppendInt(g.b, int64(p.thread), 10)
			g.b = append(g.b, '}')
		case 11:
			g.b = append(g.b, `"schema_version":1`...)
		}
	}
	g.b = append(g.b, '}', '\n')
	g.w.Write(g.b)
	g.stats.lines++
	g.stats.bytes += len(g.b)
	if v10 {
		g.stats.v10++
	}
	switch evType {
	case evFork:
		g.stats.forks++
	case evExit:
		g.stats.exits++
	}
}

// perm returns a random permutation of 0..len(a)-1 in a.
func (g *gen) perm(a []int) []int {
	for i := range a {
		j := g.intn(i + 1)
		a[i] = a[j]
		a[j] = i
	}
	return a
}

func (g *gen) key(k string) {
	g.b = append(g.b, '"')
	g.b = append(g.b, k...)
	g.b = append(g.b, '"', ':')
}

func (g *gen) int(n int) { g.b = strconv.AppendInt(g.b, int64(n), 10) }

// str writes a JSON string the way eslogger does: '/' as "\/".
func (g *gen) str(s string) {
	g.b = append(g.b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '/':
			g.b = append(g.b, '\\', '/')
		case '"', '\\':
			g.b = append(g.b, '\\', c)
		case '\n':
			g.b = append(g.b, '\\', 'n')
		case '\t':
			g.b = append(g.b, '\\', 't')
		default:
			if c < 0x20 {
				g.b = append(g.b, fmt.Sprintf(`\u%04x`, c)...)
			} else {
				g.b = append(g.b, c)
			}
		}
	}
	g.b = append(g.b, '"')
}

func (g *gen) boolean(v bool) {
	if v {
		g.b = append(g.b, "true"...)
	} else {
		g.b = append(g.b, "false"...)
	}
}

func (g *gen) token(t token, v10 bool) {
	if v10 {
		g.b = append(g.b, '[')
		for i, n := range [8]int{t.auid, t.euid, t.egid, t.ruid, t.rgid, t.pid, t.asid, t.pidver} {
			if i > 0 {
				g.b = append(g.b, ',')
			}
			g.int(n)
		}
		g.b = append(g.b, ']')
		return
	}
	var perm [8]int
	g.b = append(g.b, '{')
	for i, f := range g.perm(perm[:]) {
		if i > 0 {
			g.b = append(g.b, ',')
		}
		switch f {
		case 0:
			g.key("auid")
			g.int(t.auid)
		case 1:
			g.key("euid")
			g.int(t.euid)
		case 2:
			g.key("egid")
			g.int(t.egid)
		case 3:
			g.key("ruid")
			g.int(t.ruid)
		case 4:
			g.key("rgid")
			g.int(t.rgid)
		case 5:
			g.key("pid")
			g.int(t.pid)
		case 6:
			g.key("asid")
			g.int(t.asid)
		case 7:
			g.key("pidversion")
			g.int(t.pidver)
		}
	}
	g.b = append(g.b, '}')
}

func (g *gen) stat(s *fstat) {
	var perm [16]int
	g.b = append(g.b, '{')
	for i, f := range g.perm(perm[:]) {
		if i > 0 {
			g.b = append(g.b, ',')
		}
		switch f {
		case 0:
			g.key("st_size")
			g.int(s.size)
		case 1:
			g.key("st_gid")
			g.int(s.gid)
		case 2:
			g.key("st_ino")
			g.int(s.ino)
		case 3:
			g.key("st_uid")
			g.int(s.uid)
		case 4:
			g.key("st_ctimespec")
			g.str(s.ctime)
		case 5:
			g.key("st_gen")
			g.int(0)
		case 6:
			g.key("st_mtimespec")
			g.str(s.mtime)
		case 7:
			g.key("st_blocks")
			g.int(s.blocks)
		case 8:
			g.key("st_rdev")
			g.int(s.rdev)
		case 9:
			g.key("st_dev")
			g.int(s.dev)
		case 10:
			g.key("st_atimespec")
			g.str(s.atime)
		case 11:
			g.key("st_nlink")
			g.int(s.nlink)
		case 12:
			g.key("st_mode")
			g.int(s.mode)
		case 13:
			g.key("st_blksize")
			g.int(s.blksize)
		case 14:
			g.key("st_birthtimespec")
			g.str(s.birth)
		case 15:
			g.key("st_flags")
			g.int(0)
		}
	}
	g.b = append(g.b, '}')
}

func (g *gen) file(f *file) {
	if f == nil {
		g.b = append(g.b, "null"...)
		return
	}
	var perm [3]int
	g.b = append(g.b, '{')
	for i, k := range g.perm(perm[:]) {
		if i > 0 {
			g.b = append(g.b, ',')
		}
		switch k {
		case 0:
			g.key("stat")
			g.stat(&f.st)
		case 1:
			g.key("path_truncated")
			g.b = append(g.b, "false"...)
		case 2:
			g.key("path")
			g.str(f.path)
		}
	}
	g.b = append(g.b, '}')
}

// process writes an es_process_t.
func (g *gen) process(p *proc, v10 bool) {
	n := 16
	if v10 {
		n = 17
	}
	var perm [17]int
	g.b = append(g.b, '{')
	for i, f := range g.perm(perm[:n]) {
		if i > 0 {
			g.b = append(g.b, ',')
		}
		switch f {
		case 0:
			g.key("is_platform_binary")
			g.boolean(p.img.platform)
		case 1:
			g.key("team_id")
			if p.img.teamID == "" {
				g.b = append(g.b, "null"...)
			} else {
				g.str(p.img.teamID)
			}
		case 2:
			g.key("signing_id")
			g.str(p.img.signingID)
		case 3:
			g.key("cdhash")
			g.str(p.img.cdhash)
		case 4:
			g.key("executable")
			g.file(&file{path: p.img.path, st: p.img.st})
		case 5:
			g.key("group_id")
			g.int(p.groupID)
		case 6:
			g.key("parent_audit_token")
			g.token(p.parentTok, v10)
		case 7:
			g.key("session_id")
			g.int(p.sessionID)
		case 8:
			g.key("audit_token")
			g.token(p.tok, v10)
		case 9:
			g.key("ppid")
			g.int(p.ppid)
		case 10:
			g.key("responsible_audit_token")
			g.token(p.respTok, v10)
		case 11:
			g.key("original_ppid")
			g.int(p.origPPID)
		case 12:
			g.key("codesigning_flags")
			g.int(p.img.csFlags)
		case 13:
			g.key("start_time")
			g.str(p.start)
		case 14:
			g.key("tty")
			g.file(p.tty)
		case 15:
			g.key("is_es_client")
			g.b = append(g.b, "false"...)
		case 16:
			g.key("cs_validation_category")
			if p.img.platform {
				g.int(1)
			} else {
				g.int(6)
			}
		}
	}
	g.b = append(g.b, '}')
}

func (g *gen) forkEvent(child *proc) {
	g.b = append(g.b, `{"fork":{"child":`...)
	g.process(child, child.v10)
	g.b = append(g.b, "}}"...)
}

func (g *gen) execEvent(t *proc, st step, env []string) {
	var perm [10]int
	nfds := 3 + g.intn(4)
	g.b = append(g.b, `{"exec":{`...)
	for i, f := range g.perm(perm[:]) {
		if i > 0 {
			g.b = append(g.b, ',')
		}
		switch f {
		case 0:
			g.key("target")
			g.process(t, t.v10)
		case 1:
			g.key("args")
			g.b = append(g.b, '[')
			for j, a := range st.argv {
				if j > 0 {
					g.b = append(g.b, ',')
				}
				g.str(a)
			}
			g.b = append(g.b, ']')
		case 2:
			g.key("env")
			g.b = append(g.b, '[')
			for j, e := range env {
				if j > 0 {
					g.b = append(g.b, ',')
				}
				g.str(e)
			}
			if len(env) > 0 && t.tty != nil {
				// zsh sets _ to the command it runs.
				g.b = append(g.b, ',')
				g.str("_=" + st.img.path)
			}
			g.b = append(g.b, ']')
		case 3:
			g.key("cwd")
			g.file(t.cwd)
		case 4:
			g.key("dyld_exec_path")
			d := st.dyld
			if d == "" {
				d = st.img.path
			}
			g.str(d)
		case 5:
			g.key("script")
			g.file(st.script)
		case 6:
			g.key("fds")
			g.b = append(g.b, '[')
			for fd := range nfds {
				if fd > 0 {
					g.b = append(g.b, ',')
				}
				if g.intn(2) == 0 {
					g.b = append(g.b, `{"fdtype":1,"fd":`...)
					g.int(fd)
				} else {
					g.b = append(g.b, `{"fd":`...)
					g.int(fd)
					g.b = append(g.b, `,"fdtype":1`...)
				}
				g.b = append(g.b, '}')
			}
			g.b = append(g.b, ']')
		case 7:
			g.key("last_fd")
			g.int(nfds - 1)
		case 8:
			g.key("image_cputype")
			g.int(16777228)
		case 9:
			g.key("image_cpusubtype")
			g.int(st.img.cpuSub)
		}
	}
	g.b = append(g.b, "}}"...)
}

// newLife starts a lifecycle under a spawner chosen by weight.
func (g *gen) newLife() *life {
	total := 0.0
	for _, s := range g.spawners {
		total += s.weightNow()
	}
	x := g.rng.Float64() * total
	var parent *proc
	for _, s := range g.spawners {
		x -= s.weightNow()
		if x <= 0 {
			parent = s
			break
		}
	}
	if parent == nil {
		parent = g.spawners[len(g.spawners)-1]
	}
	steps := g.children(parent)
	if steps == nil {
		return nil
	}
	return g.maybeQuiet(g.lifeFrom(parent, append(steps, step{kind: evExit})))
}

// maybeQuiet drops the fork and exit lines of a share (-execonly) of the lifecycles that spawn
// nothing: processes of Macs whose eslogger runs with `exec` alone.
func (g *gen) maybeQuiet(l *life) *life {
	if g.rng.Float64() >= g.execOnly {
		return l
	}
	for _, st := range l.steps {
		if st.spawn != kNone {
			return l
		}
	}
	l.quiet = true
	l.steps = l.steps[:len(l.steps)-1] // no exit line
	return l
}

func (p *proc) weightNow() float64 {
	switch p.kind {
	case kMake, kNode, kGit, kScript:
		if p.budget <= 0 {
			return 0
		}
	}
	return p.weight
}

func (g *gen) ex(path string, argv ...string) step {
	return step{kind: evExec, img: g.image(path), argv: argv}
}

// shim is a /usr/bin developer tool: the shim, then the Command Line Tools binary.
func (g *gen) shim(name string, argv ...string) []step {
	real := "/Library/Developer/CommandLineTools/usr/bin/" + name
	if name == "python3" {
		real = "/Library/Developer/CommandLineTools/Library/Frameworks/Python3.framework/Versions/3.9/Resources/Python.app/Contents/MacOS/Python"
	}
	a2 := append([]string{real}, argv[1:]...)
	return []step{g.ex("/usr/bin/"+name, argv...), {kind: evExec, img: g.image(real), argv: a2}}
}

var srcFiles = []string{"main", "engine", "parser", "lexer", "table", "alloc", "util", "net", "http", "json", "hash", "log", "config", "cli", "store", "cache"}

func (g *gen) children(parent *proc) []step {
	switch parent.kind {
	case kTerminal, kRootShell:
		return g.shellChild(parent)
	case kVSCode:
		switch r := g.intn(10); {
		case r < 7:
			return g.shim("git", g.gitVSCodeArgs()...)
		case r < 9:
			return []step{g.ex("/Applications/Visual Studio Code.app/Contents/Resources/app/node_modules/@vscode/ripgrep/bin/rg",
				"/Applications/Visual Studio Code.app/Contents/Resources/app/node_modules/@vscode/ripgrep/bin/rg", "--files", "--hidden", "--case-sensitive", "--no-require-git",
				"-g", "!**/.git", "-g", "!**/node_modules", "--no-ignore-parent", "--follow", "--no-config", "--no-ignore-global")}
		default:
			return []step{g.ex("/bin/zsh", "/bin/zsh", "-l", "-c", "'/Applications/Visual Studio Code.app/Contents/Frameworks/Code Helper (Plugin).app/Contents/MacOS/Code Helper (Plugin)' -p '\"'\"'JSON.stringify(process.env)'\"'\"'")}
		}
	case kLaunchd:
		return g.launchdChild()
	case kJamf:
		return []step{{kind: evExec, img: g.image("/bin/bash"), argv: []string{"/bin/bash", "/Library/Application Support/JAMF/tmp/" + g.pick("Inventory.sh", "Battery Health.sh", "Disk Usage.sh"), "/", "MAC-4711", "root"},
			script: g.dir("/Library/Application Support/JAMF/tmp/Inventory.sh", 0), spawn: kScript, budget: 2 + g.intn(5)}}
	case kScript:
		switch g.intn(6) {
		case 0:
			return []step{g.ex("/usr/bin/sw_vers", "sw_vers", "-productVersion")}
		case 1:
			return []step{g.ex("/usr/sbin/ioreg", "ioreg", "-rd1", "-c", "IOPlatformExpertDevice")}
		case 2:
			return []step{g.ex("/usr/sbin/system_profiler", "system_profiler", "SPHardwareDataType", "-xml")}
		case 3:
			return []step{g.ex("/usr/bin/awk", "/usr/bin/awk", "-F", ": ", "/Serial Number/{print $2}")}
		case 4:
			return []step{g.ex("/usr/bin/stat", "stat", "-f", "%Su", "/dev/console")}
		default:
			return []step{g.ex("/usr/sbin/scutil", "scutil", "--get", "ComputerName")}
		}
	case kMake:
		f := srcFiles[g.intn(len(srcFiles))]
		s := []step{g.ex("/bin/sh", "/bin/sh", "-c", "cc -O2 -g -Wall -Iinclude -c src/"+f+".c -o build/"+f+".o")}
		return append(s, g.shim("cc", "cc", "-O2", "-g", "-Wall", "-Iinclude", "-c", "src/"+f+".c", "-o", "build/"+f+".o")...)
	case kNode:
		switch g.intn(3) {
		case 0:
			return []step{g.ex("/bin/sh", "sh", "-c", "tsc -p tsconfig.json --noEmit"), g.ex("/opt/homebrew/Cellar/node/22.9.0/bin/node", "node", "/Users/alice/src/website/node_modules/.bin/tsc", "-p", "tsconfig.json", "--noEmit")}
		case 1:
			return []step{g.ex("/bin/sh", "sh", "-c", "eslint . --ext .ts,.tsx"), g.ex("/opt/homebrew/Cellar/node/22.9.0/bin/node", "node", "/Users/alice/src/website/node_modules/.bin/eslint", ".", "--ext", ".ts,.tsx")}
		default:
			return g.shim("git", "git", "rev-parse", "HEAD")
		}
	case kGit:
		if g.intn(2) == 0 {
			return []step{g.ex("/Library/Developer/CommandLineTools/usr/libexec/git-core/git-remote-https", "git-remote-https", "origin", "https://github.com/firewarden/firewarden.git")}
		}
		return []step{g.ex("/usr/bin/less", "less")}
	}
	return nil
}

func (g *gen) gitVSCodeArgs() []string {
	switch g.intn(6) {
	case 0:
		return []string{"git", "-c", "core.quotepath=false", "-c", "color.ui=false", "status", "-z", "-uall"}
	case 1:
		return []string{"git", "rev-parse", "--show-toplevel"}
	case 2:
		return []string{"git", "-c", "core.quotepath=false", "-c", "color.ui=false", "rev-parse", "--symbolic-full-name", "main@{u}"}
	case 3:
		return []string{"git", "-c", "core.quotepath=false", "-c", "color.ui=false", "for-each-ref", "--sort", "-committerdate", "--format", "%(refname) %(objectname) %(*objectname)"}
	case 4:
		return []string{"git", "-c", "core.quotepath=false", "-c", "color.ui=false", "show", "--textconv", ":internal/detect/engine.go"}
	default:
		return []string{"git", "-c", "core.quotepath=false", "-c", "color.ui=false", "log", "--format=%H%n%aN%n%aE%n%at%n%ct%n%P%n%D%n%B", "-z", "--shortstat", "--diff-merges=first-parent", "-n50", "--skip=0", "--topo-order", "--decorate=full", "--stdin"}
	}
}

func (g *gen) launchdChild() []step {
	xpc := func(label string) step {
		return step{kind: evExec, img: g.image("/usr/libexec/xpcproxy"), argv: []string{"xpcproxy", label}}
	}
	switch r := g.intn(10); {
	case r < 6:
		id := fmt.Sprintf("com.apple.mdworker.shared.%02X000000-0%d00-0000-0000-000000000000", g.intn(16), g.intn(8))
		return []step{xpc(id), {kind: evExec, user: 501, img: g.image("/System/Library/Frameworks/CoreServices.framework/Frameworks/Metadata.framework/Versions/A/Support/mdworker_shared"),
			argv:   []string{"/System/Library/Frameworks/CoreServices.framework/Frameworks/Metadata.framework/Versions/A/Support/mdworker_shared", "-s", "mdworker", "-c", "MDSImporterWorker", "-m", "com.apple.mdworker.shared"},
			envAdd: []string{"XPC_SERVICE_NAME=" + id, "XPC_FLAGS=0x1", "PATH=/usr/bin:/bin:/usr/sbin:/sbin", "HOME=/Users/alice", "LOGNAME=alice", "USER=alice", "SHELL=/bin/zsh", "TMPDIR=/var/folders/xz/3n8q0d5s1bq7w2p4k9m6h0c40000gn/T/", "__CF_USER_TEXT_ENCODING=0x1F5:0x0:0x0"}}}
	case r < 8:
		p := "/System/Library/Frameworks/WebKit.framework/Versions/A/XPCServices/com.apple.WebKit.WebContent.xpc/Contents/MacOS/com.apple.WebKit.WebContent"
		return []step{xpc("com.apple.WebKit.WebContent"), {kind: evExec, user: 501, img: g.image(p), argv: []string{p}, envAdd: []string{"XPC_SERVICE_NAME=com.apple.WebKit.WebContent", "XPC_FLAGS=0x0"}}}
	case r < 9:
		p := "/System/Library/Frameworks/QuickLookThumbnailing.framework/Support/com.apple.quicklook.ThumbnailsAgent"
		return []step{xpc("com.apple.quicklook.ThumbnailsAgent"), {kind: evExec, user: 501, img: g.image(p), argv: []string{p}, envAdd: []string{"XPC_SERVICE_NAME=com.apple.quicklook.ThumbnailsAgent"}}}
	default:
		return []step{xpc("com.apple.ReportCrash"), g.ex("/System/Library/CoreServices/ReportCrash", "/System/Library/CoreServices/ReportCrash")}
	}
}

func (g *gen) shellChild(parent *proc) []step {
	home := "/Users/alice"
	if parent.tok.ruid == 502 {
		home = "/Users/bob"
	}
	f := srcFiles[g.intn(len(srcFiles))]
	switch r := g.intn(100); {
	case r < 10:
		return []step{g.ex("/bin/ls", "ls", g.pick("-la", "-G", "-lh", "-1", "-laG"), g.pick(".", "src", home+"/Downloads", "build", "internal/detect"))}
	case r < 22:
		var argv []string
		switch g.intn(6) {
		case 0:
			argv = []string{"git", "status"}
		case 1:
			argv = []string{"git", "diff", "--stat"}
		case 2:
			argv = []string{"git", "log", "--oneline", "-20"}
		case 3:
			argv = []string{"git", "fetch", "origin"}
		case 4:
			argv = []string{"git", "commit", "-m", "wip: " + f}
		default:
			argv = []string{"git", "add", "src/" + f + ".c"}
		}
		s := g.shim("git", argv...)
		s[1].spawn, s[1].budget = kGit, g.intn(3)
		return s
	case r < 28:
		return g.shim("python3", "python3", g.pick("scripts/plot.py", "-m", "manage.py"), g.pick("--help", "pip", "runserver", "data/"+f+".csv"))
	case r < 34:
		return []step{{kind: evExec, img: g.image("/opt/homebrew/Cellar/node/22.9.0/bin/node"), argv: []string{"node", "/opt/homebrew/bin/npm", "run", g.pick("build", "test", "lint", "dev")},
			dyld: "/opt/homebrew/bin/node", spawn: kNode, budget: g.intn(4)}}
	case r < 38:
		s := g.shim("make", "make", "-j8", g.pick("all", "test", "install"))
		s[1].spawn, s[1].budget = kMake, 2+g.intn(12)
		return s
	case r < 44:
		return g.shim("clang", "clang", "-O2", "-c", "src/"+f+".c", "-o", "build/"+f+".o")
	case r < 58:
		switch g.intn(8) {
		case 0:
			return []step{g.ex("/bin/cat", "cat", "src/"+f+".c")}
		case 1:
			return []step{g.ex("/usr/bin/grep", "grep", "-rn", g.pick("TODO", "func New", "errors.Is", "malloc"), "src")}
		case 2:
			return []step{g.ex("/usr/bin/sed", "sed", "-n", "1,40p", "src/"+f+".c")}
		case 3:
			return []step{g.ex("/usr/bin/head", "head", "-n", "20", "README.md")}
		case 4:
			return []step{g.ex("/usr/bin/wc", "wc", "-l", "src/"+f+".c")}
		case 5:
			return []step{g.ex("/usr/bin/tail", "tail", "-f", "/var/log/install.log")}
		case 6:
			return []step{g.ex("/usr/bin/find", "find", ".", "-name", "*.go", "-newer", "go.mod")}
		default:
			return []step{g.ex("/bin/ps", "ps", "aux")}
		}
	case r < 62:
		return []step{g.ex("/usr/bin/vim", "vim", "src/"+f+".c")}
	case r < 65:
		return []step{g.ex("/usr/bin/curl", "curl", "-fsSL", "https://api.github.com/repos/firewarden/firewarden/releases/latest")}
	case r < 67:
		return []step{g.ex("/usr/bin/ssh", "ssh", g.pick("build01.internal", "git@github.com", "pi@192.168.1.20"))}
	case r < 70:
		return []step{g.ex("/usr/bin/xcrun", "xcrun", "--show-sdk-path"), g.ex("/usr/bin/xcrun", "xcrun", "--show-sdk-path")}
	case r < 73:
		return []step{g.ex("/opt/homebrew/Cellar/go/1.23.2/libexec/bin/go", "go", g.pick("build", "test", "vet"), "./...")}
	case r < 75:
		return []step{g.ex("/opt/homebrew/Cellar/ripgrep/14.1.1/bin/rg", "rg", g.pick("TODO", "panic(", "fmt.Errorf"), "-n")}
	case r < 77:
		return append([]step{g.ex("/usr/bin/env", "env", "PYTHONPATH=src", "python3", "-m", "pytest", "-q")}, g.shim("python3", "python3", "-m", "pytest", "-q")...)
	case r < 79:
		return []step{{kind: evExec, img: g.image("/bin/bash"), argv: []string{"/bin/bash", "/opt/homebrew/Library/Homebrew/brew.sh", g.pick("update", "upgrade", "outdated", "list")},
			script: g.dir("/opt/homebrew/Library/Homebrew/brew.sh", 501), dyld: "/opt/homebrew/bin/brew", spawn: kScript, budget: 1 + g.intn(3)}}
	case r < 81:
		return []step{g.ex("/usr/bin/defaults", "defaults", "read", g.pick("com.apple.dock", "-g", "com.apple.finder"), g.pick("autohide", "AppleInterfaceStyle", "ShowPathbar"))}
	case r < 82:
		switch g.intn(3) {
		case 0:
			return []step{g.ex("/bin/launchctl", "launchctl", "list")}
		case 1:
			return []step{g.ex("/bin/launchctl", "launchctl", "print", "gui/501/com.apple.Dock.agent")}
		default:
			return []step{g.ex("/bin/launchctl", "launchctl", "managername")}
		}
	case r < 83:
		return []step{g.ex("/usr/bin/plutil", "plutil", "-p", "build/Info.plist")}
	case r < 84:
		return []step{g.ex("/usr/libexec/PlistBuddy", "/usr/libexec/PlistBuddy", "-c", "Print :CFBundleShortVersionString", "build/App.app/Contents/Info.plist")}
	case r < 85:
		return []step{g.ex("/usr/bin/killall", "killall", g.pick("Dock", "Finder", "SystemUIServer"))}
	case r < 87:
		return []step{g.ex("/usr/bin/open", "open", "-a", g.pick("Safari", "Preview", "Xcode"), g.pick(".", "README.md", "docs/index.html"))}
	case r < 89:
		return []step{g.ex("/usr/bin/uname", "uname", "-a")}
	case r < 91:
		return []step{g.ex("/usr/bin/which", "which", g.pick("python3", "node", "go", "brew"))}
	case r < 93:
		return []step{g.ex("/usr/sbin/sysctl", "sysctl", "-n", g.pick("hw.ncpu", "machdep.cpu.brand_string", "kern.osversion"))}
	case r < 95:
		return []step{g.ex("/usr/bin/codesign", "codesign", "-dv", "--verbose=4", "build/App.app")}
	case r < 97:
		return []step{g.ex("/usr/bin/tar", "tar", "-czf", "/tmp/"+f+".tgz", "src")}
	default:
		return []step{g.ex("/bin/rm", "rm", "-rf", "build/"+f+".o")}
	}
}

// specialLife returns the k-th positive (tag 1) or look-alike (tag 2).
func (g *gen) specialLife(tag, k int) *life {
	var st step
	if tag == 1 {
		switch k % 5 {
		case 0:
			st = g.ex("/usr/libexec/ApplicationFirewall/socketfilterfw", "/usr/libexec/ApplicationFirewall/socketfilterfw", "--setglobalstate", "off")
		case 1:
			st = g.ex("/sbin/pfctl", "pfctl", "-d")
		case 2:
			st = g.ex("/sbin/pfctl", "pfctl", "-Fa")
		case 3:
			st = g.ex("/usr/bin/defaults", "defaults", "write", "/Library/Preferences/com.apple.alf", "globalstate", "-int", "0")
		default:
			st = g.ex("/bin/launchctl", "launchctl", "bootout", "system/com.apple.alf.agent")
		}
	} else {
		switch k % 3 {
		case 0:
			st = g.ex("/usr/libexec/ApplicationFirewall/socketfilterfw", "/usr/libexec/ApplicationFirewall/socketfilterfw", "--getglobalstate")
		case 1:
			st = g.ex("/sbin/pfctl", "pfctl", "-s", "rules")
		default:
			st = g.ex("/usr/bin/defaults", "defaults", "read", "/Library/Preferences/com.apple.alf", "globalstate")
		}
	}
	st.tag = tag
	parent := g.rootShell
	if k%2 == 1 {
		parent = g.jamfScript
	}
	return g.maybeQuiet(g.lifeFrom(parent, []step{st, {kind: evExit}}))
}
