// Package reqid carries a request's id from the presentation tier through every shard
// that serves part of it, and into every log line written for it.
//
// The presentation tier picks the id (the client's X-Request-Id when Sane, else a new
// one) and puts it in the request's context (With). The routing client sends it as gRPC
// metadata (UnaryClientInterceptor); the shard's interceptor reads it back (Receive), so
// a shard's own calls to other shards carry it on. Handler adds it to each log record
// written with a context that carries one (slog's *Context methods).
package reqid

import (
	"context"
	"crypto/rand"
	"log/slog"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// MetadataKey is the gRPC metadata key of the request id.
const MetadataKey = "x-request-id"

// LogKey is the log attribute that holds the request id.
const LogKey = "request_id"

type ctxKey struct{}

// With returns ctx carrying id.
func With(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// From returns the request id ctx carries, or "".
func From(ctx context.Context) string {
	id, _ := ctx.Value(ctxKey{}).(string)
	return id
}

// New returns a fresh id (26 base-32 characters: 128 random bits).
func New() string { return rand.Text() }

// Sane reports whether an id from outside is safe to echo in a header, send as gRPC
// metadata and write in a log line: 1 to 128 bytes of ASCII letters, digits and
// -_.:=/+ (enough for UUIDs, trace ids and base64), none of which can split a header or
// forge a log field.
func Sane(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-', c == '_', c == '.', c == ':', c == '=', c == '/', c == '+':
		default:
			return false
		}
	}
	return true
}

// UnaryClientInterceptor sends the id of a call's context (if any) as MetadataKey.
func UnaryClientInterceptor(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	if id := From(ctx); id != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, MetadataKey, id)
	}
	return invoker(ctx, method, req, reply, cc, opts...)
}

// Receive returns ctx carrying the caller's request id, read from the incoming gRPC
// metadata. A call without a sane one (a tool that dialled the shard directly, a caller
// that sent garbage) gets a new id, so that its log lines still belong together.
func Receive(ctx context.Context) context.Context {
	if ids := metadata.ValueFromIncomingContext(ctx, MetadataKey); len(ids) > 0 && Sane(ids[0]) {
		return With(ctx, ids[0])
	}
	return With(ctx, New())
}

// Handler adds LogKey with the context's request id to every record logged through it
// with a context that carries one, unless the record has the attribute already.
type Handler struct {
	next slog.Handler
}

var _ slog.Handler = Handler{}

// NewHandler returns next behind a Handler.
func NewHandler(next slog.Handler) Handler { return Handler{next: next} }

// Enabled reports whether the wrapped handler handles level.
func (h Handler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

// Handle adds the request id to r and hands it on.
func (h Handler) Handle(ctx context.Context, r slog.Record) error {
	if id := From(ctx); id != "" && !has(r, LogKey) {
		r = r.Clone() // r's attributes may be shared with the caller's copy
		r.AddAttrs(slog.String(LogKey, id))
	}
	return h.next.Handle(ctx, r)
}

// WithAttrs returns a Handler over next.WithAttrs(attrs).
func (h Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return Handler{next: h.next.WithAttrs(attrs)}
}

// WithGroup returns a Handler over next.WithGroup(name); the id then lands in the group.
func (h Handler) WithGroup(name string) slog.Handler {
	return Handler{next: h.next.WithGroup(name)}
}

func has(r slog.Record, key string) bool {
	found := false
	r.Attrs(func(a slog.Attr) bool {
		found = a.Key == key
		return !found
	})
	return found
}
