package oven

import (
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
)

// NewID returns an opaque id that encodes the real time it was made (base-36 unix ms) and
// 64 random bits, e.g. "mwrq1oj5-11d0698f68656fc0". Rows keyed by such an id go to the
// day partition of that time, which any process can compute from the id alone.
func NewID(real time.Time) string {
	var b [8]byte
	rand.Read(b[:])
	return strconv.FormatInt(real.UnixMilli(), 36) + "-" + hex.EncodeToString(b[:])
}

// IDTime returns the real time encoded in an id made by NewID; false if id is not one.
func IDTime(id string) (time.Time, bool) {
	ms, rest, ok := strings.Cut(id, "-")
	if !ok || len(rest) != 16 || len(ms) > 12 {
		return time.Time{}, false
	}
	if _, err := hex.DecodeString(rest); err != nil {
		return time.Time{}, false
	}
	n, err := strconv.ParseInt(ms, 36, 64)
	if err != nil || n <= 0 {
		return time.Time{}, false
	}
	return time.UnixMilli(n), true
}
