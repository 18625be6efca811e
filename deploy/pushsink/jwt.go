package pushsink

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
)

// jwt is a decoded, not yet verified, compact JWS.
type jwt struct {
	header       jwtHeader
	claims       jwtClaims
	signingInput []byte
	signature    []byte
}

type jwtHeader struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	Typ string `json:"typ"`
}

// jwtClaims holds the claims used by APNs provider tokens and Google
// service-account assertions. Times are JSON numbers (seconds).
type jwtClaims struct {
	Iss   string      `json:"iss"`
	Iat   json.Number `json:"iat"`
	Exp   json.Number `json:"exp"`
	Aud   string      `json:"aud"`
	Scope string      `json:"scope"`
	Sub   string      `json:"sub"`
}

var errMalformedJWT = errors.New("malformed JWT")

func parseJWT(s string) (*jwt, error) {
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return nil, errMalformedJWT
	}
	var t jwt
	if err := decodeSegment(parts[0], &t.header); err != nil {
		return nil, err
	}
	if err := decodeSegment(parts[1], &t.claims); err != nil {
		return nil, err
	}
	sig, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[2], "="))
	if err != nil || len(sig) == 0 {
		return nil, errMalformedJWT
	}
	t.signingInput = []byte(parts[0] + "." + parts[1])
	t.signature = sig
	return &t, nil
}

func decodeSegment(seg string, v any) error {
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(seg, "="))
	if err != nil {
		return errMalformedJWT
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return errMalformedJWT
	}
	return nil
}

// seconds returns a NumericDate claim; ok is false when absent or not an
// integer.
func seconds(n json.Number) (int64, bool) {
	v, err := n.Int64()
	return v, err == nil
}

// verifyES256 checks a JWS ES256 signature (r||s, 32 bytes each).
func (t *jwt) verifyES256(pub *ecdsa.PublicKey) bool {
	if len(t.signature) != 64 {
		return false
	}
	h := sha256.Sum256(t.signingInput)
	r := new(big.Int).SetBytes(t.signature[:32])
	s := new(big.Int).SetBytes(t.signature[32:])
	return ecdsa.Verify(pub, h[:], r, s)
}

// verifyRS256 checks a JWS RS256 (PKCS #1 v1.5, SHA-256) signature.
func (t *jwt) verifyRS256(pub *rsa.PublicKey) bool {
	h := sha256.Sum256(t.signingInput)
	return rsa.VerifyPKCS1v15(pub, crypto.SHA256, h[:], t.signature) == nil
}
