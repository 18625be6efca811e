package couchbasedev

import (
	"errors"
	"math"
	"strconv"
	"strings"
)

// This file holds the path-level semantics of each sub-document command
// (SubDocument.md, "Command Listings"), applied to a parsed document.

// lookupPath runs GET, EXISTS or GET_COUNT on root.
func lookupPath(root *jsonValue, opcode byte, path []pathComponent) ([]byte, uint16) {
	v, st := root.resolve(path)
	if st != statusSuccess {
		return nil, st
	}
	switch opcode {
	case opSubdocExists:
		return nil, statusSuccess
	case opSubdocGetCount:
		if v.kind == jsonScalar {
			return nil, statusPathMismatch
		}
		return strconv.AppendInt(nil, int64(v.count()), 10), statusSuccess
	}
	return v.encode(), statusSuccess
}

// mutatePath applies one body mutation to root. It returns a value only for
// COUNTER (the new number).
func mutatePath(root *jsonValue, opcode byte, path []pathComponent, value []byte, mkdir bool) ([]byte, uint16) {
	switch opcode {
	case opSubdocDictAdd, opSubdocDictSet:
		return nil, dictStore(root, path, value, mkdir, opcode == opSubdocDictSet)
	case opSubdocDelete:
		return nil, deletePath(root, path)
	case opSubdocReplace:
		return nil, replacePath(root, path, value)
	case opSubdocPushLast, opSubdocPushFirst:
		return nil, arrayPush(root, path, value, mkdir, opcode == opSubdocPushFirst)
	case opSubdocInsert:
		return nil, arrayInsert(root, path, value)
	case opSubdocAddUnique:
		return nil, arrayAddUnique(root, path, value, mkdir)
	case opSubdocCounter:
		return counter(root, path, value, mkdir)
	}
	return nil, statusInvalidCombo
}

// parseInsertValue parses a value to insert; invalid JSON cannot be inserted.
func parseInsertValue(value []byte) (*jsonValue, uint16) {
	v, err := parseJSON(value)
	switch {
	case errors.Is(err, errTooDeep):
		return nil, statusValueTooDeep
	case err != nil:
		return nil, statusCantInsert
	}
	return v, statusSuccess
}

func dictStore(root *jsonValue, path []pathComponent, value []byte, mkdir, upsert bool) uint16 {
	if len(path) == 0 || path[len(path)-1].isIndex {
		return statusPathInvalid
	}
	parent, st := root.parentOf(path, mkdir)
	if st != statusSuccess {
		return st
	}
	if parent.kind != jsonObject {
		return statusPathMismatch
	}
	v, st := parseInsertValue(value)
	if st != statusSuccess {
		return st
	}
	key := path[len(path)-1].key
	if !upsert && parent.memberIndex(key) >= 0 {
		return statusPathExists
	}
	parent.setMember(key, v)
	return statusSuccess
}

// locate finds the container holding the last path component and the
// component's position in it.
func locate(root *jsonValue, path []pathComponent) (*jsonValue, int, uint16) {
	if len(path) == 0 {
		return nil, 0, statusPathInvalid
	}
	parent, st := root.parentOf(path, false)
	if st != statusSuccess {
		return nil, 0, st
	}
	last := path[len(path)-1]
	if _, st := parent.child(last); st != statusSuccess {
		return nil, 0, st
	}
	if last.isIndex {
		return parent, parent.elemIndex(last.index), statusSuccess
	}
	return parent, parent.memberIndex(last.key), statusSuccess
}

func deletePath(root *jsonValue, path []pathComponent) uint16 {
	parent, i, st := locate(root, path)
	if st == statusSuccess {
		parent.removeAt(i)
	}
	return st
}

func replacePath(root *jsonValue, path []pathComponent, value []byte) uint16 {
	parent, i, st := locate(root, path)
	if st != statusSuccess {
		return st
	}
	v, st := parseInsertValue(value)
	if st == statusSuccess {
		parent.elems[i] = v
	}
	return st
}

