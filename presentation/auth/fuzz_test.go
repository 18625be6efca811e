package auth_test

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ovengames/oven/presentation/auth"
)

// FuzzVerify feeds Verify any bearer token. It must never panic, must refuse with
// one of its two errors, and may accept only a token that the signer itself writes for
// the claims inside it (Issue, or the format 1 code before key ids): one spelling per
// token, so a MAC cannot be re-spelt (the unused low bits of base64's last character)
// into a second valid token.
func FuzzVerify(f *testing.F) {
	s, err := auth.NewSigner(key1, time.Hour)
	if err != nil {
		f.Fatal(err)
	}
	for _, id := range []string{"1", "p-123", "42", strings.Repeat("9", 256)} {
		tok, _ := s.Issue(id, t0)
		f.Add(tok)
		f.Add(flipLastMACChar(tok))
		old := legacyToken(key1, id, t0.Add(time.Hour))
		f.Add(old)
		f.Add(flipLastMACChar(old))
	}
	f.Add("")
	f.Add(".")
	f.Add("AQ.AQ")
	f.Add("default.AQ.AQ")
	f.Fuzz(func(t *testing.T, token string) {
		c, err := s.Verify(token, t0)
		if err != nil {
			if !errors.Is(err, auth.ErrInvalidToken) && !errors.Is(err, auth.ErrExpiredToken) {
				t.Fatalf("Verify(%q) = %v: not one of its errors", token, err)
			}
			return
		}
		if c.PlayerID == "" || len(c.PlayerID) > 256 {
			t.Fatalf("Verify(%q) accepted player id %q", token, c.PlayerID)
		}
		parts := strings.Split(token, ".")
		payload, derr := base64.RawURLEncoding.DecodeString(parts[len(parts)-2])
		if derr != nil || len(payload) < 9 {
			t.Fatalf("Verify(%q) accepted a payload that does not decode: %v", token, derr)
		}
		var again string
		switch len(parts) {
		case 2:
			again = legacyToken(key1, c.PlayerID, time.Unix(int64(binary.BigEndian.Uint64(payload[1:9])), 0))
		case 3:
			again, _ = s.Issue(c.PlayerID, c.IssuedAt)
		default:
			t.Fatalf("Verify accepted %q of %d parts", token, len(parts))
		}
		if again != token {
			t.Fatalf("Verify accepted %q, but the signer writes that token as %q", token, again)
		}
	})
}

// FuzzIssueVerify: every token Issue writes verifies to its player id and issue time
// until it expires, and under no other key.
func FuzzIssueVerify(f *testing.F) {
	f.Add("p-123", int64(3600))
	f.Add("\x00\xff", int64(1))
	f.Add(strings.Repeat("x", 256), int64(30*24*3600))
	f.Fuzz(func(t *testing.T, id string, ttlS int64) {
		if id == "" || len(id) > 256 || ttlS < 1 || ttlS > 10*365*24*3600 {
			return // Issue's documented domain
		}
		ttl := time.Duration(ttlS) * time.Second
		s, err := auth.NewSigner(key1, ttl)
		if err != nil {
			t.Fatal(err)
		}
		now := t0.Add(1500 * time.Microsecond)
		tok, exp := s.Issue(id, now)
		want := auth.Claims{PlayerID: id, IssuedAt: now.Truncate(time.Millisecond), KeyID: auth.DefaultKeyID}
		if got, err := s.Verify(tok, now); err != nil || !cmp.Equal(got, want) {
			t.Fatalf("Verify(Issue(%q)) = %+v, %v", id, got, err)
		}
		if got, err := s.Verify(tok, exp.Add(-time.Second)); err != nil || !cmp.Equal(got, want) {
			t.Fatalf("a second before expiry: %+v, %v", got, err)
		}
		if _, err := s.Verify(tok, exp); !errors.Is(err, auth.ErrExpiredToken) {
			t.Fatalf("at expiry: %v, want expired", err)
		}
		other, _ := auth.NewSigner(key2, ttl)
		if _, err := other.Verify(tok, now); !errors.Is(err, auth.ErrInvalidToken) {
			t.Fatalf("under another key: %v, want invalid", err)
		}
	})
}
