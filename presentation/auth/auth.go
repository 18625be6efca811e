// Package auth issues and verifies the bearer tokens of guest players.
//
// A token is "<kid>.<payload>.<mac>". kid names the key of the Ring that signed it;
// payload is unpadded base64url of a format version (2), the issue time in unix
// milliseconds, the expiry in unix seconds and the player id; mac is unpadded base64url
// of HMAC-SHA256 under that key over "<kid>.<payload>". Tokens are stateless, so any
// presentation copy that holds the key verifies any token without a store round trip;
// the issue time lets the player's owner shard refuse tokens issued before a ban
// (application/bans).
//
// Tokens issued before key ids existed are "<payload>.<mac>" (format version 1: expiry
// and player id, MAC over the payload alone). They still verify, under any key of the
// ring, until they expire; their issue time is unknown and reported as zero, older
// than any revocation.
//
// Expiry is always judged on real time passed in by the caller, never on the game
// clock: the dev clock must not be able to extend or cut short a session.
package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strings"
	"time"

	"github.com/ovengames/oven"
)

// MinKeyLen is the shortest accepted signing key: the HMAC-SHA256 block of security.
const MinKeyLen = 32

// Format versions: the first byte of a payload, so that a format never misreads another.
const (
	legacyVersion = 1 // "<payload>.<mac>": expiry, player id
	tokenVersion  = 2 // "<kid>.<payload>.<mac>": issue time, expiry, player id
)

// macContext separates Oven's token MACs from any other use of the same key.
const macContext = "oven-guest-token:"

// maxPlayerIDLen bounds the work done on a token before its MAC is checked.
const maxPlayerIDLen = 256

// Errors of Verify. Both carry oven.EUnauthenticated so that handlers can return them as is.
var (
	// ErrInvalidToken is returned for a token that is malformed, names no key of the
	// ring or is not signed with the key it names.
	ErrInvalidToken = &oven.Error{Code: oven.EUnauthenticated, Message: "invalid token"}
	// ErrExpiredToken is returned for a genuine token past its expiry.
	ErrExpiredToken = &oven.Error{Code: oven.EUnauthenticated, Message: "token expired"}
)

// b64 decodes strictly: without Strict, the unused low bits of a token's last
// character are ignored, so one MAC had several spellings that all verified.
var b64 = base64.RawURLEncoding.Strict()

// Claims are what a verified token says.
type Claims struct {
	PlayerID string
	// IssuedAt is when the token was issued, to the millisecond; zero for a token of
	// format 1, which did not record it.
	IssuedAt time.Time
	// KeyID names the key that signed the token; "" for a token of format 1.
	KeyID string
}

// Signer issues and verifies guest tokens under a Ring. It is safe for concurrent use.
type Signer struct {
	ring *Ring
	ttl  time.Duration
}

// NewSigner returns a Signer over a ring of one key (id DefaultKeyID) whose tokens
// live for ttl. key must hold at least MinKeyLen bytes; it is copied.
func NewSigner(key []byte, ttl time.Duration) (*Signer, error) {
	ring, err := NewRing("", Key{ID: DefaultKeyID, Secret: key})
	if err != nil {
		return nil, err
	}
	return NewRingSigner(ring, ttl)
}

// NewRingSigner returns a Signer that signs with ring's signing key and verifies with
// every key of it; its tokens live for ttl.
func NewRingSigner(ring *Ring, ttl time.Duration) (*Signer, error) {
	if ring == nil {
		return nil, fmt.Errorf("auth: no key ring")
	}
	if ttl < time.Second {
		return nil, fmt.Errorf("auth: token ttl %v is shorter than a second", ttl)
	}
	return &Signer{ring: ring, ttl: ttl}, nil
}

