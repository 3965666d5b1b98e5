package fold

import (
	"strings"
	"testing"
)

var indexTests = []struct {
	name, s, lower string
	want           int
}{
	{"empty needle", "abc", "", 0},
	{"empty text", "", "a", -1},
	{"exact", "do shell script", "do shell script", 0},
	{"upper", "DO Shell SCRIPT", "do shell script", 0},
	{"after text", "tell app to do shell script", "do shell script", 12},
	{"not found", "do shell scrip", "do shell script", -1},
	// Ⱥ lowers (Unicode) to a 3-byte rune: the offset must count the original's 2 bytes.
	{"growing rune before", "ȺȺ do shell script", "do shell script", 5},
	{"shrinking rune before", "ẞ do shell script", "do shell script", 4},
	{"kelvin is not k", "\u212aill", "kill", -1},
	{"non-ASCII needle", "émile", "émile", 0},
	{"non-ASCII upper not folded", "Émile", "émile", -1},
	{"needle longer", "ab", "abc", -1},
	{"last position", "xxab", "ab", 2},
	{"overlap", "aaab", "aab", 1},
}

func TestIndex(t *testing.T) {
	for _, tt := range indexTests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Index(tt.s, tt.lower); got != tt.want {
				t.Errorf("Index(%q, %q) = %d, want %d", tt.s, tt.lower, got, tt.want)
			}
		})
	}
}

func TestLower(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"", ""},
		{"abc", "abc"},
		{"PfCtl -D", "pfctl -d"},
		{"ȺÉ\u212a", "ȺÉ\u212a"},
		{"A\xffZ", "a\xffz"},
	} {
		t.Run(tt.in, func(t *testing.T) {
			if got := Lower(tt.in); got != tt.want {
				t.Errorf("Lower(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestEqualHasPrefix(t *testing.T) {
	for _, tt := range []struct {
		s, lower    string
		equal, pref bool
	}{
		{"PFCTL", "pfctl", true, true},
		{"PFCTL -d", "pfctl", false, true},
		{"pfct", "pfctl", false, false},
		{"pfctl", "PFCTL", false, false}, // lower must be folded
		{"", "", true, true},
	} {
		t.Run(tt.s+"/"+tt.lower, func(t *testing.T) {
			if got := Equal(tt.s, tt.lower); got != tt.equal {
				t.Errorf("Equal(%q, %q) = %v, want %v", tt.s, tt.lower, got, tt.equal)
			}
			if got := EqualBytes([]byte(tt.s), tt.lower); got != tt.equal {
				t.Errorf("EqualBytes([]byte(%q), %q) = %v, want %v", tt.s, tt.lower, got, tt.equal)
			}
			if got := HasPrefix(tt.s, tt.lower); got != tt.pref {
				t.Errorf("HasPrefix(%q, %q) = %v, want %v", tt.s, tt.lower, got, tt.pref)
			}
		})
	}
}

// FuzzIndex checks Index against a byte-by-byte reference and that its offset is valid in the
// original text: the occurrence sliced from s folds to the needle, whatever runes s holds.
func FuzzIndex(f *testing.F) {
	for _, tt := range indexTests {
		f.Add(tt.s, tt.lower)
	}
	f.Fuzz(func(t *testing.T, s, needle string) {
		lower := Lower(needle)
		if len(Lower(s)) != len(s) {
			t.Fatalf("len(Lower(%q)) = %d, want %d", s, len(Lower(s)), len(s))
		}
		got := Index(s, lower)
		want := strings.Index(Lower(s), lower)
		if got != want {
			t.Fatalf("Index(%q, %q) = %d, want %d", s, lower, got, want)
		}
		if got >= 0 {
			if occ := s[got : got+len(lower)]; !Equal(occ, lower) || !strings.EqualFold(occ, lower) {
				t.Fatalf("Index(%q, %q) = %d: %q is not the needle", s, lower, got, occ)
			}
			if !HasPrefix(s[got:], lower) {
				t.Fatalf("HasPrefix(%q, %q) = false after Index found it", s[got:], lower)
			}
		}
	})
}
