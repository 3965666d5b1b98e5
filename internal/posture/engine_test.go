package posture

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/firewarden/firewarden/internal/posture/baseline"
)

// fakeProvider holds settings in a map; every check "x" wants settings["x"] == want["x"].
type fakeProvider struct {
	settings map[string]string
	want     map[string]string
	weak     map[string]bool // checks whose fix loosens
	fail     map[string]bool // Apply refuses these keys
	managed  map[string]bool // not fixable
	applied  []string        // keys written, in order
}

func (f *fakeProvider) IDs() []string { return []string{"a", "b", "c"} }

func (f *fakeProvider) Evaluate(_ context.Context, req Request) []Result {
	var out []Result
	for _, id := range f.IDs() {
		if !req.Wants(id) {
			continue
		}
		r := Result{ID: id, Expected: f.want[id], Actual: f.settings[id], Status: Pass, Fixable: !f.managed[id]}
		if r.Actual != r.Expected {
			r.Status = Fail
		}
		out = append(out, r)
	}
	return out
}

func (f *fakeProvider) Plan(_ context.Context, _ Request, failing []Result) ([]Change, error) {
	var out []Change
	for _, r := range failing {
		out = append(out, Change{Check: r.ID, Key: r.ID, From: r.Actual, To: r.Expected, Weakens: f.weak[r.ID]})
	}
	return out, nil
}

func (f *fakeProvider) Apply(_ context.Context, c Change) ([]Evidence, error) {
	if f.fail[c.Key] {
		return nil, errors.New("refused")
	}
	f.applied = append(f.applied, c.Key+"="+c.To)
	f.settings[c.Key] = c.To
	return nil, nil
}

type memBackups struct{ saved [][]Change }

func (m *memBackups) Save(c []Change) (string, error) {
	m.saved = append(m.saved, c)
	return "b1", nil
}

func req() Request {
	return Request{Baseline: &baseline.Baseline{}, Now: time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)}
}

func TestFixOrdersStrengtheningFirst(t *testing.T) {
	p := &fakeProvider{
		settings: map[string]string{"a": "off", "b": "off", "c": "on"},
		want:     map[string]string{"a": "on", "b": "on", "c": "on"},
		weak:     map[string]bool{"a": true},
	}
	bk := &memBackups{}
	fr, err := (&Engine{Providers: []Provider{p}}).Fix(context.Background(), req(), false, bk)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"b=on", "a=on"}, p.applied); diff != "" {
		t.Errorf("applied order mismatch (-want +got):\n%s", diff)
	}
	if len(bk.saved) != 1 || len(bk.saved[0]) != 2 {
		t.Errorf("backups = %v, want one backup of two changes", bk.saved)
	}
	if fr.ExitCode() != ExitOK || fr.After == nil {
		t.Errorf("ExitCode() = %d, after = %v; want 0 with an after report", fr.ExitCode(), fr.After)
	}
}

func TestFixIdempotentAndDryRun(t *testing.T) {
	p := &fakeProvider{settings: map[string]string{"a": "on", "b": "off", "c": "on"}, want: map[string]string{"a": "on", "b": "on", "c": "on"}}
	e := &Engine{Providers: []Provider{p}}
	bk := &memBackups{}

	fr, _ := e.Fix(context.Background(), req(), true, bk)
	if len(p.applied) != 0 || len(bk.saved) != 0 || len(fr.Planned) != 1 || fr.ExitCode() != ExitNonCompliant {
		t.Fatalf("dry run applied %v, saved %v, planned %d, exit %d; want nothing written, 1 planned, exit 1", p.applied, bk.saved, len(fr.Planned), fr.ExitCode())
	}
	e.Fix(context.Background(), req(), false, bk)
	p.applied = nil
	fr, _ = e.Fix(context.Background(), req(), false, bk)
	if len(p.applied) != 0 || len(bk.saved) != 1 || len(fr.Planned) != 0 || fr.ExitCode() != ExitOK {
		t.Errorf("second fix applied %v, backups %d, planned %d, exit %d; want nothing", p.applied, len(bk.saved), len(fr.Planned), fr.ExitCode())
	}
}

