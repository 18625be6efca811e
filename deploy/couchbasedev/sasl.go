package couchbasedev

import (
	"bytes"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"strings"
)

// saslMechs is the SASL_LIST_MECHS reply, strongest first.
const saslMechs = "SCRAM-SHA512 SCRAM-SHA256 SCRAM-SHA1 PLAIN"

var errAuthFailed = errors.New("authentication failed")

// scramMech holds the server-side SCRAM secrets for one hash (RFC 5802 §3).
type scramMech struct {
	newHash   func() hash.Hash
	salt      []byte
	iter      int
	storedKey []byte
	serverKey []byte
}

// credentials are the configured user's password-derived secrets.
type credentials struct {
	user, pass string
	scram      map[string]*scramMech
}

func newCredentials(user, pass string) (*credentials, error) {
	c := &credentials{user: user, pass: pass, scram: map[string]*scramMech{}}
	hashes := map[string]func() hash.Hash{
		"SCRAM-SHA512": sha512.New,
		"SCRAM-SHA256": sha256.New,
		"SCRAM-SHA1":   sha1.New,
	}
	for name, h := range hashes {
		m, err := deriveScram(h, pass, scramIterations)
		if err != nil {
			return nil, err
		}
		c.scram[name] = m
	}
	return c, nil
}

// deriveScram computes StoredKey and ServerKey from a random salt.
func deriveScram(h func() hash.Hash, pass string, iter int) (*scramMech, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return nil, err
	}
	salted, err := pbkdf2.Key(h, pass, salt, iter, h().Size())
	if err != nil {
		return nil, err
	}
	clientKey := hmacSum(h, salted, []byte("Client Key"))
	return &scramMech{
		newHash:   h,
		salt:      salt,
		iter:      iter,
		storedKey: hashSum(h, clientKey),
		serverKey: hmacSum(h, salted, []byte("Server Key")),
	}, nil
}

func hmacSum(h func() hash.Hash, key, msg []byte) []byte {
	m := hmac.New(h, key)
	m.Write(msg)
	return m.Sum(nil)
}

func hashSum(h func() hash.Hash, msg []byte) []byte {
	d := h()
	d.Write(msg)
	return d.Sum(nil)
}

// scramSession is an in-progress SCRAM exchange on one connection.
type scramSession struct {
	mech        *scramMech
	user        string
	userOK      bool
	nonce       string // client nonce + server nonce
	clientFirst string // client-first-message-bare
	serverFirst string
}

// verifyPlain checks a PLAIN initial response: [authzid] NUL user NUL pass.
func (c *credentials) verifyPlain(msg []byte) (string, error) {
	parts := bytes.Split(msg, []byte{0})
	if len(parts) != 3 {
		return "", errAuthFailed
	}
	user, pass := string(parts[1]), string(parts[2])
	u := subtle.ConstantTimeCompare([]byte(user), []byte(c.user))
	p := subtle.ConstantTimeCompare([]byte(pass), []byte(c.pass))
	if u&p != 1 {
		return "", errAuthFailed
	}
	return user, nil
}

// startScram handles the client-first message ("n,,n=user,r=nonce") and
// returns the session and the server-first message. Unknown users still get
// a challenge (with the real salt) so that they fail only at the final step.
func (c *credentials) startScram(mechName string, msg []byte) (*scramSession, string, error) {
	mech := c.scram[mechName]
	if mech == nil {
		return nil, "", errAuthFailed
	}
	bare, ok := strings.CutPrefix(string(msg), "n,,")
	if !ok {
		return nil, "", errAuthFailed // channel binding and authzid are unsupported
	}
	attrs := scramAttrs(bare)
	user, cnonce := decodeSaslName(attrs["n"]), attrs["r"]
	if user == "" || cnonce == "" {
		return nil, "", errAuthFailed
	}
	sess := &scramSession{
		mech:        mech,
		user:        user,
		userOK:      subtle.ConstantTimeCompare([]byte(user), []byte(c.user)) == 1,
		nonce:       cnonce + randomHex(12),
		clientFirst: bare,
	}
	sess.serverFirst = fmt.Sprintf("r=%s,s=%s,i=%d",
		sess.nonce, base64.StdEncoding.EncodeToString(mech.salt), mech.iter)
	return sess, sess.serverFirst, nil
}

// finish verifies the client-final message ("c=biws,r=nonce,p=proof") and
// returns the server-final message ("v=signature").
func (s *scramSession) finish(msg []byte) (string, error) {
	final := string(msg)
	withoutProof, proofB64, ok := strings.Cut(final, ",p=")
	if !ok {
		return "", errAuthFailed
	}
	attrs := scramAttrs(withoutProof)
	if attrs["c"] != "biws" || attrs["r"] != s.nonce {
		return "", errAuthFailed
	}
	proof, err := base64.StdEncoding.DecodeString(proofB64)
	if err != nil || len(proof) != len(s.mech.storedKey) {
		return "", errAuthFailed
	}
	authMsg := []byte(s.clientFirst + "," + s.serverFirst + "," + withoutProof)
	h := s.mech.newHash
	clientSig := hmacSum(h, s.mech.storedKey, authMsg)
	clientKey := make([]byte, len(proof))
	subtle.XORBytes(clientKey, proof, clientSig)
	if subtle.ConstantTimeCompare(hashSum(h, clientKey), s.mech.storedKey) != 1 || !s.userOK {
		return "", errAuthFailed
	}
	serverSig := hmacSum(h, s.mech.serverKey, authMsg)
	return "v=" + base64.StdEncoding.EncodeToString(serverSig), nil
}

// scramAttrs parses "k=v,k=v" SCRAM attributes.
func scramAttrs(s string) map[string]string {
	out := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		if k, v, ok := strings.Cut(kv, "="); ok && len(k) == 1 {
			out[k] = v
		}
	}
	return out
}

// decodeSaslName reverses the RFC 5802 escaping of ',' and '='.
func decodeSaslName(s string) string {
	return strings.NewReplacer("=2C", ",", "=3D", "=").Replace(s)
}
