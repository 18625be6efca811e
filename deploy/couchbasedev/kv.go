package couchbasedev

import (
	"encoding/binary"
	"encoding/json"
	"strconv"
	"time"
)

// docOp bundles what every document handler needs: the vbucket (locked for
// the duration of the handler), the key and the current time.
type docOp struct {
	vb  *vbucket
	key string
	now time.Time
}

// lockDoc locks the vbucket owning req's key. Callers must call op.vb.mu.Unlock.
func (c *conn) lockDoc(req *request) docOp {
	vb := c.bucket.vbFor(req.docKey)
	vb.mu.Lock()
	return docOp{vb: vb, key: string(req.docKey), now: c.srv.cfg.Now()}
}

// checkWrite enforces GET_LOCKED locks and compare-and-swap on an existing
// document: a locked document only accepts its lock CAS; otherwise a
// non-zero CAS must match.
func checkWrite(it *item, cas uint64, now time.Time) uint16 {
	if it.locked(now) {
		if cas == it.cas {
			return statusSuccess
		}
		return statusLocked
	}
	if cas != 0 && cas != it.cas {
		return statusKeyExists
	}
	return statusSuccess
}

// valueDatatype infers the datatype of a stored value: JSON if it parses.
func valueDatatype(v []byte) byte {
	if json.Valid(v) {
		return datatypeJSON
	}
	return 0
}

// docResponse answers with flags extras, value and CAS (GET, GAT, GET_LOCKED).
func (c *conn) docResponse(req *request, it *item, cas uint64) *response {
	resp := c.reply(req, statusSuccess)
	resp.extras = binary.BigEndian.AppendUint32(nil, it.flags)
	resp.value = it.value
	resp.cas = cas
	resp.datatype = it.datatype & c.jsonDatatype()
	return resp
}

// handleGet implements GET (0x00).
func (c *conn) handleGet(req *request) *response {
	if len(req.extras) != 0 || len(req.value) != 0 {
		return c.fail(req, statusInvalidArgs, "")
	}
	op := c.lockDoc(req)
	defer op.vb.mu.Unlock()
	it := op.vb.lookup(op.key, op.now)
	if it == nil {
		return c.fail(req, statusKeyNotFound, "")
	}
	return c.docResponse(req, it, it.visibleCAS(op.now))
}

// handleGetMeta implements GET_META (0xa0); extras version 2 adds the datatype.
func (c *conn) handleGetMeta(req *request) *response {
	if len(req.extras) > 1 || len(req.value) != 0 {
		return c.fail(req, statusInvalidArgs, "")
	}
	op := c.lockDoc(req)
	defer op.vb.mu.Unlock()
	it := op.vb.lookup(op.key, op.now)
	if it == nil {
		return c.fail(req, statusKeyNotFound, "")
	}
	resp := c.reply(req, statusSuccess)
	ext := binary.BigEndian.AppendUint32(nil, 0) // not deleted
	ext = binary.BigEndian.AppendUint32(ext, it.flags)
	ext = binary.BigEndian.AppendUint32(ext, uint32(it.exptime))
	ext = binary.BigEndian.AppendUint64(ext, it.revSeqno)
	if len(req.extras) == 1 && req.extras[0] == 2 {
		ext = append(ext, it.datatype)
	}
	resp.extras = ext
	resp.cas = it.visibleCAS(op.now)
	return resp
}

// handleStore implements SET (0x01), ADD (0x02) and REPLACE (0x03).
func (c *conn) handleStore(req *request) *response {
	if len(req.extras) != 8 {
		return c.fail(req, statusInvalidArgs, "")
	}
	if len(req.value) > maxValueLen {
		return c.fail(req, statusTooBig, "value exceeds 20 MiB")
	}
	if req.opcode == opAdd && req.cas != 0 {
		return c.fail(req, statusInvalidArgs, "ADD must not carry a CAS")
	}
	op := c.lockDoc(req)
	defer op.vb.mu.Unlock()
	old := op.vb.lookup(op.key, op.now)
	if st := storeAllowed(req, old, op.now); st != statusSuccess {
		return c.fail(req, st, "")
	}
	exptime := absExpiry(binary.BigEndian.Uint32(req.extras[4:]), op.now)
	if req.preserveTTL && old != nil {
		exptime = old.exptime
	}
	it := &item{
		value:    req.value,
		flags:    binary.BigEndian.Uint32(req.extras),
		datatype: valueDatatype(req.value),
		exptime:  exptime,
		revSeqno: nextRev(old),
	}
	return c.commit(req, op, it)
}