func TestFixFailureRevertsWeakening(t *testing.T) {
	// b (weakening) is applied, then c (weakening) fails: b must be put back, a (strengthening) stays.
	p := &fakeProvider{
		settings: map[string]string{"a": "off", "b": "closed", "c": "closed"},
		want:     map[string]string{"a": "on", "b": "open", "c": "open"},
		weak:     map[string]bool{"b": true, "c": true},
		fail:     map[string]bool{"c": true},
	}
	fr, err := (&Engine{Providers: []Provider{p}}).Fix(context.Background(), req(), false, &memBackups{})
	if err != nil {
		t.Fatal(err)
	}
	if fr.Failed == nil || fr.Failed.Change.Key != "c" {
		t.Fatalf("Failed = %+v, want the change to c", fr.Failed)
	}
	if diff := cmp.Diff(map[string]string{"a": "on", "b": "closed", "c": "closed"}, p.settings); diff != "" {
		t.Errorf("settings after failed fix (-want +got):\n%s", diff)
	}
	if len(fr.Reverted) != 1 || fr.Reverted[0].Key != "b" {
		t.Errorf("Reverted = %+v, want b", fr.Reverted)
	}
	if fr.ExitCode() != ExitNonCompliant {
		t.Errorf("ExitCode() = %d, want 1", fr.ExitCode())
	}
}

func TestFixRefusesUnfixable(t *testing.T) {
	p := &fakeProvider{settings: map[string]string{"a": "off", "b": "on", "c": "on"}, want: map[string]string{"a": "on", "b": "on", "c": "on"}, managed: map[string]bool{"a": true}}
	fr, _ := (&Engine{Providers: []Provider{p}}).Fix(context.Background(), req(), false, &memBackups{})
	if len(p.applied) != 0 || len(fr.Refused) != 1 || fr.ExitCode() != ExitNonCompliant {
		t.Errorf("applied %v, refused %d, exit %d; want nothing applied, 1 refused, exit 1", p.applied, len(fr.Refused), fr.ExitCode())
	}
}

func TestRollback(t *testing.T) {
	p := &fakeProvider{settings: map[string]string{"a": "on", "b": "on"}, fail: map[string]bool{"b": true}}
	e := &Engine{Providers: []Provider{p}}
	saved := []Change{{Check: "a", Key: "a", From: "off", To: "on"}, {Check: "b", Key: "b", From: "off", To: "on"}}
	got, err := e.Rollback(context.Background(), saved)
	if err != nil || len(got) != 2 || got[0].Error == "" || got[1].Error != "" {
		t.Fatalf("Rollback() = %+v, %v; want b refused, a restored (newest first)", got, err)
	}
	if p.settings["a"] != "off" {
		t.Errorf("a = %q after rollback, want off", p.settings["a"])
	}

	// A backup naming an unknown check, or a value the provider rejects, writes nothing at all.
	p.applied = nil
	for _, bad := range [][]Change{
		{{Check: "a", Key: "a", From: "on", To: "off"}, {Check: "zz", Key: "zz", From: "1", To: "2"}},
		{{Check: "a", Key: "a", From: "on", To: "off"}, {Check: "c", Key: "c", From: "7", To: "on"}},
	} {
		v := &validatingProvider{p}
		if _, err := (&Engine{Providers: []Provider{v}}).Rollback(context.Background(), bad); err == nil {
			t.Errorf("Rollback(%+v) = nil error, want refusal", bad)
		}
		if len(p.applied) != 0 {
			t.Errorf("Rollback of a bad backup applied %v", p.applied)
		}
	}
}

// validatingProvider accepts only on/off values.
type validatingProvider struct{ *fakeProvider }

func (v *validatingProvider) Validate(c Change) error {
	if c.To != "on" && c.To != "off" {
		return errors.New("bad value " + c.To)
	}
	return nil
}

func TestReportExitCode(t *testing.T) {
	tests := []struct {
		statuses []Status
		want     int
	}{
		{[]Status{Pass, Managed, Exempt, NotApplicable}, ExitOK},
		{[]Status{Pass, Error}, ExitError},
		{[]Status{Error, Fail}, ExitNonCompliant},
		{[]Status{NotApplicable}, ExitError},
		{[]Status{NotApplicable, NotApplicable, NotApplicable}, ExitError},
		{[]Status{NotApplicable, Pass}, ExitOK},
		{[]Status{NotApplicable, Exempt}, ExitOK},
		{nil, ExitOK},
	}
	for _, tt := range tests {
		var rep Report
		for _, s := range tt.statuses {
			rep.Results = append(rep.Results, Result{Status: s})
		}
		if got := rep.ExitCode(); got != tt.want {
			t.Errorf("Report%v.ExitCode() = %d, want %d", tt.statuses, got, tt.want)
		}
	}
}

