package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/firewarden/firewarden/internal/fleet/store"
)

// cli runs the command line against one shared fake store.
type cli struct {
	st    *fakeStore
	opens []string
}

func (c *cli) run(t *testing.T, ctx context.Context, ready func(string), args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &Env{Streams: Streams{Out: &out, Err: &errb}, Ready: ready,
		Open: func(_ context.Context, target string) (store.Store, error) {
			c.opens = append(c.opens, target)
			return c.st, nil
		}}
	code = Main(ctx, args, e)
	return code, out.String(), errb.String()
}

func TestInitPrintsWhatServeUses(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	c := &cli{st: newFakeStore()}
	code, out, errs := c.run(t, context.Background(), nil, "init", "--data-dir", dir, "--listen", "127.0.0.1:0", "--json")
	if code != 0 {
		t.Fatalf("init = %d, stderr %s", code, errs)
	}
	var res initResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("init --json output %q: %v", out, err)
	}
	if !strings.HasPrefix(res.AdminToken, PrefixToken) || !strings.HasPrefix(res.EnrollSecret, PrefixEnroll) ||
		!regexp.MustCompile(`^SHA256:[0-9a-f]{64}$`).MatchString(res.Fingerprint) || res.URL != "https://127.0.0.1:0" {
		t.Errorf("init printed %+v", res)
	}
	if diff := filepath.Join(dir, SQLiteFile); len(c.opens) != 1 || c.opens[0] != diff {
		t.Errorf("init opened %v, want [%s]", c.opens, diff)
	}
	for path, want := range map[string]os.FileMode{dir: 0o700 | os.ModeDir, filepath.Join(dir, KeyFile): 0o600, filepath.Join(dir, ConfigFile): 0o600} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Errorf("mode of %s = %v, want %v", path, fi.Mode(), want)
		}
	}
	// The token and the secret are stored hashed, and init is the actor.
	ctx := context.Background()
	tok, err := c.st.TokenByHash(ctx, Hash(res.AdminToken))
	if err != nil || tok.Role != store.RoleAdmin {
		t.Errorf("admin token in the store = %+v, %v", tok, err)
	}
	if _, err := c.st.EnrollSecretByHash(ctx, Hash(res.EnrollSecret)); err != nil {
		t.Errorf("enroll secret in the store: %v", err)
	}
	for _, a := range c.st.audit {
		if a.Actor != "init" {
			t.Errorf("audit entry %+v, want actor init", a)
		}
	}
	if len(c.st.audit) != 2 {
		t.Errorf("audit entries after init = %d, want 2", len(c.st.audit))
	}

	// A second init of the same directory is refused, changing nothing.
	code, out, errs = c.run(t, ctx, nil, "init", "--data-dir", dir)
	if code != 2 || out != "" || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, "already holds a server") {
		t.Errorf("second init = %d, stdout %q, stderr %q; want 2 and one line", code, out, errs)
	}

	// serve presents the certificate whose fingerprint init printed, valid for 127.0.0.1.
	sctx, cancel := context.WithCancel(ctx)
	addrc := make(chan string, 1)
	done := make(chan int, 1)
	var serveErr string
	go func() {
		code, _, errs := c.run(t, sctx, func(a string) { addrc <- a }, "serve", "--data-dir", dir)
		serveErr = errs
		done <- code
	}()
	var addr string
	select {
	case addr = <-addrc:
	case code := <-done:
		t.Fatalf("serve exited %d: %s", code, serveErr)
	}
	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	seen := Fingerprint(conn.ConnectionState().PeerCertificates[0].Raw)
	conn.Close()
	if seen != res.Fingerprint {
		t.Errorf("fingerprint a client sees = %s, init printed %s", seen, res.Fingerprint)
	}
	der, err := leafDER(filepath.Join(dir, CertFile))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	cert, _ := x509.ParseCertificate(der)
	pool.AddCert(cert)
	for _, host := range []string{"127.0.0.1", "localhost"} {
		_, port, _ := strings.Cut(addr, ":")
		cl := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
		resp, err := cl.Get("https://" + host + ":" + port + "/api/v1/policies")
		if err != nil {
			t.Errorf("verified TLS to %s: %v", host, err)
			continue
		}
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Errorf("GET policies without a token = %d, want 401", resp.StatusCode)
		}
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("serve after cancel = %d, stderr %s", code, serveErr)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop when its context ended")
	}
	if !strings.Contains(serveErr, "listening on https://"+addr+", fingerprint "+res.Fingerprint) {
		t.Errorf("serve stderr %q lacks the listening line", serveErr)
	}
}

