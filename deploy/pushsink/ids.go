package pushsink

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
)

// newUUID returns a random (version 4) UUID in canonical lowercase form.
func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// randomToken returns n random bytes as unpadded base64url-ish text
// ([A-Za-z0-9_-]).
func randomToken(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	var sb strings.Builder
	for _, c := range b {
		sb.WriteByte(alphabet[c&63])
	}
	return sb.String()
}

// FakeAPNsToken returns a random device token of the shape APNs issues
// (32 bytes, hex), which the sink accepts.
func FakeAPNsToken() string {
	var b [32]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// FakeFCMToken returns a random registration token of the shape FCM issues
// ("<instance id>:APA91b<...>"), which the sink accepts.
func FakeFCMToken() string {
	return randomToken(22) + ":APA91b" + randomToken(134)
}

// fcmMessageID returns a message ID like FCM's ("0:<ms>%<hex>").
func fcmMessageID(ms int64) string {
	var b [8]byte
	rand.Read(b[:])
	return fmt.Sprintf("0:%d%%%s", ms, hex.EncodeToString(b[:]))
}
