//go:build linux

package ruleset

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/firewarden/firewarden/internal/netnstest"
	"github.com/google/go-cmp/cmp"
)

// The corpus measurement loads real nftables rule sets written by others (nftables.conf files of
// routers, servers and desktops, gathered from public repositories; their sources and licences
// are in the corpus directory's SOURCES.md) and checks that Read and Analyse take each of them
// without an error or a panic, counting how many are fully modelled (no Note) and which Notes
// the others get. The files stay outside the repository (most have no licence that lets us
// copy them): point NFT_CORPUS at the directory of *.nft files to run it, as root:
//
//	NFT_CORPUS=/path/to/corpus/nft go test -run TestCorpus -v ./internal/posture/nftposture/ruleset

// corpusVerdicts are verdicts worked out by hand from a few of the corpus files, keyed by the
// file name's number prefix; each line is one family as corpusSummary writes it. The rule sets
// are described in words so that the table says why each verdict is what it is.
var corpusVerdicts = map[string]struct {
	why  string
	want []string
}{
	// slackware_nftables: input has no policy (accept); established, lo and ipv4 icmp are
	// accepted, then "counter drop" drops everything else, so the tcp accepts after it are
	// never reached and ipv6 ping is dropped.
	"28": {
		why: "a catch-all drop before the service rules shadows them",
		want: []string{
			"ipv4 tcp:drop udp:drop echo:accept open:-",
			"ipv6 tcp:drop udp:drop echo:drop open:-",
		},
	},
	// NftablesStrongDevSecOps (Nftables2): policy drop, a rate-limited log at the end; ssh, web
	// and dns new connections from anywhere; udp 67 and 68 for a sender choosing source port 68
	// or 67 (the sender chooses its source port: open from anywhere; two rules, so two entries);
	// icmp and icmpv6 accepted.
	"03": {
		why: "policy drop with a limited log; source-port rules are open to whoever picks that port",
		want: []string{
			"ipv4 tcp:drop(log,limited) udp:drop(log,limited) echo:accept open:22/tcp,53/tcp,80/tcp,443/tcp,53/udp,67/udp,68/udp",
			"ipv6 tcp:drop(log,limited) udp:drop(log,limited) echo:accept open:22/tcp,53/tcp,80/tcp,443/tcp,53/udp,67/udp,68/udp",
		},
	},
	// tor-relay-bootstrap: policy drop; tcp 22, 80, 443 from anywhere; ping accepted only
	// within 5/second (per-family chains through a meta protocol vmap).
	"35": {
		why: "policy drop, three tcp services, rate-limited ping",
		want: []string{
			"ipv4 tcp:drop udp:drop echo:accept open:22/tcp,80/tcp,443/tcp",
			"ipv6 tcp:drop udp:drop echo:accept open:22/tcp,80/tcp,443/tcp",
		},
	},
	// docker-swarm-ipv6-nftables: separate ip and ip6 filter tables, policy drop; tcp 22, 80,
	// 443 on both, udp 546 (dhcpv6 client) on ipv6 only; limited ping.
	"32": {
		why: "ip and ip6 tables with different services",
		want: []string{
			"ipv4 tcp:drop udp:drop echo:accept open:22/tcp,80/tcp,443/tcp",
			"ipv6 tcp:drop udp:drop echo:accept open:22/tcp,80/tcp,443/tcp,546/udp",
		},
	},
	// linux-wireless-router: only an ip table. input: ct state vmap, then "iifname vmap { lo :
	// accept, br0 : jump in_wired, wbr0 : jump in_wireless }", then policy drop. in_wired
	// answers limited ping and accepts "ip protocol . th dport vmap" tcp 22, 53 and udp 53, 67,
	// 123; in_wireless tcp 53 and udp 53, 67. So from an unnamed interface everything is
	// dropped, the services are open on br0 and wbr0 only, and ipv6 has no filter at all.
	"37": {
		why: "ipv4-only router: services behind an interface verdict map and a protocol.port verdict map",
		want: []string{
			"ipv4 tcp:drop udp:drop echo:drop open:22/tcp@br0,53/tcp@br0,53/tcp@wbr0,53/udp@br0,53/udp@wbr0,67/udp@br0,67/udp@wbr0,123/udp@br0",
			"ipv6 tcp:accept udp:accept echo:accept open:0-65535/tcp,0-65535/udp",
		},
	},
	// nftables (benrb3): inet main_filter input, policy drop, accepts "ip frag-off 0x4000"
	// (don't-fragment set, offset 0) before anything else: every unfragmented IPv4 packet with
	// DF, which the sender sets (Linux does by default), so IPv4 is open on every port. IPv6 has
	// no such rule: ssh, http, https for new connections, limited ping.
	"33": {
		why: "an accept on a header field the sender chooses opens IPv4 entirely",
		want: []string{
			"ipv4 tcp:accept udp:accept echo:accept open:0-65535/tcp,0-65535/udp",
			"ipv6 tcp:drop udp:drop echo:accept open:22/tcp,80/tcp,443/tcp",
		},
	},
	// maximbaz dotfiles: inet, policy drop; only established, lo, icmp and icmpv6 types
	// (neighbour discovery only with hop limit 255: nft merges "ip6 nexthdr icmpv6" and
	// "ip6 hoplimit 255" into one 16-bit compare) and a reject of tcp 113. Nothing is open.
	"45": {
		why: "policy drop; icmpv6 rules whose nexthdr and hoplimit matches nft merged into one load",
		want: []string{
			"ipv4 tcp:drop udp:drop echo:accept open:-",
			"ipv6 tcp:drop udp:drop echo:accept open:-",
		},
	},
	// router (dhenkes): inet filter input, policy drop; ping and icmpv6 echo accepted, neighbour
	// discovery only with hop limit 1 or 255 (merged by nft with the nexthdr match into one
	// 16-bit load), everything from br10, and udp 53, 67, 546 from anywhere. IPv6 is filtered
	// exactly like IPv4 for tcp and udp.
	"38": {
		why: "lan bridge open, three udp services; icmpv6 rules with hop limits",
		want: []string{
			"ipv4 tcp:drop udp:drop echo:accept open:0-65535/tcp@br10,0-52/udp@br10,53/udp,54-66/udp@br10,67/udp,68-545/udp@br10,546/udp,547-65535/udp@br10",
			"ipv6 tcp:drop udp:drop echo:accept open:0-65535/tcp@br10,0-52/udp@br10,53/udp,54-66/udp@br10,67/udp,68-545/udp@br10,546/udp,547-65535/udp@br10",
		},
	},
	// nftables-helper: policy drop; every rule ends in drop or reject: ping beyond 5/second is
	// dropped (within the rate it goes on), ssh, http, ftp rejected, http/https rejected at
	// night or beyond 10/minute, and the last rule logs and drops the rest. Nothing is open; the
	// unmatched packet and ping reach the logging drop.
	"46": {
		why: "rejects and a final logging drop: nothing open",
		want: []string{
			"ipv4 tcp:drop(log) udp:drop(log) echo:drop(log) open:-",
			"ipv6 tcp:drop(log) udp:drop(log) echo:drop(log) open:-",
		},
	},
	// Firewall-NFTable: policy drop; lo, ipv4 icmp (not icmpv6), established, tcp 22, 80, 443.
	"56": {
		why: "policy drop, three tcp services, ipv4 icmp only",
		want: []string{
			"ipv4 tcp:drop udp:drop echo:accept open:22/tcp,80/tcp,443/tcp",
			"ipv6 tcp:drop udp:drop echo:drop open:22/tcp,80/tcp,443/tcp",
		},
	},
	// ansible-role-base (joltcan): policy drop; ssh, http, https from anywhere; ping accepted.
	"42": {
		why: "the Arch wiki's server ruleset",
		want: []string{
			"ipv4 tcp:drop udp:drop echo:accept open:22/tcp,80/tcp,443/tcp",
			"ipv6 tcp:drop udp:drop echo:accept open:22/tcp,80/tcp,443/tcp",
		},
	},
}

