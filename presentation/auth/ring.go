package auth

import (
	"errors"
	"fmt"
	"strings"
)

// DefaultKeyID is the key id of a key given alone (OVEN_TOKEN_KEY, the dev key file,
// NewSigner). Moving such a key into a ring under this id keeps its tokens valid.
const DefaultKeyID = "default"

// maxKeyIDLen bounds a key id: it travels in every token.
const maxKeyIDLen = 32

// Key is one HMAC key of a Ring and its id.
type Key struct {
	ID     string
	Secret []byte
}

// Ring is the set of keys a Signer trusts: one signs new tokens, every one verifies
// the tokens that name it until they expire. A Ring is immutable.
//
// Rotation without logging anyone out, on every copy in turn (no copy may sign with a
// key that another copy cannot verify yet):
//  1. add the new key as verify-only;
//  2. once every copy has it, make it the signer;
//  3. once the longest token lifetime (OVEN_TOKEN_TTL) has passed, remove the old key:
//     a token that names a removed key is refused.
type Ring struct {
	signer Key
	keys   map[string][]byte
	ids    []string // in the order given, for logs
}

// NewRing returns a ring of keys in which signingID signs ("" means the first key).
// Ids are 1 to 32 of [A-Za-z0-9_-] and unique; secrets hold at least MinKeyLen bytes
// and are copied.
func NewRing(signingID string, keys ...Key) (*Ring, error) {
	if len(keys) == 0 {
		return nil, errors.New("auth: a key ring needs at least one key")
	}
	r := &Ring{keys: make(map[string][]byte, len(keys))}
	for _, k := range keys {
		if err := checkKeyID(k.ID); err != nil {
			return nil, err
		}
		if _, dup := r.keys[k.ID]; dup {
			return nil, fmt.Errorf("auth: key id %q appears twice", k.ID)
		}
		if len(k.Secret) < MinKeyLen {
			return nil, fmt.Errorf("auth: key %q has %d bytes, need at least %d", k.ID, len(k.Secret), MinKeyLen)
		}
		r.keys[k.ID] = append([]byte(nil), k.Secret...)
		r.ids = append(r.ids, k.ID)
	}
	if signingID == "" {
		signingID = keys[0].ID
	}
	secret, ok := r.keys[signingID]
	if !ok {
		return nil, fmt.Errorf("auth: signing key id %q is not in the ring %v", signingID, r.ids)
	}
	r.signer = Key{ID: signingID, Secret: secret}
	return r, nil
}

// ParseRing reads a ring written as OVEN_TOKEN_KEYS: comma-separated "<id>:<key>"
// entries, each key in hex or base64 as ParseKey reads it. signingID names the signing
// key; "" means the first entry.
func ParseRing(s, signingID string) (*Ring, error) {
	var keys []Key
	for entry := range strings.SplitSeq(s, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		id, secret, ok := strings.Cut(entry, ":")
		if !ok {
			return nil, fmt.Errorf("auth: key ring entry %q is not <id>:<key>", redact(entry))
		}
		id = strings.TrimSpace(id)
		key, err := ParseKey(secret)
		if err != nil {
			return nil, fmt.Errorf("auth: key %q: %w", id, err)
		}
		keys = append(keys, Key{ID: id, Secret: key})
	}
	return NewRing(strings.TrimSpace(signingID), keys...)
}

// redact keeps a malformed entry's first characters for the error message: enough to
// find it, not enough to leak a key into a log.
func redact(s string) string {
	if len(s) <= 4 {
		return s
	}
	return s[:4] + "…"
}

// SigningID returns the id of the key that signs new tokens.
func (r *Ring) SigningID() string { return r.signer.ID }

// IDs returns the ids of every key, in the order given.
func (r *Ring) IDs() []string { return append([]string(nil), r.ids...) }

func checkKeyID(id string) error {
	if id == "" || len(id) > maxKeyIDLen {
		return fmt.Errorf("auth: key id %q must be 1 to %d characters", id, maxKeyIDLen)
	}
	for _, c := range []byte(id) {
		if !keyIDChar(c) {
			return fmt.Errorf("auth: key id %q may hold only letters, digits, '-' and '_'", id)
		}
	}
	return nil
}

// keyIDChar: the base64url alphabet, so a key id never holds the token's '.'.
func keyIDChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}
