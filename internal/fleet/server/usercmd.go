package server

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/firewarden/firewarden/internal/fleet/store"
)

func userAddFlags(fs *flag.FlagSet) {
	dataDirFlags(fs)
	fs.String("role", "", "`ROLE`: admin, or auditor (read only); required")
}

func userListFlags(fs *flag.FlagSet) {
	dataDirFlags(fs)
	fs.Bool("json", false, "print the accounts as JSON")
}

// validUserName: names appear in the audit log and in URLs of the dashboard, so they are kept
// to characters that need no quoting anywhere.
func validUserName(name string) bool {
	if name == "" || len(name) > 64 {
		return false
	}
	for _, r := range name {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._-@", r)
		if !ok {
			return false
		}
	}
	return true
}

// userArg checks that args is one valid account name.
func userArg(verb string, args []string) (string, error) {
	if len(args) != 1 {
		return "", usagef("user %s takes one account NAME", verb)
	}
	if !validUserName(args[0]) {
		return "", usagef("user %s: name %q: use 1 to 64 letters, digits, '.', '_', '-' or '@'", verb, args[0])
	}
	return args[0], nil
}

// readPassword reads one line from e.In and hashes it. At a terminal it prompts on stderr and
// turns the echo off while the line is typed.
func readPassword(e *Env, verb, name string) (string, error) {
	line, err := readPasswordLine(e, verb, name)
	if err != nil {
		return "", err
	}
	h, err := HashPassword(line)
	if err != nil {
		return "", usagef("user %s: %v", verb, err)
	}
	return h, nil
}

// readPasswordLine reads the password: one line from e.In, not empty.
func readPasswordLine(e *Env, verb, name string) (string, error) {
	if f, ok := e.In.(*os.File); ok {
		if restore, ok := echoOff(f); ok {
			fmt.Fprintf(e.Err, "password for %s: ", name)
			defer func() {
				restore()
				fmt.Fprintln(e.Err) // the Enter typed was not echoed either
			}()
		}
	}
	var line string
	if e.In != nil {
		// Read a little past the limit: a longer line is refused, not cut.
		r := bufio.NewReader(io.LimitReader(e.In, MaxPasswordLen+3))
		var err error
		line, err = r.ReadString('\n')
		if err != nil && err != io.EOF {
			return "", fmt.Errorf("user %s: read the password from stdin: %w", verb, err)
		}
	}
	line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if line == "" {
		return "", usagef("user %s: no password on stdin; give it as one line", verb)
	}
	return line, nil
}

func runUserAdd(ctx context.Context, e *Env, fs *flag.FlagSet, args []string) error {
	name, err := userArg("add", args)
	if err != nil {
		return err
	}
	role := str(fs, "role")
	if role != store.RoleAdmin && role != store.RoleAuditor {
		return usagef("user add: --role %q, want admin or auditor", role)
	}
	pw, err := readPasswordLine(e, "add", name)
	if err != nil {
		return err
	}
	// Check the password before opening the store, so that a short one is refused first.
	if err := checkPassword(pw); err != nil {
		return usagef("user add: %v", err)
	}
	st, err := openDataDir(ctx, e, fs)
	if err != nil {
		return err
	}
	defer st.Close()
	var bad *badInput
	switch err := addUser(ctx, st, cliActor(), name, role, pw, e.Now().UTC()); {
	case errors.Is(err, store.ErrConflict):
		return usagef("user add: an account named %q exists; choose another name, or use user passwd", name)
	case errors.As(err, &bad):
		return usagef("user add: %v", bad)
	case err != nil:
		return err
	}
	fmt.Fprintf(e.Err, "firewarden-server: user %s added (%s)\n", name, role)
	return nil
}

// addUser is the write path of a new dashboard account, for the command line and the
// dashboard: it checks the name, role and password, hashes the password and stores the user as
// actor. ErrConflict: the name is taken.
func addUser(ctx context.Context, st store.Store, actor, name, role, password string, now time.Time) error {
	switch {
	case !validUserName(name):
		return &badInput{fmt.Sprintf("name %q: use 1 to 64 letters, digits, '.', '_', '-' or '@'", name)}
	case role != store.RoleAdmin && role != store.RoleAuditor:
		return &badInput{fmt.Sprintf("role %q, want admin or auditor", role)}
	}
	hash, err := HashPassword(password)
	if err != nil {
		return &badInput{err.Error()}
	}
	return st.AddUser(ctx, store.User{Name: name, Role: role, PasswordHash: hash, CreatedAt: now}, actor)
}

func runUserPasswd(ctx context.Context, e *Env, fs *flag.FlagSet, args []string) error {
	name, err := userArg("passwd", args)
	if err != nil {
		return err
	}
	hash, err := readPassword(e, "passwd", name)
	if err != nil {
		return err
	}
	st, err := openDataDir(ctx, e, fs)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.SetUserPassword(ctx, name, hash, cliActor(), e.Now().UTC()); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return usagef("user passwd: no account named %q (see user list)", name)
		}
		return err
	}
	fmt.Fprintf(e.Err, "firewarden-server: password of %s changed\n", name)
	return nil
}

func runUserDisable(ctx context.Context, e *Env, fs *flag.FlagSet, args []string) error {
	name, err := userArg("disable", args)
	if err != nil {
		return err
	}
	st, err := openDataDir(ctx, e, fs)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.DisableUser(ctx, name, cliActor(), e.Now().UTC()); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return usagef("user disable: no account named %q (see user list)", name)
		}
		return err
	}
	fmt.Fprintf(e.Err, "firewarden-server: user %s disabled\n", name)
	return nil
}

type userJSON struct {
	Name       string     `json:"name"`
	Role       string     `json:"role"`
	CreatedAt  time.Time  `json:"created_at"`
	DisabledAt *time.Time `json:"disabled_at,omitempty"`
}

func runUserList(ctx context.Context, e *Env, fs *flag.FlagSet, args []string) error {
	if len(args) > 0 {
		return usagef("user list takes no arguments, got %q", args[0])
	}
	st, err := openDataDir(ctx, e, fs)
	if err != nil {
		return err
	}
	defer st.Close()
	users, err := st.Users(ctx)
	if err != nil {
		return err
	}
	if boolFlag(fs, "json") {
		out := []userJSON{}
		for _, u := range users {
			j := userJSON{Name: u.Name, Role: u.Role, CreatedAt: u.CreatedAt.UTC()}
			if !u.DisabledAt.IsZero() {
				d := u.DisabledAt.UTC()
				j.DisabledAt = &d
			}
			out = append(out, j)
		}
		enc := json.NewEncoder(e.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	tw := tabwriter.NewWriter(e.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tROLE\tCREATED\tDISABLED")
	for _, u := range users {
		disabled := "-"
		if !u.DisabledAt.IsZero() {
			disabled = u.DisabledAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", u.Name, u.Role, u.CreatedAt.UTC().Format(time.RFC3339), disabled)
	}
	return tw.Flush()
}
