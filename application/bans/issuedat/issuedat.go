// Package issuedat carries the issue time of the caller's token from the presentation
// tier to the shard, so that the player's owner can refuse a token issued before the
// player's tokens were revoked (package bans) without a store round trip of its own.
//
// The presentation verifies the token and sends its issue time as gRPC metadata in
// unix milliseconds (Send); a token that did not record it (format 1, issued before
// key ids) is sent as 0, older than any revocation. The shard reads it (Receive). A
// call without it (shard to shard, older presentation copies during an upgrade, tests)
// is not judged on it.
//
// The value belongs to the player the call is keyed by: the presentation keys every
// call it makes for a token by that token's player, and gRPC never forwards incoming
// metadata, so a shard's own calls to other players' owners do not carry it.
package issuedat

import (
	"context"
	"strconv"
	"time"

	"google.golang.org/grpc/metadata"
)

// MetadataKey is the gRPC metadata key of the token's issue time, in unix milliseconds.
const MetadataKey = "oven-token-iat-ms"

// Send returns ctx with the token's issue time added to the outgoing gRPC metadata;
// a zero time (unknown) is sent as 0.
func Send(ctx context.Context, issuedAt time.Time) context.Context {
	var ms int64
	if !issuedAt.IsZero() {
		ms = max(issuedAt.UnixMilli(), 0)
	}
	return metadata.AppendToOutgoingContext(ctx, MetadataKey, strconv.FormatInt(ms, 10))
}

// Receive returns the issue time of the caller's token from the incoming metadata, and
// whether there was one. Of several values (there should be one) the oldest counts,
// and a value that does not parse counts as 0: doubt never makes a token younger.
func Receive(ctx context.Context) (time.Time, bool) {
	oldest, found := int64(0), false
	for _, v := range metadata.ValueFromIncomingContext(ctx, MetadataKey) {
		ms, err := strconv.ParseInt(v, 10, 64)
		if err != nil || ms < 0 {
			ms = 0
		}
		if !found || ms < oldest {
			oldest, found = ms, true
		}
	}
	return time.UnixMilli(oldest), found
}
