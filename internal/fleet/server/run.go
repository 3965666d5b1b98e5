package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/firewarden/firewarden/internal/fleet/store"
)

type initResult struct {
	URL          string `json:"url"`
	Fingerprint  string `json:"fingerprint"`
	AdminToken   string `json:"admin_token"`
	EnrollSecret string `json:"enroll_secret"`
	DataDir      string `json:"data_dir"`
}

func runInit(ctx context.Context, e *Env, fs *flag.FlagSet, args []string) error {
	if len(args) > 0 {
		return usagef("init takes no arguments, got %q", args[0])
	}
	dir, db, listen := str(fs, "data-dir"), str(fs, "db"), str(fs, "listen")
	certIn, keyIn := str(fs, "cert"), str(fs, "key")
	if (certIn == "") != (keyIn == "") {
		return usagef("init: give --cert and --key together")
	}
	if _, _, err := net.SplitHostPort(listen); err != nil {
		return usagef("--listen %q: want HOST:PORT or :PORT", listen)
	}
	if db != "" && !isPostgres(db) {
		return usagef("--db %q: want a postgres:// URL (SQLite needs no --db: it lives in the data directory)", db)
	}
	for _, f := range []string{ConfigFile, SQLiteFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			return usagef("%s already holds a server (%s); serve it with `firewarden-server serve --data-dir %s`, or give another --data-dir", dir, f, dir)
		}
	}
	now := e.Now().UTC()

	var der []byte
	var certPEM, keyPEM []byte
	if certIn != "" {
		pair, err := tls.LoadX509KeyPair(certIn, keyIn)
		if err != nil {
			return usagef("--cert/--key: %v", err)
		}
		der = pair.Certificate[0]
	} else {
		var err error
		certPEM, keyPEM, der, err = SelfSigned(HostNames(), now)
		if err != nil {
			return err
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "tls"), 0o700); err != nil {
		return fmt.Errorf("create the data directory: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("create the data directory: %w", err)
	}
	cfg := fileConfig{Listen: listen, DB: db, Cert: CertFile, Key: KeyFile, RetentionDays: DefaultRetentionDays}
	if certIn != "" {
		// Point at the files given, so that renewing them (ACME, a CA) needs no copy.
		a, _ := filepath.Abs(certIn)
		b, _ := filepath.Abs(keyIn)
		cfg.Cert, cfg.Key = a, b
	} else {
		if err := writeFileAtomic(filepath.Join(dir, KeyFile), keyPEM, 0o600); err != nil {
			return fmt.Errorf("write the TLS key: %w", err)
		}
		if err := writeFileAtomic(filepath.Join(dir, CertFile), certPEM, 0o644); err != nil {
			return fmt.Errorf("write the TLS certificate: %w", err)
		}
	}

	st, err := e.Open(ctx, dbTarget(dir, db))
	if err != nil {
		return fmt.Errorf("open the database: %w", err)
	}
	defer st.Close()
	if target := dbTarget(dir, db); !isPostgres(target) {
		// The database holds every host's posture: as private as the key beside it.
		if err := os.Chmod(target, 0o600); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	token, secret := NewSecret(PrefixToken), NewSecret(PrefixEnroll)
	if err := st.AddToken(ctx, store.Token{ID: NewUUIDv7(now), Name: "admin", Role: store.RoleAdmin, Hash: Hash(token), CreatedAt: now}, "init"); err != nil {
		return fmt.Errorf("store the admin token: %w", err)
	}
	if err := st.AddEnrollSecret(ctx, store.EnrollSecret{ID: NewUUIDv7(now), Name: "default", Hash: Hash(secret), CreatedAt: now}, "init"); err != nil {
		return fmt.Errorf("store the enroll secret: %w", err)
	}
	// server.yaml last: its presence says init finished.
	if err := writeConfig(dir, cfg); err != nil {
		return fmt.Errorf("write %s: %w", ConfigFile, err)
	}
	res := initResult{URL: publicURL(listen), Fingerprint: Fingerprint(der), AdminToken: token, EnrollSecret: secret, DataDir: dir}
	if boolFlag(fs, "json") {
		enc := json.NewEncoder(e.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	fmt.Fprintf(e.Out, "url            %s\nfingerprint    %s\nadmin_token    %s\nenroll_secret  %s\n", res.URL, res.Fingerprint, res.AdminToken, res.EnrollSecret)
	fmt.Fprintf(e.Err, "firewarden-server: created %s; the admin token and the enroll secret are shown only now\n", dir)
	return nil
}

// publicURL is the URL agents use for a listen address: its host, or this host's name when it
// listens on every address.
func publicURL(listen string) string {
	host, port, _ := net.SplitHostPort(listen)
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host, _ = os.Hostname()
		if host == "" {
			host = "localhost"
		}
	}
	return "https://" + net.JoinHostPort(host, port)
}

func runServe(ctx context.Context, e *Env, fs *flag.FlagSet, args []string) error {
	if len(args) > 0 {
		return usagef("serve takes no arguments, got %q", args[0])
	}
	dir := str(fs, "data-dir")
	cfg, err := readConfig(dir)
	if err != nil {
		return err
	}
	listen, db := cfg.Listen, cfg.DB
	if isSet(fs, "listen") {
		listen = str(fs, "listen")
	}
	if isSet(fs, "db") {
		db = str(fs, "db")
	}
	if listen == "" {
		listen = DefaultListen
	}
	insecure := boolFlag(fs, "insecure-http")
	if insecure && !loopback(listen) {
		return usagef("--insecure-http serves plain HTTP, so only on a loopback address (--listen 127.0.0.1:PORT); %q is not one", listen)
	}
	proxies, err := ParseTrustedProxies(str(fs, "trusted-proxy"))
	if err != nil {
		return err
	}
	var tlsConf *tls.Config
	var fingerprint string
	if !insecure {
		pair, err := tls.LoadX509KeyPair(inDir(dir, cfg.Cert), inDir(dir, cfg.Key))
		if err != nil {
			return fmt.Errorf("load the TLS key pair: %w", err)
		}
		fingerprint = Fingerprint(pair.Certificate[0])
		tlsConf = &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
	}
	st, err := e.Open(ctx, dbTarget(dir, db))
	if err != nil {
		return fmt.Errorf("open the database: %w", err)
	}
	defer st.Close()

	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	log := slog.New(slog.NewTextHandler(e.Err, nil))
	opts := Options{Now: e.Now, Log: log, TrustedProxies: proxies}
	notifier, crossReplica := st.(Notifier)
	if crossReplica {
		opts.Bus = NotifyBus{notifier}
	}
	srv := New(st, opts)
	if crossReplica {
		go func() {
			if err := srv.ListenNudges(ctx, notifier); err != nil {
				log.Error("listen for nudges from other replicas", "err", err)
			}
		}()
	}
	hs := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	hs.RegisterOnShutdown(srv.Close)
	scheme := "https"
	if insecure {
		scheme = "http"
	} else {
		hs.TLSConfig = tlsConf
		ln = tls.NewListener(ln, tlsConf)
	}
	addr := ln.Addr().String()
	if fingerprint != "" {
		fmt.Fprintf(e.Err, "firewarden-server: listening on %s://%s, fingerprint %s\n", scheme, addr, fingerprint)
	} else {
		fmt.Fprintf(e.Err, "firewarden-server: listening on %s://%s (plain HTTP, loopback only)\n", scheme, addr)
	}

	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	go srv.housekeeping(ctx, time.Duration(cfg.RetentionDays)*24*time.Hour)
	if e.Ready != nil {
		e.Ready(addr)
	}
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	fmt.Fprintln(e.Err, "firewarden-server: shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("shut down: %w", err)
	}
	return nil
}

// housekeeping prunes run records past the retention period and expired dashboard sessions,
// hourly; with several replicas on one database, only the replica holding the job's advisory
// lock does.
func (s *Server) housekeeping(ctx context.Context, retention time.Duration) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		s.prune(ctx, retention)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Server) prune(ctx context.Context, retention time.Duration) {
	if l, ok := s.st.(Locker); ok {
		unlock, held, err := l.TryAdvisoryLock(ctx, lockKey("prune"))
		if err != nil || !held {
			return // another replica prunes, or the database is away: next hour
		}
		defer unlock()
	}
	if n, err := s.st.Prune(ctx, s.now().Add(-retention)); err != nil && ctx.Err() == nil {
		s.log.Warn("prune old runs", "err", err)
	} else if n > 0 {
		s.log.Info("pruned old runs", "runs", n)
	}
	// Dashboard sessions past their absolute end; idle ones end at the latest there too.
	if n, err := s.st.PruneSessions(ctx, s.now()); err != nil && ctx.Err() == nil {
		s.log.Warn("prune expired dashboard sessions", "err", err)
	} else if n > 0 {
		s.log.Info("pruned expired dashboard sessions", "sessions", n)
	}
}

// loopback reports whether a listen address is on a loopback interface only.
func loopback(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// openDataDir opens the store of an initialised data directory, for the admin commands.
func openDataDir(ctx context.Context, e *Env, fs *flag.FlagSet) (store.Store, error) {
	dir := str(fs, "data-dir")
	cfg, err := readConfig(dir)
	if err != nil {
		return nil, err
	}
	st, err := e.Open(ctx, dbTarget(dir, cfg.DB))
	if err != nil {
		return nil, fmt.Errorf("open the database: %w", err)
	}
	return st, nil
}

type createdJSON struct {
	ID     string   `json:"id"`
	Name   string   `json:"name"`
	Role   string   `json:"role,omitempty"`
	Labels []string `json:"labels,omitempty"`
	Token  string   `json:"token,omitempty"`
	Secret string   `json:"secret,omitempty"`
}

func printCreated(e *Env, fs *flag.FlagSet, c createdJSON) error {
	if boolFlag(fs, "json") {
		enc := json.NewEncoder(e.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(c)
	}
	fmt.Fprintf(e.Out, "id      %s\n", c.ID)
	if c.Token != "" {
		fmt.Fprintf(e.Out, "token   %s\n", c.Token)
	} else {
		fmt.Fprintf(e.Out, "secret  %s\n", c.Secret)
	}
	return nil
}

func runTokenCreate(ctx context.Context, e *Env, fs *flag.FlagSet, args []string) error {
	if len(args) > 0 {
		return usagef("token create takes no arguments, got %q", args[0])
	}
	name, role := str(fs, "name"), str(fs, "role")
	if name == "" {
		return usagef("token create: --name is required (the audit log names actions by it)")
	}
	if role != store.RoleAdmin && role != store.RoleAuditor {
		return usagef("token create: --role %q, want admin or auditor", role)
	}
	st, err := openDataDir(ctx, e, fs)
	if err != nil {
		return err
	}
	defer st.Close()
	t, tok, err := createToken(ctx, st, cliActor(), name, role, e.Now().UTC())
	if err != nil {
		if errors.Is(err, store.ErrConflict) {
			return usagef("token create: a token named %q exists; choose another name", name)
		}
		return err
	}
	return printCreated(e, fs, createdJSON{ID: t.ID, Name: name, Role: role, Token: tok})
}

func runSecretCreate(ctx context.Context, e *Env, fs *flag.FlagSet, args []string) error {
	if len(args) > 0 {
		return usagef("secret create takes no arguments, got %q", args[0])
	}
	name := str(fs, "name")
	if name == "" {
		return usagef("secret create: --name is required")
	}
	var labels []string
	for _, l := range strings.Split(str(fs, "label"), ",") {
		if l = strings.TrimSpace(l); l != "" {
			labels = append(labels, l)
		}
	}
	st, err := openDataDir(ctx, e, fs)
	if err != nil {
		return err
	}
	defer st.Close()
	s, sec, err := createEnrollSecret(ctx, st, cliActor(), name, labels, e.Now().UTC())
	if err != nil {
		if errors.Is(err, store.ErrConflict) {
			return usagef("secret create: a secret named %q exists; choose another name", name)
		}
		return err
	}
	return printCreated(e, fs, createdJSON{ID: s.ID, Name: name, Labels: labels, Secret: sec})
}

// createToken is the write path of a new API token, for the command line and the dashboard:
// it returns the token as stored and its secret, which exists only in this answer (the store
// keeps its hash). ErrConflict: the name is taken.
func createToken(ctx context.Context, st store.Store, actor, name, role string, now time.Time) (store.Token, string, error) {
	switch {
	case strings.TrimSpace(name) == "":
		return store.Token{}, "", &badInput{"name: required (the audit log names actions by it)"}
	case role != store.RoleAdmin && role != store.RoleAuditor:
		return store.Token{}, "", &badInput{fmt.Sprintf("role: %q, want admin or auditor", role)}
	}
	tok := NewSecret(PrefixToken)
	t := store.Token{ID: NewUUIDv7(now), Name: name, Role: role, Hash: Hash(tok), CreatedAt: now}
	if err := st.AddToken(ctx, t, actor); err != nil {
		return store.Token{}, "", err
	}
	return t, tok, nil
}

// createEnrollSecret is the write path of a new enroll secret, for the command line and the
// dashboard: it returns the secret as stored and its value, which exists only in this answer.
// ErrConflict: the name is taken.
func createEnrollSecret(ctx context.Context, st store.Store, actor, name string, labels []string, now time.Time) (store.EnrollSecret, string, error) {
	if strings.TrimSpace(name) == "" {
		return store.EnrollSecret{}, "", &badInput{"name: required"}
	}
	sec := NewSecret(PrefixEnroll)
	s := store.EnrollSecret{ID: NewUUIDv7(now), Name: name, Hash: Hash(sec), Labels: labels, CreatedAt: now}
	if err := st.AddEnrollSecret(ctx, s, actor); err != nil {
		return store.EnrollSecret{}, "", err
	}
	return s, sec, nil
}

func runTokenRevoke(ctx context.Context, e *Env, fs *flag.FlagSet, args []string) error {
	return revoke(ctx, e, fs, args, "token", func(st store.Store, id string) error {
		return st.RevokeToken(ctx, id, cliActor(), e.Now().UTC())
	})
}

func runSecretRevoke(ctx context.Context, e *Env, fs *flag.FlagSet, args []string) error {
	return revoke(ctx, e, fs, args, "secret", func(st store.Store, id string) error {
		return st.RevokeEnrollSecret(ctx, id, cliActor(), e.Now().UTC())
	})
}

func revoke(ctx context.Context, e *Env, fs *flag.FlagSet, args []string, what string, do func(store.Store, string) error) error {
	if len(args) != 1 {
		return usagef("%s revoke takes one ID (printed by %s create)", what, what)
	}
	st, err := openDataDir(ctx, e, fs)
	if err != nil {
		return err
	}
	defer st.Close()
	switch err := do(st, args[0]); {
	case errors.Is(err, store.ErrNotFound):
		return usagef("%s revoke: no %s with id %q", what, what, args[0])
	case errors.Is(err, store.ErrRevoked):
		return usagef("%s revoke: %s %q is already revoked", what, what, args[0])
	case err != nil:
		return err
	}
	fmt.Fprintf(e.Err, "firewarden-server: %s %s revoked\n", what, args[0])
	return nil
}

// leafDER reads the first certificate of a PEM file, for tests and tools comparing fingerprints.
func leafDER(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	b, _ := pem.Decode(data)
	if b == nil || b.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%s: no PEM certificate", path)
	}
	if _, err := x509.ParseCertificate(b.Bytes); err != nil {
		return nil, err
	}
	return b.Bytes, nil
}
