package pushsink

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"sync"
)

// serviceAccount is a service account whose assertions the sink verifies.
type serviceAccount struct {
	key     *rsa.PublicKey
	project string // "" when unknown
}

type accountStore struct {
	mu sync.Mutex
	m  map[string]serviceAccount
}

func newAccountStore(keys map[string]*rsa.PublicKey) *accountStore {
	a := &accountStore{m: make(map[string]serviceAccount)}
	for email, key := range keys {
		a.m[email] = serviceAccount{key: key}
	}
	return a
}

func (a *accountStore) add(email string, acct serviceAccount) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.m[email] = acct
}

func (a *accountStore) get(email string) (serviceAccount, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	acct, ok := a.m[email]
	return acct, ok
}

// serviceAccountFile is Google's service-account key file format.
type serviceAccountFile struct {
	Type                    string `json:"type"`
	ProjectID               string `json:"project_id"`
	PrivateKeyID            string `json:"private_key_id"`
	PrivateKey              string `json:"private_key"`
	ClientEmail             string `json:"client_email"`
	ClientID                string `json:"client_id"`
	AuthURI                 string `json:"auth_uri"`
	TokenURI                string `json:"token_uri"`
	AuthProviderX509CertURL string `json:"auth_provider_x509_cert_url"`
	ClientX509CertURL       string `json:"client_x509_cert_url"`
	UniverseDomain          string `json:"universe_domain"`
}

// NewServiceAccount generates a service account of project, registers its
// public key (its assertions are then signature-checked and its access
// tokens only valid for project) and returns its key file, whose token_uri
// is the sink's POST /token.
func (s *Server) NewServiceAccount(project string) ([]byte, error) {
	if project == "" {
		return nil, errors.New("pushsink: NewServiceAccount needs a project")
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	email := fmt.Sprintf("firebase-adminsdk-sink@%s.iam.gserviceaccount.com", project)
	s.accounts.add(email, serviceAccount{key: &key.PublicKey, project: project})
	return json.MarshalIndent(serviceAccountFile{
		Type:         "service_account",
		ProjectID:    project,
		PrivateKeyID: hex.EncodeToString(key.PublicKey.N.Bytes()[:20]),
		PrivateKey:   string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		ClientEmail:  email,
		ClientID:     randomDigits(21),
		AuthURI:      s.URL() + "/auth",
		TokenURI:     s.TokenURI(),
		// The x509 URLs are not served; clients do not fetch them.
		AuthProviderX509CertURL: s.URL() + "/oauth2/v1/certs",
		ClientX509CertURL:       s.URL() + "/robot/v1/metadata/x509/" + email,
		UniverseDomain:          "googleapis.com",
	}, "", "  ")
}

func randomDigits(n int) string {
	max := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n)), nil)
	v, _ := rand.Int(rand.Reader, max)
	return fmt.Sprintf("%0*d", n, v)
}
