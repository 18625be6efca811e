package httpapi

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/presentation/apijson"
)

// Input limits. They are checked here so that bad input is refused before any shard
// spends work on it; the application tier still validates against the game data.
const (
	minDeviceID = 8
	maxDeviceID = 128
	maxName     = 24
	maxItemID   = 64
	maxPlayID   = 128
	maxBoosts   = 16
	maxPlayerID = 32
	maxMailID   = 128
	// An Idempotency-Key header (POST /v1/plays): 1–128 visible ASCII characters.
	maxIdempotencyKey = 128
	// Global leaderboard page size (API.md: 1–100, 10 when not asked).
	minLimit     = 1
	maxLimit     = 100
	defaultLimit = 10
)

// checkDeviceID checks API.md's device_id: 8–128 printable characters.
func checkDeviceID(id string) error {
	n := utf8.RuneCountInString(id)
	if n < minDeviceID || n > maxDeviceID || !apijson.Printable(id) {
		return oven.Errorf(oven.EInvalid, "device_id must be %d to %d printable characters", minDeviceID, maxDeviceID)
	}
	return nil
}

// normalizeName trims name and checks it is 1–24 characters without control characters
// (which would break other players' screens and the GMS).
func normalizeName(name string) (string, error) {
	name = strings.TrimSpace(name)
	n := utf8.RuneCountInString(name)
	if n < 1 || n > maxName {
		return "", oven.Errorf(oven.EInvalid, "name must be 1 to %d characters", maxName)
	}
	if strings.IndexFunc(name, unicode.IsControl) >= 0 {
		return "", oven.Errorf(oven.EInvalid, "name must not contain control characters")
	}
	return name, nil
}

// checkIdempotencyKey checks an Idempotency-Key header: absent, or 1–128 visible ASCII
// characters (it names a start in the player's own key space).
func checkIdempotencyKey(key string) error {
	if len(key) > maxIdempotencyKey || strings.IndexFunc(key, func(r rune) bool { return r <= ' ' || r > '~' }) >= 0 {
		return oven.Errorf(oven.EInvalid, "Idempotency-Key must be 1 to %d visible ASCII characters", maxIdempotencyKey)
	}
	return nil
}

// requiredInRange checks that a JSON integer field was sent and is 0 to max (one of
// oven's limits), before anything computes with it.
func requiredInRange(field string, v *int64, max int64) (int64, error) {
	switch {
	case v == nil:
		return 0, oven.Errorf(oven.EInvalid, "%s is required", field)
	case *v < 0:
		return 0, oven.Errorf(oven.EInvalid, "%s must not be negative", field)
	case *v > max:
		return 0, oven.Errorf(oven.EInvalid, "%s must be at most %d", field, max)
	}
	return *v, nil
}

// positiveInt parses a path segment that must be a positive decimal integer. Signs and
// leading zeros are refused so that each version has exactly one URL (and cache entry).
func positiveInt(field, s string) (int64, error) {
	bad := s == "" || s[0] == '0' || strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' }) >= 0
	v, err := strconv.ParseInt(s, 10, 64)
	if bad || err != nil {
		return 0, oven.Errorf(oven.EInvalid, "%s must be a positive integer", field)
	}
	return v, nil
}

// checkPlayerID checks a player id named by a client (in a path): 1–32 characters of
// [0-9A-Za-z_-]. Whether such a player exists is the owning shard's answer (not_found).
func checkPlayerID(field, id string) error {
	ok := id != "" && len(id) <= maxPlayerID
	for i := 0; ok && i < len(id); i++ {
		c := id[i]
		ok = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-'
	}
	if !ok {
		return oven.Errorf(oven.EInvalid, "%s must be 1 to %d characters of 0-9, A-Z, a-z, _ and -", field, maxPlayerID)
	}
	return nil
}

// parseLimit parses the limit query parameter: absent means defaultLimit; otherwise one
// decimal integer in [minLimit, maxLimit], without sign or leading zeros.
func parseLimit(values []string) (int32, error) {
	if len(values) == 0 {
		return defaultLimit, nil
	}
	bad := oven.Errorf(oven.EInvalid, "limit must be one integer from %d to %d", minLimit, maxLimit)
	if len(values) > 1 {
		return 0, bad
	}
	n, err := positiveInt("limit", values[0])
	if err != nil || n < minLimit || n > maxLimit {
		return 0, bad
	}
	return int32(n), nil
}
