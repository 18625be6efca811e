package oven

import (
	"unicode/utf16"
	"unicode/utf8"
)

// CheckJSONText checks that b, a JSON text from a client or an operator, is text as
// API.md promises ("JSON in and out, UTF-8"): valid UTF-8, and no \u escape of a lone
// UTF-16 surrogate. encoding/json would otherwise turn either into U+FFFD without a
// word, so two different inputs (two device ids) would decode to one string. It does
// not check the JSON syntax, which the decoder does; errors are invalid_argument.
func CheckJSONText(b []byte) error {
	if !utf8.Valid(b) {
		return Errorf(EInvalid, "JSON text is not valid UTF-8")
	}
	// A backslash only appears inside strings (anywhere else the decoder refuses the
	// text), and always begins an escape: stepping over each escape keeps "\\u" apart
	// from "\u".
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' {
			continue
		}
		r, ok := escapedRune(b[i:])
		if !ok {
			i++ // a two-character escape, or a malformed one the decoder reports
			continue
		}
		i += 5
		if !utf16.IsSurrogate(r) {
			continue
		}
		low, ok := escapedRune(b[i+1:])
		if r >= 0xDC00 || !ok || utf16.DecodeRune(r, low) == utf8.RuneError {
			return Errorf(EInvalid, `JSON text escapes a lone surrogate (\u%04x)`, r)
		}
		i += 6
	}
	return nil
}

// escapedRune decodes a \uXXXX escape at the start of b.
func escapedRune(b []byte) (rune, bool) {
	if len(b) < 6 || b[0] != '\\' || b[1] != 'u' {
		return 0, false
	}
	var r rune
	for _, c := range b[2:6] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// Push platforms: the provider a device token belongs to.
const (
	PushAPNs = "apns"
	PushFCM  = "fcm"
)

// CheckPushToken refuses a device-token platform or token API.md rules out: checked by
// the presentation tier where it enters and again by the owner shard.
func CheckPushToken(platform, token string) error {
	if platform != PushAPNs && platform != PushFCM {
		return Errorf(EInvalid, `platform must be "apns" or "fcm"`)
	}
	if n := len(token); n < MinPushToken || n > MaxPushToken {
		return Errorf(EInvalid, "token must be %d-%d characters", MinPushToken, MaxPushToken)
	}
	for i := 0; i < len(token); i++ {
		if c := token[i]; c <= ' ' || c > '~' {
			return Errorf(EInvalid, "token must be printable ASCII without spaces")
		}
	}
	return nil
}
