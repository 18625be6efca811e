package main

import (
	"bytes"
	"encoding/hex"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ovengames/oven/presentation/auth"
)

func TestTokenRing(t *testing.T) {
	k1, k2 := hex.EncodeToString(bytes.Repeat([]byte{1}, 32)), hex.EncodeToString(bytes.Repeat([]byte{2}, 32))
	tests := []struct {
		name                  string
		keys, key, signingKID string
		wantIDs               []string
		wantSigning           string
		wantErr               string
	}{
		{name: "ring, first signs", keys: "old:" + k1 + ",new:" + k2, wantIDs: []string{"old", "new"}, wantSigning: "old"},
		{name: "ring, named signer", keys: "old:" + k1 + ",new:" + k2, signingKID: "new", wantIDs: []string{"old", "new"}, wantSigning: "new"},
		{name: "one key", key: k1, wantIDs: []string{auth.DefaultKeyID}, wantSigning: auth.DefaultKeyID},
		{name: "dev key file", wantIDs: []string{auth.DefaultKeyID}, wantSigning: auth.DefaultKeyID},
		{name: "both", keys: "old:" + k1, key: k2, wantErr: "both set"},
		{name: "unknown signer", keys: "old:" + k1, signingKID: "new", wantErr: "not in the ring"},
		{name: "unknown signer for one key", key: k1, signingKID: "new", wantErr: "not in the ring"},
		{name: "bad ring", keys: "old", wantErr: "OVEN_TOKEN_KEYS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("OVEN_STATE_DIR", t.TempDir())
			t.Setenv("OVEN_TOKEN_KEYS", tt.keys)
			t.Setenv("OVEN_TOKEN_KEY", tt.key)
			t.Setenv("OVEN_TOKEN_SIGNING_KID", tt.signingKID)
			r, err := tokenRing()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
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
				t.Errorf("signing = %q, want %q", r.SigningID(), tt.wantSigning)
			}
		})
	}
}

// make run keeps its tokens across restarts, and across the upgrade to key rings: the
// dev key file is the key "default", which is the key NewSigner signs with.
func TestTokenRingDevKeyFile(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("OVEN_STATE_DIR", dir)
	t.Setenv("OVEN_TOKEN_KEYS", "")
	t.Setenv("OVEN_TOKEN_KEY", "")
	t.Setenv("OVEN_TOKEN_SIGNING_KID", "")
	r, err := tokenRing()
	if err != nil {
		t.Fatal(err)
	}
	s, err := auth.NewRingSigner(r, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	key, err := auth.LoadOrCreateKey(filepath.Join(dir, "token.key"))
	if err != nil {
		t.Fatal(err)
	}
	same, err := auth.NewSigner(key, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tok, _ := same.Issue("p-1", now)
	if c, err := s.Verify(tok, now); err != nil || c.PlayerID != "p-1" {
		t.Fatalf("a token of the dev key file: %+v %v", c, err)
	}
}
