package block

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestStoreRoundTrip(t *testing.T) {
	st := &Store{Dir: filepath.Join(t.TempDir(), "state")}
	s, err := st.Load()
	if err != nil || !s.Enabled || len(s.Bans) != 0 {
		t.Fatalf("Load of a missing file = %+v, %v; want an empty enabled state", s, err)
	}
	_, after, err := st.Edit(context.Background(), func(s *State) error {
		s.Allow(mp("192.0.2.1"), "router", SourceAutoconfigure, t0)
		s.Ban(BanRequest{Prefix: mp("2001:db8::/48"), Reason: "scan", Source: SourceCLI}, Policy{}, t0)
		s.Ban(BanRequest{Prefix: mp("198.51.100.7"), Forever: true, Source: SourceGuard}, Policy{}, t0)
		s.Enabled = false
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := st.Load()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(after, got, netipOpt); diff != "" {
		t.Errorf("Load after Edit (-want +got):\n%s", diff)
	}
	fi, err := os.Stat(st.Path())
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("state file mode = %v, %v; want 0600", fi.Mode(), err)
	}
}

func TestStoreFailedWriteKeepsTheOldFile(t *testing.T) {
	dir := t.TempDir()
	st := &Store{Dir: dir}
	if _, _, err := st.Edit(context.Background(), func(s *State) error {
		_, err := s.Ban(BanRequest{Prefix: mp("192.0.2.1")}, Policy{}, t0)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	old, _ := os.ReadFile(st.Path())

	// A writer that dies half way through, as a crash would: the real atomic writer never
	// exposes the partial file, so the injected one writes its half beside the state file.
	st.WriteFile = func(path string, data []byte, perm os.FileMode) error {
		os.WriteFile(path+".partial", data[:len(data)/2], perm)
		return errors.New("disk full")
	}
	before, after, err := st.Edit(context.Background(), func(s *State) error {
		s.Ban(BanRequest{Prefix: mp("192.0.2.2")}, Policy{}, t0)
		return nil
	})
	if err == nil || after != before {
		t.Fatalf("Edit with a failing writer = %v; want an error and the old state", err)
	}
	if now, _ := os.ReadFile(st.Path()); !bytes.Equal(now, old) {
		t.Errorf("state file changed after a failed write:\n%s", now)
	}

	// A failing change writes nothing either.
	st.WriteFile = nil
	_, _, err = st.Edit(context.Background(), func(s *State) error {
		s.Ban(BanRequest{Prefix: mp("192.0.2.3")}, Policy{}, t0)
		return errors.New("refused")
	})
	if err == nil {
		t.Fatal("Edit with a failing fn = nil error")
	}
	if now, _ := os.ReadFile(st.Path()); !bytes.Equal(now, old) {
		t.Errorf("state file changed after a failed change:\n%s", now)
	}

	// The real writer leaves no temporary file behind.
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name() != StateFile && e.Name() != LockFile && e.Name() != StateFile+".partial" {
			t.Errorf("stray file %s in the state directory", e.Name())
		}
	}
}

func TestStoreReadOnlyDirectory(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root writes into read-only directories; run as an ordinary user (TestStoreFailedWriteKeepsTheOldFile covers the failure through an injected writer)")
	}
	dir := t.TempDir()
	st := &Store{Dir: dir}
	st.Edit(context.Background(), func(s *State) error { return nil })
	old, _ := os.ReadFile(st.Path())
	os.Chmod(dir, 0o500)
	defer os.Chmod(dir, 0o700)
	_, _, err := st.Edit(context.Background(), func(s *State) error {
		s.Ban(BanRequest{Prefix: mp("192.0.2.2")}, Policy{}, t0)
		return nil
	})
	if err == nil {
		t.Fatal("Edit in a read-only directory succeeded")
	}
	if now, _ := os.ReadFile(st.Path()); !bytes.Equal(now, old) {
		t.Errorf("state file changed:\n%s", now)
	}
}

func TestStoreDamagedFile(t *testing.T) {
	st := &Store{Dir: t.TempDir()}
	for _, data := range []string{"{", `{"version": 9}`} {
		os.WriteFile(st.Path(), []byte(data), 0o600)
		if _, err := st.Load(); err == nil {
			t.Errorf("Load(%q) = nil error", data)
		}
		if _, _, err := st.Edit(context.Background(), func(*State) error { return nil }); err == nil {
			t.Errorf("Edit over %q = nil error", data)
		}
		if got, _ := os.ReadFile(st.Path()); string(got) != data {
			t.Errorf("Edit over a damaged file rewrote it to %q", got)
		}
	}
}

// TestStoreLock has two writers (the CLI and the daemon) add bans at once; without the lock
// one would overwrite the other's changes.
func TestStoreLock(t *testing.T) {
	dir := t.TempDir()
	const each = 40
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := &Store{Dir: dir} // each writer opens its own lock file descriptor
			for i := range each {
				_, _, err := st.Edit(context.Background(), func(s *State) error {
					p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(w), 0, byte(i)}), 32)
					_, err := s.Ban(BanRequest{Prefix: p, TTL: time.Hour}, Policy{}, t0)
					return err
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	s, err := (&Store{Dir: dir}).Load()
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Bans) != 2*each {
		t.Errorf("after two writers: %d bans, want %d", len(s.Bans), 2*each)
	}
}