// corpusSummary writes a family's verdicts on one line: the unmatched tcp and udp verdicts and
// ping's (with "(log)" or "(log,limited)"), then the open services (port/proto, "@iif" when
// bound to an interface, "<sources>" or "!<except>" when not from anywhere).
func corpusSummary(f Family) string {
	v := func(o Outcome) string {
		s := string(o.Verdict)
		switch {
		case o.Logged && o.LogLimited:
			s += "(log,limited)"
		case o.Logged:
			s += "(log)"
		}
		return s
	}
	var open []string
	for _, o := range f.Open {
		s := strconv.Itoa(int(o.From))
		if o.To != o.From {
			s += "-" + strconv.Itoa(int(o.To))
		}
		s += "/" + o.Proto
		if o.IIF != "" {
			s += "@" + o.IIF
		}
		if len(o.Sources) > 0 {
			s += fmt.Sprint(o.Sources)
		}
		if len(o.Except) > 0 {
			s += "!" + fmt.Sprint(o.Except)
		}
		open = append(open, s)
	}
	list := strings.Join(open, ",")
	if list == "" {
		list = "-"
	}
	return fmt.Sprintf("%s tcp:%s udp:%s echo:%s open:%s", f.Family, v(f.Unmatched), v(f.UnmatchedUDP), v(f.Echo), list)
}

