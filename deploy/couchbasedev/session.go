package couchbasedev

import (
	"encoding/binary"
	"strings"
)

// opSpec describes how the dispatcher treats one opcode.
type opSpec struct {
	fn       func(*conn, *request) *response
	public   bool // allowed before authentication
	bucket   bool // needs a selected bucket
	doc      bool // key is a (collection-prefixed) document key
	mutation bool // accepts durability and preserve-TTL frames
}

// opTable lists every supported opcode; anything else gets UNKNOWN_COMMAND.
var opTable = map[byte]opSpec{
	opHello:         {fn: (*conn).handleHello, public: true},
	opNoop:          {fn: (*conn).handleNoop, public: true},
	opVersion:       {fn: (*conn).handleVersion, public: true},
	opGetErrorMap:   {fn: (*conn).handleErrorMap, public: true},
	opSASLListMechs: {fn: (*conn).handleListMechs, public: true},
	opSASLAuth:      {fn: (*conn).handleSASLAuth, public: true},
	opSASLStep:      {fn: (*conn).handleSASLStep, public: true},
	opSelectBucket:  {fn: (*conn).handleSelectBucket},
	opGetClusterCfg: {fn: (*conn).handleClusterConfig},

	opGetManifest:     {fn: (*conn).handleGetManifest, bucket: true},
	opGetCollectionID: {fn: (*conn).handleGetCollectionID, bucket: true},
	opGetScopeID:      {fn: (*conn).handleGetScopeID, bucket: true},

	opGet:       {fn: (*conn).handleGet, bucket: true, doc: true},
	opGetMeta:   {fn: (*conn).handleGetMeta, bucket: true, doc: true},
	opSet:       {fn: (*conn).handleStore, bucket: true, doc: true, mutation: true},
	opAdd:       {fn: (*conn).handleStore, bucket: true, doc: true, mutation: true},
	opReplace:   {fn: (*conn).handleStore, bucket: true, doc: true, mutation: true},
	opDelete:    {fn: (*conn).handleDelete, bucket: true, doc: true, mutation: true},
	opIncrement: {fn: (*conn).handleCounter, bucket: true, doc: true, mutation: true},
	opDecrement: {fn: (*conn).handleCounter, bucket: true, doc: true, mutation: true},
	opAppend:    {fn: (*conn).handleConcat, bucket: true, doc: true, mutation: true},
	opPrepend:   {fn: (*conn).handleConcat, bucket: true, doc: true, mutation: true},
	opTouch:     {fn: (*conn).handleTouch, bucket: true, doc: true},
	opGAT:       {fn: (*conn).handleTouch, bucket: true, doc: true},
	opGetLocked: {fn: (*conn).handleGetLocked, bucket: true, doc: true},
	opUnlockKey: {fn: (*conn).handleUnlock, bucket: true, doc: true},

	opMultiLookup:   {fn: (*conn).handleMultiLookup, bucket: true, doc: true},
	opMultiMutation: {fn: (*conn).handleMultiMutation, bucket: true, doc: true, mutation: true},

	opSubdocGet:       {fn: (*conn).handleSingleLookup, bucket: true, doc: true},
	opSubdocExists:    {fn: (*conn).handleSingleLookup, bucket: true, doc: true},
	opSubdocGetCount:  {fn: (*conn).handleSingleLookup, bucket: true, doc: true},
	opSubdocDictAdd:   {fn: (*conn).handleSingleMutation, bucket: true, doc: true, mutation: true},
	opSubdocDictSet:   {fn: (*conn).handleSingleMutation, bucket: true, doc: true, mutation: true},
	opSubdocDelete:    {fn: (*conn).handleSingleMutation, bucket: true, doc: true, mutation: true},
	opSubdocReplace:   {fn: (*conn).handleSingleMutation, bucket: true, doc: true, mutation: true},
	opSubdocPushLast:  {fn: (*conn).handleSingleMutation, bucket: true, doc: true, mutation: true},
	opSubdocPushFirst: {fn: (*conn).handleSingleMutation, bucket: true, doc: true, mutation: true},
	opSubdocInsert:    {fn: (*conn).handleSingleMutation, bucket: true, doc: true, mutation: true},
	opSubdocAddUnique: {fn: (*conn).handleSingleMutation, bucket: true, doc: true, mutation: true},
	opSubdocCounter:   {fn: (*conn).handleSingleMutation, bucket: true, doc: true, mutation: true},
}