// Issue returns a token for playerID, issued at now (real time, kept to the
// millisecond) and expiring ttl later, and that expiry. The expiry is truncated to
// whole seconds, as the token stores it. playerID must be 1 to 256 bytes: Verify
// rejects tokens without a player, and bounds the token length before checking its MAC.
func (s *Signer) Issue(playerID string, now time.Time) (token string, expiresAt time.Time) {
	iat := now.UnixMilli()
	exp := now.Add(s.ttl).Unix()
	payload := make([]byte, 1+8+8, 1+8+8+len(playerID))
	payload[0] = tokenVersion
	binary.BigEndian.PutUint64(payload[1:9], uint64(iat))
	binary.BigEndian.PutUint64(payload[9:17], uint64(exp))
	payload = append(payload, playerID...)
	k := s.ring.signer
	signed := k.ID + "." + b64.EncodeToString(payload)
	return signed + "." + b64.EncodeToString(mac(k.Secret, signed)), time.Unix(exp, 0).UTC()
}

// Verify returns the claims of token if it carries the MAC of the ring key it names
// (any key, for a token of format 1) and has not expired at now (real time). Errors
// are ErrInvalidToken or ErrExpiredToken.
func (s *Signer) Verify(token string, now time.Time) (Claims, error) {
	// Everything is bounded before any MAC is computed, and only a payload we signed
	// gets decoded, so its contents can be trusted from there on.
	signed, sig, ok := cutLast(token)
	if !ok || len(signed) > maxKeyIDLen+1+b64.EncodedLen(1+8+8+maxPlayerIDLen) || len(sig) != b64.EncodedLen(sha256.Size) {
		return Claims{}, ErrInvalidToken
	}
	got, err := b64.DecodeString(sig)
	if err != nil {
		return Claims{}, ErrInvalidToken
	}
	kid, enc, hasKid := strings.Cut(signed, ".")
	if !hasKid {
		return s.verifyLegacy(signed, got, now)
	}
	key, ok := s.ring.keys[kid]
	if !ok || !hmac.Equal(got, mac(key, signed)) {
		return Claims{}, ErrInvalidToken
	}
	payload, err := b64.DecodeString(enc)
	if err != nil || len(payload) <= 1+8+8 || payload[0] != tokenVersion {
		return Claims{}, ErrInvalidToken
	}
	iat := int64(binary.BigEndian.Uint64(payload[1:9]))
	exp := int64(binary.BigEndian.Uint64(payload[9:17]))
	if now.Unix() >= exp {
		return Claims{}, ErrExpiredToken
	}
	return Claims{PlayerID: string(payload[17:]), IssuedAt: time.UnixMilli(iat).UTC(), KeyID: kid}, nil
}

// verifyLegacy verifies a token of format 1 under whichever key of the ring signed it
// (the ring is a handful of keys, and such tokens are gone one ttl after the upgrade).
func (s *Signer) verifyLegacy(enc string, got []byte, now time.Time) (Claims, error) {
	if len(enc) > b64.EncodedLen(1+8+maxPlayerIDLen) {
		return Claims{}, ErrInvalidToken
	}
	genuine := false
	for _, key := range s.ring.keys {
		if hmac.Equal(got, legacyMAC(key, enc)) {
			genuine = true
			break
		}
	}
	if !genuine {
		return Claims{}, ErrInvalidToken
	}
	payload, err := b64.DecodeString(enc)
	if err != nil || len(payload) <= 1+8 || payload[0] != legacyVersion {
		return Claims{}, ErrInvalidToken
	}
	exp := int64(binary.BigEndian.Uint64(payload[1:9]))
	if now.Unix() >= exp {
		return Claims{}, ErrExpiredToken
	}
	return Claims{PlayerID: string(payload[9:])}, nil
}

// cutLast splits a token at its last '.': the MAC follows it in both formats.
func cutLast(token string) (signed, sig string, ok bool) {
	i := strings.LastIndexByte(token, '.')
	if i < 0 {
		return "", "", false
	}
	return token[:i], token[i+1:], true
}

// mac is the MAC of a format 2 token: over "<kid>.<payload>", so a token cannot be
// moved to another key id.
func mac(key []byte, signed string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(macContext))
	h.Write([]byte(signed))
	return h.Sum(nil)
}

// legacyMAC is the MAC of a format 1 token, over its payload alone. Its input never
// holds a '.', and a format 2 input always does, so the two never coincide.
func legacyMAC(key []byte, encodedPayload string) []byte { return mac(key, encodedPayload) }
