package auth_test

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ovengames/oven/presentation/auth"
)

func mustRing(t *testing.T, signing string, keys ...auth.Key) *auth.Ring {
	t.Helper()
	r, err := auth.NewRing(signing, keys...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func mustRingSigner(t *testing.T, r *auth.Ring) *auth.Signer {
	t.Helper()
	s, err := auth.NewRingSigner(r, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The rotation of Ring's documentation, step by step, as each copy would be configured.
// Tokens of every earlier step keep verifying until the old key is removed; then only
// its tokens fail.
func TestRotation(t *testing.T) {
	old := auth.Key{ID: "k1", Secret: key1}
	next := auth.Key{ID: "k2", Secret: key2}

	before := mustRingSigner(t, mustRing(t, "", old))
	oldTok, _ := before.Issue("p-1", t0)
	legacy := legacyToken(key1, "p-1", t0.Add(time.Hour)) // issued before key ids, under k1's key

	addVerifyOnly := mustRingSigner(t, mustRing(t, "", old, next)) // step 1: the first key still signs
	stillOld, _ := addVerifyOnly.Issue("p-2", t0)
	switched := mustRingSigner(t, mustRing(t, "k2", old, next)) // step 2: the new key signs
	newTok, _ := switched.Issue("p-3", t0)
	removed := mustRingSigner(t, mustRing(t, "", next)) // step 3: after the ttl

	if got := strings.Split(stillOld, ".")[0]; got != "k1" {
		t.Errorf("a verify-only key signed: token names %q", got)
	}
	if got := strings.Split(newTok, ".")[0]; got != "k2" {
		t.Errorf("after the switch the token names %q, want k2", got)
	}
	type want struct {
		Player string
		Err    error
	}
	tests := []struct {
		name   string
		signer *auth.Signer
		token  string
		want   want
	}{
		{"step 1 verifies the old key's token", addVerifyOnly, oldTok, want{"p-1", nil}},
		{"step 1 verifies a token from before key ids", addVerifyOnly, legacy, want{"p-1", nil}},
		{"step 2 verifies the old key's token", switched, oldTok, want{"p-1", nil}},
		{"step 2 verifies a token from before key ids", switched, legacy, want{"p-1", nil}},
		{"step 2 verifies its own token", switched, newTok, want{"p-3", nil}},
		// A copy still at step 1 while others switch: it knows the new key already.
		{"step 1 verifies the new key's token", addVerifyOnly, newTok, want{"p-3", nil}},
		{"before the rotation the new key's token is unknown", before, newTok, want{"", auth.ErrInvalidToken}},
		{"step 3 verifies the new key's token", removed, newTok, want{"p-3", nil}},
		{"step 3 refuses the removed key's token", removed, oldTok, want{"", auth.ErrInvalidToken}},
		{"step 3 refuses a token from before key ids under the removed key", removed, legacy, want{"", auth.ErrInvalidToken}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := tt.signer.Verify(tt.token, t0.Add(time.Minute))
			if diff := cmp.Diff(tt.want, want{c.PlayerID, err}, cmp.Comparer(func(a, b error) bool { return errors.Is(a, b) })); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// A token names its key, and a key reused under another id does not verify it: the id
// is under the MAC.
func TestKeyIDIsSigned(t *testing.T) {
	a := mustRingSigner(t, mustRing(t, "", auth.Key{ID: "a", Secret: key1}))
	b := mustRingSigner(t, mustRing(t, "", auth.Key{ID: "b", Secret: key1}))
	tok, _ := a.Issue("p-1", t0)
	if _, err := b.Verify("b"+strings.TrimPrefix(tok, "a"), t0); !errors.Is(err, auth.ErrInvalidToken) {
		t.Fatalf("a token moved to another key id: %v", err)
	}
}

func TestNewRing(t *testing.T) {
	k := func(id string, secret []byte) auth.Key { return auth.Key{ID: id, Secret: secret} }
	tests := []struct {
		name        string
		signing     string
		keys        []auth.Key
		wantSigning string
		wantErr     string
	}{
		{"first signs", "", []auth.Key{k("a", key1), k("b", key2)}, "a", ""},
		{"named signer", "b", []auth.Key{k("a", key1), k("b", key2)}, "b", ""},
		{"unknown signer", "c", []auth.Key{k("a", key1)}, "", `signing key id "c" is not in the ring`},
		{"no keys", "", nil, "", "at least one key"},
		{"duplicate id", "", []auth.Key{k("a", key1), k("a", key2)}, "", "appears twice"},
		{"short secret", "", []auth.Key{k("a", key1[:31])}, "", "need at least 32"},
		{"empty id", "", []auth.Key{k("", key1)}, "", "1 to 32 characters"},
		{"long id", "", []auth.Key{k(strings.Repeat("a", 33), key1)}, "", "1 to 32 characters"},
		{"dot in id", "", []auth.Key{k("a.b", key1)}, "", "only letters"},
		{"colon in id", "", []auth.Key{k("a:b", key1)}, "", "only letters"},
		{"id alphabet", "", []auth.Key{k("2026-01_Rot", key1)}, "2026-01_Rot", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := auth.NewRing(tt.signing, tt.keys...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.SigningID() != tt.wantSigning {
				t.Errorf("signing id = %q, want %q", r.SigningID(), tt.wantSigning)
			}
		})
	}
}

func TestParseRing(t *testing.T) {
	h1, b2 := hex.EncodeToString(key1), base64.StdEncoding.EncodeToString(key2)
	tests := []struct {
		name, keys, signing string
		wantIDs             []string
		wantSigning         string
		wantErr             string
	}{
		{"one key", "k1:" + h1, "", []string{"k1"}, "k1", ""},
		{"two keys, first signs", "k1:" + h1 + ",k2:" + b2, "", []string{"k1", "k2"}, "k1", ""},
		{"two keys, named signer", "k1:" + h1 + ",k2:" + b2, "k2", []string{"k1", "k2"}, "k2", ""},
		{"spaces and a trailing comma", " k1 : " + h1 + " ,\n k2:" + b2 + ",", "", []string{"k1", "k2"}, "k1", ""},
		{"no id", h1, "", nil, "", "not <id>:<key>"},
		{"bad key", "k1:tooshort", "", nil, "", `key "k1"`},
		{"empty", " , ", "", nil, "", "at least one key"},
		{"unknown signer", "k1:" + h1, "k9", nil, "", "not in the ring"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := auth.ParseRing(tt.keys, tt.signing)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), h1) {
					t.Errorf("the error leaks the key: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.wantIDs, r.IDs()); diff != "" {
				t.Errorf("ids (-want +got):\n%s", diff)
			}
			if r.SigningID() != tt.wantSigning {
				t.Errorf("signing id = %q, want %q", r.SigningID(), tt.wantSigning)
			}
		})
	}
	// The parsed keys are the keys: a token of k2's key verifies.
	r, err := auth.ParseRing("k1:"+h1+",k2:"+b2, "k2")
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := mustRingSigner(t, r).Issue("p-1", t0)
	byHand := mustRingSigner(t, mustRing(t, "", auth.Key{ID: "k2", Secret: key2}))
	if c, err := byHand.Verify(tok, t0); err != nil || c.PlayerID != "p-1" {
		t.Fatalf("%+v %v", c, err)
	}
}