func TestInitTextOutput(t *testing.T) {
	dir := t.TempDir()
	c := &cli{st: newFakeStore()}
	code, out, errs := c.run(t, context.Background(), nil, "init", "--data-dir", dir, "--listen", "fleet.example:8443")
	if code != 0 {
		t.Fatalf("init = %d: %s", code, errs)
	}
	re := regexp.MustCompile(`^url            https://fleet\.example:8443\nfingerprint    SHA256:[0-9a-f]{64}\nadmin_token    fwa_[A-Za-z0-9_-]{43}\nenroll_secret  fwe_[A-Za-z0-9_-]{43}\n$`)
	if !re.MatchString(out) {
		t.Errorf("init output:\n%s\nwant it to match %s", out, re)
	}
}

func TestInitWithGivenCertificate(t *testing.T) {
	dir := t.TempDir()
	certPEM, keyPEM, der, err := SelfSigned([]string{"fleet.example"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cf, kf := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	os.WriteFile(cf, certPEM, 0o600)
	os.WriteFile(kf, keyPEM, 0o600)
	c := &cli{st: newFakeStore()}
	code, out, errs := c.run(t, context.Background(), nil, "init", "--data-dir", filepath.Join(dir, "d"), "--cert", cf, "--key", kf, "--json")
	if code != 0 {
		t.Fatalf("init = %d: %s", code, errs)
	}
	var res initResult
	json.Unmarshal([]byte(out), &res)
	if res.Fingerprint != Fingerprint(der) {
		t.Errorf("fingerprint = %s, want the given certificate's %s", res.Fingerprint, Fingerprint(der))
	}
	if _, err := os.Stat(filepath.Join(dir, "d", KeyFile)); err == nil {
		t.Errorf("init wrote a key of its own although --key was given")
	}
}

func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	c := &cli{st: newFakeStore()}
	if code, _, errs := c.run(t, context.Background(), nil, "init", "--data-dir", dir); code != 0 {
		t.Fatalf("init = %d: %s", code, errs)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown command", []string{"serv"}, `unknown command "serv" (did you mean serve?)`},
		{"unknown verb", []string{"token", "revok"}, `unknown verb "revok" (did you mean revoke?)`},
		{"far from every command", []string{"deploy"}, `unknown command "deploy"; commands:`},
		{"unknown flag", []string{"init", "--datadir", "x"}, "flag provided but not defined"},
		{"insecure on every address", []string{"serve", "--data-dir", dir, "--insecure-http", "--listen", ":8080"}, "only on a loopback address"},
		{"no server.yaml", []string{"serve", "--data-dir", filepath.Join(dir, "nope")}, "firewarden-server init"},
		{"cert without key", []string{"init", "--data-dir", t.TempDir(), "--cert", "c.pem"}, "--cert and --key together"},
		{"sqlite db flag", []string{"init", "--data-dir", t.TempDir(), "--db", "fleet.db"}, "postgres://"},
		{"token without name", []string{"token", "create", "--data-dir", dir}, "--name is required"},
		{"token bad role", []string{"token", "create", "--data-dir", dir, "--name", "x", "--role", "root"}, "want admin or auditor"},
		{"token without verb", []string{"token"}, "needs a verb: create, revoke"},
		{"revoke unknown", []string{"token", "revoke", "--data-dir", dir, "nope"}, `no token with id "nope"`},
		{"revoke without id", []string{"secret", "revoke", "--data-dir", dir}, "takes one ID"},
		{"flag before command", []string{"--json", "init"}, "flags follow the command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := c.run(t, context.Background(), nil, tt.args...)
			if code != 2 || out != "" || strings.Count(errs, "\n") != 1 || !strings.HasPrefix(errs, "firewarden-server: ") || !strings.Contains(errs, tt.want) {
				t.Errorf("Main(%q) = %d, stdout %q, stderr %q; want 2 and one line containing %q", tt.args, code, out, errs, tt.want)
			}
		})
	}
}

