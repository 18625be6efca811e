package reqid_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/ovengames/oven/application/reqid"
)

// logged returns the records h wrote to buf, one map each.
func logged(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		delete(rec, "time")
		out = append(out, rec)
	}
	return out
}

func TestHandler(t *testing.T) {
	withID := reqid.With(context.Background(), "abc")
	tests := []struct {
		name string
		log  func(*slog.Logger)
		want map[string]any
	}{
		{"context with an id", func(l *slog.Logger) { l.InfoContext(withID, "m", "k", 1) },
			map[string]any{"level": "INFO", "msg": "m", "k": 1.0, "request_id": "abc"}},
		{"context without one", func(l *slog.Logger) { l.InfoContext(context.Background(), "m") },
			map[string]any{"level": "INFO", "msg": "m"}},
		{"no context", func(l *slog.Logger) { l.Info("m") },
			map[string]any{"level": "INFO", "msg": "m"}},
		{"explicit id kept, not repeated", func(l *slog.Logger) { l.InfoContext(withID, "m", "request_id", "own") },
			map[string]any{"level": "INFO", "msg": "m", "request_id": "own"}},
		{"through With", func(l *slog.Logger) { l.With("shard", "s1").WarnContext(withID, "m") },
			map[string]any{"level": "WARN", "msg": "m", "shard": "s1", "request_id": "abc"}},
		{"through LogAttrs", func(l *slog.Logger) { l.LogAttrs(withID, slog.LevelError, "m", slog.Int("n", 2)) },
			map[string]any{"level": "ERROR", "msg": "m", "n": 2.0, "request_id": "abc"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			tt.log(slog.New(reqid.NewHandler(slog.NewJSONHandler(&buf, nil))))
			if diff := cmp.Diff([]map[string]any{tt.want}, logged(t, &buf)); diff != "" {
				t.Errorf("log (-want +got):\n%s", diff)
			}
		})
	}
}

func TestHandlerKeepsLevel(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(reqid.NewHandler(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn})))
	l.InfoContext(reqid.With(context.Background(), "abc"), "quiet")
	if buf.Len() != 0 {
		t.Errorf("an info line passed a warn handler: %s", buf.String())
	}
}

func TestUnaryClientInterceptor(t *testing.T) {
	tests := []struct {
		name string
		ctx  context.Context
		want []string
	}{
		{"id sent", reqid.With(context.Background(), "abc"), []string{"abc"}},
		{"no id, nothing sent", context.Background(), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			invoker := func(ctx context.Context, _ string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
				md, _ := metadata.FromOutgoingContext(ctx)
				got = md.Get(reqid.MetadataKey)
				return nil
			}
			if err := reqid.UnaryClientInterceptor(tt.ctx, "/m", nil, nil, nil, invoker); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("sent (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReceive(t *testing.T) {
	tests := []struct {
		name string
		md   metadata.MD
		keep bool
	}{
		{"sane id kept", metadata.Pairs(reqid.MetadataKey, "abc"), true},
		{"no metadata", nil, false},
		{"no id", metadata.Pairs("other", "x"), false},
		{"insane id replaced", metadata.Pairs(reqid.MetadataKey, "a b\nlevel=ERROR"), false},
		{"too long replaced", metadata.Pairs(reqid.MetadataKey, strings.Repeat("r", 129)), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			if tt.md != nil {
				ctx = metadata.NewIncomingContext(ctx, tt.md)
			}
			got := reqid.From(reqid.Receive(ctx))
			sent := tt.md.Get(reqid.MetadataKey)
			if tt.keep && got != sent[0] {
				t.Errorf("id = %q, want %q kept", got, sent[0])
			}
			if !tt.keep && (!reqid.Sane(got) || len(sent) > 0 && got == sent[0]) {
				t.Errorf("id = %q, want a new sane id", got)
			}
		})
	}
}
