package couchbasedev

import (
	"encoding/binary"
	"strings"
)

// mutationParams are the document-level options of a sub-document mutation.
type mutationParams struct {
	expiry   uint32
	flags    uint32
	hasFlags bool
	docFlags byte
}

// parseMutationExtras decodes [u32 expiry [u32 user flags]] [u8 doc flags].
func parseMutationExtras(ext []byte) (mutationParams, bool) {
	var p mutationParams
	if len(ext)%4 == 1 {
		p.docFlags = ext[len(ext)-1]
		ext = ext[:len(ext)-1]
	}
	switch len(ext) {
	case 0:
	case 4:
		p.expiry = binary.BigEndian.Uint32(ext)
	case 8:
		p.expiry = binary.BigEndian.Uint32(ext)
		p.flags, p.hasFlags = binary.BigEndian.Uint32(ext[4:]), true
	default:
		return p, false
	}
	return p, true
}

// checkDocFlags validates the doc flags against the request.
func checkDocFlags(p mutationParams, cas uint64) (uint16, string) {
	switch f := p.docFlags; {
	case f&(docFlagCreateAsDeleted|docFlagReviveDocument) != 0:
		return statusNotSupported, "tombstone doc flags are not supported"
	case f&^(docFlagMkDoc|docFlagAdd|docFlagAccessDeleted) != 0:
		return statusInvalidArgs, "invalid doc flags"
	case f&docFlagMkDoc != 0 && f&docFlagAdd != 0:
		return statusInvalidArgs, "MkDoc and Add are mutually exclusive"
	case f&docFlagAdd != 0 && cas != 0:
		return statusInvalidArgs, "Add must not carry a CAS"
	}
	return statusSuccess, ""
}

// checkXattrSpecs rejects writes to user xattrs, which this server does not
// store. Virtual attributes fail per spec later (CANNOT_MODIFY_VATTR).
func checkXattrSpecs(specs []subdocSpec) (uint16, string) {
	for _, s := range specs {
		if s.flags&pathFlagXattr != 0 && !strings.HasPrefix(s.path, "$") {
			return statusNotSupported, "user extended attributes are not supported"
		}
	}
	return statusSuccess, ""
}

// mutationOutcome is the result of a sub-document mutation that reached the
// document: either a path failure (failStatus != 0) or a committed change.
type mutationOutcome struct {
	failIndex  int
	failStatus uint16
	results    map[int][]byte // values returned by specs (COUNTER)
	cas        uint64
	token      []byte // mutation token, nil unless SEQNO was negotiated
}

// handleMultiMutation implements SUBDOC_MULTI_MUTATION (0xd1).
func (c *conn) handleMultiMutation(req *request) *response {
	p, ok := parseMutationExtras(req.extras)
	specs, err := parseSpecs(req.value, true)
	if !ok || err != nil {
		return c.fail(req, statusInvalidArgs, "")
	}
	if st := checkSpecCount(specs); st != statusSuccess {
		return c.fail(req, st, "")
	}
	out, fail := c.execMutation(req, p, specs)
	if fail != nil {
		return fail
	}
	resp := c.reply(req, statusSuccess)
	if out.failStatus != statusSuccess {
		resp.status = statusMultiPathFailure
		resp.value = binary.BigEndian.AppendUint16([]byte{byte(out.failIndex)}, out.failStatus)
		return resp
	}
	resp.cas, resp.extras = out.cas, out.token
	for i := range specs {
		if v, ok := out.results[i]; ok {
			resp.value = append(resp.value, byte(i), 0, 0)
			resp.value = binary.BigEndian.AppendUint32(resp.value, uint32(len(v)))
			resp.value = append(resp.value, v...)
		}
	}
	return resp
}

// handleSingleMutation implements the single-path sub-document mutations
// (DICT_ADD, DICT_UPSERT, DELETE, REPLACE, ARRAY_*, COUNTER).
func (c *conn) handleSingleMutation(req *request) *response {
	s, rest, ok := singleSpec(req, true)
	if !ok {
		return c.fail(req, statusInvalidArgs, "")
	}
	p, ok := parseMutationExtras(rest)
	if !ok {
		return c.fail(req, statusInvalidArgs, "")
	}
	out, fail := c.execMutation(req, p, []subdocSpec{s})
	if fail != nil {
		return fail
	}
	if out.failStatus != statusSuccess {
		return c.fail(req, out.failStatus, "")
	}
	resp := c.reply(req, statusSuccess)
	resp.cas, resp.extras, resp.value = out.cas, out.token, out.results[0]
	return resp
}

