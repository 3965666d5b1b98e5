package live

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestTracker(t *testing.T) {
	const (
		poll   = time.Minute
		margin = 10 * time.Second
	)
	t0 := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	alfOff := Weakening{Setting: SettingALF, Area: ALF, Before: "on", After: "off"}
	pfOff := Weakening{Setting: SettingPF, Area: PF, Before: "on", After: "off"}

	type step struct {
		at   time.Duration
		seen *Area      // a match of this area
		drop *Weakening // a drop seen by the poll
	}
	area := func(a Area) *Area { return &a }
	tests := []struct {
		name  string
		steps []step
		check time.Duration // when due is asked
		want  []string      // settings due then
	}{
		{"drop alone is raised after the margin", []step{{at: poll, drop: &alfOff}}, poll + margin, []string{SettingALF}},
		{"not before the margin", []step{{at: poll, drop: &alfOff}}, poll + margin - time.Nanosecond, nil},
		{"match since the last poll explains", []step{{at: 5 * time.Second, seen: area(ALF)}, {at: poll, drop: &alfOff}}, poll + margin, nil},
		{"match a margin before the last poll explains", []step{{at: -margin, seen: area(ALF)}, {at: poll, drop: &alfOff}}, poll + margin, nil},
		{"older match does not", []step{{at: -margin - time.Second, seen: area(ALF)}, {at: poll, drop: &alfOff}}, poll + margin, []string{SettingALF}},
		{"match within the margin after explains", []step{{at: poll, drop: &alfOff}, {at: poll + margin - time.Second, seen: area(ALF)}}, poll + margin, nil},
		{"other area does not explain", []step{{at: 5 * time.Second, seen: area(PF)}, {at: poll, drop: &alfOff}}, poll + margin, []string{SettingALF}},
		{"unknown area explains any", []step{{at: poll, drop: &alfOff}, {at: poll, drop: &pfOff}, {at: poll + time.Second, seen: area("")}}, poll + margin, nil},
		{"one explained, one not", []step{{at: poll, drop: &alfOff}, {at: poll, drop: &pfOff}, {at: poll + time.Second, seen: area(PF)}}, poll + margin, []string{SettingALF}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := newTracker(poll, margin)
			for _, s := range tt.steps {
				if s.seen != nil {
					tr.seen(*s.seen, at(s.at))
				}
				if s.drop != nil {
					tr.drop(*s.drop, at(s.at))
				}
			}
			var got []string
			for _, w := range tr.due(at(tt.check)) {
				got = append(got, w.Setting)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("due (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTrackerNextAndFlush(t *testing.T) {
	t0 := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	tr := newTracker(time.Minute, 10*time.Second)
	if _, ok := tr.next(); ok {
		t.Error("next() on an empty tracker = ok")
	}
	tr.drop(Weakening{Setting: SettingPF, Area: PF}, t0)
	tr.drop(Weakening{Setting: SettingStealth, Area: ALF}, t0.Add(time.Minute))
	if at, ok := tr.next(); !ok || !at.Equal(t0.Add(10*time.Second)) {
		t.Errorf("next() = %v, %v; want %v", at, ok, t0.Add(10*time.Second))
	}
	if got := tr.flush(); len(got) != 2 || got[0].Setting != SettingPF || got[1].Setting != SettingStealth {
		t.Errorf("flush() = %+v, want the pf and stealth drops in order", got)
	}
	if _, ok := tr.next(); ok {
		t.Error("next() after flush = ok")
	}
}
