// Package auth issues and verifies the bearer tokens of guest players.
//
// A token is "<payload>.<mac>", both unpadded base64url: the payload holds a format
// version, the expiry in unix seconds and the player id; the mac is HMAC-SHA256 over the
// encoded payload under a server key that every presentation copy shares. Tokens are
// stateless so that any copy can verify any token without a store round trip.
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

// tokenVersion lets the format change later without misreading old tokens.
const tokenVersion = 1

// macContext separates Oven's token MACs from any other use of the same key.
const macContext = "oven-guest-token:"

// maxPlayerIDLen bounds the work done on a token before its MAC is checked.
const maxPlayerIDLen = 256

// Errors of Verify. Both carry oven.EUnauthenticated so that handlers can return them as is.
var (
	// ErrInvalidToken is returned for a token that is malformed or not signed with our key.
	ErrInvalidToken = &oven.Error{Code: oven.EUnauthenticated, Message: "invalid token"}
	// ErrExpiredToken is returned for a genuine token past its expiry.
	ErrExpiredToken = &oven.Error{Code: oven.EUnauthenticated, Message: "token expired"}
)

// b64 decodes strictly: without Strict, the unused low bits of a token's last
// character are ignored, so one MAC had several spellings that all verified.
var b64 = base64.RawURLEncoding.Strict()

// Signer issues and verifies guest tokens. It is safe for concurrent use.
type Signer struct {
	key []byte
	ttl time.Duration
}

// NewSigner returns a Signer whose tokens live for ttl. key must hold at least
// MinKeyLen bytes; it is copied.
func NewSigner(key []byte, ttl time.Duration) (*Signer, error) {
	if len(key) < MinKeyLen {
		return nil, fmt.Errorf("auth: key has %d bytes, need at least %d", len(key), MinKeyLen)
	}
	if ttl < time.Second {
		return nil, fmt.Errorf("auth: token ttl %v is shorter than a second", ttl)
	}
	return &Signer{key: append([]byte(nil), key...), ttl: ttl}, nil
}

// Issue returns a token for playerID that expires ttl after now (real time), and that
// expiry. The expiry is truncated to whole seconds, as the token stores it.
// playerID must be 1 to 256 bytes: Verify rejects tokens without a player, and bounds
// the token length before checking its MAC.
func (s *Signer) Issue(playerID string, now time.Time) (token string, expiresAt time.Time) {
	exp := now.Add(s.ttl).Unix()
	payload := make([]byte, 1+8, 1+8+len(playerID))
	payload[0] = tokenVersion
	binary.BigEndian.PutUint64(payload[1:9], uint64(exp))
	payload = append(payload, playerID...)
	enc := b64.EncodeToString(payload)
	return enc + "." + b64.EncodeToString(s.mac(enc)), time.Unix(exp, 0).UTC()
}

// Verify returns the player id of token if it carries our MAC and has not expired at
// now (real time). Errors are ErrInvalidToken or ErrExpiredToken.
func (s *Signer) Verify(token string, now time.Time) (playerID string, err error) {
	enc, sig, ok := strings.Cut(token, ".")
	if !ok || len(enc) > b64.EncodedLen(1+8+maxPlayerIDLen) || len(sig) != b64.EncodedLen(sha256.Size) {
		return "", ErrInvalidToken
	}
	mac, err := b64.DecodeString(sig)
	if err != nil || !hmac.Equal(mac, s.mac(enc)) {
		return "", ErrInvalidToken
	}
	// Only a payload we signed gets decoded, so its contents can be trusted from here.
	payload, err := b64.DecodeString(enc)
	if err != nil || len(payload) <= 1+8 || payload[0] != tokenVersion {
		return "", ErrInvalidToken
	}
	exp := int64(binary.BigEndian.Uint64(payload[1:9]))
	if now.Unix() >= exp {
		return "", ErrExpiredToken
	}
	return string(payload[9:]), nil
}

func (s *Signer) mac(encodedPayload string) []byte {
	h := hmac.New(sha256.New, s.key)
	h.Write([]byte(macContext))
	h.Write([]byte(encodedPayload))
	return h.Sum(nil)
}
