package gms_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/ovengames/oven/presentation/gms"
	"github.com/ovengames/oven/proto/ovenv1"
)

// wire stands in for the shards behind the GMS: it refuses to encode a request as
// the real wire does (a string that is not UTF-8 fails with Internal), records the
// rest and answers every call with an empty message.
type wire struct {
	mu    sync.Mutex
	calls []proto.Message
}

func (w *wire) Invoke(_ context.Context, _ string, args, _ any, _ ...grpc.CallOption) error {
	m := args.(proto.Message)
	if _, err := proto.Marshal(m); err != nil {
		return status.Error(codes.Internal, "grpc: error while marshaling: "+err.Error())
	}
	w.mu.Lock()
	w.calls = append(w.calls, m)
	w.mu.Unlock()
	return nil
}

func (w *wire) NewStream(context.Context, *grpc.StreamDesc, string, ...grpc.CallOption) (grpc.ClientStream, error) {
	return nil, status.Error(codes.Unimplemented, "no streams")
}

func (w *wire) take() []proto.Message {
	w.mu.Lock()
	defer w.mu.Unlock()
	calls := w.calls
	w.calls = nil
	return calls
}

var consoleRoutes = []struct{ method, path string }{
	{"POST", "/gms/api/login"},
	{"POST", "/gms/api/logout"},
	{"GET", "/gms/api/session"},
	{"GET", "/gms/api/gamedata/draft"},
	{"PUT", "/gms/api/gamedata/draft"},
	{"POST", "/gms/api/gamedata/validate"},
	{"POST", "/gms/api/gamedata/publish"},
	{"POST", "/gms/api/gamedata/rollback"},
	{"GET", "/gms/api/gamedata/versions?limit={id}"},
	{"GET", "/gms/api/gamedata/versions/{id}"},
	{"GET", "/gms/api/players/{id}"},
	{"POST", "/gms/api/players/{id}/ban"},
	{"POST", "/gms/api/players/{id}/unban"},
	{"POST", "/gms/api/players/{id}/gifts"},
	{"POST", "/gms/api/gifts/broadcast"},
	{"GET", "/gms/api/gifts/broadcast"},
	{"GET", "/gms/api/audit?limit={id}"},
}

// FuzzConsoleAPI sends any body and any path id to every GMS API route, as a signed-in
// console would (session cookie, CSRF header, JSON content type). Whatever the input:
// no 5xx, a refusal (400, 405, 413) reaches no shard, and every answer is JSON text.
func FuzzConsoleAPI(f *testing.F) {
	w := &wire{}
	h := gms.New(gms.Config{Admin: ovenv1.NewAdminClient(w), Logger: slog.New(slog.DiscardHandler)})
	seeds := []struct {
		route    int
		id, body string
	}{
		{0, "", `{"username":"op","password":"a good long password"}`},
		{0, "", "{\"username\":\"\xff\",\"password\":\"x\"}"},
		{1, "", `{"all":true}`},
		{4, "", `{"version":1}`},
		{6, ``, `null`},
		{7, "", `{"version":2}`},
		{8, "20", ``},
		{9, "current", ``},
		{10, "\xff\xfe", ``},
		{11, "42", `null`},
		{11, "42", `{"reason":"botting"}`},
		{13, "42", `{"kind":"coins","amount":500,"message":"sorry"}`},
		{13, "42", `{"kind":"coins","amount":5,"message":"\ud800"}`},
		{14, "", `{"kind":"life","amount":1,"message":"","duration_s":36028797018967568}`},
		{16, "5", ``},
	}
	for _, s := range seeds {
		f.Add(uint8(s.route), s.id, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, routeNo uint8, id string, body []byte) {
		r := consoleRoutes[int(routeNo)%len(consoleRoutes)]
		target := r.path
		if strings.Contains(target, "?") {
			target = strings.Replace(target, "{id}", url.QueryEscape(id), 1)
		} else {
			target = strings.Replace(target, "{id}", url.PathEscape(id), 1)
		}
		req := httptest.NewRequest(r.method, target, bytes.NewReader(body))
		req.AddCookie(&http.Cookie{Name: "oven_gms", Value: "session-1"})
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-CSRF-Token", "csrf-1")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		calls := w.take()
		if rec.Code >= 500 {
			t.Fatalf("%s %s %q: %d %s", r.method, target, body, rec.Code, rec.Body)
		}
		for _, c := range calls {
			if madeUp(c, id, body) {
				t.Fatalf("%s %s %q sent U+FFFD the console never wrote: %v", r.method, target, body, c)
			}
		}
		switch rec.Code {
		case http.StatusBadRequest, http.StatusMethodNotAllowed, http.StatusRequestEntityTooLarge:
			if len(calls) > 0 {
				t.Fatalf("%s %s %q answered %d after calling %v", r.method, target, body, rec.Code, calls)
			}
		}
		if b := rec.Body.Bytes(); len(b) > 0 && (!utf8.Valid(b) || !json.Valid(b)) {
			t.Fatalf("answer is not JSON text: %q", b)
		}
	})
}

// madeUp reports whether a string in m holds U+FFFD (what encoding/json puts in place
// of text that is not UTF-8) that the console did not write itself, as is or escaped.
func madeUp(m proto.Message, id string, body []byte) bool {
	if strings.Contains(id, "\uFFFD") || bytes.Contains(body, []byte("\uFFFD")) || bytes.Contains(bytes.ToLower(body), []byte(`\ufffd`)) {
		return false
	}
	found := false
	var walk func(m protoreflect.Message)
	walk = func(m protoreflect.Message) {
		m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			switch {
			case fd.Kind() == protoreflect.StringKind && !fd.IsList():
				found = strings.Contains(v.String(), "\uFFFD")
			case fd.Kind() == protoreflect.MessageKind && !fd.IsList() && !fd.IsMap():
				walk(v.Message())
			}
			return !found
		})
	}
	walk(m.ProtoReflect())
	return found
}
