package input

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
)

// benchPaths are ordinary images for the generated stream: none of them interests the
// detector.
var benchPaths = []string{
	"/bin/ls", "/bin/cat", "/bin/ps", "/bin/date", "/bin/mkdir", "/bin/rm", "/bin/cp", "/bin/mv",
	"/usr/bin/git", "/usr/bin/xcrun", "/usr/bin/sed", "/usr/bin/awk", "/usr/bin/grep", "/usr/bin/find",
	"/usr/bin/sw_vers", "/usr/bin/uname", "/usr/bin/whoami", "/usr/bin/id", "/usr/bin/stat",
	"/usr/sbin/sysctl", "/usr/sbin/ioreg", "/usr/sbin/scutil", "/usr/libexec/xpcproxy",
	"/usr/libexec/path_helper", "/opt/homebrew/bin/node", "/opt/homebrew/bin/python3.12",
	"/Applications/Xcode.app/Contents/Developer/usr/bin/make",
	"/Applications/Visual Studio Code.app/Contents/Frameworks/Code Helper (Plugin).app/Contents/MacOS/Code Helper (Plugin)",
	"/System/Library/Frameworks/CoreServices.framework/Versions/A/Frameworks/Metadata.framework/Versions/A/Support/mdworker_shared",
	"/usr/local/bin/terraform", "/Library/Apple/System/Library/CoreServices/XProtect.app/Contents/MacOS/XProtect",
}

// benchCorpus writes n eslogger exec lines shaped like testdata/eslogger-v9-macos15-exec.json
// (mullvad's macOS 15 sample) with varied pids, images and arguments, then the SYNTHETIC
// socketfilterfw exec, the one line Interesting accepts. It returns the stream and its lines.
func benchCorpus(n int) ([]byte, int) {
	tmpl, err := os.ReadFile("testdata/eslogger-v9-macos15-exec.json")
	if err != nil {
		panic(err)
	}
	tmpl = bytes.TrimSpace(tmpl)
	positive, err := os.ReadFile("testdata/SYNTHETIC-eslogger-v9-exec-socketfilterfw-off.json")
	if err != nil {
		panic(err)
	}
	var b bytes.Buffer
	for i := range n {
		path := benchPaths[i%len(benchPaths)]
		esc := strings.ReplaceAll(path, "/", `\/`)
		pid := 20000 + i%20000
		r := strings.NewReplacer(
			"97391", fmt.Sprint(pid),
			"58916", fmt.Sprint(10000+i%97),
			`"args":["\/bin\/connection-checker"]`, fmt.Sprintf(`"args":["%s","--flag=%d","arg %d"]`, esc, i, i),
			`\/bin\/connection-checker`, esc,
			"connection_checker-04fde7bdb8bceee3", "com.example."+strings.ToLower(strings.ReplaceAll(path[strings.LastIndexByte(path, '/')+1:], " ", "-")),
			`"global_seq_num":75`, fmt.Sprintf(`"global_seq_num":%d`, 1000+i),
		)
		b.WriteString(r.Replace(string(tmpl)))
		b.WriteByte('\n')
	}
	b.Write(bytes.TrimSpace(positive))
	b.WriteByte('\n')
	return b.Bytes(), n + 1
}

// benchInteresting is a detector's prefilter: the names of the firewall tools and settings,
// without slashes (eslogger escapes them).
func benchInteresting(line []byte) bool {
	return bytes.Contains(line, []byte("socketfilterfw")) || bytes.Contains(line, []byte("pfctl")) ||
		bytes.Contains(line, []byte("com.apple.alf"))
}

// repeater reads b over and over.
type repeater struct {
	b []byte
	i int
}

func (r *repeater) Read(p []byte) (int, error) {
	n := copy(p, r.b[r.i:])
	r.i = (r.i + n) % len(r.b)
	return n, nil
}

// BenchmarkReaderEslogger reads a stream of unrelated eslogger exec lines, one interesting
// line in 1,001: each op reads 1,000 skipped lines and returns the interesting one. ns/line
// and MB/s are per line read. "needles" is a detector's prefilter (three bytes.Contains over
// each line, a cost of its own); "reader" a prefilter that costs nothing, which shows what the
// reader itself costs.
func BenchmarkReaderEslogger(b *testing.B) {
	const skipped = 1000
	corpus, lines := benchCorpus(skipped)
	_, last, _ := bytes.Cut(bytes.TrimSpace(corpus), []byte("\n"))
	for len(bytes.TrimSpace(last)) > 0 && bytes.Contains(last, []byte("\n")) {
		_, last, _ = bytes.Cut(last, []byte("\n"))
	}
	positive := len(bytes.TrimSpace(last))
	for _, bb := range []struct {
		name        string
		interesting func([]byte) bool
	}{
		{"needles", benchInteresting},
		{"reader", func(line []byte) bool { return len(line) == positive }},
	} {
		b.Run(bb.name, func(b *testing.B) {
			r := NewReader(&repeater{b: corpus}, "bench", Options{Interesting: bb.interesting})
			if _, err := r.Next(); err != nil { // fill the table
				b.Fatal(err)
			}
			b.SetBytes(int64(len(corpus)))
			b.ReportAllocs()
			for b.Loop() {
				ev, err := r.Next()
				if err != nil || ev.Kind != "exec" {
					b.Fatal(ev, err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*lines), "ns/line")
			b.ReportMetric(float64(len(corpus))/float64(lines), "B/line")
		})
	}
}

// BenchmarkReaderEsloggerDecodeAll is the same stream with every line decoded in full
// (Interesting nil), for comparison.
func BenchmarkReaderEsloggerDecodeAll(b *testing.B) {
	corpus, lines := benchCorpus(1000)
	b.SetBytes(int64(len(corpus)))
	b.ReportAllocs()
	for b.Loop() {
		r := NewReader(bytes.NewReader(corpus), "bench", Options{})
		for {
			if _, err := r.Next(); err == io.EOF {
				break
			} else if err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*lines), "ns/line")
}