// arrayTarget resolves the array addressed by path, creating it (and missing
// parents) with mkdir.
func arrayTarget(root *jsonValue, path []pathComponent, mkdir bool) (*jsonValue, uint16) {
	arr, st := root.resolve(path)
	if st == statusPathNotFound && mkdir && len(path) > 0 && !path[len(path)-1].isIndex {
		parent, pst := root.parentOf(path, true)
		if pst != statusSuccess {
			return nil, pst
		}
		if parent.kind != jsonObject {
			return nil, statusPathMismatch
		}
		arr = &jsonValue{kind: jsonArray}
		parent.setMember(path[len(path)-1].key, arr)
		return arr, statusSuccess
	}
	if st != statusSuccess {
		return nil, st
	}
	if arr.kind != jsonArray {
		return nil, statusPathMismatch
	}
	return arr, statusSuccess
}

func parseInsertList(value []byte) ([]*jsonValue, uint16) {
	vals, err := parseJSONList(value)
	switch {
	case errors.Is(err, errTooDeep):
		return nil, statusValueTooDeep
	case err != nil:
		return nil, statusCantInsert
	}
	return vals, statusSuccess
}

func arrayPush(root *jsonValue, path []pathComponent, value []byte, mkdir, first bool) uint16 {
	arr, st := arrayTarget(root, path, mkdir)
	if st != statusSuccess {
		return st
	}
	vals, st := parseInsertList(value)
	if st != statusSuccess {
		return st
	}
	pos := len(arr.elems)
	if first {
		pos = 0
	}
	arr.insertAt(pos, vals)
	return statusSuccess
}

// arrayInsert inserts at an explicit, non-negative index no larger than the
// array length.
func arrayInsert(root *jsonValue, path []pathComponent, value []byte) uint16 {
	if len(path) == 0 || !path[len(path)-1].isIndex || path[len(path)-1].index < 0 {
		return statusPathInvalid
	}
	parent, st := root.parentOf(path, false)
	if st != statusSuccess {
		return st
	}
	if parent.kind != jsonArray {
		return statusPathMismatch
	}
	idx := path[len(path)-1].index
	if idx > len(parent.elems) {
		return statusPathNotFound
	}
	vals, st := parseInsertList(value)
	if st == statusSuccess {
		parent.insertAt(idx, vals)
	}
	return st
}

// arrayAddUnique appends a primitive unless an identical one (compared as
// JSON text) is present. Arrays holding containers cannot be checked.
func arrayAddUnique(root *jsonValue, path []pathComponent, value []byte, mkdir bool) uint16 {
	v, st := parseInsertValue(value)
	if st != statusSuccess {
		return st
	}
	if v.kind != jsonScalar {
		return statusCantInsert
	}
	arr, st := arrayTarget(root, path, mkdir)
	if st != statusSuccess {
		return st
	}
	for _, e := range arr.elems {
		if e.kind != jsonScalar {
			return statusPathMismatch
		}
		if string(e.raw) == string(v.raw) {
			return statusPathExists
		}
	}
	arr.elems = append(arr.elems, v)
	return statusSuccess
}

// counter adds a signed 64-bit delta to an integer member, creating it
// (as the delta) when missing.
func counter(root *jsonValue, path []pathComponent, value []byte, mkdir bool) ([]byte, uint16) {
	delta, err := strconv.ParseInt(strings.TrimSpace(string(value)), 10, 64)
	if err != nil || delta == 0 {
		return nil, statusDeltaInvalid
	}
	if len(path) == 0 {
		return nil, statusPathInvalid
	}
	parent, st := root.parentOf(path, mkdir)
	if st != statusSuccess {
		return nil, st
	}
	cur, st := parent.child(path[len(path)-1])
	var n int64
	switch {
	case st == statusPathNotFound && !path[len(path)-1].isIndex && parent.kind == jsonObject:
		cur = &jsonValue{}
		parent.setMember(path[len(path)-1].key, cur)
	case st != statusSuccess:
		return nil, st
	default:
		if n, st = integerValue(cur); st != statusSuccess {
			return nil, st
		}
	}
	if (delta > 0 && n > math.MaxInt64-delta) || (delta < 0 && n < math.MinInt64-delta) {
		return nil, statusCantInsert // delta overflow
	}
	cur.raw = strconv.AppendInt(nil, n+delta, 10)
	return cur.raw, statusSuccess
}

// integerValue reads an existing counter: non-integers mismatch, integers
// outside int64 are out of range.
func integerValue(v *jsonValue) (int64, uint16) {
	s := string(v.raw)
	if v.kind != jsonScalar || s == "" || strings.ContainsAny(s, ".eE\"tfn") {
		return 0, statusPathMismatch
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, statusNumRange
	}
	return n, statusSuccess
}
