package pushsink

import (
	"net/http"
	"sync"
	"time"
)

const (
	jwtBearerGrant    = "urn:ietf:params:oauth:grant-type:jwt-bearer"
	accessTokenTTL    = time.Hour
	assertionMaxTTL   = time.Hour
	assertionSkew     = 5 * time.Minute
	tokenRequestLimit = 64 << 10
	msgBadTimeframe   = "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim."
)

// accessToken is what the sink knows of an access token it issued.
type accessToken struct {
	project string // "" when the service account's project is unknown
	expires time.Time
}

type tokenStore struct {
	mu sync.Mutex
	m  map[string]accessToken
}

func newTokenStore() *tokenStore { return &tokenStore{m: make(map[string]accessToken)} }

func (ts *tokenStore) issue(t accessToken, now time.Time) string {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	for k, v := range ts.m {
		if !now.Before(v.expires) {
			delete(ts.m, k)
		}
	}
	tok := "ya29.sink-" + randomToken(48)
	ts.m[tok] = t
	return tok
}

func (ts *tokenStore) lookup(tok string, now time.Time) (accessToken, bool) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	t, ok := ts.m[tok]
	if !ok || !now.Before(t.expires) {
		return accessToken{}, false
	}
	return t, true
}

// oauthError is an OAuth 2.0 error answer (RFC 6749 §5.2).
type oauthError struct {
	status      int
	code        string
	description string
}

func grantErr(description string) *oauthError {
	return &oauthError{http.StatusBadRequest, "invalid_grant", description}
}

// handleToken serves POST /token: the JWT-bearer grant (RFC 7523) that
// Google's service-account credentials use.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	tok, e := s.grant(r)
	if e != nil {
		writeJSON(w, e.status, map[string]string{"error": e.code, "error_description": e.description})
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": tok, "token_type": "Bearer", "expires_in": int(accessTokenTTL / time.Second),
	})
}

func (s *Server) grant(r *http.Request) (string, *oauthError) {
	if r.Method != http.MethodPost {
		return "", &oauthError{http.StatusMethodNotAllowed, "invalid_request", "The token endpoint only accepts POST."}
	}
	r.Body = http.MaxBytesReader(nil, r.Body, tokenRequestLimit)
	if err := r.ParseForm(); err != nil {
		return "", &oauthError{http.StatusBadRequest, "invalid_request", "Malformed form body."}
	}
	if gt := r.PostForm.Get("grant_type"); gt != jwtBearerGrant {
		return "", &oauthError{http.StatusBadRequest, "unsupported_grant_type", "Invalid grant_type: " + gt}
	}
	raw := r.PostForm.Get("assertion")
	if raw == "" {
		return "", &oauthError{http.StatusBadRequest, "invalid_request", "Missing required parameter: assertion"}
	}
	t, err := parseJWT(raw)
	if err != nil {
		return "", grantErr("Invalid JWT: malformed assertion.")
	}
	acct, e := s.checkAssertion(t, "https://"+r.Host+r.URL.Path)
	if e != nil {
		return "", e
	}
	at := accessToken{project: acct.project, expires: s.now().Add(accessTokenTTL)}
	return s.tokens.issue(at, s.now()), nil
}

// checkAssertion checks the assertion's claims (iss, aud, scope, iat, exp)
// and, for a known service account, its RS256 signature.
func (s *Server) checkAssertion(t *jwt, audience string) (serviceAccount, *oauthError) {
	c := t.claims
	switch {
	case t.header.Alg != "RS256":
		return serviceAccount{}, grantErr("Invalid JWT: unsupported algorithm " + t.header.Alg)
	case c.Iss == "":
		return serviceAccount{}, grantErr("Invalid grant: account not found")
	case c.Aud != audience:
		return serviceAccount{}, grantErr("Invalid JWT: Failed audience check. The expected value was: " + audience)
	case !s.inTimeframe(c):
		return serviceAccount{}, grantErr(msgBadTimeframe)
	case c.Scope == "":
		return serviceAccount{}, &oauthError{http.StatusBadRequest, "invalid_scope", "Empty or missing scope not allowed."}
	}
	acct, known := s.accounts.get(c.Iss)
	if known && !t.verifyRS256(acct.key) {
		return serviceAccount{}, grantErr("Invalid JWT Signature.")
	}
	return acct, nil
}

func (s *Server) inTimeframe(c jwtClaims) bool {
	iat, ok1 := seconds(c.Iat)
	exp, ok2 := seconds(c.Exp)
	if !ok1 || !ok2 {
		return false
	}
	issued, expires, now := time.Unix(iat, 0), time.Unix(exp, 0), s.now()
	return expires.After(issued) && expires.Sub(issued) <= assertionMaxTTL &&
		now.Add(assertionSkew).After(issued) && now.Before(expires.Add(assertionSkew))
}
