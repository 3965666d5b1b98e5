package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/firewarden/firewarden/internal/config"
)

// guardRun runs `firewarden ARGS…` as runCLI does, with the effective user id euid.
func guardRun(t *testing.T, euid int, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	a := &app{Streams: Streams{In: strings.NewReader(""), Out: &out, Err: &errb}, getenv: func(string) string { return "" },
		now: time.Now, euid: func() int { return euid }}
	err := a.dispatch(context.Background(), args)
	var ue *usageError
	code := 0
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.As(err, &ue):
		fmt.Fprintf(&errb, "firewarden: %s\n", ue.msg)
		code = 2
	default:
		fmt.Fprintf(&errb, "firewarden: %s\n", oneLine(err.Error()))
		code = 2
	}
	return out.String(), errb.String(), code
}

// guard --print-config prints the guard section in effect, each value with where it came from,
// and what it prints is a configuration file that reads back to the same guard configuration.
func TestGuardPrintConfig(t *testing.T) {
	root := linuxRoot(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "firewarden.yaml")
	os.WriteFile(cfg, []byte("state_dir: /srv/fw\nguard:\n  threshold:\n    failures: 4\n  allowlist: [192.0.2.10]\n"), 0o644)
	for _, tt := range []struct {
		name   string
		args   []string
		golden string
	}{
		{"defaults", []string{"--root", root, "guard", "--print-config"}, "guard-print-config-default.golden"},
		{"file and flag", []string{"--root", root, "--config", cfg, "guard", "--print-config", "--backend", "none"}, "guard-print-config-file.golden"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, errs, code := runCLI(t, nil, tt.args...)
			if code != 0 || errs != "" {
				t.Fatalf("firewarden %q = exit %d, stderr %q", tt.args, code, errs)
			}
			golden(t, tt.golden, strings.ReplaceAll(out, dir, "DIR"))
			f, err := config.Parse("printed", []byte(out))
			if err != nil {
				t.Fatalf("the printed configuration does not parse: %v\n%s", err, out)
			}
			want, _, err := readConfigFor(t, tt.args)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want.Guard, f.Guard, prefixEq); diff != "" {
				t.Errorf("printed configuration is not the one in effect (-want +got):\n%s", diff)
			}
		})
	}
}

// readConfigFor reads the configuration file args name (or the defaults) as the CLI does, with
// --backend applied as guard --print-config applies it.
func readConfigFor(t *testing.T, args []string) (*config.File, string, error) {
	t.Helper()
	f := config.Default()
	for i, a := range args {
		if a == "--config" {
			data, err := os.ReadFile(args[i+1])
			if err != nil {
				return nil, "", err
			}
			if f, err = config.Parse(args[i+1], data); err != nil {
				return nil, "", err
			}
		}
	}
	for i, a := range args {
		if a == "--backend" {
			f.Guard.Backend = args[i+1]
		}
	}
	return f, "", nil
}

