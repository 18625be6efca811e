package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/ovengames/oven"
)

// decodeJSON reads exactly one JSON value from the body into dst, refusing unknown
// fields, so that a client's typo is an error rather than a silently ignored field.
// Errors are invalid_argument or too_large and say what is wrong.
func decodeJSON(r *http.Request, dst any) error {
	return decode(r, dst, false)
}

// decodeNoBody checks the body of a call that takes no input: none at all, or `{}`.
// Anything else, such as an object with fields, is refused like decodeJSON refuses
// unknown fields, so that a client expecting its input to matter learns it does not.
func decodeNoBody(r *http.Request) error {
	// A JSON null sets obj to nil; no body at all leaves it as is.
	obj := &struct{}{}
	if err := decode(r, &obj, true); err != nil {
		return err
	}
	if obj == nil {
		return oven.Errorf(oven.EInvalid, "request body must be empty or {}")
	}
	return nil
}

func decode(r *http.Request, dst any, emptyOK bool) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		if emptyOK && errors.Is(err, io.EOF) {
			return nil // no body, or only whitespace
		}
		return decodeError(err)
	}
	// A second value (or trailing garbage) means the client sent something other than
	// what it thinks; refuse rather than act on half of it.
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if isMaxBytes(err) {
			return errTooLarge
		}
		return oven.Errorf(oven.EInvalid, "request body must hold a single JSON value")
	}
	return nil
}

func decodeError(err error) error {
	var (
		syntaxErr *json.SyntaxError
		typeErr   *json.UnmarshalTypeError
	)
	switch {
	case isMaxBytes(err):
		return errTooLarge
	case errors.Is(err, io.EOF):
		return oven.Errorf(oven.EInvalid, "request body is empty; a JSON object is required")
	case errors.Is(err, io.ErrUnexpectedEOF):
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
	return oven.Errorf(oven.EInvalid, "field %q must be %s, not %s", e.Field, jsonKind(e.Type.Kind().String()), e.Value)
}

// jsonKind names a Go kind the way a client thinks of JSON.
func jsonKind(kind string) string {
	switch kind {
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "an integer"
	case "float32", "float64":
		return "a number"
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "slice", "array":
		return "an array"
	case "struct", "map":
		return "an object"
	case "ptr":
		return "a value"
	}
	return fmt.Sprintf("of type %s", kind)
}
