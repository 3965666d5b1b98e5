package server

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"strings"
	"time"
)

// Prefixes of the secrets the server hands out, so that a leaked one is recognisable
// (DECISIONS13.md): host credentials, admin/auditor tokens, enroll secrets.
const (
	PrefixHost   = "fwh_"
	PrefixToken  = "fwa_"
	PrefixEnroll = "fwe_"
)

// NewSecret returns prefix followed by 32 random bytes in base64url without padding.
func NewSecret(prefix string) string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		// crypto/rand does not fail on the systems Go supports; a server without randomness
		// must not hand out guessable credentials.
		panic("crypto/rand: " + err.Error())
	}
	return prefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// Hash is what the store keeps of a secret: its SHA-256.
func Hash(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// sameHash compares two hashes in constant time. The store looks secrets up by hash; comparing
// again here keeps a store whose index compares loosely (or a fake) from ever granting access.
func sameHash(a, b []byte) bool {
	return len(a) == sha256.Size && subtle.ConstantTimeCompare(a, b) == 1
}

// bearer returns the token of an `Authorization: Bearer TOKEN` header, or "".
func bearer(h string) string {
	const p = "Bearer "
	if len(h) > len(p) && strings.EqualFold(h[:len(p)], p) {
		return strings.TrimSpace(h[len(p):])
	}
	return ""
}

// NewUUIDv7 returns a UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then random bits, so
// that IDs sort by creation time.
func NewUUIDv7(now time.Time) string {
	var u [16]byte
	if _, err := rand.Read(u[6:]); err != nil {
		panic("crypto/rand: " + err.Error())
	}
	var ms [8]byte
	binary.BigEndian.PutUint64(ms[:], uint64(now.UnixMilli()))
	copy(u[:6], ms[2:])
	u[6] = u[6]&0x0f | 0x70
	u[8] = u[8]&0x3f | 0x80
	h := hex.EncodeToString(u[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
