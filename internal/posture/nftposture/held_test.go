package nftposture_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/firewarden/firewarden/internal/posture"
	"github.com/firewarden/firewarden/internal/posture/nftposture"
	"github.com/firewarden/firewarden/internal/posture/nftposture/fwtable"
	"github.com/firewarden/firewarden/internal/posture/nftposture/nfttest"
)

// heldSnap is a snapshot in the fake kernel's encoding (a Spec as JSON).
func heldSnap(t testing.TB) fwtable.Snapshot {
	k := &nfttest.Kernel{}
	if err := k.Write(fwtable.Spec{Allowed: []fwtable.Service{{Proto: "tcp", From: 22, To: 22}}, Log: true}); err != nil {
		t.Fatal(err)
	}
	s, err := k.Take()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// heldCases are held files and whether DecodeHeld takes them; they seed FuzzDecodeHeld.
func heldCases(t testing.TB) []struct {
	name string
	data []byte
	ok   bool
} {
	good := heldFile(t, heldSnap(t))
	return []struct {
		name string
		data []byte
		ok   bool
	}{
		{"good", good, true},
		{"empty", nil, false},
		{"truncated", good[:len(good)/2], false},
		{"two documents", append(bytes.Clone(good), good...), false},
		{"a stray closing brace", append(bytes.Clone(good), '}'), false},
		{"unknown field", bytes.Replace(good, []byte(`"by":`), []byte(`"x": 1, "by":`), 1), false},
		{"other version", bytes.Replace(good, []byte(`"version": 1`), []byte(`"version": 2`), 1), false},
		{"absent", []byte(`{"version": 1, "held_at": "2026-12-07T04:00:00Z", "by": "fix", "table": {"absent": true}}`), false},
		{"no by", bytes.Replace(good, []byte(`"by": "fix"`), []byte(`"by": ""`), 1), false},
		{"not a snapshot", []byte(`{"version": 1, "held_at": "2026-12-07T04:00:00Z", "by": "fix", "table": {"absent": false, "data": "bm90IGpzb24="}}`), false},
	}
}

// heldFile is what SaveHeld writes for snap.
func heldFile(t testing.TB, snap fwtable.Snapshot) []byte {
	dir := filepath.Join(t.TempDir(), "state")
	if err := nftposture.SaveHeld(dir, snap, "fix", now, (&nfttest.Kernel{}).Check); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, nftposture.HeldFile))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestDecodeHeld(t *testing.T) {
	check := (&nfttest.Kernel{}).Check
	for _, tc := range heldCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			h, err := nftposture.DecodeHeld(tc.data, check)
			if (err == nil) != tc.ok || (err != nil && !errors.Is(err, nftposture.ErrDamagedHeld)) {
				t.Fatalf("DecodeHeld = %v, want ok %v (or an error wrapping ErrDamagedHeld)", err, tc.ok)
			}
			if tc.ok && (h.By != "fix" || !h.At.Equal(now) || !bytes.Equal(h.Table.Data, heldSnap(t).Data)) {
				t.Errorf("DecodeHeld = %+v", h)
			}
		})
	}
	// The real encoding refuses the fake's data: a held file is checked by the kernel's own rules.
	if _, err := nftposture.DecodeHeld(heldCases(t)[0].data, fwtable.CheckSnapshot); !errors.Is(err, fwtable.ErrBadSnapshot) {
		t.Errorf("DecodeHeld with fwtable.CheckSnapshot = %v, want ErrBadSnapshot", err)
	}
}