// storeAllowed applies the SET/ADD/REPLACE existence and CAS rules.
func storeAllowed(req *request, old *item, now time.Time) uint16 {
	switch {
	case old == nil && req.opcode == opReplace:
		return statusKeyNotFound
	case old == nil && req.cas != 0:
		return statusKeyNotFound
	case old == nil:
		return statusSuccess
	case req.opcode == opAdd:
		return statusKeyExists
	}
	return checkWrite(old, req.cas, now)
}

func nextRev(old *item) uint64 {
	if old == nil {
		return 1
	}
	return old.revSeqno + 1
}

// commit stores it with a fresh CAS and answers with CAS and mutation token.
func (c *conn) commit(req *request, op docOp, it *item) *response {
	op.vb.put(op.key, it, c.srv.cas.next(), op.now)
	resp := c.reply(req, statusSuccess)
	resp.cas = it.cas
	return c.withToken(resp, op.vb, it.seqno)
}

// handleDelete implements DELETE (0x04).
func (c *conn) handleDelete(req *request) *response {
	if len(req.extras) != 0 || len(req.value) != 0 {
		return c.fail(req, statusInvalidArgs, "")
	}
	op := c.lockDoc(req)
	defer op.vb.mu.Unlock()
	old := op.vb.lookup(op.key, op.now)
	if old == nil {
		return c.fail(req, statusKeyNotFound, "")
	}
	if st := checkWrite(old, req.cas, op.now); st != statusSuccess {
		return c.fail(req, st, "")
	}
	op.vb.remove(op.key)
	resp := c.reply(req, statusSuccess)
	resp.cas = c.srv.cas.next()
	return c.withToken(resp, op.vb, op.vb.seqno)
}

// handleTouch implements TOUCH (0x1c) and GAT (0x1d): set a new expiry (0
// clears it) and a new CAS.
func (c *conn) handleTouch(req *request) *response {
	if len(req.extras) != 4 || len(req.value) != 0 {
		return c.fail(req, statusInvalidArgs, "")
	}
	op := c.lockDoc(req)
	defer op.vb.mu.Unlock()
	old := op.vb.lookup(op.key, op.now)
	if old == nil {
		return c.fail(req, statusKeyNotFound, "")
	}
	if old.locked(op.now) {
		return c.fail(req, statusLocked, "")
	}
	it := *old
	it.exptime = absExpiry(binary.BigEndian.Uint32(req.extras), op.now)
	it.lockedUntil, it.revSeqno = time.Time{}, old.revSeqno+1
	resp := c.commit(req, op, &it)
	if req.opcode == opGAT {
		return c.docResponse(req, &it, it.cas)
	}
	return resp
}

// handleGetLocked implements GET_LOCKED (0x94): lock for the requested
// seconds (0 or more than 30 means the default 15) and return a lock CAS.
func (c *conn) handleGetLocked(req *request) *response {
	if (len(req.extras) != 0 && len(req.extras) != 4) || len(req.value) != 0 {
		return c.fail(req, statusInvalidArgs, "")
	}
	secs := uint32(0)
	if len(req.extras) == 4 {
		secs = binary.BigEndian.Uint32(req.extras)
	}
	if secs == 0 || secs > maxLockSecs {
		secs = defaultLockSecs
	}
	op := c.lockDoc(req)
	defer op.vb.mu.Unlock()
	it := op.vb.lookup(op.key, op.now)
	if it == nil {
		return c.fail(req, statusKeyNotFound, "")
	}
	if it.locked(op.now) {
		return c.fail(req, statusLocked, "")
	}
	it.cas = c.srv.cas.next()
	it.lockedUntil = op.now.Add(time.Duration(secs) * time.Second)
	return c.docResponse(req, it, it.cas)
}