// emptyBody reports whether req has no extras, key or value.
func emptyBody(req *request) bool {
	return len(req.extras) == 0 && len(req.key) == 0 && len(req.value) == 0
}

// handleHello grants the requested features this server supports, in the
// order requested. A new HELLO replaces the previous feature set.
func (c *conn) handleHello(req *request) *response {
	if len(req.extras) != 0 || len(req.value)%2 != 0 {
		return c.fail(req, statusInvalidArgs, "")
	}
	c.features = map[uint16]bool{}
	var granted []byte
	for v := req.value; len(v) > 0; v = v[2:] {
		f := binary.BigEndian.Uint16(v)
		if grantableFeatures[f] && !c.features[f] {
			c.features[f] = true
			granted = binary.BigEndian.AppendUint16(granted, f)
		}
	}
	c.log.Debug("hello", "agent", string(req.key), "granted", len(granted)/2)
	resp := c.reply(req, statusSuccess)
	resp.value = granted
	return resp
}

func (c *conn) handleNoop(req *request) *response {
	if !emptyBody(req) {
		return c.fail(req, statusInvalidArgs, "")
	}
	return c.reply(req, statusSuccess)
}

func (c *conn) handleVersion(req *request) *response {
	resp := c.reply(req, statusSuccess)
	resp.value = []byte(serverVersion)
	return resp
}

// handleErrorMap serves a version 1 error map for any requested version >= 1.
func (c *conn) handleErrorMap(req *request) *response {
	if len(req.value) != 2 || binary.BigEndian.Uint16(req.value) == 0 {
		return c.fail(req, statusInvalidArgs, "")
	}
	resp := c.reply(req, statusSuccess)
	resp.value = errorMapJSON()
	resp.datatype = c.jsonDatatype()
	return resp
}

func (c *conn) handleListMechs(req *request) *response {
	resp := c.reply(req, statusSuccess)
	resp.value = []byte(saslMechs)
	return resp
}

// handleSASLAuth starts PLAIN (one step) or SCRAM (continues with SASL_STEP).
func (c *conn) handleSASLAuth(req *request) *response {
	c.authed, c.scram, c.bucket = false, nil, nil
	mech := string(req.key)
	if mech == "PLAIN" {
		user, err := c.srv.creds.verifyPlain(req.value)
		if err != nil {
			return c.authFailed(req, mech)
		}
		c.authed = true
		c.log.Debug("authenticated", "user", user, "mech", mech)
		return c.reply(req, statusSuccess)
	}
	sess, first, err := c.srv.creds.startScram(mech, req.value)
	if err != nil {
		return c.authFailed(req, mech)
	}
	c.scram = sess
	resp := c.reply(req, statusAuthContinue)
	resp.value = []byte(first)
	return resp
}

// handleSASLStep verifies the SCRAM client proof.
func (c *conn) handleSASLStep(req *request) *response {
	sess := c.scram
	c.scram = nil
	if sess == nil {
		return c.authFailed(req, string(req.key))
	}
	final, err := sess.finish(req.value)
	if err != nil {
		return c.authFailed(req, string(req.key))
	}
	c.authed = true
	c.log.Debug("authenticated", "user", sess.user, "mech", string(req.key))
	resp := c.reply(req, statusSuccess)
	resp.value = []byte(final)
	return resp
}