// SaveHeld writes atomically into the state directory and never through a link; an Absent
// snapshot removes the file; LoadHeld finds nothing where nothing was held.
func TestSaveLoadHeld(t *testing.T) {
	check := (&nfttest.Kernel{}).Check
	dir := filepath.Join(t.TempDir(), "state")
	if h, err := nftposture.LoadHeld(dir, check); h != nil || err != nil {
		t.Fatalf("LoadHeld of no directory = %v, %v; want nil, nil", h, err)
	}
	snap := heldSnap(t)
	if err := nftposture.SaveHeld(dir, snap, "fix --confirm", now, check); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(dir, nftposture.HeldFile)); err != nil || fi.Mode().Perm()&0o077 != 0 {
		t.Errorf("held file: %v, mode %v; want it readable by its owner only", err, fi.Mode())
	}
	h, err := nftposture.LoadHeld(dir, check)
	if err != nil || h == nil || h.By != "fix --confirm" || !bytes.Equal(h.Table.Data, snap.Data) {
		t.Fatalf("LoadHeld = %+v, %v", h, err)
	}
	if err := nftposture.SaveHeld(dir, fwtable.Snapshot{Data: []byte("{")}, "fix", now, check); err == nil {
		t.Error("SaveHeld of a snapshot the kernel could not restore = nil error")
	}
	if err := nftposture.SaveHeld(dir, fwtable.Snapshot{Absent: true}, "rollback x", now, check); err != nil {
		t.Fatal(err)
	}
	if h, err := nftposture.LoadHeld(dir, check); h != nil || err != nil {
		t.Errorf("LoadHeld after an Absent hold = %v, %v; want nil, nil", h, err)
	}

	// A link planted at the held file is never followed, to read or to write.
	target := filepath.Join(t.TempDir(), "elsewhere")
	os.WriteFile(target, heldCases(t)[0].data, 0o600)
	os.Symlink(target, filepath.Join(dir, nftposture.HeldFile))
	if h, err := nftposture.LoadHeld(dir, check); err == nil {
		t.Errorf("LoadHeld through a link = %+v, want an error", h)
	}
	if err := nftposture.SaveHeld(dir, snap, "fix", now, check); err == nil {
		t.Error("SaveHeld over a link = nil error, want it refused")
	}
	if data, _ := os.ReadFile(target); !bytes.Equal(data, heldCases(t)[0].data) {
		t.Error("SaveHeld changed the link's target")
	}

	// Damaged: refused whole, naming the file and what to do.
	os.Remove(filepath.Join(dir, nftposture.HeldFile))
	os.WriteFile(filepath.Join(dir, nftposture.HeldFile), []byte("{\"version\": 1"), 0o600)
	_, err = nftposture.LoadHeld(dir, check)
	if !errors.Is(err, nftposture.ErrDamagedHeld) || !strings.Contains(err.Error(), nftposture.HeldFile) || !strings.Contains(err.Error(), "firewarden fix") {
		t.Errorf("LoadHeld of a damaged file = %v", err)
	}
}

// FuzzDecodeHeld: no panic, and what decodes encodes back to a file that decodes the same.
func FuzzDecodeHeld(f *testing.F) {
	for _, tc := range heldCases(f) {
		f.Add(tc.data)
	}
	check := (&nfttest.Kernel{}).Check
	f.Fuzz(func(t *testing.T, data []byte) {
		nftposture.DecodeHeld(data, fwtable.CheckSnapshot)
		h, err := nftposture.DecodeHeld(data, check)
		if err != nil {
			return
		}
		again, err := json.Marshal(h)
		if err != nil {
			t.Fatal(err)
		}
		h2, err := nftposture.DecodeHeld(again, check)
		if err != nil || !h2.At.Equal(h.At) || h2.By != h.By || !bytes.Equal(h2.Table.Data, h.Table.Data) {
			t.Fatalf("DecodeHeld(Marshal(%+v)) = %+v, %v", h, h2, err)
		}
	})
}

