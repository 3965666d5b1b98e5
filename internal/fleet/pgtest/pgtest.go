// Package pgtest runs a throwaway PostgreSQL cluster for tests, from the server binaries
// installed on the machine, and hands each test a fresh database in it.
//
// One cluster serves a whole test binary: initdb is the slow part (about a second), so it runs
// once, on the first Start, and Main stops the server and removes its directory after the
// tests. The cluster listens only on a unix socket in its own temporary directory (no TCP port
// to clash with another package's cluster), with fsync off (unless $FIREWARDEN_PG_DURABLE is
// set): its data is thrown away.
//
// PostgreSQL refuses to run as root, so when the tests run as root (as they do here and in CI)
// initdb and postgres run as the unprivileged user "nobody", owning the temporary directory.
//
// Use it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
//
//	func TestSomething(t *testing.T) {
//		url := pgtest.Start(t) // skips when no PostgreSQL is installed
//		…
//	}
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvBin names a directory holding initdb and postgres, overriding the search.
const EnvBin = "FIREWARDEN_PG_BIN"

// EnvDurable, when set, keeps PostgreSQL's durability settings (fsync, synchronous commit,
// full page writes) as a production server has them, for benchmarks whose figures must
// include the cost of every commit reaching the disk. Tests leave them off.
const EnvDurable = "FIREWARDEN_PG_DURABLE"

// SkipMessage is why tests skip on a machine without PostgreSQL.
const SkipMessage = "no PostgreSQL server binaries (initdb) found; install postgresql (CI does) or set " + EnvBin + "=DIR"

// errNoBinaries is the one start failure that skips rather than fails.
var errNoBinaries = errors.New(SkipMessage)

// The cluster of this test binary. Package state is the point here: TestMain and the tests
// share one server without threading it through every test.
var (
	mu       sync.Mutex
	running  *cluster
	failed   error // the first start's error, repeated to every later Start
	usedMain bool
	dbCount  int
)

// Main runs the tests and then stops the cluster, if one was started, and removes its files.
// It returns m.Run's exit code, for os.Exit.
func Main(m *testing.M) int {
	mu.Lock()
	usedMain = true
	mu.Unlock()
	code := m.Run()
	mu.Lock()
	defer mu.Unlock()
	if running != nil {
		if err := running.stop(); err != nil {
			fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
		}
		running = nil
	}
	return code
}

// Start returns the URL of a new, empty database for this test, starting the cluster on first
// use. It skips the test when no PostgreSQL server binaries are installed and fails it when
// they are but the cluster does not start. The database is not dropped: it goes with the cluster.
func Start(t testing.TB) string {
	t.Helper()
	url, err := newDatabase()
	if errors.Is(err, errNoBinaries) {
		t.Skip(SkipMessage)
	}
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return url
}

func newDatabase() (string, error) {
	mu.Lock()
	defer mu.Unlock()
	if !usedMain {
		return "", errors.New("call os.Exit(pgtest.Main(m)) from TestMain, so that the cluster is stopped after the tests")
	}
	if failed != nil {
		return "", failed
	}
	if running == nil {
		c, err := start()
		if err != nil {
			failed = err
			return "", err
		}
		running = c
	}
	dbCount++
	name := fmt.Sprintf("test_%d", dbCount)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// The identifier is ours (test_N), so quoting it is enough.
	if _, err := running.admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		log, _ := os.ReadFile(filepath.Join(running.dir, "postgres.log"))
		return "", fmt.Errorf("create database %s: %w; postgres.log: %s", name, err, tail(log))
	}
	return running.url(name), nil
}

// cluster is a running postgres process and the connection used to create databases.
type cluster struct {
	dir   string // temporary directory: data/, the socket, postgres.log
	cmd   *exec.Cmd
	done  chan error // the postgres process's exit
	admin *pgx.Conn
}

const port = 5432 // only names the socket file (.s.PGSQL.5432) in our own directory

func (c *cluster) url(db string) string {
	return fmt.Sprintf("postgres://postgres@/%s?host=%s&port=%d&sslmode=disable", db, c.dir, port)
}