func TestGuardCheckConfig(t *testing.T) {
	root := linuxRoot(t)
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.yaml", "guard:\n  threshold:\n    failures: 4\n    window: 10m\n  ban:\n    time: 1h\n    max_time: 2d\n  backend: none\n")
	bad := write("bad.yaml", "guard:\n  threshold:\n    failures: 4\n    windw: 10m\n")
	badDuration := write("dur.yaml", "guard:\n  ban:\n    time: soon\n")
	oldGuard := write("guard.yaml", "threshold:\n  failures: 4\n")
	def := filepath.Join(root, "etc/firewarden/firewarden.yaml")
	const sys = "/etc/firewarden/firewarden.yaml" // as messages name the default file
	tests := []struct {
		name     string
		args     []string
		defaults string // contents of the default file under the root; "" for none
		code     int
		out, err string
	}{
		{"defaults without a file", []string{"guard", "--check-config"}, "", 0,
			"guard configuration OK (no file at " + sys + ", the defaults): ban after 10 failures (mode normal) in 30m for 15m (doubling up to 7d); at most 100000 bans, 60 per 1m; 0 extra allowlist entries; the OS default sources; the default backend\n", ""},
		{"the default file", []string{"guard", "--check-config"}, "guard:\n  threshold: {failures: 6}\n", 0,
			"guard configuration OK (" + sys + "): ban after 6 failures (mode normal) in 30m for 15m (doubling up to 7d); at most 100000 bans, 60 per 1m; 0 extra allowlist entries; the OS default sources; the default backend\n", ""},
		{"a bad default file", []string{"guard", "--check-config"}, "guard:\n  threshold: {failures: 0}\n", 2, "",
			"firewarden: " + sys + ":2: threshold.failures \"0\": give a number of failures above 0 and at most 10000, e.g. 10\n"},
		{"--config", []string{"guard", "--check-config", "--config", good}, "", 0,
			"guard configuration OK (" + good + "): ban after 4 failures (mode normal) in 10m for 1h (doubling up to 2d); at most 100000 bans, 60 per 1m; 0 extra allowlist entries; the OS default sources; none\n", ""},
		{"--config before the command", []string{"--config", good, "guard", "--check-config"}, "", 0,
			"guard configuration OK (" + good + "): ban after 4 failures (mode normal) in 10m for 1h (doubling up to 2d); at most 100000 bans, 60 per 1m; 0 extra allowlist entries; the OS default sources; none\n", ""},
		{"unknown key", []string{"guard", "--check-config", "--config", bad}, "", 2, "",
			"firewarden: " + bad + ":4: unknown key \"windw\" under threshold; the keys are failures, window\n"},
		{"bad duration", []string{"guard", "--check-config", "--config", badDuration}, "", 2, "",
			"firewarden: " + badDuration + ":3: ban.time \"soon\": give a duration such as 30s, 15m, 2h or 7d\n"},
		{"an old guard.yaml", []string{"guard", "--check-config", "--config", oldGuard}, "", 2, "",
			"firewarden: " + oldGuard + ":1: threshold is a guard setting: put it under `guard:`, indented (every key of an old guard.yaml goes under guard:)\n"},
		{"missing --config file", []string{"guard", "--check-config", "--config", filepath.Join(dir, "nope.yaml")}, "", 2, "",
			"firewarden: configuration file " + filepath.Join(dir, "nope.yaml") + " does not exist; create it (`firewarden config print` prints every key) or leave --config out\n"},
		{"an argument", []string{"guard", "guard.yaml"}, "", 2, "",
			"firewarden: guard takes no arguments (got \"guard.yaml\"); its settings are the guard: section of the configuration file (--config FILE)\n"},
		{"bad backend", []string{"guard", "--backend", "iptables", "--config", good}, "", 2, "",
			"firewarden: --backend \"iptables\": use nft, pf, dry-run or none\n"},
		{"bad backend, printed", []string{"guard", "--print-config", "--backend", "iptables"}, "", 2, "",
			"firewarden: --backend \"iptables\": use nft, pf, dry-run or none\n"},
		{"bad backend, checked", []string{"guard", "--check-config", "--backend", "iptables"}, "", 2, "",
			"firewarden: --backend \"iptables\": use nft, pf, dry-run or none\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			os.Remove(def)
			if tt.defaults != "" {
				os.MkdirAll(filepath.Dir(def), 0o755)
				if err := os.WriteFile(def, []byte(tt.defaults), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			out, errs, code := guardRun(t, 0, append([]string{"--root", root, "--state-dir", t.TempDir()}, tt.args...)...)
			if code != tt.code || out != tt.out || errs != tt.err {
				t.Errorf("firewarden %q = exit %d\nstdout %q\nstderr %q\nwant exit %d\nstdout %q\nstderr %q", tt.args, code, out, errs, tt.code, tt.out, tt.err)
			}
		})
	}
}

func TestGuardNeedsRootForTheKernel(t *testing.T) {
	if _, err := os.Stat("/etc/os-release"); err != nil {
		t.Skip("this machine has no /etc/os-release; the test runs the guard against the real root of a Linux host")
	}
	_, errs, code := guardRun(t, 501, "--state-dir", t.TempDir(), "guard", "--backend", "nft", "--config", "/dev/null")
	if code != 2 || !strings.Contains(errs, "run it as root") {
		t.Errorf("guard --backend nft as a user = exit %d, stderr %q; want exit 2 asking for root", code, errs)
	}
}

// lockedBuffer is an output stream the test reads while the guard writes it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// waitFor polls cond until it holds or the deadline passes. The guard follows a real file
// with inotify, which a fake clock cannot drive; the deadline is generous for a busy machine
// and the test ends as soon as the condition holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestGuardRunsOnAFile is the whole command: a configuration with a file source under a fake
// root, the dry-run backend, failures appended to the file, SIGHUP and SIGTERM.
func TestGuardRunsOnAFile(t *testing.T) {
	root := linuxRoot(t)
	state := t.TempDir()
	os.MkdirAll(filepath.Join(root, "var/log"), 0o755)
	logPath := filepath.Join(root, "var/log/auth.log")
	if err := os.WriteFile(logPath, []byte("Mar  1 11:00:00 box sshd[1]: Server listening on 0.0.0.0 port 22.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(t.TempDir(), "firewarden.yaml")
	writeCfg := func(failures int) {
		body := fmt.Sprintf("guard:\n  sources:\n    - type: file\n      path: /var/log/auth.log\n  threshold:\n    failures: %d\n  allowlist: [192.0.2.0/24]\n", failures)
		if err := os.WriteFile(cfgPath, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeCfg(3)
	sigs := make(chan os.Signal, 1)
	ctx := withSignals(context.Background(), sigs)
	var out, errb lockedBuffer
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, []string{"--root", root, "--state-dir", state, "guard", "--config", cfgPath, "--backend", "dry-run"},
			Streams{In: strings.NewReader(""), Out: &out, Err: &errb}, func(string) string { return "" })
	}()
	waitFor(t, "the guard to start", func() bool { return strings.Contains(errb.String(), "guard: started: ban after 3 failures") })

	f, err := os.OpenFile(logPath, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pid := 100
	fails := func(addr string) {
		pid++
		fmt.Fprintf(f, "Mar  1 12:00:00 box sshd[%d]: Failed password for invalid user admin from %s port %d ssh2\n", pid, addr, 40000+pid)
	}
	// The source reads the file from its end once it has opened it: lines written before
	// that are not read, so failures are written until the ban shows.
	waitFor(t, "the ban of 203.0.113.9", func() bool {
		fails("192.0.2.7") // allowlisted: never banned
		fails("203.0.113.9")
		time.Sleep(20 * time.Millisecond)
		return strings.Contains(out.String(), "dry-run: would add 203.0.113.9")
	})
	if strings.Contains(out.String(), "192.0.2.7") || strings.Contains(errb.String(), "banned 192.0.2.7") {
		t.Errorf("the allowlisted address was banned:\n%s\n%s", out.String(), errb.String())
	}
	if !strings.Contains(errb.String(), "guard: banned 203.0.113.9 for 15m") {
		t.Errorf("stderr lacks the ban line:\n%s", errb.String())
	}

	waitFor(t, "the ban to be saved", func() bool {
		data, _ := os.ReadFile(filepath.Join(state, "block.json"))
		return bytes.Contains(data, []byte(`"prefix":"203.0.113.9/32"`))
	})
	// `firewarden block allow` while the guard runs: the guard lifts its ban from the kernel.
	if out, errs, code := runCLI(t, nil, "--root", root, "--state-dir", state, "block", "allow", "203.0.113.9", "--backend", "dry-run"); code != 0 {
		t.Fatalf("block allow = exit %d\n%s%s", code, out, errs)
	}
	waitFor(t, "the guard to lift the ban", func() bool { return strings.Contains(out.String(), "dry-run: would remove 203.0.113.9") })

	writeCfg(5)
	sigs <- syscall.SIGHUP
	waitFor(t, "the reload", func() bool {
		return strings.Contains(errb.String(), "reloaded the configuration: ban after 5 failures")
	})
	os.WriteFile(cfgPath, []byte("guard:\n  threshold:\n    failures: -1\n"), 0o644)
	sigs <- syscall.SIGHUP
	waitFor(t, "the failed reload", func() bool {
		return strings.Contains(errb.String(), "reload failed, the running configuration stays: "+cfgPath+":3: threshold.failures")
	})

	sigs <- syscall.SIGTERM
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("guard exit %d after SIGTERM, want 0\nstderr:\n%s", code, errb.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("guard did not stop after SIGTERM")
	}
	data, err := os.ReadFile(filepath.Join(state, "block.json"))
	if err != nil || !bytes.Contains(data, []byte(`"prefix":"203.0.113.9/32","count":1`)) || !bytes.Contains(data, []byte(`"action":"allow","prefix":"203.0.113.9/32"`)) {
		t.Errorf("block.json after stop (%v):\n%s\nwant 203.0.113.9 an offender once, and allowlisted", err, data)
	}
}

func TestGuardDamagedState(t *testing.T) {
	root, state := linuxRoot(t), t.TempDir()
	os.WriteFile(filepath.Join(state, "block.json"), []byte("{\"version\":1,\"bans\":[{"), 0o600)
	cfg := filepath.Join(t.TempDir(), "firewarden.yaml")
	os.WriteFile(cfg, []byte("guard:\n  sources: [{type: file, path: /var/log/auth.log}]\n"), 0o644)
	out, errs, code := runCLI(t, nil, "--root", root, "--state-dir", state, "guard", "--config", cfg, "--backend", "dry-run")
	if code != 2 || strings.Count(errs, "\n") != 1 || !strings.HasPrefix(errs, "firewarden: guard: block state "+state+"/block.json is damaged: ") || !strings.HasSuffix(errs, "move it aside to start over\n") {
		t.Errorf("guard over a damaged block.json = exit %d\nstdout %q\nstderr %q\nwant exit 2 and one line saying to move it aside", code, out, errs)
	}
}