// linux.firewall.enabled fails when firewarden's table decides it and a reboot would lose it,
// passes with a note while a fix waits for confirmation or where no systemd runs, and Plan
// writes the table again (which holds it) when only that fails.
func TestEnabledHeld(t *testing.T) {
	spec := fwtable.Spec{Allowed: []fwtable.Service{{Proto: "tcp", From: 22, To: 22}}, Log: true}
	other := fwtable.Spec{Allowed: []fwtable.Service{{Proto: "tcp", From: 23, To: 23}}, Log: true}
	snapOf := func(s fwtable.Spec) *nftposture.Held {
		data, _ := json.Marshal(s)
		return &nftposture.Held{Version: 1, At: now, By: "fix", Table: fwtable.Snapshot{Data: data}}
	}
	yaml := "name: t\nlinux:\n  firewall:\n    enabled: true\n    stealth: true\n    logging: true\n    allowed:\n      - {name: ssh, proto: tcp, port: 22}\n"
	for _, tt := range []struct {
		name   string
		ps     nftposture.Persistence
		status posture.Status
		detail string
		plan   bool
	}{
		{"held, service enabled", nftposture.Persistence{Held: snapOf(spec)}, posture.Pass, "", false},
		{"nothing held", nftposture.Persistence{Path: "/s/firewall-table.json"}, posture.Fail, "firewarden's table is not restored at boot: nothing is held in /s/firewall-table.json", true},
		{"another table held", nftposture.Persistence{Path: "/s/f", Held: snapOf(other)}, posture.Fail, "firewarden's table is not restored at boot: the table held in /s/f (fix, 2026-12-07T04:00:00Z) is another one", true},
		{"damaged", nftposture.Persistence{Err: errors.New("/s/f: damaged held firewall table: x")}, posture.Fail, "firewarden's table is not restored at boot: /s/f: damaged held firewall table: x", true},
		{"service not enabled", nftposture.Persistence{Held: snapOf(spec), Boot: "the boot service firewarden-firewall.service is not enabled"}, posture.Fail, "not restored at boot: the boot service firewarden-firewall.service is not enabled", true},
		{"no systemd", nftposture.Persistence{Held: snapOf(spec), Note: "this host runs no systemd"}, posture.Pass, "this host runs no systemd", false},
		{"waits for confirmation", nftposture.Persistence{Held: snapOf(other), Pending: true}, posture.Pass, "waits for confirmation", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			root, osinfo := linuxRoot(t, map[string]string{})
			k := &fakeKernel{}
			k.Write(spec)
			ps := tt.ps
			p := nftposture.New(root, osinfo, k, nftposture.Options{Persistence: func() nftposture.Persistence { return ps }})
			req := request(t, yaml)
			res := p.Evaluate(context.Background(), req)
			var en posture.Result
			for _, r := range res {
				if r.ID == nftposture.IDEnabled {
					en = r
				}
				if r.ID != nftposture.IDEnabled && r.Status != posture.Pass {
					t.Errorf("%s = %s (%s), want pass: only enabled looks at the held table", r.ID, r.Status, r.Detail)
				}
			}
			if en.Status != tt.status || !strings.Contains(en.Detail, tt.detail) || tt.detail == "" && en.Detail != "" {
				t.Errorf("enabled = %s, detail %q; want %s, %q", en.Status, en.Detail, tt.status, tt.detail)
			}
			var failing []posture.Result
			for _, r := range res {
				if r.Status == posture.Fail {
					failing = append(failing, r)
				}
			}
			plan, err := p.Plan(context.Background(), req, failing)
			if err != nil || (len(plan) > 0) != tt.plan {
				t.Errorf("Plan = %d changes, %v; want changes %v", len(plan), err, tt.plan)
			}
		})
	}
	// Another tool's table decides: the held table is not its business.
	root, osinfo := linuxRoot(t, map[string]string{})
	k := &fakeKernel{Analysis: nfttest.TableAnalysis(spec)}
	for i := range k.Analysis.Families {
		k.Analysis.Families[i].Unmatched.By = nftPol
		k.Analysis.Families[i].UnmatchedUDP.By = nftPol
	}
	p := nftposture.New(root, osinfo, k, nftposture.Options{Persistence: func() nftposture.Persistence { return nftposture.Persistence{} }})
	for _, r := range p.Evaluate(context.Background(), request(t, yaml)) {
		if r.ID == nftposture.IDEnabled && (r.Status != posture.Pass || strings.Contains(r.Detail, "boot")) {
			t.Errorf("enabled with another table deciding = %s, %q; want pass without a word of boot", r.Status, r.Detail)
		}
	}
}

// Apply holds what it settled: the table written, or the snapshot restored (Absent: none).
func TestApplyHolds(t *testing.T) {
	root, osinfo := linuxRoot(t, map[string]string{})
	k := &fakeKernel{}
	var held []fwtable.Snapshot
	p := nftposture.New(root, osinfo, k, nftposture.Options{Hold: func(_ context.Context, s fwtable.Snapshot) error {
		held = append(held, s)
		return nil
	}})
	spec, _ := json.Marshal(fwtable.Spec{Allowed: []fwtable.Service{{Proto: "tcp", From: 22, To: 22}}})
	if _, err := p.Apply(context.Background(), posture.Change{Check: nftposture.IDEnabled, Key: nftposture.KeyTable, To: string(spec)}); err != nil {
		t.Fatal(err)
	}
	absent, _ := json.Marshal(fwtable.Snapshot{Absent: true})
	if _, err := p.Apply(context.Background(), posture.Change{Check: nftposture.IDEnabled, Key: nftposture.KeyTable, To: string(absent)}); err != nil {
		t.Fatal(err)
	}
	if len(held) != 2 || held[0].Absent || string(held[0].Data) != string(spec) || !held[1].Absent {
		t.Errorf("held = %+v; want the written table, then Absent", held)
	}

	// A hold that fails is a warning; the change stands.
	var warned []string
	p = nftposture.New(root, osinfo, k, nftposture.Options{
		Hold: func(context.Context, fwtable.Snapshot) error { return errors.New("disk full") },
		Warn: func(s string) { warned = append(warned, s) },
	})
	if _, err := p.Apply(context.Background(), posture.Change{Check: nftposture.IDEnabled, Key: nftposture.KeyTable, To: string(spec)}); err != nil {
		t.Fatalf("Apply with a failing hold = %v, want nil", err)
	}
	if len(warned) != 1 || !strings.Contains(warned[0], "not held for boot: disk full") {
		t.Errorf("warnings = %q", warned)
	}
}
