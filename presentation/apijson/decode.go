package apijson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"

	"github.com/ovengames/oven"
)

// MaxBodyBytes is API.md's request body limit.
const MaxBodyBytes = 64 << 10

// ErrTooLarge answers a body over MaxBodyBytes.
var ErrTooLarge = oven.Errorf(oven.ETooLarge, "request body is larger than %d bytes", MaxBodyBytes)

// LimitBody enforces MaxBodyBytes on r: a Content-Length over it is ErrTooLarge before
// anything is read (the caller answers it; the unread body makes the connection unfit
// for another request, so it asks to close it), and any other body is cut off there
// by http.MaxBytesReader, which ReadBody reports as ErrTooLarge.
func LimitBody(w http.ResponseWriter, r *http.Request) error {
	if r.ContentLength > MaxBodyBytes {
		w.Header().Set("Connection", "close")
		return ErrTooLarge
	}
	r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	return nil
}

// ReadBody reads the whole request body: at most MaxBodyBytes (see LimitBody), and
// text as oven.CheckJSONText requires. Errors are too_large or invalid_argument.
func ReadBody(r *http.Request) ([]byte, error) {
	raw, err := io.ReadAll(r.Body)
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return nil, ErrTooLarge
	case err != nil:
		return nil, oven.Errorf(oven.EInvalid, "request body could not be read")
	}
	if err := oven.CheckJSONText(raw); err != nil {
		return nil, oven.Errorf(oven.EInvalid, "request body: %s", oven.ErrorMessage(err))
	}
	return raw, nil
}

// Decode reads the request body into dst, a pointer to a struct: the one way every
// route of the client API and the GMS reads its JSON input. The body must be exactly
// one JSON object, in UTF-8, whose member names are dst's field names exactly (no
// unknown, differently cased or repeated names) and whose values have the fields'
// types. Anything else is invalid_argument (too_large past MaxBodyBytes) and leaves
// the route's work undone.
func Decode(r *http.Request, dst any) error {
	raw, err := ReadBody(r)
	if err != nil {
		return err
	}
	return Unmarshal(raw, dst)
}

// DecodeOptional is Decode for a route whose body may be left out: an empty body (or
// only whitespace) leaves dst as it is.
func DecodeOptional(r *http.Request, dst any) error {
	raw, err := ReadBody(r)
	if err != nil || isBlank(raw) {
		return err
	}
	return Unmarshal(raw, dst)
}

// DecodeEmpty checks the body of a route that takes no input: empty, or {}. Anything
// else is refused, so that a client expecting its input to matter learns it does not.
func DecodeEmpty(r *http.Request) error {
	raw, err := ReadBody(r)
	if err != nil || isBlank(raw) {
		return err
	}
	if kind := valueKind(raw); kind != "an object" {
		return oven.Errorf(oven.EInvalid, "request body must be empty or {}, not %s", kind)
	}
	return Unmarshal(raw, &struct{}{})
}

// Unmarshal decodes raw, a whole request body, into dst as Decode does (Decode's rules
// but the UTF-8 check, which ReadBody makes).
func Unmarshal(raw []byte, dst any) error {
	if isBlank(raw) {
		return oven.Errorf(oven.EInvalid, "request body is empty; a JSON object is required")
	}
	if kind := valueKind(raw); kind != "an object" {
		// Also keeps `null` from decoding into a zero request without a word.
		return oven.Errorf(oven.EInvalid, "request body must be a JSON object, not %s", kind)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return decodeError(err)
	}
	// A second value (or trailing garbage) means the client sent something other than
	// what it thinks; refuse rather than act on half of it.
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return oven.Errorf(oven.EInvalid, "request body must hold a single JSON value")
	}
	return checkNames(raw, reflect.TypeOf(dst).Elem())
}

// isBlank reports whether raw holds only JSON whitespace.
func isBlank(raw []byte) bool { return len(bytes.Trim(raw, " \t\r\n")) == 0 }

