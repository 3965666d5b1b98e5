package server

import (
	"strings"
	"testing"

	"golang.org/x/crypto/argon2"
)

// cheapHash encodes pw's argon2id key with small parameters, so that the table and the fuzzer
// run fast; CheckPassword takes the parameters from the encoding.
func cheapHash(pw, salt string, m, t uint32, p uint8) string {
	return encodeHash(argonParams{m, t, p}, []byte(salt), argon2.IDKey([]byte(pw), []byte(salt), t, m, p, 32))
}

var good = cheapHash("correct horse battery", "saltsaltsaltsalt", 64, 1, 1)

// checkTests is the unit table of CheckPassword and the fuzzer's seeds.
var checkTests = []struct {
	name, encoded, pw string
	want              bool
	wantErr           bool
}{
	{"match", good, "correct horse battery", true, false},
	{"wrong password", good, "correct horse batterY", false, false},
	{"empty password", good, "", false, false},
	{"too long password", good, strings.Repeat("x", MaxPasswordLen+1), false, false},
	{"two lanes", cheapHash("correct horse battery", "saltsalt", 16, 2, 2), "correct horse battery", true, false},
	{"empty", "", "x", false, true},
	{"argon2i", strings.Replace(good, "argon2id", "argon2i", 1), "correct horse battery", false, true},
	{"version 16", strings.Replace(good, "v=19", "v=16", 1), "correct horse battery", false, true},
	{"leading zero", strings.Replace(good, "m=64", "m=064", 1), "correct horse battery", false, true},
	{"plus sign", strings.Replace(good, "t=1", "t=+1", 1), "correct horse battery", false, true},
	{"parameters reordered", strings.Replace(good, "m=64,t=1,p=1", "t=1,m=64,p=1", 1), "correct horse battery", false, true},
	{"no passes", strings.Replace(good, "t=1", "t=0", 1), "correct horse battery", false, true},
	{"no lanes", strings.Replace(good, "p=1", "p=0", 1), "correct horse battery", false, true},
	{"memory under 8 per lane", strings.Replace(good, "m=64", "m=7", 1), "correct horse battery", false, true},
	{"memory 1 TiB", strings.Replace(good, "m=64", "m=1073741824", 1), "correct horse battery", false, true},
	{"padded salt", strings.Replace(good, "$c2FsdHNhbHRzYWx0c2FsdA$", "$c2FsdHNhbHRzYWx0c2FsdA==$", 1), "correct horse battery", false, true},
	{"short salt", cheapHash("correct horse battery", "salt", 64, 1, 1), "correct horse battery", false, true},
	{"no hash", good[:strings.LastIndex(good, "$")+1], "correct horse battery", false, true},
	{"trailing field", good + "$", "correct horse battery", false, true},
	{"carriage return in hash", good + "\r", "correct horse battery", false, true},
	{"newline in salt", strings.Replace(good, "$c2Fs", "$c2\nFs", 1), "correct horse battery", false, true},
	{"sha256 crypt", "$5$rounds=5000$salt$abc", "x", false, true},
}

func TestCheckPassword(t *testing.T) {
	for _, tt := range checkTests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := CheckPassword(tt.encoded, tt.pw)
			if got != tt.want || (err != nil) != tt.wantErr {
				t.Errorf("CheckPassword(%q, %q) = %v, %v; want %v, error %v", tt.encoded, tt.pw, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestHashPassword(t *testing.T) {
	const pw = "correct horse battery"
	h, err := HashPassword(pw)
	if err != nil {
		t.Fatalf("HashPassword = %v", err)
	}
	if want := "$argon2id$v=19$m=65536,t=3,p=2$"; !strings.HasPrefix(h, want) {
		t.Errorf("HashPassword(pw) = %q, want the prefix %q", h, want)
	}
	if ok, err := CheckPassword(h, pw); !ok || err != nil {
		t.Errorf("CheckPassword(HashPassword(pw), pw) = %v, %v; want true, nil", ok, err)
	}
	if ok, err := CheckPassword(h, pw+"!"); ok || err != nil {
		t.Errorf("CheckPassword(HashPassword(pw), other) = %v, %v; want false, nil", ok, err)
	}
	if h2, _ := HashPassword(pw); h2 == h {
		t.Errorf("HashPassword twice = the same %q, want a fresh salt each time", h)
	}
}

func TestHashPasswordLength(t *testing.T) {
	tests := []struct {
		name    string
		pw      string
		wantErr bool
	}{
		{"11 characters", strings.Repeat("a", 11), true},
		{"12 characters", strings.Repeat("a", 12), false},
		{"12 multibyte characters", strings.Repeat("é", 12), false},
		{"11 multibyte characters", strings.Repeat("é", 11), true}, // 22 bytes, 11 characters
		{"1024 bytes", strings.Repeat("a", MaxPasswordLen), false},
		{"1025 bytes", strings.Repeat("a", MaxPasswordLen+1), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := HashPassword(tt.pw); (err != nil) != tt.wantErr {
				t.Errorf("HashPassword(%d bytes) = %v, want error %v", len(tt.pw), err, tt.wantErr)
			}
		})
	}
}

func FuzzCheckPassword(f *testing.F) {
	for _, tt := range checkTests {
		f.Add(tt.encoded, tt.pw)
	}
	f.Fuzz(func(t *testing.T, encoded, pw string) {
		ok, err := CheckPassword(encoded, pw)
		if ok && err != nil {
			t.Fatalf("CheckPassword(%q, %q) = true, %v: a match with an error", encoded, pw, err)
		}
		if err != nil {
			return
		}
		// What parses is exactly what encodeHash writes: it re-encodes to the same string.
		p, salt, key, perr := parseHash(encoded)
		if perr != nil {
			t.Fatalf("CheckPassword(%q) = nil error but parseHash = %v", encoded, perr)
		}
		if again := encodeHash(p, salt, key); again != encoded {
			t.Fatalf("encodeHash(parseHash(%q)) = %q, want the input", encoded, again)
		}
		if ok2, _ := CheckPassword(encoded, pw); ok2 != ok {
			t.Fatalf("CheckPassword(%q, %q) = %v then %v", encoded, pw, ok, ok2)
		}
	})
}

// BenchmarkHashPassword is the cost of one login's hashing with the server's parameters.
func BenchmarkHashPassword(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := HashPassword("correct horse battery"); err != nil {
			b.Fatal(err)
		}
	}
}
