package pushsink_test

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/url"
	"testing"
	"time"

	"github.com/ovengames/oven/deploy/pushsink"
)

type saFile struct {
	ClientEmail  string `json:"client_email"`
	PrivateKey   string `json:"private_key"`
	PrivateKeyID string `json:"private_key_id"`
	TokenURI     string `json:"token_uri"`
	ProjectID    string `json:"project_id"`
}

func parseSA(t *testing.T, b []byte) (saFile, *rsa.PrivateKey) {
	t.Helper()
	sa := decode[saFile](t, b)
	block, _ := pem.Decode([]byte(sa.PrivateKey))
	if block == nil {
		t.Fatal("private_key is not PEM")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return sa, k.(*rsa.PrivateKey)
}

// assertion signs an RS256 JWT with claims.
func assertion(t *testing.T, key *rsa.PrivateKey, claims map[string]any) string {
	t.Helper()
	seg := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	input := seg(map[string]string{"alg": "RS256", "typ": "JWT"}) + "." + seg(claims)
	h := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, h[:])
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func claimsFor(sa saFile, now time.Time) map[string]any {
	return map[string]any{
		"iss": sa.ClientEmail, "scope": "https://www.googleapis.com/auth/firebase.messaging",
		"aud": sa.TokenURI, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
}

func tokenRequest(t *testing.T, srv *pushsink.Server, form url.Values) (int, map[string]any) {
	t.Helper()
	res := do(t, srv.HTTPClient(), "POST", srv.TokenURI(),
		map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, []byte(form.Encode()))
	return res.status, decode[map[string]any](t, res.body)
}

func grantForm(a string) url.Values {
	return url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {a}}
}

func TestServiceAccountFile(t *testing.T) {
	srv := pushsink.StartForTest(t, pushsink.Config{})
	b, err := srv.NewServiceAccount(testProject)
	if err != nil {
		t.Fatal(err)
	}
	sa, key := parseSA(t, b)
	if sa.TokenURI != srv.TokenURI() || sa.ProjectID != testProject || sa.ClientEmail == "" || sa.PrivateKeyID == "" || key.N.BitLen() != 2048 {
		t.Errorf("service account = %+v", sa)
	}
}

func TestTokenEndpoint(t *testing.T) {
	srv := pushsink.StartForTest(t, pushsink.Config{})
	b, _ := srv.NewServiceAccount(testProject)
	sa, key := parseSA(t, b)
	otherKey, _ := rsa.GenerateKey(rand.Reader, 1024)
	now := time.Now()

	status, got := tokenRequest(t, srv, grantForm(assertion(t, key, claimsFor(sa, now))))
	if status != 200 || got["token_type"] != "Bearer" || got["expires_in"] != 3600.0 || got["access_token"] == "" {
		t.Fatalf("grant = %d %v", status, got)
	}

	with := func(k string, v any) map[string]any {
		c := claimsFor(sa, now)
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	cases := []struct {
		name  string
		form  url.Values
		error string
	}{
		{"wrong grant type", url.Values{"grant_type": {"client_credentials"}}, "unsupported_grant_type"},
		{"no assertion", url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}}, "invalid_request"},
		{"not a JWT", grantForm("nope"), "invalid_grant"},
		{"bad signature", grantForm(assertion(t, otherKey, claimsFor(sa, now))), "invalid_grant"},
		{"wrong audience", grantForm(assertion(t, key, with("aud", "https://oauth2.googleapis.com/token"))), "invalid_grant"},
		{"too long-lived", grantForm(assertion(t, key, with("exp", now.Add(2*time.Hour).Unix()))), "invalid_grant"},
		{"expired", grantForm(assertion(t, key, with("exp", now.Add(-time.Hour).Unix()))), "invalid_grant"},
		{"no scope", grantForm(assertion(t, key, with("scope", nil))), "invalid_scope"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, got := tokenRequest(t, srv, tc.form)
			if status != 400 || got["error"] != tc.error || got["error_description"] == "" {
				t.Errorf("answer = %d %v, want 400 %s", status, got, tc.error)
			}
		})
	}
}

func TestTokenEndpointUnknownAccountIsStructureOnly(t *testing.T) {
	srv := pushsink.StartForTest(t, pushsink.Config{})
	key, _ := rsa.GenerateKey(rand.Reader, 1024)
	sa := saFile{ClientEmail: "someone@elsewhere.iam.gserviceaccount.com", TokenURI: srv.TokenURI()}
	status, got := tokenRequest(t, srv, grantForm(assertion(t, key, claimsFor(sa, time.Now()))))
	if status != 200 || got["access_token"] == "" {
		t.Fatalf("grant = %d %v", status, got)
	}
	// A token of an account of unknown project may send for any project.
	tok := got["access_token"].(string)
	res := do(t, bearerClient(srv, tok), "POST", srv.FCMEndpoint()+"/projects/any/messages:send", nil,
		[]byte(`{"message":{"topic":"news"}}`))
	if res.status != 200 {
		t.Errorf("send = %d %s", res.status, res.body)
	}
}
