package couchbasedev

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"strings"
)

// Sub-document flags (SubDocument.md, "Flags").
const (
	pathFlagMkdirP       = 0x01
	pathFlagXattr        = 0x04
	pathFlagExpandMacros = 0x10

	docFlagMkDoc           = 0x01
	docFlagAdd             = 0x02
	docFlagAccessDeleted   = 0x04
	docFlagCreateAsDeleted = 0x08
	docFlagReviveDocument  = 0x10
)

// Whole-document operations valid inside multi-path commands (empty path).
const (
	wholeDocGet    = opGet
	wholeDocSet    = opSet
	wholeDocDelete = opDelete
)

// subdocSpec is one operation of a (multi-)path command.
type subdocSpec struct {
	opcode byte
	flags  byte
	path   string
	value  []byte
}

// specResult is the outcome of one spec.
type specResult struct {
	status uint16
	value  []byte
}

var (
	errBadSpecs = errors.New("malformed sub-document specs")
	crc32c      = crc32.MakeTable(crc32.Castagnoli)
)

// parseSpecs decodes multi-path operation specs: u8 opcode, u8 flags,
// u16 path length, [u32 value length,] path, value.
func parseSpecs(body []byte, withValues bool) ([]subdocSpec, error) {
	hdr := 4
	if withValues {
		hdr = 8
	}
	var specs []subdocSpec
	for len(body) > 0 {
		if len(body) < hdr {
			return nil, errBadSpecs
		}
		s := subdocSpec{opcode: body[0], flags: body[1]}
		pathLen, valLen := int(binary.BigEndian.Uint16(body[2:])), 0
		if withValues {
			valLen = int(binary.BigEndian.Uint32(body[4:]))
		}
		body = body[hdr:]
		if pathLen+valLen > len(body) {
			return nil, errBadSpecs
		}
		s.path, s.value = string(body[:pathLen]), body[pathLen:pathLen+valLen]
		body = body[pathLen+valLen:]
		specs = append(specs, s)
	}
	return specs, nil
}

// checkSpecCount enforces 1..16 specs per multi-path command.
func checkSpecCount(specs []subdocSpec) uint16 {
	switch {
	case len(specs) == 0:
		return statusInvalidArgs
	case len(specs) > maxSubdocSpecs:
		return statusInvalidCombo
	}
	return statusSuccess
}

// validateLookup checks one lookup spec's opcode and flags.
func validateLookup(s subdocSpec) uint16 {
	switch s.opcode {
	case opSubdocGet, opSubdocExists, opSubdocGetCount:
	case wholeDocGet:
		if s.path != "" || s.flags != 0 {
			return statusInvalidArgs
		}
	default:
		return statusInvalidCombo
	}
	if s.flags&^pathFlagXattr != 0 {
		return statusInvalidArgs
	}
	return statusSuccess
}

// validateMutation checks one mutation spec's opcode, flags and value.
func validateMutation(s subdocSpec) uint16 {
	switch s.opcode {
	case opSubdocDictAdd, opSubdocDictSet, opSubdocReplace, opSubdocPushLast,
		opSubdocPushFirst, opSubdocInsert, opSubdocAddUnique, opSubdocCounter:
		if len(s.value) == 0 {
			return statusInvalidArgs
		}
	case opSubdocDelete:
		if len(s.value) != 0 {
			return statusInvalidArgs
		}
	case wholeDocSet, wholeDocDelete:
		if s.path != "" || s.flags != 0 {
			return statusInvalidArgs
		}
	default:
		return statusInvalidCombo
	}
	if s.flags&^(pathFlagMkdirP|pathFlagXattr|pathFlagExpandMacros) != 0 {
		return statusInvalidArgs
	}
	if s.flags&pathFlagExpandMacros != 0 && s.flags&pathFlagXattr == 0 {
		return statusInvalidArgs
	}
	return statusSuccess
}

// workDoc is the document body being read or rewritten by sub-document
// specs. It is parsed lazily and re-encoded only if a spec changed it.
type workDoc struct {
	raw     []byte
	tree    *jsonValue
	err     uint16 // cached parse failure
	deleted bool
}

// root returns the parsed body, or DOC_NOT_JSON / DOC_E2DEEP.
func (w *workDoc) root() (*jsonValue, uint16) {
	if w.tree != nil || w.err != statusSuccess {
		return w.tree, w.err
	}
	tree, err := parseJSON(w.raw)
	switch {
	case errors.Is(err, errTooDeep):
		w.err = statusDocTooDeep
	case err != nil:
		w.err = statusDocNotJSON
	default:
		w.tree = tree
	}
	return w.tree, w.err
}

// bytes returns the current body.
func (w *workDoc) bytes() []byte {
	if w.tree != nil {
		return w.tree.encode()
	}
	return w.raw
}

// replace sets a whole new body.
func (w *workDoc) replace(raw []byte) {
	w.raw, w.tree, w.err, w.deleted = raw, nil, statusSuccess, false
}

// lookupSpec runs one lookup spec against the document.
func (c *conn) lookupSpec(w *workDoc, it *item, vb *vbucket, s subdocSpec) specResult {
	if s.opcode == wholeDocGet {
		if len(w.raw) == 0 {
			return specResult{status: statusPathNotFound} // empty body
		}
		return specResult{value: w.raw}
	}
	if s.flags&pathFlagXattr != 0 {
		return c.lookupXattr(it, vb, s)
	}
	path, st := parsePath(s.path)
	if st != statusSuccess {
		return specResult{status: st}
	}
	root, st := w.root()
	if st != statusSuccess {
		return specResult{status: st}
	}
	v, st := lookupPath(root, s.opcode, path)
	return specResult{status: st, value: v}
}