// handleUnlock implements UNLOCK_KEY (0x95).
func (c *conn) handleUnlock(req *request) *response {
	if len(req.extras) != 0 || len(req.value) != 0 || req.cas == 0 {
		return c.fail(req, statusInvalidArgs, "")
	}
	op := c.lockDoc(req)
	defer op.vb.mu.Unlock()
	it := op.vb.lookup(op.key, op.now)
	switch {
	case it == nil:
		return c.fail(req, statusKeyNotFound, "")
	case !it.locked(op.now):
		return c.fail(req, statusNotLocked, "")
	case it.cas != req.cas:
		return c.fail(req, statusLocked, "")
	}
	it.lockedUntil = time.Time{}
	resp := c.reply(req, statusSuccess)
	resp.cas = it.cas
	return resp
}

// handleCounter implements INCREMENT (0x05) and DECREMENT (0x06) on ASCII
// decimal values. Extras: u64 delta, u64 initial, u32 expiry (0xffffffff =
// fail instead of creating). Decrement stops at 0; increment wraps.
func (c *conn) handleCounter(req *request) *response {
	if len(req.extras) != 20 || len(req.value) != 0 {
		return c.fail(req, statusInvalidArgs, "")
	}
	delta := binary.BigEndian.Uint64(req.extras)
	initial := binary.BigEndian.Uint64(req.extras[8:])
	exp := binary.BigEndian.Uint32(req.extras[16:])
	op := c.lockDoc(req)
	defer op.vb.mu.Unlock()
	old := op.vb.lookup(op.key, op.now)
	var it item
	var result uint64
	switch {
	case old == nil && (exp == counterNoCreate || req.cas != 0):
		return c.fail(req, statusKeyNotFound, "")
	case old == nil:
		it = item{exptime: absExpiry(exp, op.now), revSeqno: 1}
		result = initial
	default:
		if st := checkWrite(old, req.cas, op.now); st != statusSuccess {
			return c.fail(req, st, "")
		}
		cur, err := strconv.ParseUint(string(old.value), 10, 64)
		if err != nil {
			return c.fail(req, statusBadDelta, "existing value is not a decimal counter")
		}
		it = *old
		it.lockedUntil, it.revSeqno = time.Time{}, old.revSeqno+1
		result = applyDelta(req.opcode, cur, delta)
	}
	it.value, it.datatype = strconv.AppendUint(nil, result, 10), datatypeJSON
	resp := c.commit(req, op, &it)
	resp.value = binary.BigEndian.AppendUint64(nil, result)
	return resp
}

func applyDelta(opcode byte, cur, delta uint64) uint64 {
	if opcode == opIncrement {
		return cur + delta
	}
	if delta > cur {
		return 0
	}
	return cur - delta
}

// handleConcat implements APPEND (0x0e) and PREPEND (0x0f). Flags and expiry
// are kept; a missing document yields NOT_STORED.
func (c *conn) handleConcat(req *request) *response {
	if len(req.extras) != 0 {
		return c.fail(req, statusInvalidArgs, "")
	}
	op := c.lockDoc(req)
	defer op.vb.mu.Unlock()
	old := op.vb.lookup(op.key, op.now)
	if old == nil {
		return c.fail(req, statusNotStored, "")
	}
	if st := checkWrite(old, req.cas, op.now); st != statusSuccess {
		return c.fail(req, st, "")
	}
	if len(old.value)+len(req.value) > maxValueLen {
		return c.fail(req, statusTooBig, "value exceeds 20 MiB")
	}
	val := make([]byte, 0, len(old.value)+len(req.value))
	if req.opcode == opAppend {
		val = append(append(val, old.value...), req.value...)
	} else {
		val = append(append(val, req.value...), old.value...)
	}
	it := *old
	it.value, it.datatype = val, valueDatatype(val)
	it.lockedUntil, it.revSeqno = time.Time{}, old.revSeqno+1
	return c.commit(req, op, &it)
}
