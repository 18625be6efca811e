package auth

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// errShortKey is wrapped by ParseKey when a key decodes but is too short.
var errShortKey = errors.New("key too short")

// ParseKey decodes a signing key given as hex or base64 (standard or URL alphabet,
// padded or not), as in OVEN_TOKEN_KEY. The key must hold at least MinKeyLen bytes.
// Hex is tried first: a hex string is also valid base64 but means something else.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("auth: empty key")
	}
	key, err := decodeKey(s)
	if err != nil {
		return nil, err
	}
	if len(key) < MinKeyLen {
		return nil, fmt.Errorf("auth: %w: %d bytes, need at least %d", errShortKey, len(key), MinKeyLen)
	}
	return key, nil
}

func decodeKey(s string) ([]byte, error) {
	if key, err := hex.DecodeString(s); err == nil {
		return key, nil
	}
	for _, enc := range []*base64.Encoding{
		base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding,
	} {
		if key, err := enc.DecodeString(s); err == nil {
			return key, nil
		}
	}
	return nil, errors.New("auth: key is neither hex nor base64")
}

// LoadOrCreateKey returns the key stored at path, creating it with MinKeyLen random
// bytes (hex, mode 0600) on first use. It is meant for development, where neither
// OVEN_TOKEN_KEY nor OVEN_TOKEN_KEYS is configured but tokens should survive a restart.
//
// Several processes may start at once, so the file appears atomically: it is written
// under a temporary name and linked into place, and a loser of that race reads the
// winner's key instead of overwriting it.
func LoadOrCreateKey(path string) ([]byte, error) {
	key, err := readKey(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}
	if err := createKey(path); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, err
	}
	return readKey(path)
}

func readKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	key, err := ParseKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("auth: key file %s: %w", path, err)
	}
	return key, nil
}

func createKey(path string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("auth: create key dir: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".oven-key-*")
	if err != nil {
		return fmt.Errorf("auth: create key: %w", err)
	}
	defer os.Remove(tmp.Name())
	// CreateTemp already uses 0600; Chmod keeps that true whatever the umask did.
	if err := writeNewKey(tmp); err != nil {
		return fmt.Errorf("auth: write key: %w", err)
	}
	return os.Link(tmp.Name(), path)
}

func writeNewKey(f *os.File) error {
	key := make([]byte, MinKeyLen)
	if _, err := rand.Read(key); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.WriteString(hex.EncodeToString(key) + "\n"); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
