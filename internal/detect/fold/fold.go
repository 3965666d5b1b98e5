// Package fold is the one place where detection compares attacker-written text without regard
// to case. It folds ASCII letters only, so a folded string has exactly the bytes, the length and
// the offsets of the original: an offset found in the folded text is valid in the original.
// Unicode case mapping (strings.ToLower) does not keep lengths: "Ⱥ" (U+023A, 2 bytes) lowers to
// "ⱥ" (U+2C65, 3 bytes), so slicing the original at an offset found in strings.ToLower(s) panics
// or cuts in the wrong place, and any local user can write such text into a command line.
//
// ASCII folding is also what the things being matched do: shell words, AppleScript keywords,
// option names and Sigma rule literals in the built-in pack are ASCII, and the tools firewarden
// watches do not treat "K" (U+212A KELVIN SIGN) as "k".
package fold

// Byte folds an ASCII upper-case letter to lower case and leaves every other byte alone.
func Byte(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// Lower returns s with ASCII letters lower-cased and every other byte unchanged, so that
// len(Lower(s)) == len(s) and offsets carry over. It returns s itself when nothing changes.
func Lower(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				b[j] = Byte(b[j])
			}
			return string(b)
		}
	}
	return s
}

// Equal reports whether s equals lower up to ASCII case. lower must already be folded (Lower);
// an upper-case letter in it never matches.
func Equal(s, lower string) bool {
	if len(s) != len(lower) {
		return false
	}
	for i := 0; i < len(s); i++ {
		// Equal bytes, the common case, need no folding; otherwise only an upper-case letter
		// can still match.
		if c := s[i]; c != lower[i] && ('A' > c || c > 'Z' || c+'a'-'A' != lower[i]) {
			return false
		}
	}
	return true
}

// EqualBytes is Equal for a byte slice.
func EqualBytes(s []byte, lower string) bool {
	if len(s) != len(lower) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c != lower[i] && ('A' > c || c > 'Z' || c+'a'-'A' != lower[i]) {
			return false
		}
	}
	return true
}

// HasPrefix reports whether s begins with lower up to ASCII case; lower must be folded.
func HasPrefix(s, lower string) bool {
	return len(s) >= len(lower) && Equal(s[:len(lower)], lower)
}

// Index returns the offset in s of the first occurrence of lower up to ASCII case, or -1. lower
// must be folded. The offset is valid in s itself: s[i:i+len(lower)] is the occurrence.
func Index(s, lower string) int {
	n := len(lower)
	switch {
	case n == 0:
		return 0
	case n > len(s):
		return -1
	}
	c0 := lower[0]
	for i := 0; i+n <= len(s); i++ {
		if Byte(s[i]) == c0 && Equal(s[i:i+n], lower) {
			return i
		}
	}
	return -1
}
