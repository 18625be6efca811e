package pushsink

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"strings"
	"time"
)

const (
	// apnsTokenLifetime: APNs refuses provider tokens issued over an hour ago.
	apnsTokenLifetime = time.Hour
	// apnsTokenSkew is how far in the future an iat may be (the sink's rule).
	apnsTokenSkew = 5 * time.Minute
)

// checkProviderToken checks the "authorization: bearer <JWT>" provider token:
// header alg ES256 and kid, claims iss and iat, issued within the last hour;
// the team ID and signature too when configured.
func (s *Server) checkProviderToken(r *http.Request, _ *Delivery) *apnsError {
	raw, ok := bearer(r.Header.Get("authorization"))
	if !ok {
		return apnsErr(http.StatusForbidden, "MissingProviderToken")
	}
	t, err := parseJWT(raw)
	if err != nil || !s.validProviderToken(t) {
		return apnsErr(http.StatusForbidden, "InvalidProviderToken")
	}
	iat, _ := seconds(t.claims.Iat)
	issued := time.Unix(iat, 0)
	if s.now().Sub(issued) > apnsTokenLifetime {
		return apnsErr(http.StatusForbidden, "ExpiredProviderToken")
	}
	if issued.Sub(s.now()) > apnsTokenSkew {
		return apnsErr(http.StatusForbidden, "InvalidProviderToken")
	}
	return nil
}

func (s *Server) validProviderToken(t *jwt) bool {
	_, hasIat := seconds(t.claims.Iat)
	switch {
	case t.header.Alg != "ES256", t.header.Kid == "", t.claims.Iss == "", !hasIat:
		return false
	case s.cfg.APNsTeamID != "" && t.claims.Iss != s.cfg.APNsTeamID:
		return false
	case len(s.cfg.APNsKeys) == 0:
		return len(t.signature) == 64 // structure only: an ES256 r||s
	}
	pub := s.cfg.APNsKeys[t.header.Kid]
	return pub != nil && t.verifyES256(pub)
}

// bearer extracts the token of a "Bearer <token>" header value (the scheme
// is case-insensitive).
func bearer(h string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(h), " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "bearer") || token == "" {
		return "", false
	}
	return token, true
}

// NewAPNsAuthKey generates an APNs-style auth key: a P-256 private key as a
// PKCS #8 PEM (the .p8 file Apple hands out) and its public key, to put in
// Config.APNsKeys.
func NewAPNsAuthKey() (p8 []byte, pub *ecdsa.PublicKey, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), &key.PublicKey, nil
}