func TestLoadNormalises(t *testing.T) {
	st := &Store{Dir: t.TempDir()}
	data := fmt.Sprintf(`{"version":1,"enabled":true,"bans":[
		{"prefix":"10.0.0.9/24","source":"cli","count":1,"first":%[1]q,"last":%[1]q},
		{"prefix":"::ffff:192.0.2.1/128","source":"cli","count":1,"first":%[1]q,"last":%[1]q}],
		"allowlist":[{"prefix":"::ffff:10.0.0.1/128","by":"cli","added":%[1]q}]}`, t0.Format(time.RFC3339))
	os.WriteFile(st.Path(), []byte(data), 0o600)
	s, err := st.Load()
	if err != nil {
		t.Fatal(err)
	}
	got := wantStrings(s.Want(t0))
	want := []string{"10.0.0.0/32", "10.0.0.2/31", "10.0.0.4/30", "10.0.0.8/29", "10.0.0.16/28", "10.0.0.32/27", "10.0.0.64/26", "10.0.0.128/25", "192.0.2.1/32"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Want of a hand-written state (-want +got):\n%s", diff)
	}
}

// TestUpdateAppliesUnderTheLock: the kernel sync runs while the lock is held, so another
// process's change and sync cannot come in between.
func TestUpdateAppliesUnderTheLock(t *testing.T) {
	st := &Store{Dir: t.TempDir()}
	applied := false
	_, after, err := st.Update(context.Background(), func(s *State) error {
		_, err := s.Ban(BanRequest{Prefix: mp("192.0.2.1")}, Policy{}, t0)
		return err
	}, func(before, after *State) error {
		applied = true
		if len(before.Bans) != 0 || len(after.Bans) != 1 {
			t.Errorf("apply got %d bans before, %d after; want 0 and 1", len(before.Bans), len(after.Bans))
		}
		if saved, _ := st.Load(); len(saved.Bans) != 1 {
			t.Error("apply ran before the state was saved")
		}
		f, err := os.OpenFile(filepath.Join(st.Dir, LockFile), os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); !errors.Is(err, syscall.EWOULDBLOCK) {
			t.Errorf("flock of %s during apply = %v, want EWOULDBLOCK (the lock held)", LockFile, err)
		}
		return errors.New("kernel said no")
	})
	if !applied || err == nil || err.Error() != "kernel said no" || len(after.Bans) != 1 {
		t.Errorf("Update = %v (applied %v); want apply's error with the saved state", err, applied)
	}
	if saved, _ := st.Load(); len(saved.Bans) != 1 {
		t.Error("a failed apply undid the saved state")
	}
}

// TestEncodeStateMatchesEncodingJSON: the hand-written encoder gives what json.Marshal of the
// struct gives (compared as decoded JSON), and decodes back to the same state.
func TestEncodeStateMatchesEncodingJSON(t *testing.T) {
	s := NewState()
	s.Allow(mp("10.0.0.5"), `gate"way <&>`, SourceCLI, t0)
	s.Ban(BanRequest{Prefix: mp("10.0.0.0/24"), Reason: "ünïcode \\ \"quoted\"\n", Source: SourceGuard}, Policy{}, t0)
	s.Ban(BanRequest{Prefix: mp("2001:db8::/64"), Forever: true, Source: SourceCLI}, Policy{}, t0.Add(time.Nanosecond))
	s.Sweep(t0)
	for _, st := range []*State{NewState(), s} {
		got, err := encodeState(st)
		if err != nil {
			t.Fatal(err)
		}
		var fromStruct, fromEncoder any
		ref, err := json.Marshal(reflectState(st))
		if err != nil {
			t.Fatal(err)
		}
		json.Unmarshal(ref, &fromStruct)
		if err := json.Unmarshal(got, &fromEncoder); err != nil {
			t.Fatalf("encodeState wrote invalid JSON: %v\n%s", err, got)
		}
		if diff := cmp.Diff(fromStruct, fromEncoder); diff != "" {
			t.Errorf("encodeState (-json.Marshal +encodeState):\n%s", diff)
		}
		back, err := decodeState("x", got)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(st, back, netipOpt); diff != "" {
			t.Errorf("decode(encode(state)) (-want +got):\n%s", diff)
		}
	}
}

// reflectState is the state with its bans and offenders as types without MarshalJSON, so that
// json.Marshal encodes them by their struct tags.
func reflectState(s *State) any {
	type ban BanEntry
	type offender Offender
	bans := []ban{}
	for _, b := range s.Bans {
		bans = append(bans, ban(b))
	}
	var offs []offender
	for _, o := range s.Offenders {
		offs = append(offs, offender(o))
	}
	return struct {
		Version   int          `json:"version"`
		Enabled   bool         `json:"enabled"`
		Bans      []ban        `json:"bans"`
		Allowlist []AllowEntry `json:"allowlist"`
		Offenders []offender   `json:"offenders,omitempty"`
		Activity  []Event      `json:"activity,omitempty"`
	}{s.Version, s.Enabled, bans, s.Allowlist, offs, s.Activity}
}
