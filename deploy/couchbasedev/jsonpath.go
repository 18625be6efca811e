package couchbasedev

import (
	"encoding/json"
	"strconv"
	"strings"
)

// Sub-document path limits (SubDocument.md, "Limits").
const (
	maxPathLen        = 1024
	maxPathComponents = 32
)

// pathComponent is one step of a sub-document path: a dictionary key or an
// array index (-1 meaning the last element).
type pathComponent struct {
	key     string
	index   int
	isIndex bool
}

// parsePath parses the N1QL-style path syntax: keys separated by '.',
// array indexes as "[n]" or "[-1]", and backtick-quoted keys ("“" is a
// literal backtick). JSON escapes in keys are decoded. The empty path means
// the document root.
func parsePath(p string) ([]pathComponent, uint16) {
	if len(p) > maxPathLen {
		return nil, statusPathTooBig
	}
	var comps []pathComponent
	for i := 0; i < len(p); {
		if len(comps) > 0 {
			switch p[i] {
			case '.':
				i++
				if i == len(p) || p[i] == '[' || p[i] == '.' {
					return nil, statusPathInvalid
				}
			case '[':
			default:
				return nil, statusPathInvalid
			}
		}
		comp, n, ok := parseComponent(p[i:])
		if !ok {
			return nil, statusPathInvalid
		}
		comps = append(comps, comp)
		i += n
	}
	if len(comps) > maxPathComponents {
		return nil, statusPathTooBig
	}
	return comps, statusSuccess
}

// parseComponent parses one key or index at the start of s and returns it
// with the number of bytes consumed.
func parseComponent(s string) (pathComponent, int, bool) {
	switch s[0] {
	case '[':
		return parseIndex(s)
	case '`':
		return parseQuotedKey(s)
	}
	end := strings.IndexAny(s, ".[")
	if end < 0 {
		end = len(s)
	}
	key, ok := unescapeKey(s[:end])
	if !ok || key == "" || strings.ContainsRune(s[:end], ']') {
		return pathComponent{}, 0, false
	}
	return pathComponent{key: key}, end, true
}

func parseIndex(s string) (pathComponent, int, bool) {
	end := strings.IndexByte(s, ']')
	if end < 2 {
		return pathComponent{}, 0, false
	}
	digits := s[1:end]
	if digits == "-1" {
		return pathComponent{index: -1, isIndex: true}, end + 1, true
	}
	if digits[0] < '0' || digits[0] > '9' {
		return pathComponent{}, 0, false
	}
	n, err := strconv.ParseUint(digits, 10, 31)
	if err != nil {
		return pathComponent{}, 0, false
	}
	return pathComponent{index: int(n), isIndex: true}, end + 1, true
}

func parseQuotedKey(s string) (pathComponent, int, bool) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		if s[i] != '`' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 < len(s) && s[i+1] == '`' {
			b.WriteByte('`')
			i++
			continue
		}
		key, ok := unescapeKey(b.String())
		if !ok || key == "" {
			return pathComponent{}, 0, false
		}
		return pathComponent{key: key}, i + 1, true
	}
	return pathComponent{}, 0, false // unterminated quote
}

// unescapeKey decodes JSON string escapes, which paths must use for JSON
// metacharacters.
func unescapeKey(k string) (string, bool) {
	if !strings.ContainsRune(k, '\\') {
		return k, true
	}
	var out string
	err := json.Unmarshal([]byte(`"`+k+`"`), &out)
	return out, err == nil
}
