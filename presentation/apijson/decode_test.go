package apijson_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/presentation/apijson"
	"github.com/ovengames/oven/proto/ovenv1"
)

// inner and body stand for every request body: strings, an optional integer, a list,
// and an embedded struct (the GMS broadcast embeds the gift).
type inner struct {
	Kind   string `json:"kind"`
	Amount *int64 `json:"amount"`
}

type body struct {
	inner
	Name   string   `json:"name"`
	Boosts []string `json:"boosts"`
}

func decode(raw []byte, dst any) error {
	return apijson.Decode(httptest.NewRequest("POST", "/", bytes.NewReader(raw)), dst)
}

func TestDecode(t *testing.T) {
	five := int64(5)
	tests := []struct {
		name    string
		raw     string
		want    body
		wantErr string
	}{
		{"fields", `{"kind":"coins","amount":5,"name":"Bo","boosts":["a"]}`, body{inner{"coins", &five}, "Bo", []string{"a"}}, ""},
		{"whitespace around", " \n{\"name\":\"Bo\"}\t", body{Name: "Bo"}, ""},
		{"empty", ``, body{}, "request body is empty"},
		{"null", `null`, body{}, "must be a JSON object, not null"},
		{"array", `[]`, body{}, "must be a JSON object, not an array"},
		{"unknown field", `{"gems":1}`, body{}, `unknown field "gems"`},
		{"other case", `{"Name":"Bo"}`, body{}, `unknown field "Name"`},
		{"other case of an embedded field", `{"KIND":"coins"}`, body{}, `unknown field "KIND"`},
		{"twice", `{"name":"Al","name":"Bo"}`, body{}, `field "name" appears twice`},
		{"wrong type", `{"amount":"5"}`, body{}, `field "amount" must be an integer, not string`},
		{"past int64", `{"amount":9223372036854775808}`, body{}, `field "amount" must be an integer`},
		{"two values", `{}{}`, body{}, "single JSON value"},
		{"truncated", `{"name":`, body{}, "truncated"},
		{"not UTF-8", "{\"name\":\"\xff\"}", body{}, "not valid UTF-8"},
		{"lone surrogate", `{"name":"\udfff"}`, body{}, "lone surrogate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got body
			err := decode([]byte(tt.raw), &got)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(body{})); diff != "" {
					t.Errorf("decoded (-want +got)\n%s", diff)
				}
				return
			}
			if oven.ErrorCode(err) != oven.EInvalid || !strings.Contains(oven.ErrorMessage(err), tt.wantErr) {
				t.Errorf("err = %v, want invalid_argument containing %q", err, tt.wantErr)
			}
		})
	}
}

// FuzzDecode feeds the one body decoder any bytes. It never panics and refuses only
// with invalid_argument; what it accepts was one JSON object in UTF-8 text, decodes
// without a character encoding/json made up (U+FFFD), and comes back the same through
// encoding and decoding again. DecodeEmpty accepts nothing but blank or an empty object.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"kind":"coins","amount":5,"name":"Bo","boosts":["a","b"]}`, `{}`, ` `, `null`, `[]`, `{"Name":"x"}`,
		`{"name":"a","name":"b"}`, "{\"name\":\"\xff\"}", `{"name":"\ud800\udc00"}`, `{"name":"\ud800"}`,
		`{"name":"\ufffd"}`, `{"amount":1e3}`, `{"boosts":null}`, `{"kind":"x"} {}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var got body
		err := decode(raw, &got)
		if err != nil {
			if oven.ErrorCode(err) != oven.EInvalid {
				t.Fatalf("refused %q with %v, not invalid_argument", raw, err)
			}
		} else {
			accepted(t, raw, got)
		}
		if err := apijson.DecodeEmpty(httptest.NewRequest("POST", "/", bytes.NewReader(raw))); err == nil {
			var m map[string]any
			if len(bytes.Trim(raw, " \t\r\n")) > 0 && (json.Unmarshal(raw, &m) != nil || len(m) != 0) {
				t.Fatalf("DecodeEmpty accepted %q", raw)
			}
		} else if oven.ErrorCode(err) != oven.EInvalid {
			t.Fatalf("DecodeEmpty refused %q with %v", raw, err)
		}
	})
}

func accepted(t *testing.T, raw []byte, got body) {
	t.Helper()
	if !utf8.Valid(raw) || !json.Valid(raw) || bytes.TrimLeft(raw, " \t\r\n")[0] != '{' {
		t.Fatalf("accepted %q, which is not one JSON object in UTF-8", raw)
	}
	made := strings.Count(got.Kind+got.Name+strings.Join(got.Boosts, ""), "\uFFFD")
	written := bytes.Count(raw, []byte("\uFFFD")) + bytes.Count(bytes.ToLower(raw), []byte(`\ufffd`))
	if made > written {
		t.Fatalf("decoding %q made up U+FFFD: %+v", raw, got)
	}
	again, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	var back body
	if err := decode(again, &back); err != nil {
		t.Fatalf("re-encoded %q is refused: %v", again, err)
	}
	if diff := cmp.Diff(got, back, cmp.AllowUnexported(body{})); diff != "" {
		t.Fatalf("round trip of %q (-first +second)\n%s", raw, diff)
	}
}

// FuzzPathID sends any bytes, path-escaped, as the {id} of a chi route. Whatever
// PathID accepts is present, bounded, printable UTF-8 and encodes in a protobuf
// request, so no shard call can fail on it; everything else is invalid_argument.
func FuzzPathID(f *testing.F) {
	var got string
	var gotErr error
	r := chi.NewRouter()
	r.Get("/mail/{id}/accept", func(w http.ResponseWriter, r *http.Request) { got, gotErr = apijson.PathID(r, "id", 128) })
	for _, s := range []string{"m-1", "\xff\xfe", "a b", "a/b", "%41", "\u00e9", "\u200b", strings.Repeat("x", 129), "\x00", "mwrq1oj5-11d0698f68656fc0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		got, gotErr = "", nil
		r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/mail/"+url.PathEscape(id)+"/accept", nil))
		if gotErr != nil {
			if oven.ErrorCode(gotErr) != oven.EInvalid {
				t.Fatalf("PathID(%q) = %v, not invalid_argument", id, gotErr)
			}
			return
		}
		if got == "" || len(got) > 128 || !utf8.ValidString(got) || strings.ContainsFunc(got, func(r rune) bool { return !unicode.IsPrint(r) }) {
			t.Fatalf("PathID accepted %q (sent %q)", got, id)
		}
		if _, err := proto.Marshal(&ovenv1.AcceptMailRequest{PlayerId: "1", MailId: got}); err != nil {
			t.Fatalf("accepted %q, which protobuf cannot encode: %v", got, err)
		}
	})
}
