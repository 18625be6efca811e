package couchbasedev

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
)

// maxJSONDepth is the deepest container nesting sub-document accepts.
const maxJSONDepth = 32

type jsonKind uint8

const (
	jsonScalar jsonKind = iota
	jsonObject
	jsonArray
)

// jsonValue is a parsed JSON value that keeps object member order, so that
// sub-document mutations leave untouched members where they were.
type jsonValue struct {
	kind  jsonKind
	keys  []string     // object member names, parallel to elems
	elems []*jsonValue // object member values or array elements
	raw   []byte       // compact encoding of a scalar
}

var (
	errNotJSON  = errors.New("not JSON")
	errTooDeep  = errors.New("JSON too deep")
	errNotValue = errors.New("not a single JSON value")
)

// parseJSON parses exactly one JSON value.
func parseJSON(data []byte) (*jsonValue, error) {
	if !json.Valid(data) {
		return nil, errNotJSON
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := decodeValue(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errNotValue
	}
	return v, nil
}

// parseJSONList parses a comma-separated list of JSON values, the form array
// sub-document commands accept ("1,2,[3]").
func parseJSONList(data []byte) ([]*jsonValue, error) {
	wrapped := make([]byte, 0, len(data)+2)
	wrapped = append(append(append(wrapped, '['), data...), ']')
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errNotValue
	}
	v, err := parseJSON(wrapped)
	if err != nil {
		return nil, err
	}
	return v.elems, nil
}

func decodeValue(dec *json.Decoder, depth int) (*jsonValue, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		if depth >= maxJSONDepth {
			return nil, errTooDeep
		}
		return decodeContainer(dec, t, depth+1)
	case string:
		return &jsonValue{raw: encodeString(t)}, nil
	case json.Number:
		return &jsonValue{raw: []byte(t)}, nil
	case bool:
		return &jsonValue{raw: []byte(map[bool]string{true: "true", false: "false"}[t])}, nil
	default:
		return &jsonValue{raw: []byte("null")}, nil
	}
}

func decodeContainer(dec *json.Decoder, open json.Delim, depth int) (*jsonValue, error) {
	v := &jsonValue{kind: jsonArray}
	if open == '{' {
		v.kind = jsonObject
	}
	for dec.More() {
		if v.kind == jsonObject {
			tok, err := dec.Token()
			if err != nil {
				return nil, err
			}
			v.keys = append(v.keys, tok.(string))
		}
		child, err := decodeValue(dec, depth)
		if err != nil {
			return nil, err
		}
		v.elems = append(v.elems, child)
	}
	_, err := dec.Token() // closing delimiter
	return v, err
}

func encodeString(s string) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// appendTo appends the compact encoding of v.
func (v *jsonValue) appendTo(dst []byte) []byte {
	switch v.kind {
	case jsonObject:
		dst = append(dst, '{')
		for i, k := range v.keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(append(dst, encodeString(k)...), ':')
			dst = v.elems[i].appendTo(dst)
		}
		return append(dst, '}')
	case jsonArray:
		dst = append(dst, '[')
		for i, e := range v.elems {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = e.appendTo(dst)
		}
		return append(dst, ']')
	}
	return append(dst, v.raw...)
}

func (v *jsonValue) encode() []byte { return v.appendTo(nil) }

// depth returns the container nesting depth (0 for scalars).
func (v *jsonValue) depth() int {
	d := 0
	for _, e := range v.elems {
		d = max(d, e.depth())
	}
	if v.kind == jsonScalar {
		return 0
	}
	return d + 1
}

// count is the number of members or elements of a container.
func (v *jsonValue) count() int { return len(v.elems) }

// memberIndex returns the position of key in an object, or -1.
func (v *jsonValue) memberIndex(key string) int {
	for i, k := range v.keys {
		if k == key {
			return i
		}
	}
	return -1
}

// elemIndex resolves an array index (-1 = last) to a position, or -1.
func (v *jsonValue) elemIndex(idx int) int {
	if idx == -1 {
		idx = len(v.elems) - 1
	}
	if idx < 0 || idx >= len(v.elems) {
		return -1
	}
	return idx
}

// child follows one path component.
func (v *jsonValue) child(c pathComponent) (*jsonValue, uint16) {
	if c.isIndex {
		if v.kind != jsonArray {
			return nil, statusPathMismatch
		}
		if i := v.elemIndex(c.index); i >= 0 {
			return v.elems[i], statusSuccess
		}
		return nil, statusPathNotFound
	}
	if v.kind != jsonObject {
		return nil, statusPathMismatch
	}
	if i := v.memberIndex(c.key); i >= 0 {
		return v.elems[i], statusSuccess
	}
	return nil, statusPathNotFound
}

// resolve follows a whole path from v.
func (v *jsonValue) resolve(path []pathComponent) (*jsonValue, uint16) {
	cur := v
	for _, c := range path {
		next, st := cur.child(c)
		if st != statusSuccess {
			return nil, st
		}
		cur = next
	}
	return cur, statusSuccess
}

// parentOf resolves all but the last component. With mkdir, missing
// dictionary members along the way are created as empty objects (array
// elements are never created).
func (v *jsonValue) parentOf(path []pathComponent, mkdir bool) (*jsonValue, uint16) {
	cur := v
	for i, c := range path[:len(path)-1] {
		next, st := cur.child(c)
		if st == statusPathNotFound && mkdir && !c.isIndex {
			if path[i+1].isIndex {
				return nil, statusPathNotFound
			}
			next = &jsonValue{kind: jsonObject}
			cur.setMember(c.key, next)
		} else if st != statusSuccess {
			return nil, st
		}
		cur = next
	}
	return cur, statusSuccess
}

// setMember adds or overwrites an object member.
func (v *jsonValue) setMember(key string, val *jsonValue) {
	if i := v.memberIndex(key); i >= 0 {
		v.elems[i] = val
		return
	}
	v.keys = append(v.keys, key)
	v.elems = append(v.elems, val)
}

// removeAt deletes element or member i.
func (v *jsonValue) removeAt(i int) {
	if v.kind == jsonObject {
		v.keys = append(v.keys[:i:i], v.keys[i+1:]...)
	}
	v.elems = append(v.elems[:i:i], v.elems[i+1:]...)
}

// insertAt inserts vals into an array before position i.
func (v *jsonValue) insertAt(i int, vals []*jsonValue) {
	out := make([]*jsonValue, 0, len(v.elems)+len(vals))
	out = append(append(append(out, v.elems[:i]...), vals...), v.elems[i:]...)
	v.elems = out
}