// corpusErr matches nft's error location: "file:line:first-last: Error: what".
var corpusErr = regexp.MustCompile(`:(\d+):(\d+)-(\d+): Error: (.*)`)

// corpusLoad loads file into namespace fd with nft. Rule sets written for a particular host name
// its interfaces (iif "eth1"): nft refuses those unless the interface exists, so each one nft
// names is made (one end of a veth pair: veth is what the other kernel tests need anyway, dummy
// may be a module that is not there) and the load retried. It returns nft's complaint when nft
// refuses the file for another reason (a missing include, user or group, a syntax error).
func corpusLoad(t *testing.T, fd int, file string) (refused string) {
	t.Helper()
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(src), "\n")
	for try := range 8 {
		var out []byte
		err := netnstest.InNetNS(fd, func() error {
			var err error
			out, err = exec.Command("/usr/sbin/nft", "-f", file).CombinedOutput()
			return err
		})
		if err == nil {
			return ""
		}
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			t.Fatalf("nft -f %s: %v", file, err)
		}
		m := corpusErr.FindStringSubmatch(string(out))
		if m == nil || m[4] != "Interface does not exist" {
			return firstLine(string(out))
		}
		ln, _ := strconv.Atoi(m[1])
		from, _ := strconv.Atoi(m[2])
		to, _ := strconv.Atoi(m[3])
		if ln < 1 || ln > len(lines) || from < 1 || to > len(lines[ln-1]) || from > to {
			return firstLine(string(out))
		}
		name := strings.Trim(lines[ln-1][from-1:to], `"`)
		err = netnstest.InNetNS(fd, func() error {
			peer := fmt.Sprintf("corpuspeer%d", try)
			o, err := exec.Command(netnstest.IPPath(t), "link", "add", name, "type", "veth", "peer", "name", peer).CombinedOutput()
			if err != nil {
				return fmt.Errorf("ip link add %s type veth: %v: %s", name, err, o)
			}
			return nil
		})
		if err != nil {
			return firstLine(string(out)) + " (" + err.Error() + ")"
		}
	}
	return "still missing interfaces after 8 tries"
}

// firstLine is the line of nft's output that holds its error (the rest repeats the source line).
func firstLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, "Error:") {
			return strings.TrimSpace(l)
		}
	}
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

var corpusDigits = regexp.MustCompile(`[0-9]+`)

// corpusNoteKind groups notes: a note says "<expression>: <why>", the kind is the why with
// numbers blotted out (so that the notes on __map0 and __map1 go together).
func corpusNoteKind(what string) string {
	if _, why, ok := strings.Cut(what, ": "); ok {
		what = why
	}
	return corpusDigits.ReplaceAllString(what, "N")
}

// corpusAnalyse runs Read and Analyse, turning a panic into an error with its stack.
func corpusAnalyse(fd int) (a Analysis, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v\n%s", r, debug.Stack())
		}
	}()
	rs, err := Read(fd)
	if err != nil {
		return Analysis{}, fmt.Errorf("Read: %w", err)
	}
	_ = Format(rs) // the report prints it: it must not panic either
	return Analyse(rs), nil
}