// valueKind names the kind of JSON value raw starts with, as a client thinks of it.
func valueKind(raw []byte) string {
	switch raw = bytes.TrimLeft(raw, " \t\r\n"); {
	case len(raw) == 0:
		return "nothing"
	case raw[0] == '{':
		return "an object"
	case raw[0] == '[':
		return "an array"
	case raw[0] == '"':
		return "a string"
	case raw[0] == 't' || raw[0] == 'f':
		return "a boolean"
	case raw[0] == 'n':
		return "null"
	}
	return "a number"
}

// checkNames refuses what encoding/json lets through: a member named only
// case-insensitively like a field ("Name" for "name"), and a member named twice (of
// which encoding/json keeps the last, where another parser may keep the first).
// Request bodies are flat objects, so only the top level is looked at.
func checkNames(raw []byte, t reflect.Type) error {
	if t.Kind() != reflect.Struct {
		return nil
	}
	known := fieldNames(t, map[string]bool{})
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil { // the '{' that Decode already read
		return decodeError(err)
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return decodeError(err)
		}
		name, _ := tok.(string)
		switch {
		case !known[name]:
			return oven.Errorf(oven.EInvalid, "unknown field %q", name)
		case seen[name]:
			return oven.Errorf(oven.EInvalid, "field %q appears twice", name)
		}
		seen[name] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return decodeError(err)
		}
	}
	return nil
}

// fieldNames adds the JSON names of t's fields (and of its embedded structs' fields).
func fieldNames(t reflect.Type, into map[string]bool) map[string]bool {
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case name == "-":
		case f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct:
			fieldNames(f.Type, into)
		case name != "":
			into[name] = true
		case f.IsExported():
			into[f.Name] = true
		}
	}
	return into
}

func decodeError(err error) error {
	var (
		syntaxErr *json.SyntaxError
		typeErr   *json.UnmarshalTypeError
	)
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return oven.Errorf(oven.EInvalid, "request body is truncated JSON")
	case errors.As(err, &syntaxErr):
		return oven.Errorf(oven.EInvalid, "malformed JSON at byte %d", syntaxErr.Offset)
	case errors.As(err, &typeErr):
		return typeError(typeErr)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// encoding/json has no error type for unknown fields; its message is stable.
		return oven.Errorf(oven.EInvalid, "%s", strings.TrimPrefix(err.Error(), "json: "))
	default:
		return oven.Errorf(oven.EInvalid, "invalid JSON body")
	}
}

func typeError(e *json.UnmarshalTypeError) error {
	if e.Field == "" {
		return oven.Errorf(oven.EInvalid, "request body must be a JSON object, not %s", e.Value)
	}
	// Field is a Go path that names embedded structs ("giftRequest.amount"); request
	// bodies are flat, so its last element is the member the client wrote.
	field := e.Field[strings.LastIndexByte(e.Field, '.')+1:]
	return oven.Errorf(oven.EInvalid, "field %q must be %s, not %s", field, jsonKind(e.Type.Kind()), e.Value)
}

// jsonKind names a Go kind the way a client thinks of JSON.
func jsonKind(kind reflect.Kind) string {
	switch kind {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Pointer:
		return "a value"
	}
	return fmt.Sprintf("of type %s", kind)
}

// ID checks an opaque identifier a client sent, in a path or a body: present, at most
// max bytes, valid UTF-8 and printable. Whether it names anything is the shard's
// answer (not_found).
func ID(field, id string, max int) error {
	if id == "" {
		return oven.Errorf(oven.EInvalid, "%s is required", field)
	}
	if len(id) > max || !Printable(id) {
		return oven.Errorf(oven.EInvalid, "%s is not a valid id", field)
	}
	return nil
}

// PathID returns the route's path parameter name, checked by ID: the one way the client
// API and the GMS read an id from a path.
func PathID(r *http.Request, name string, max int) (string, error) {
	id := chi.URLParam(r, name)
	return id, ID(name, id, max)
}

// Printable reports whether s is valid UTF-8 made of printable characters only.
// (Ranging over invalid UTF-8 yields U+FFFD, which is printable: hence the first test.)
func Printable(s string) bool {
	return utf8.ValidString(s) && strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) < 0
}