func (c *conn) authFailed(req *request, mech string) *response {
	c.log.Info("authentication failed", "mech", mech)
	return c.fail(req, statusAuthError, "Authentication failed")
}

// handleSelectBucket binds the connection to the configured bucket.
func (c *conn) handleSelectBucket(req *request) *response {
	if len(req.extras) != 0 || len(req.value) != 0 {
		return c.fail(req, statusInvalidArgs, "")
	}
	if string(req.key) != c.srv.bucket.name {
		return c.fail(req, statusKeyNotFound, "unknown bucket")
	}
	c.bucket = c.srv.bucket
	return c.reply(req, statusSuccess)
}

// handleClusterConfig returns the bucket config (or the global config when no
// bucket is selected). With extras {i64 epoch, i64 rev} the body is empty
// when the client already knows this or a newer revision.
func (c *conn) handleClusterConfig(req *request) *response {
	switch len(req.extras) {
	case 0:
	case 16:
		epoch := int64(binary.BigEndian.Uint64(req.extras))
		rev := int64(binary.BigEndian.Uint64(req.extras[8:]))
		if epoch > configRevEpoch || (epoch == configRevEpoch && rev >= configRev) {
			return c.reply(req, statusSuccess)
		}
	default:
		return c.fail(req, statusInvalidArgs, "")
	}
	resp := c.reply(req, statusSuccess)
	resp.value = c.srv.cfgGlobal
	if c.bucket != nil {
		resp.value = c.srv.cfgBucket
	}
	resp.datatype = c.jsonDatatype()
	return resp
}

func (c *conn) handleGetManifest(req *request) *response {
	if !emptyBody(req) {
		return c.fail(req, statusInvalidArgs, "")
	}
	resp := c.reply(req, statusSuccess)
	resp.value = []byte(collectionsManifest)
	resp.datatype = c.jsonDatatype()
	return resp
}

// handleGetCollectionID resolves "scope.collection"; only _default._default
// exists (an empty name means _default).
func (c *conn) handleGetCollectionID(req *request) *response {
	scope, coll, ok := strings.Cut(string(req.value), ".")
	if len(req.key) != 0 || len(req.extras) != 0 || !ok || !validName(scope) || !validName(coll) {
		return c.fail(req, statusInvalidArgs, "invalid collection path")
	}
	if !isDefault(scope) {
		return c.unknownScopeOrCollection(req, statusUnknownScope)
	}
	if !isDefault(coll) {
		return c.unknownScopeOrCollection(req, statusUnknownCollection)
	}
	return c.idReply(req)
}

// handleGetScopeID resolves "scope" (or "scope.collection", collection ignored).
func (c *conn) handleGetScopeID(req *request) *response {
	scope, _, _ := strings.Cut(string(req.value), ".")
	if len(req.key) != 0 || len(req.extras) != 0 || !validName(scope) {
		return c.fail(req, statusInvalidArgs, "invalid scope path")
	}
	if !isDefault(scope) {
		return c.unknownScopeOrCollection(req, statusUnknownScope)
	}
	return c.idReply(req)
}

// idReply answers a scope/collection lookup with {u64 manifest uid, u32 id},
// both zero for the default scope and collection.
func (c *conn) idReply(req *request) *response {
	resp := c.reply(req, statusSuccess)
	resp.extras = make([]byte, 12)
	return resp
}

func (c *conn) unknownScopeOrCollection(req *request, status uint16) *response {
	resp := c.unknownCollection(req)
	resp.status = status
	return resp
}

func isDefault(name string) bool { return name == "" || name == "_default" }

// validName checks scope/collection name syntax (Collections.md); empty is
// allowed and means _default.
func validName(name string) bool {
	if len(name) > 251 {
		return false
	}
	for _, r := range name {
		ok := r == '_' || r == '-' || r == '%' || r == '$' ||
			(r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')
		if !ok {
			return false
		}
	}
	return true
}
