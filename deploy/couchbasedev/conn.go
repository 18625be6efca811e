package couchbasedev

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"sync/atomic"
	"syscall"
)

var connIDs atomic.Uint64

// maxRetainedBuf caps the response scratch buffer kept between requests.
const maxRetainedBuf = 1 << 20

// conn is one client connection. Its requests are read, executed and
// answered strictly in order by a single goroutine.
type conn struct {
	srv *Server
	nc  net.Conn
	r   *bufio.Reader
	w   *bufio.Writer
	log *slog.Logger

	features map[uint16]bool // granted HELLO features
	authed   bool
	scram    *scramSession
	bucket   *bucket // nil until SELECT_BUCKET
}

func newConn(s *Server, nc net.Conn) *conn {
	return &conn{
		srv:      s,
		nc:       nc,
		r:        bufio.NewReaderSize(nc, 64<<10),
		w:        bufio.NewWriterSize(nc, 64<<10),
		log:      s.log.With("conn", connIDs.Add(1), "remote", nc.RemoteAddr().String()),
		features: map[uint16]bool{},
	}
}

// serve runs the request loop until the client disconnects, a protocol error
// occurs or the server closes the socket.
func (c *conn) serve() {
	defer c.nc.Close()
	defer func() {
		// A bug in one handler must not take the whole dev stack down.
		if r := recover(); r != nil {
			c.log.Error("panic while serving request; closing connection", "panic", r, "stack", string(debug.Stack()))
		}
	}()
	c.log.Debug("connection opened")
	var hdr [headerLen]byte
	var out []byte
	for {
		req, err := readRequest(c.r, &hdr)
		if err != nil {
			c.logReadError(err)
			return
		}
		out = appendResponse(out[:0], c.dispatch(req))
		if _, err := c.w.Write(out); err != nil {
			return
		}
		if cap(out) > maxRetainedBuf {
			out = nil // do not pin a large value's buffer to an idle connection
		}
		if c.r.Buffered() == 0 {
			if err := c.w.Flush(); err != nil {
				return
			}
		}
	}
}

func (c *conn) logReadError(err error) {
	if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) {
		c.log.Debug("connection closed")
		return
	}
	c.log.Warn("dropping connection", "err", err)
}

func (c *conn) has(feature uint16) bool { return c.features[feature] }

// dispatch validates the generic parts of a request and runs its handler.
func (c *conn) dispatch(req *request) *response {
	spec, ok := opTable[req.opcode]
	if !ok {
		return c.fail(req, statusUnknownCommand, "")
	}
	if st := c.checkAccess(spec); st != statusSuccess {
		return c.fail(req, st, "")
	}
	if st, msg := c.applyFrames(req, spec); st != statusSuccess {
		return c.fail(req, st, msg)
	}
	if req.datatype&(datatypeSnappy|datatypeXattr) != 0 {
		return c.fail(req, statusInvalidArgs, "snappy and xattr datatypes are not negotiated")
	}
	if spec.doc {
		if resp := c.resolveKey(req); resp != nil {
			return resp
		}
	}
	return spec.fn(c, req)
}

func (c *conn) checkAccess(spec opSpec) uint16 {
	switch {
	case spec.public:
		return statusSuccess
	case !c.authed:
		return statusAccessError
	case spec.bucket && c.bucket == nil:
		return statusNoBucket
	}
	return statusSuccess
}

// applyFrames validates the flexible framing extras of an alt request.
func (c *conn) applyFrames(req *request, spec opSpec) (uint16, string) {
	frames, err := parseFrames(req.frames)
	if err != nil {
		return statusInvalidArgs, "malformed framing extras"
	}
	for _, f := range frames {
		switch {
		case f.id == frameReorder && len(f.data) == 0:
		case f.id == frameOpenTracing && len(f.data) > 0:
		case f.id == frameDurability && spec.mutation:
			if st, msg := parseDurability(req, f.data); st != statusSuccess {
				return st, msg
			}
		case f.id == framePreserveTTL && spec.mutation && len(f.data) == 0:
			req.preserveTTL = true
		case f.id == frameImpersonate:
			return statusNotSupported, "impersonation is not supported"
		default:
			return statusInvalidArgs, "invalid framing extra"
		}
	}
	return statusSuccess, ""
}

// parseDurability accepts levels 1..3 with an optional timeout. Writes are
// always immediately durable in this single-node in-memory server.
func parseDurability(req *request, data []byte) (uint16, string) {
	if len(data) != 1 && len(data) != 3 {
		return statusInvalidArgs, "invalid durability frame"
	}
	if data[0] == 0 || data[0] > durabilityMaxLvl {
		return statusDurabilityInvalid, ""
	}
	if len(data) == 3 && data[1] == 0 && data[2] == 0 {
		return statusInvalidArgs, "durability timeout must not be 0"
	}
	req.durability = data[0]
	return statusSuccess, ""
}

// resolveKey strips the collection prefix (when COLLECTIONS was negotiated)
// and validates the document key. It returns a response only on error.
func (c *conn) resolveKey(req *request) *response {
	key := req.key
	if c.has(featureCollections) {
		cid, rest, err := decodeCollectionID(key)
		if err != nil {
			return c.fail(req, statusInvalidArgs, "invalid collection id encoding")
		}
		if cid != 0 {
			return c.unknownCollection(req)
		}
		key = rest
	}
	if len(key) == 0 || len(key) > maxKeyLen {
		return c.fail(req, statusInvalidArgs, "key length must be 1..250 bytes")
	}
	req.docKey = key
	return nil
}

// unknownCollection answers 0x88 with the manifest uid, as Collections.md asks.
func (c *conn) unknownCollection(req *request) *response {
	resp := c.reply(req, statusUnknownCollection)
	resp.value = []byte(`{"manifest_uid":"0"}`)
	resp.datatype = c.jsonDatatype()
	return resp
}

// reply builds a response for req with the given status.
func (c *conn) reply(req *request, status uint16) *response {
	return &response{opcode: req.opcode, opaque: req.opaque, status: status}
}

// fail builds an error response. With XERROR a non-empty context is sent as
// {"error":{"context":...}}; without XERROR, codes old clients do not know
// are remapped like memcached does.
func (c *conn) fail(req *request, status uint16, context string) *response {
	if !c.has(featureXerror) {
		switch status {
		case statusLocked, statusNotLocked:
			status = statusTmpFail
		}
	}
	resp := c.reply(req, status)
	if context != "" && c.has(featureXerror) {
		body, _ := json.Marshal(map[string]map[string]string{"error": {"context": context}})
		resp.value = body
		resp.datatype = c.jsonDatatype()
	}
	return resp
}

// jsonDatatype returns the JSON datatype bit if the client negotiated it.
func (c *conn) jsonDatatype() byte {
	if c.has(featureJSON) {
		return datatypeJSON
	}
	return 0
}

// withToken adds a mutation token to resp if SEQNO was negotiated.
func (c *conn) withToken(resp *response, vb *vbucket, seqno uint64) *response {
	resp.extras = c.tokenFor(vb, seqno)
	return resp
}