// BinDir finds the directory with initdb and postgres: $FIREWARDEN_PG_BIN, the newest
// /usr/lib/postgresql/N/bin (Debian, Ubuntu), or the directory of initdb on $PATH.
func BinDir() (string, error) {
	if d := os.Getenv(EnvBin); d != "" {
		if !isExec(filepath.Join(d, "initdb")) {
			return "", fmt.Errorf("%s=%s has no initdb: set it to the directory holding initdb and postgres", EnvBin, d)
		}
		return d, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	// Newest major version first: 9.6 < 10 < 15 compares as numbers, not as text.
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if isExec(filepath.Join(d, "initdb")) && isExec(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", errNoBinaries
}

func version(binDir string) float64 {
	v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(binDir)), 64)
	return v
}

func isExec(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

func start() (_ *cluster, err error) {
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	cred, err := unprivileged(dir)
	if err != nil {
		return nil, err
	}
	data := filepath.Join(dir, "data")
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "--auth=trust",
		"--no-locale", "--encoding=UTF8", "--no-sync", "--no-instructions")
	initdb.Dir = dir
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("%s: %v: %s", strings.Join(initdb.Args, " "), err, tail(out))
	}

	logPath := filepath.Join(dir, "postgres.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the child holds its own descriptor
	args := []string{"-D", data, "-k", dir, "-p", strconv.Itoa(port),
		"-c", "listen_addresses=",
		// Every test opens its own pool; several packages' tests may run at once.
		"-c", "max_connections=300"}
	if os.Getenv(EnvDurable) == "" {
		// Throwaway data: durability buys nothing and costs most of a test's time.
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	cmd := exec.Command(filepath.Join(bin, "postgres"), args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	setParentDeathSignal(cmd.SysProcAttr) // a killed test binary leaves no server behind
	c := &cluster{dir: dir, cmd: cmd, done: make(chan error, 1)}
	// The parent death signal follows the thread that forked postgres, not the process: were
	// that thread to end (Go ends a thread whose goroutine exits locked to it, as the netns
	// tests' goroutines do), postgres would be told to quit under the running tests. So the
	// fork happens on a thread kept by this goroutine until postgres exits.
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		c.done <- cmd.Wait()
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}

	// Wait until it accepts connections, or exits.
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		conn, cerr := pgx.Connect(ctx, c.url("postgres"))
		cancel()
		if cerr == nil {
			c.admin = conn
			return c, nil
		}
		select {
		case werr := <-c.done:
			log, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("postgres exited (%v): %s", werr, tail(log))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			c.stop()
			log, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("postgres did not accept connections within a minute: %v: %s", cerr, tail(log))
		}
	}
}

// stop shuts the server down (fast shutdown: SIGINT) and removes its directory.
func (c *cluster) stop() error {
	if c.admin != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		c.admin.Close(ctx)
		cancel()
	}
	c.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-c.done:
	case <-time.After(30 * time.Second):
		c.cmd.Process.Kill()
		<-c.done
	}
	return os.RemoveAll(c.dir)
}

// unprivileged returns the credential to run PostgreSQL with: nil (ourselves) unless we are
// root, then "nobody", who is given dir.
func unprivileged(dir string) (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		return nil, fmt.Errorf("running as root and PostgreSQL refuses root: no user nobody to run it as: %w", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("user nobody has a non-numeric uid %q or gid %q", u.Uid, u.Gid)
	}
	// nobody must be able to reach dir: a TMPDIR inside root's 0700 home would not do.
	for d := filepath.Dir(dir); ; d = filepath.Dir(d) {
		if fi, err := os.Stat(d); err == nil && fi.Mode().Perm()&0o001 == 0 {
			return nil, fmt.Errorf("running as root, PostgreSQL runs as nobody, who cannot enter %s: set TMPDIR to a directory everyone can enter, such as /tmp", d)
		}
		if d == filepath.Dir(d) {
			break
		}
	}
	if err := os.Chown(dir, int(uid), int(gid)); err != nil {
		return nil, err
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: false, Groups: []uint32{}}, nil
}

// tail is the end of a program's output, enough to say why it failed.
func tail(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 2000 {
		s = "…" + s[len(s)-2000:]
	}
	return s
}
