package auth_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ovengames/oven/presentation/auth"
)

var (
	key1 = bytes.Repeat([]byte{1}, 32)
	key2 = bytes.Repeat([]byte{2}, 32)
	t0   = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
)

func mustSigner(t *testing.T, key []byte, ttl time.Duration) *auth.Signer {
	t.Helper()
	s, err := auth.NewSigner(key, ttl)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// retamper replaces the player id inside a token's payload but keeps the old MAC.
func retamper(t *testing.T, token, playerID string) string {
	t.Helper()
	enc, sig, _ := strings.Cut(token, ".")
	payload, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil {
		t.Fatal(err)
	}
	payload = append(payload[:9:9], playerID...)
	return base64.RawURLEncoding.EncodeToString(payload) + "." + sig
}

func flipLastMACChar(token string) string {
	last := token[len(token)-2]
	repl := byte('A')
	if last == 'A' {
		repl = 'B'
	}
	return token[:len(token)-2] + string(repl) + token[len(token)-1:]
}

func TestVerify(t *testing.T) {
	s := mustSigner(t, key1, time.Hour)
	other := mustSigner(t, key2, time.Hour)
	token, exp := s.Issue("p-123", t0)
	if want := t0.Add(time.Hour); !exp.Equal(want) {
		t.Fatalf("expiresAt = %v, want %v", exp, want)
	}
	otherToken, _ := other.Issue("p-123", t0)

	tests := []struct {
		name    string
		token   string
		now     time.Time
		want    string
		wantErr error
	}{
		{"valid", token, t0.Add(time.Minute), "p-123", nil},
		{"valid one second before expiry", token, exp.Add(-time.Second), "p-123", nil},
		{"expired at expiry", token, exp, "", auth.ErrExpiredToken},
		{"expired later", token, exp.Add(48 * time.Hour), "", auth.ErrExpiredToken},
		{"tampered payload", retamper(t, token, "p-999"), t0, "", auth.ErrInvalidToken},
		{"tampered mac", flipLastMACChar(token), t0, "", auth.ErrInvalidToken},
		{"wrong key", otherToken, t0, "", auth.ErrInvalidToken},
		{"garbage", "not a token", t0, "", auth.ErrInvalidToken},
		{"empty", "", t0, "", auth.ErrInvalidToken},
		{"dot only", ".", t0, "", auth.ErrInvalidToken},
		{"mac missing", strings.SplitN(token, ".", 2)[0] + ".", t0, "", auth.ErrInvalidToken},
		{"extra part", token + ".x", t0, "", auth.ErrInvalidToken},
		{"huge", strings.Repeat("a", 100_000) + "." + strings.Split(token, ".")[1], t0, "", auth.ErrInvalidToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Verify(tt.token, tt.now)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("player id (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNewSigner(t *testing.T) {
	tests := []struct {
		name    string
		key     []byte
		ttl     time.Duration
		wantErr bool
	}{
		{"ok", key1, time.Hour, false},
		{"short key", key1[:31], time.Hour, true},
		{"nil key", nil, time.Hour, true},
		{"zero ttl", key1, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := auth.NewSigner(tt.key, tt.ttl)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
		})
	}
}

func TestParseKey(t *testing.T) {
	key := make([]byte, 32)
	for i := range key {
		key[i] = byte(i * 7)
	}
	tests := []struct {
		name    string
		in      string
		want    []byte
		wantErr bool
	}{
		{"hex", hex.EncodeToString(key), key, false},
		{"hex with newline", hex.EncodeToString(key) + "\n", key, false},
		{"base64 std", base64.StdEncoding.EncodeToString(key), key, false},
		{"base64 raw url", base64.RawURLEncoding.EncodeToString(key), key, false},
		{"too short", hex.EncodeToString(key[:16]), nil, true},
		{"empty", "  ", nil, true},
		{"garbage", "this is not a key!!", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := auth.ParseKey(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("key (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoadOrCreateKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "token.key")
	first, err := auth.LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != auth.MinKeyLen {
		t.Fatalf("key has %d bytes", len(first))
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("mode = %v, want 0600", perm)
	}
	again, err := auth.LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(first, again); diff != "" {
		t.Errorf("key changed between loads (-first +again):\n%s", diff)
	}
}

// Processes of a dev stack start together; all of them must end up with one key.
func TestLoadOrCreateKeyConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token.key")
	const n = 16
	keys := make([][]byte, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { keys[i], errs[i] = auth.LoadOrCreateKey(path) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("goroutine %d: %v", i, errs[i])
		}
		if diff := cmp.Diff(keys[0], keys[i]); diff != "" {
			t.Fatalf("goroutine %d got another key (-0 +%d):\n%s", i, i, diff)
		}
	}
	leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".oven-key-*"))
	if len(leftovers) != 0 {
		t.Errorf("temporary files left behind: %v", leftovers)
	}
}

func TestLoadOrCreateKeyCorrupt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token.key")
	if err := os.WriteFile(path, []byte("short"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := auth.LoadOrCreateKey(path); err == nil {
		t.Fatal("corrupt key file accepted")
	}
}