func TestTokenAndSecretCommands(t *testing.T) {
	dir := t.TempDir()
	c := &cli{st: newFakeStore()}
	ctx := context.Background()
	if code, _, errs := c.run(t, ctx, nil, "init", "--data-dir", dir); code != 0 {
		t.Fatalf("init = %d: %s", code, errs)
	}
	code, out, errs := c.run(t, ctx, nil, "token", "create", "--data-dir", dir, "--name", "ci", "--role", "auditor", "--json")
	if code != 0 {
		t.Fatalf("token create = %d: %s", code, errs)
	}
	var tok createdJSON
	json.Unmarshal([]byte(out), &tok)
	got, err := c.st.TokenByHash(ctx, Hash(tok.Token))
	if err != nil || got.Role != store.RoleAuditor || got.ID != tok.ID {
		t.Fatalf("stored token = %+v, %v; printed %+v", got, err, tok)
	}
	if code, _, errs := c.run(t, ctx, nil, "token", "create", "--data-dir", dir, "--name", "ci"); code != 2 || !strings.Contains(errs, "exists") {
		t.Errorf("duplicate token name = %d %q, want 2", code, errs)
	}
	if code, _, errs := c.run(t, ctx, nil, "token", "revoke", "--data-dir", dir, tok.ID); code != 0 {
		t.Fatalf("token revoke = %d: %s", code, errs)
	}
	if got, _ := c.st.TokenByHash(ctx, Hash(tok.Token)); got.RevokedAt.IsZero() {
		t.Errorf("token not revoked")
	}
	code, out, errs = c.run(t, ctx, nil, "secret", "create", "--data-dir", dir, "--name", "berlin", "--label", "office, laptop")
	if code != 0 {
		t.Fatalf("secret create = %d: %s", code, errs)
	}
	m := regexp.MustCompile(`^id      (\S+)\nsecret  (fwe_\S+)\n$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("secret create printed %q", out)
	}
	sec, err := c.st.EnrollSecretByHash(ctx, Hash(m[2]))
	if err != nil || sec.ID != m[1] || strings.Join(sec.Labels, ",") != "office,laptop" {
		t.Errorf("stored secret = %+v, %v", sec, err)
	}
	if code, _, errs := c.run(t, ctx, nil, "secret", "revoke", m[1], "--data-dir", dir); code != 0 {
		t.Fatalf("secret revoke = %d: %s", code, errs)
	}
	var actions []string
	for _, a := range c.st.audit {
		if strings.HasPrefix(a.Actor, "cli:") {
			actions = append(actions, a.Action)
		}
	}
	if strings.Join(actions, " ") != "token.create token.revoke secret.create secret.revoke" {
		t.Errorf("audited console actions = %v", actions)
	}
}

func TestHelpAndVersion(t *testing.T) {
	c := &cli{st: newFakeStore()}
	tests := []struct {
		args []string
		want string
	}{
		{nil, "Commands:\n  init"},
		{[]string{"--help"}, "Commands:"},
		{[]string{"help", "serve"}, "--insecure-http"},
		{[]string{"serve", "--help"}, "Usage: firewarden-server serve [FLAGS]"},
		{[]string{"help", "token", "create"}, "--role ROLE"},
		{[]string{"token", "--help"}, "Verbs:\n  create"},
		{[]string{"--version"}, "firewarden-server "},
		{[]string{"version"}, "firewarden-server "},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, out, errs := c.run(t, context.Background(), nil, tt.args...)
			if code != 0 || errs != "" || !strings.Contains(out, tt.want) {
				t.Errorf("Main(%q) = %d, stderr %q, stdout:\n%s\nwant it to contain %q", tt.args, code, errs, out, tt.want)
			}
		})
	}
	// Every command has a help page with examples.
	for _, cmd := range commands() {
		chains := [][]string{{cmd.name}}
		for _, v := range cmd.verbs {
			chains = append(chains, []string{cmd.name, v.name})
		}
		for _, ch := range chains {
			_, out, _ := c.run(t, context.Background(), nil, append([]string{"help"}, ch...)...)
			if !strings.Contains(out, "Examples:") {
				t.Errorf("help %s has no examples:\n%s", strings.Join(ch, " "), out)
			}
		}
	}
}
