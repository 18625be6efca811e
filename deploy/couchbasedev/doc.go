// Package couchbasedev is a small single-node, in-memory server that speaks
// enough of the Couchbase KV (memcached binary) protocol for the gocb v2 SDK
// to work against it in Oven's dev stack and tests. Nothing is persisted.
//
//	srv, err := couchbasedev.Start(couchbasedev.Config{
//		Bucket: "game", Username: "oven", Password: "secret",
//	})
//	defer srv.Close()
//	cluster, err := gocb.Connect(srv.ConnString(), gocb.ClusterOptions{
//		Authenticator: gocb.PasswordAuthenticator{Username: "oven", Password: "secret"},
//	})
//
// # Topology
//
// One node owning all 1024 vbuckets of one bucket (no replicas), with one
// scope and collection: _default._default (collection ID 0). Clients
// bootstrap over KV (CCCP); the HTTP management port only serves
// GET /whoami (HTTP basic auth), which cluster.WaitUntilReady polls, so the
// SDK's REST-based managers (buckets, collections, users, query...) do not
// work. Keys are hashed to vbuckets server-side; the request's vbucket field
// is not checked, so NOT_MY_VBUCKET is never returned.
//
// # Connection and session commands
//
//   - HELLO (0x1f): grants SEQNO (mutation tokens), XERROR, SELECT_BUCKET,
//     JSON, ALT_REQUESTS (flexible frames), SYNC_REPLICATION, COLLECTIONS,
//     PRESERVE_TTL and CLUSTERMAP_KNOWN_VERSION. SNAPPY, XATTR, DUPLEX,
//     cluster-map notifications, UNORDERED and DURATIONS are never granted.
//   - GET_ERROR_MAP (0xfe, version 1 map), NOOP (0x0a), VERSION (0x0b).
//   - SASL_LIST_MECHS / SASL_AUTH / SASL_STEP (0x20-0x22): SCRAM-SHA512,
//     SCRAM-SHA256, SCRAM-SHA1 (RFC 5802, PBKDF2 with 4096 iterations, no
//     channel binding) and PLAIN.
//   - SELECT_BUCKET (0x89); an unknown bucket gets KEY_ENOENT.
//   - GET_CLUSTER_CONFIG (0xb5): the global config before SELECT_BUCKET,
//     the bucket config after; with {epoch, rev} extras the body is empty if
//     the client is up to date.
//   - GET_COLLECTIONS_MANIFEST (0xba), GET_COLLECTION_ID (0xbb) and
//     GET_SCOPE_ID (0xbc): only _default exists; others get UNKNOWN_SCOPE /
//     UNKNOWN_COLLECTION with {"manifest_uid":"0"}.
//
// Until authentication only HELLO, NOOP, VERSION, GET_ERROR_MAP and SASL
// are accepted (others get EACCESS); document commands need a selected
// bucket (else NO_BUCKET). Any other opcode gets UNKNOWN_COMMAND (0x81).
//
// # Document commands
//
// GET (0x00), SET/ADD/REPLACE (0x01-0x03), DELETE (0x04),
// INCREMENT/DECREMENT (0x05/0x06), APPEND/PREPEND (0x0e/0x0f), TOUCH (0x1c),
// GAT (0x1d), GET_LOCKED (0x94), UNLOCK_KEY (0x95) and GET_META (0xa0).
//
//   - Every mutation, including TOUCH and GAT, gets a new non-zero CAS
//     (hybrid-logical-clock style). A non-zero request CAS that does not
//     match gets KEY_EEXISTS (0x02); a missing document KEY_ENOENT (0x01);
//     ADD on an existing document KEY_EEXISTS; APPEND/PREPEND on a missing
//     one NOT_STORED.
//   - Flags are stored and echoed; GET/GAT/GET_LOCKED extras are exactly the
//     4 flag bytes. Values are checked for JSON to set the datatype.
//   - Expiry: 0 never expires, up to 30 days is relative seconds, larger is
//     an absolute Unix time (in the past = already expired). Resolution is
//     one second: a document is gone once Config.Now reaches its deadline.
//     SET/REPLACE/ADD and sub-document mutations without an expiry clear it
//     unless the preserve-TTL frame is sent; APPEND/PREPEND and counters on an
//     existing document keep it. Expired documents are removed lazily on
//     access and by a sweeper goroutine every second.
//   - GET_LOCKED locks for the given seconds (0 or >30 means 15). A locked
//     document reports CAS 0xffffffffffffffff to readers and rejects writes
//     without the lock CAS with LOCKED (TMPFAIL without XERROR).
//   - Limits: keys 1..250 bytes (else EINVAL), values up to 20 MiB (else
//     E2BIG); packets over 30 MiB close the connection.
//   - Flexible frames: durability levels 1-3 are accepted on mutations
//     (writes are immediately "durable" in memory; other levels get
//     DURABILITY_INVALID_LEVEL), preserve-TTL, reorder and tracing frames are
//     accepted; impersonation gets NOT_SUPPORTED, anything else EINVAL.
//
// # Sub-document commands
//
// MULTI_LOOKUP (0xd0) and MULTI_MUTATION (0xd1) with 1..16 specs, plus the
// single-path forms of the same operations:
//
//   - Lookups: GET (0xc5), EXISTS (0xc6), GET_COUNT (0xd2) and whole-document
//     GET (0x00, empty path).
//   - Mutations: DICT_ADD (0xc7), DICT_UPSERT (0xc8), DELETE (0xc9),
//     REPLACE (0xca), ARRAY_PUSH_LAST (0xcb), ARRAY_PUSH_FIRST (0xcc),
//     ARRAY_INSERT (0xcd), ARRAY_ADD_UNIQUE (0xce), COUNTER (0xcf) and the
//     whole-document SET (0x01) / DELETE (0x04) with an empty path.
//   - Path syntax: dotted keys, [n] and [-1] indexes, `backtick` quoting.
//     MKDIR_P, and the MkDoc (upsert) / Add (insert) doc flags behave as in
//     kv_engine docs/SubDocument.md; the expiry and user-flags extras are
//     honoured. Multi-mutations are atomic: the first failing spec is
//     reported as SUBDOC_MULTI_PATH_FAILURE with its index and status.
//   - Extended attributes: only the read-only virtual attributes $document
//     (CAS, exptime, flags, seqno, revid, ...), $vbucket and $XTOC can be
//     looked up (gocb's Get WithExpiry uses them). User xattrs are not stored:
//     looking one up yields PATH_ENOENT, writing one NOT_SUPPORTED, and
//     writing a virtual one CANNOT_MODIFY_VATTR.
//   - Documents are re-encoded compactly after a sub-document mutation: member
//     order is kept but insignificant whitespace is not.
//
// Not implemented (UNKNOWN_COMMAND): quiet opcodes (GETQ, SETQ, ...), STAT,
// OBSERVE / OBSERVE_SEQNO, GET_REPLICA, DCP, range scans, *_WITH_META and
// GET_RANDOM_KEY.
package couchbasedev
