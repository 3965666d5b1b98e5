package detect

import "testing"

func TestRuleTags(t *testing.T) {
	for _, tt := range []struct {
		name       string
		analytic   string
		techniques []string
		want       string
	}{
		{"both", "AN0408", []string{"T1562.004"}, " [AN0408 T1562.004]"},
		{"no analytic", "", []string{"T1113"}, " [T1113]"},
		{"no techniques", "AN0408", nil, " [AN0408]"},
		{"nothing", "", nil, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := Rule{Analytic: tt.analytic, Techniques: tt.techniques}
			if got := r.tags(); got != tt.want {
				t.Errorf("Rule{Analytic: %q, Techniques: %q}.tags() = %q, want %q", tt.analytic, tt.techniques, got, tt.want)
			}
		})
	}
}