func TestCorpus(t *testing.T) {
	dir := os.Getenv("NFT_CORPUS")
	if dir == "" {
		t.Skip("set NFT_CORPUS to a directory of *.nft rule sets (see corpus_test.go) and run as root")
	}
	if _, err := os.Stat("/usr/sbin/nft"); err != nil {
		t.Skip("needs /usr/sbin/nft: apt-get install nftables")
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.nft"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no *.nft files in NFT_CORPUS=%s (%v)", dir, err)
	}
	sort.Strings(files)
	var (
		refused  = map[string]string{}
		clean    []string
		noted    = map[string][]string{} // file: note texts
		kinds    = map[string]int{}      // kind: notes
		kindFile = map[string]map[string]bool{}
		failed   []string
		checked  []string
	)
	for _, file := range files {
		name := filepath.Base(file)
		t.Run(name, func(t *testing.T) {
			fd := netnstest.New(t, hint)
			if why := corpusLoad(t, fd, file); why != "" {
				refused[name] = why
				t.Skipf("nft refuses it: %s", why)
			}
			a, err := corpusAnalyse(fd)
			if err != nil {
				failed = append(failed, name)
				t.Fatalf("%s: %v", name, err)
			}
			if len(a.Notes) == 0 {
				clean = append(clean, name)
			}
			for _, n := range a.Notes {
				noted[name] = append(noted[name], n.Where.String()+": "+n.What)
				k := corpusNoteKind(n.What)
				kinds[k]++
				if kindFile[k] == nil {
					kindFile[k] = map[string]bool{}
				}
				kindFile[k][name] = true
			}
			var got []string
			for _, f := range a.Families {
				got = append(got, corpusSummary(f))
				t.Logf("%s", corpusSummary(f))
			}
			for _, n := range noted[name] {
				t.Logf("note: %s", n)
			}
			num, _, _ := strings.Cut(name, "-")
			if want, ok := corpusVerdicts[num]; ok {
				checked = append(checked, name)
				if diff := cmp.Diff(want.want, got); diff != "" {
					t.Errorf("Analyse(%s) (%s) mismatch (-want +got):\n%s", name, want.why, diff)
				}
			}
		})
	}
	loaded := len(files) - len(refused)
	var b strings.Builder
	fmt.Fprintf(&b, "files %d, nft refuses %d, loaded %d, fully modelled %d (%.0f%% of loaded), with notes %d, errors or panics %d, hand-checked %d\n",
		len(files), len(refused), loaded, len(clean), 100*float64(len(clean))/float64(max(loaded, 1)), len(noted), len(failed), len(checked))
	var rk []string
	for k := range refused {
		rk = append(rk, k)
	}
	sort.Strings(rk)
	for _, k := range rk {
		fmt.Fprintf(&b, "refused %s: %s\n", k, refused[k])
	}
	var ks []string
	for k := range kinds {
		ks = append(ks, k)
	}
	sort.Slice(ks, func(i, j int) bool {
		if kinds[ks[i]] != kinds[ks[j]] {
			return kinds[ks[i]] > kinds[ks[j]]
		}
		return ks[i] < ks[j]
	})
	for _, k := range ks {
		fmt.Fprintf(&b, "note kind (%d notes in %d files): %s\n", kinds[k], len(kindFile[k]), k)
	}
	t.Logf("corpus summary:\n%s", b.String())
}

// TestKernelCorpusLicensed checks the corpus files whose licence lets us keep them
// (testdata/corpus, MIT: see NOTICE there) against their hand-derived verdicts, so that those
// run on every test run as root, not only with NFT_CORPUS.
func TestKernelCorpusLicensed(t *testing.T) {
	if _, err := os.Stat("/usr/sbin/nft"); err != nil {
		t.Skip("needs /usr/sbin/nft: apt-get install nftables")
	}
	files, err := filepath.Glob(filepath.Join("testdata", "corpus", "*.nft"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata/corpus/*.nft (%v)", err)
	}
	for _, file := range files {
		name := filepath.Base(file)
		t.Run(name, func(t *testing.T) {
			num, _, _ := strings.Cut(name, "-")
			want, ok := corpusVerdicts[num]
			if !ok {
				t.Fatalf("no hand-derived verdict for %s in corpusVerdicts", name)
			}
			fd := netnstest.New(t, hint)
			if why := corpusLoad(t, fd, file); why != "" {
				t.Fatalf("nft -f %s: %s", name, why)
			}
			a, err := corpusAnalyse(fd)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			var got []string
			for _, f := range a.Families {
				got = append(got, corpusSummary(f))
			}
			if diff := cmp.Diff(want.want, got); diff != "" {
				t.Errorf("Analyse(%s) (%s) mismatch (-want +got):\n%s", name, want.why, diff)
			}
		})
	}
}