func TestBackupStore(t *testing.T) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	s := &BackupStore{Dir: t.TempDir() + "/backups", Host: "h", OS: "macOS 15.1", Now: func() time.Time { return now }}
	if _, err := s.Load(""); !errors.Is(err, ErrNoBackups) {
		t.Fatalf("Load(latest) on empty store = %v, want ErrNoBackups", err)
	}
	c1 := []Change{{Check: "a", Key: "a", From: "off", To: "on"}}
	id1, err := s.Save(c1)
	if err != nil {
		t.Fatal(err)
	}
	id2, _ := s.Save([]Change{{Check: "b", Key: "b", From: "0", To: "1"}})
	if id1 != "20261122T100000Z" || id2 != "20261122T100000Z-2" {
		t.Errorf("ids = %q, %q; want 20261122T100000Z and -2", id1, id2)
	}
	latest, err := s.Load("")
	if err != nil || latest.ID != id2 {
		t.Errorf("Load(latest) = %v, %v; want %s", latest.ID, err, id2)
	}
	got, _ := s.Load(id1)
	if diff := cmp.Diff(c1, got.Changes, cmpopts.IgnoreFields(Change{}, "Commands")); diff != "" {
		t.Errorf("Load(%s) changes (-want +got):\n%s", id1, diff)
	}
	for _, bad := range []string{"../x", "nope"} {
		if _, err := s.Load(bad); err == nil {
			t.Errorf("Load(%q) = nil error, want one", bad)
		}
	}
}

func TestLock(t *testing.T) {
	dir := t.TempDir()
	l, err := TryLock(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := TryLock(dir); !errors.Is(err, ErrBusy) {
		t.Errorf("second TryLock = %v, want ErrBusy", err)
	}
	l.Unlock()
	l2, err := TryLock(dir)
	if err != nil {
		t.Errorf("TryLock after Unlock = %v", err)
	} else {
		l2.Unlock()
	}
}

// partialProvider's change to "block" runs two steps and fails on the second after the first
// allowed the app: the engine must put the app back as found.
type partialProvider struct{ fakeProvider }

func (p *partialProvider) Apply(ctx context.Context, c Change) ([]Evidence, error) {
	if c.To == "block" {
		p.settings[c.Key] = "allow" // step one (--add) took
		return nil, errors.New("--blockapp failed")
	}
	return p.fakeProvider.Apply(ctx, c)
}

func TestFixRevertsAHalfAppliedChange(t *testing.T) {
	p := &partialProvider{fakeProvider{
		settings: map[string]string{"a": "absent", "b": "x", "c": "x"},
		want:     map[string]string{"a": "block", "b": "x", "c": "x"},
	}}
	fr, err := (&Engine{Providers: []Provider{p}}).Fix(context.Background(), req(), false, &memBackups{})
	if err != nil {
		t.Fatal(err)
	}
	if fr.Failed == nil || p.settings["a"] != "absent" {
		t.Errorf("after a half-applied change a = %q (failed %v); want absent as found", p.settings["a"], fr.Failed)
	}
	if len(fr.Reverted) != 1 || fr.Reverted[0].To != "absent" {
		t.Errorf("Reverted = %+v, want a back to absent", fr.Reverted)
	}
}

func TestWriteFileAtomicNeverReplacesADevice(t *testing.T) {
	if err := WriteFileAtomic(os.DevNull, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(os.DevNull)
	if err != nil || st.Mode()&os.ModeDevice == 0 {
		t.Fatalf("%s is no longer a device after WriteFileAtomic: %v %v", os.DevNull, st.Mode(), err)
	}
	path := filepath.Join(t.TempDir(), "f")
	WriteFileAtomic(path, []byte("one"), 0o600)
	WriteFileAtomic(path, []byte("two"), 0o600)
	if data, _ := os.ReadFile(path); string(data) != "two" {
		t.Errorf("WriteFileAtomic then read = %q, want two", data)
	}
	if err := WriteFileAtomic(t.TempDir(), []byte("x"), 0o600); err == nil {
		t.Error("WriteFileAtomic(directory) = nil error")
	}
}
