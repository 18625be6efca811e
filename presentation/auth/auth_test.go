package auth_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
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
	parts := strings.Split(token, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	payload = append(payload[:17:17], playerID...)
	parts[1] = base64.RawURLEncoding.EncodeToString(payload)
	return strings.Join(parts, ".")
}

func flipLastMACChar(token string) string {
	last := token[len(token)-2]
	repl := byte('A')
	if last == 'A' {
		repl = 'B'
	}
	return token[:len(token)-2] + string(repl) + token[len(token)-1:]
}

// legacyToken writes a token of format 1, as Oven issued them before key ids: the
// golden tokens below pin it to what that code wrote.
func legacyToken(key []byte, playerID string, exp time.Time) string {
	payload := make([]byte, 9, 9+len(playerID))
	payload[0] = 1
	binary.BigEndian.PutUint64(payload[1:9], uint64(exp.Unix()))
	payload = append(payload, playerID...)
	enc := base64.RawURLEncoding.EncodeToString(payload)
	h := hmac.New(sha256.New, key)
	h.Write([]byte("oven-guest-token:" + enc))
	return enc + "." + base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// Tokens written by the code before key ids (NewSigner(key1, time.Hour).Issue(id, t0)).
const (
	goldenLegacyP123 = "AQAAAABppW2wcC0xMjM.ipsy2jr0yCS_OD2smT0zcSkOYITj0c9_mTy-E-eUGAc"
	goldenLegacyP1   = "AQAAAABppW2wcC0x.8phA7Rk43SAGostVNJhtJrpohLr9ko_LXVRUEYgkoT4"
)

func TestVerify(t *testing.T) {
	s := mustSigner(t, key1, time.Hour)
	other := mustSigner(t, key2, time.Hour)
	issued := t0.Add(1234 * time.Microsecond)
	token, exp := s.Issue("p-123", issued)
	if want := t0.Add(time.Hour); !exp.Equal(want) {
		t.Fatalf("expiresAt = %v, want %v", exp, want)
	}
	if !strings.HasPrefix(token, auth.DefaultKeyID+".") {
		t.Fatalf("token %q does not name its key", token)
	}
	otherToken, _ := other.Issue("p-123", t0)
	valid := auth.Claims{PlayerID: "p-123", IssuedAt: t0.Add(time.Millisecond), KeyID: auth.DefaultKeyID}

	tests := []struct {
		name    string
		token   string
		now     time.Time
		want    auth.Claims
		wantErr error
	}{
		{"valid", token, t0.Add(time.Minute), valid, nil},
		{"valid one second before expiry", token, exp.Add(-time.Second), valid, nil},
		{"expired at expiry", token, exp, auth.Claims{}, auth.ErrExpiredToken},
		{"expired later", token, exp.Add(48 * time.Hour), auth.Claims{}, auth.ErrExpiredToken},
		{"tampered payload", retamper(t, token, "p-999"), t0, auth.Claims{}, auth.ErrInvalidToken},
		{"tampered mac", flipLastMACChar(token), t0, auth.Claims{}, auth.ErrInvalidToken},
		{"tampered key id", "other" + strings.TrimPrefix(token, auth.DefaultKeyID), t0, auth.Claims{}, auth.ErrInvalidToken},
		{"key id dropped", strings.TrimPrefix(token, auth.DefaultKeyID+"."), t0, auth.Claims{}, auth.ErrInvalidToken},
		{"wrong key", otherToken, t0, auth.Claims{}, auth.ErrInvalidToken},
		{"garbage", "not a token", t0, auth.Claims{}, auth.ErrInvalidToken},
		{"empty", "", t0, auth.Claims{}, auth.ErrInvalidToken},
		{"dot only", ".", t0, auth.Claims{}, auth.ErrInvalidToken},
		{"two dots", "..", t0, auth.Claims{}, auth.ErrInvalidToken},
		{"mac missing", strings.TrimSuffix(token, strings.Split(token, ".")[2]), t0, auth.Claims{}, auth.ErrInvalidToken},
		{"extra part", token + ".x", t0, auth.Claims{}, auth.ErrInvalidToken},
		{"extra mac", token + "." + strings.Split(token, ".")[2], t0, auth.Claims{}, auth.ErrInvalidToken},
		{"huge", "default." + strings.Repeat("a", 100_000) + "." + strings.Split(token, ".")[2], t0, auth.Claims{}, auth.ErrInvalidToken},
		{"legacy", goldenLegacyP123, t0, auth.Claims{PlayerID: "p-123"}, nil},
		{"legacy expired", goldenLegacyP123, t0.Add(time.Hour), auth.Claims{}, auth.ErrExpiredToken},
		{"legacy tampered", flipLastMACChar(goldenLegacyP123), t0, auth.Claims{}, auth.ErrInvalidToken},
		{"legacy huge", strings.Repeat("a", 100_000) + "." + strings.Split(goldenLegacyP123, ".")[1], t0, auth.Claims{}, auth.ErrInvalidToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Verify(tt.token, tt.now)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("claims (-want +got):\n%s", diff)
			}
		})
	}
}

// The helper that writes format 1 tokens in these tests writes what the old code did.
func TestLegacyTokenHelper(t *testing.T) {
	for _, tt := range []struct{ id, want string }{{"p-123", goldenLegacyP123}, {"p-1", goldenLegacyP1}} {
		if got := legacyToken(key1, tt.id, t0.Add(time.Hour)); got != tt.want {
			t.Errorf("legacyToken(%q) = %q, want %q", tt.id, got, tt.want)
		}
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
