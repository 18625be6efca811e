package pushsink

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode"
)

// decodeProtoJSON decodes a JSON object the way Google's front end maps JSON
// to a proto message, for the fields the sink knows: field names may be
// snake_case or lowerCamelCase, unknown names are refused, and null means
// absent. out's json tags are the snake_case names; path names the object
// in error messages ("" for the request itself).
func decodeProtoJSON(raw json.RawMessage, path string, fields []string, out any) *gError {
	if isNull(raw) {
		return nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return invalidJSON(path, fmt.Sprintf("Invalid JSON payload received. %s: %s", at(path), jsonProblem(err)))
	}
	norm := make(map[string]json.RawMessage, len(obj))
	for k, v := range obj {
		name := snakeCase(k)
		if !contains(fields, name) {
			return invalidJSON(path, fmt.Sprintf("Invalid JSON payload received. Unknown name %q%s: Cannot find field.", k, atSuffix(path)))
		}
		if !isNull(v) {
			norm[name] = v
		}
	}
	b, _ := json.Marshal(norm)
	if err := json.Unmarshal(b, out); err != nil {
		field := join(path, fieldOf(err))
		return invalidJSON(field, fmt.Sprintf("Invalid value at '%s': %s", field, jsonProblem(err)))
	}
	return nil
}

func isNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || string(t) == "null"
}

// snakeCase turns lowerCamelCase into snake_case; snake_case is unchanged.
func snakeCase(s string) string {
	var b strings.Builder
	for _, r := range s {
		if unicode.IsUpper(r) {
			b.WriteByte('_')
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func at(path string) string {
	if path == "" {
		return "request"
	}
	return "'" + path + "'"
}

func atSuffix(path string) string {
	if path == "" {
		return ""
	}
	return " at '" + path + "'"
}

func join(path, field string) string {
	switch {
	case path == "":
		return field
	case field == "":
		return path
	}
	return path + "." + field
}

func fieldOf(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return te.Field
	}
	return ""
}

func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("expected %s, got %s", te.Type, te.Value)
	}
	return err.Error()
}