// execMutation validates and applies mutation specs atomically: either all
// succeed and the document is stored with a new CAS, or nothing changes.
func (c *conn) execMutation(req *request, p mutationParams, specs []subdocSpec) (*mutationOutcome, *response) {
	if st, msg := checkDocFlags(p, req.cas); st != statusSuccess {
		return nil, c.fail(req, st, msg)
	}
	for _, s := range specs {
		if st := validateMutation(s); st != statusSuccess {
			return nil, c.fail(req, st, "")
		}
	}
	if st, msg := checkXattrSpecs(specs); st != statusSuccess {
		return nil, c.fail(req, st, msg)
	}
	op := c.lockDoc(req)
	defer op.vb.mu.Unlock()
	old := op.vb.lookup(op.key, op.now)
	if st := mutationAllowed(req, p, old, op); st != statusSuccess {
		return nil, c.fail(req, st, "")
	}
	w := newWorkDoc(old, specs)
	out := &mutationOutcome{results: map[int][]byte{}}
	mkdir := p.docFlags&(docFlagMkDoc|docFlagAdd) != 0
	for i, s := range specs {
		val, st := applySpec(w, s, mkdir)
		if st != statusSuccess {
			out.failIndex, out.failStatus = i, st
			return out, nil
		}
		if val != nil {
			out.results[i] = val
		}
	}
	return out, c.commitMutation(req, p, op, old, w, out)
}

// mutationAllowed applies the document-level existence, CAS and lock rules
// of the Add / MkDoc / replace semantics.
func mutationAllowed(req *request, p mutationParams, old *item, op docOp) uint16 {
	create := p.docFlags&(docFlagMkDoc|docFlagAdd) != 0
	switch {
	case old == nil && (!create || req.cas != 0):
		return statusKeyNotFound
	case old == nil:
		return statusSuccess
	case p.docFlags&docFlagAdd != 0:
		return statusKeyExists
	}
	return checkWrite(old, req.cas, op.now)
}

// newWorkDoc starts from the existing body, or for a new document from an
// empty root: an array if the first spec addresses one, else an object.
func newWorkDoc(old *item, specs []subdocSpec) *workDoc {
	if old != nil {
		return &workDoc{raw: old.value}
	}
	first := specs[0]
	arrayOp := first.opcode == opSubdocPushLast || first.opcode == opSubdocPushFirst ||
		first.opcode == opSubdocAddUnique
	if strings.HasPrefix(first.path, "[") || (arrayOp && first.path == "") {
		return &workDoc{raw: []byte("[]")}
	}
	return &workDoc{raw: []byte("{}")}
}

// applySpec runs one mutation spec on the working document.
func applySpec(w *workDoc, s subdocSpec, mkdir bool) ([]byte, uint16) {
	switch {
	case s.flags&pathFlagXattr != 0:
		return nil, statusCannotModifyVattr
	case s.opcode == wholeDocSet:
		w.replace(s.value)
		return nil, statusSuccess
	case s.opcode == wholeDocDelete:
		w.replace(nil)
		w.deleted = true
		return nil, statusSuccess
	}
	path, st := parsePath(s.path)
	if st != statusSuccess {
		return nil, st
	}
	root, st := w.root()
	if st != statusSuccess {
		return nil, st
	}
	val, st := mutatePath(root, s.opcode, path, s.value, mkdir || s.flags&pathFlagMkdirP != 0)
	if st == statusSuccess && root.depth() > maxJSONDepth {
		return nil, statusValueTooDeep
	}
	return val, st
}

// commitMutation stores (or deletes) the mutated document. It returns a
// response only on failure.
func (c *conn) commitMutation(req *request, p mutationParams, op docOp, old *item, w *workDoc, out *mutationOutcome) *response {
	if w.deleted {
		if old == nil {
			return c.fail(req, statusKeyNotFound, "")
		}
		op.vb.remove(op.key)
		out.cas = c.srv.cas.next()
		out.token = c.tokenFor(op.vb, op.vb.seqno)
		return nil
	}
	body := w.bytes()
	if len(body) > maxValueLen {
		return c.fail(req, statusTooBig, "document would exceed 20 MiB")
	}
	it := &item{value: body, datatype: valueDatatype(body), revSeqno: nextRev(old)}
	it.exptime = absExpiry(p.expiry, op.now)
	if old != nil {
		it.flags = old.flags
		if req.preserveTTL {
			it.exptime = old.exptime
		}
	}
	if p.hasFlags {
		it.flags = p.flags
	}
	op.vb.put(op.key, it, c.srv.cas.next(), op.now)
	out.cas, out.token = it.cas, c.tokenFor(op.vb, it.seqno)
	return nil
}

// tokenFor returns a mutation token if SEQNO was negotiated, else nil.
func (c *conn) tokenFor(vb *vbucket, seqno uint64) []byte {
	if c.has(featureSeqno) {
		return mutationToken(vb, seqno)
	}
	return nil
}
