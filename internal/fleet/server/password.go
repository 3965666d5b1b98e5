package server

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Password length limits. The minimum follows NIST SP 800-63B's advice for passwords chosen by
// people (length, not composition rules); the maximum bounds the work of hashing a request's
// password before any account is known.
const (
	MinPasswordLen = 12   // characters
	MaxPasswordLen = 1024 // bytes
)

// argon2id parameters for new hashes: RFC 9106's second recommended option (64 MiB, 3 passes)
// with 2 lanes instead of 4, because the server runs on small machines with few cores. 64 MiB
// per login attempt in flight is what a server can afford: the per-address and per-user limits
// in front of login bound how many run at once. Verification reads the parameters from the
// stored hash, so raising these later needs no migration: old hashes still check.
const (
	argonMemory  = 64 * 1024 // KiB
	argonTime    = 3
	argonThreads = 2
	argonSaltLen = 16
	argonKeyLen  = 32
)

// Bounds on the parameters of a stored hash, so that a corrupt or hostile row cannot make a
// login allocate gigabytes or spin for minutes.
const (
	maxArgonMemory  = 256 * 1024 // KiB
	maxArgonTime    = 16
	maxArgonThreads = 16
)

// HashPassword hashes pw with argon2id and a fresh random salt into the self-describing form
// $argon2id$v=19$m=65536,t=3,p=2$<salt>$<hash> (unpadded standard base64), the same form other
// argon2 implementations read.
func HashPassword(pw string) (string, error) {
	if err := checkPassword(pw); err != nil {
		return "", err
	}
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	return encodeHash(argonParams{argonMemory, argonTime, argonThreads}, salt,
		argon2.IDKey([]byte(pw), salt, argonTime, argonMemory, argonThreads, argonKeyLen)), nil
}

// checkPassword says what is wrong with a password, before the cost of hashing it.
func checkPassword(pw string) error {
	if n := utf8.RuneCountInString(pw); n < MinPasswordLen {
		return fmt.Errorf("password has %d characters: use at least %d", n, MinPasswordLen)
	}
	if len(pw) > MaxPasswordLen {
		return fmt.Errorf("password has %d bytes: use at most %d", len(pw), MaxPasswordLen)
	}
	return nil
}

type argonParams struct {
	memory  uint32 // KiB
	time    uint32
	threads uint8
}

func encodeHash(p argonParams, salt, key []byte) string {
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.memory, p.time, p.threads,
		b64.EncodeToString(salt), b64.EncodeToString(key))
}

// CheckPassword reports whether pw matches the hash encoded (made by HashPassword, or with
// other parameters in the same form). The derived keys are compared in constant time. An
// encoding that is not exactly that form, or whose parameters are out of bounds, is an error,
// never a match.
func CheckPassword(encoded, pw string) (bool, error) {
	p, salt, key, err := parseHash(encoded)
	if err != nil {
		return false, err
	}
	if len(pw) > MaxPasswordLen {
		return false, nil // no stored password is this long: HashPassword refuses them
	}
	got := argon2.IDKey([]byte(pw), salt, p.time, p.memory, p.threads, uint32(len(key)))
	return subtle.ConstantTimeCompare(got, key) == 1, nil
}

var errHashForm = errors.New("password hash: want $argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<hash>")

// parseHash reads the form encodeHash writes, and only that: canonical decimal numbers,
// unpadded canonical base64, salt of 8–64 bytes, key of 16–64 bytes.
func parseHash(encoded string) (argonParams, []byte, []byte, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return argonParams{}, nil, nil, errHashForm
	}
	kv := strings.Split(parts[3], ",")
	if len(kv) != 3 {
		return argonParams{}, nil, nil, errHashForm
	}
	var nums [3]uint64
	for i, name := range []string{"m=", "t=", "p="} {
		v, ok := strings.CutPrefix(kv[i], name)
		n, err := strconv.ParseUint(v, 10, 32)
		if !ok || err != nil || v != strconv.FormatUint(n, 10) {
			return argonParams{}, nil, nil, errHashForm
		}
		nums[i] = n
	}
	m, t, th := nums[0], nums[1], nums[2]
	if t < 1 || t > maxArgonTime || th < 1 || th > maxArgonThreads || m < 8*th || m > maxArgonMemory {
		return argonParams{}, nil, nil, fmt.Errorf("password hash parameters m=%d,t=%d,p=%d: out of bounds (m 8·p–%d KiB, t 1–%d, p 1–%d)",
			m, t, th, maxArgonMemory, maxArgonTime, maxArgonThreads)
	}
	b64 := base64.RawStdEncoding.Strict()
	salt, err1 := b64.DecodeString(parts[4])
	key, err2 := b64.DecodeString(parts[5])
	// The decoder skips \r and \n; re-encoding refuses them, so one hash has one spelling.
	if err1 != nil || err2 != nil || b64.EncodeToString(salt) != parts[4] || b64.EncodeToString(key) != parts[5] ||
		len(salt) < 8 || len(salt) > 64 || len(key) < 16 || len(key) > 64 {
		return argonParams{}, nil, nil, errHashForm
	}
	return argonParams{uint32(m), uint32(t), uint8(th)}, salt, key, nil
}

// newDummyHash returns a hash in HashPassword's form and parameters that no password matches
// (its key is random, not derived), without spending a hash on it. Checking a password against
// it costs what checking against a real account's does.
func newDummyHash() string {
	b := make([]byte, argonSaltLen+argonKeyLen)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand: " + err.Error())
	}
	return encodeHash(argonParams{argonMemory, argonTime, argonThreads}, b[:argonSaltLen], b[argonSaltLen:])
}