// lookupXattr serves the read-only virtual attributes $document, $vbucket
// and $XTOC. User xattrs cannot be stored, so none exist.
func (c *conn) lookupXattr(it *item, vb *vbucket, s subdocSpec) specResult {
	xkey := s.path
	if i := strings.IndexAny(xkey, ".["); i >= 0 {
		xkey = xkey[:i]
	}
	if xkey == "" {
		return specResult{status: statusPathInvalid}
	}
	if !strings.HasPrefix(xkey, "$") {
		return specResult{status: statusPathNotFound}
	}
	doc, ok := c.virtualXattr(xkey, it, vb)
	if !ok {
		return specResult{status: statusUnknownVattr}
	}
	path, st := parsePath(s.path)
	if st != statusSuccess {
		return specResult{status: st}
	}
	root, _ := parseJSON(doc)
	v, st := lookupPath(root, s.opcode, path)
	return specResult{status: st, value: v}
}

// virtualXattr renders a virtual attribute wrapped in its own key, e.g.
// {"$document":{...}}.
func (c *conn) virtualXattr(xkey string, it *item, vb *vbucket) ([]byte, bool) {
	switch xkey {
	case "$document":
		datatype := `["raw"]`
		if it.datatype&datatypeJSON != 0 {
			datatype = `["json"]`
		}
		return fmt.Appendf(nil, `{"$document":{"CAS":"0x%016x","vbucket_uuid":"0x%016x",`+
			`"seqno":"0x%016x","revid":"%d","exptime":%d,"value_bytes":%d,"datatype":%s,`+
			`"deleted":false,"flags":%d,"last_modified":"%d","value_crc32c":"0x%08x"}}`,
			it.cas, vb.uuid, it.seqno, it.revSeqno, it.exptime, len(it.value), datatype,
			it.flags, it.modified, crc32.Checksum(it.value, crc32c)), true
	case "$vbucket":
		return fmt.Appendf(nil, `{"$vbucket":{"HLC":{"now":"%d","mode":"real"}}}`,
			c.srv.cfg.Now().Unix()), true
	case "$XTOC":
		return []byte(`{"$XTOC":[]}`), true
	}
	return nil, false
}

// handleMultiLookup implements SUBDOC_MULTI_LOOKUP (0xd0).
func (c *conn) handleMultiLookup(req *request) *response {
	specs, err := parseSpecs(req.value, false)
	if err != nil || len(req.extras) > 1 {
		return c.fail(req, statusInvalidArgs, "")
	}
	if st := checkSpecCount(specs); st != statusSuccess {
		return c.fail(req, st, "")
	}
	for _, s := range specs {
		if st := validateLookup(s); st != statusSuccess {
			return c.fail(req, st, "")
		}
	}
	results, cas, fail := c.execLookup(req, specs)
	if fail != nil {
		return fail
	}
	resp := c.reply(req, statusSuccess)
	resp.cas = cas
	for _, r := range results {
		if r.status != statusSuccess {
			resp.status = statusMultiPathFailure
		}
		resp.value = binary.BigEndian.AppendUint16(resp.value, r.status)
		resp.value = binary.BigEndian.AppendUint32(resp.value, uint32(len(r.value)))
		resp.value = append(resp.value, r.value...)
	}
	return resp
}

// execLookup runs lookup specs on a consistent snapshot of the document.
func (c *conn) execLookup(req *request, specs []subdocSpec) ([]specResult, uint64, *response) {
	if len(req.extras) == 1 && req.extras[0]&^docFlagAccessDeleted != 0 {
		return nil, 0, c.fail(req, statusInvalidArgs, "unsupported doc flags")
	}
	op := c.lockDoc(req)
	defer op.vb.mu.Unlock()
	it := op.vb.lookup(op.key, op.now)
	if it == nil {
		return nil, 0, c.fail(req, statusKeyNotFound, "")
	}
	if it.locked(op.now) {
		return nil, 0, c.fail(req, statusLocked, "")
	}
	w := &workDoc{raw: it.value}
	results := make([]specResult, len(specs))
	for i, s := range specs {
		results[i] = c.lookupSpec(w, it, op.vb, s)
	}
	return results, it.cas, nil
}

// handleSingleLookup implements the single-path SUBDOC_GET, SUBDOC_EXISTS
// and SUBDOC_GET_COUNT commands.
func (c *conn) handleSingleLookup(req *request) *response {
	s, docFlags, ok := singleSpec(req, false)
	if !ok || validateLookup(s) != statusSuccess {
		return c.fail(req, statusInvalidArgs, "")
	}
	req.extras = docFlags
	results, cas, fail := c.execLookup(req, []subdocSpec{s})
	if fail != nil {
		return fail
	}
	resp := c.reply(req, results[0].status)
	resp.value = results[0].value
	resp.cas = cas
	return resp
}

// singleSpec decodes a single-path request: extras u16 path length, u8 path
// flags, [u32 expiry (mutations)], [u8 doc flags]; value = path + value.
// It returns the spec and the remaining extras (expiry, doc flags).
func singleSpec(req *request, mutation bool) (subdocSpec, []byte, bool) {
	ext := req.extras
	okLen := len(ext) == 3 || len(ext) == 4 || (mutation && (len(ext) == 7 || len(ext) == 8))
	if !okLen {
		return subdocSpec{}, nil, false
	}
	pathLen := int(binary.BigEndian.Uint16(ext))
	if pathLen > len(req.value) {
		return subdocSpec{}, nil, false
	}
	s := subdocSpec{
		opcode: req.opcode,
		flags:  ext[2],
		path:   string(req.value[:pathLen]),
		value:  req.value[pathLen:],
	}
	return s, ext[3:], true
}
