package couchbasedev

// Client opcodes handled by the server (BinaryProtocol.md, SubDocument.md,
// Collections.md).
const (
	opGet             = 0x00
	opSet             = 0x01
	opAdd             = 0x02
	opReplace         = 0x03
	opDelete          = 0x04
	opIncrement       = 0x05
	opDecrement       = 0x06
	opNoop            = 0x0a
	opVersion         = 0x0b
	opAppend          = 0x0e
	opPrepend         = 0x0f
	opTouch           = 0x1c
	opGAT             = 0x1d
	opHello           = 0x1f
	opSASLListMechs   = 0x20
	opSASLAuth        = 0x21
	opSASLStep        = 0x22
	opSelectBucket    = 0x89
	opGetLocked       = 0x94
	opUnlockKey       = 0x95
	opGetMeta         = 0xa0
	opGetClusterCfg   = 0xb5
	opGetManifest     = 0xba
	opGetCollectionID = 0xbb
	opGetScopeID      = 0xbc
	opSubdocGet       = 0xc5
	opSubdocExists    = 0xc6
	opSubdocDictAdd   = 0xc7
	opSubdocDictSet   = 0xc8
	opSubdocDelete    = 0xc9
	opSubdocReplace   = 0xca
	opSubdocPushLast  = 0xcb
	opSubdocPushFirst = 0xcc
	opSubdocInsert    = 0xcd
	opSubdocAddUnique = 0xce
	opSubdocCounter   = 0xcf
	opMultiLookup     = 0xd0
	opMultiMutation   = 0xd1
	opSubdocGetCount  = 0xd2
	opGetErrorMap     = 0xfe
)

// Response status codes.
const (
	statusSuccess           = 0x00
	statusKeyNotFound       = 0x01
	statusKeyExists         = 0x02
	statusTooBig            = 0x03
	statusInvalidArgs       = 0x04
	statusNotStored         = 0x05
	statusBadDelta          = 0x06
	statusNoBucket          = 0x08
	statusLocked            = 0x09
	statusNotLocked         = 0x0e
	statusAuthError         = 0x20
	statusAuthContinue      = 0x21
	statusAccessError       = 0x24
	statusUnknownCommand    = 0x81
	statusNotSupported      = 0x83
	statusInternalError     = 0x84
	statusTmpFail           = 0x86
	statusUnknownCollection = 0x88
	statusUnknownScope      = 0x8c
	statusDurabilityInvalid = 0xa0
	statusPathNotFound      = 0xc0
	statusPathMismatch      = 0xc1
	statusPathInvalid       = 0xc2
	statusPathTooBig        = 0xc3
	statusDocTooDeep        = 0xc4
	statusCantInsert        = 0xc5
	statusDocNotJSON        = 0xc6
	statusNumRange          = 0xc7
	statusDeltaInvalid      = 0xc8
	statusPathExists        = 0xc9
	statusValueTooDeep      = 0xca
	statusInvalidCombo      = 0xcb
	statusMultiPathFailure  = 0xcc
	statusUnknownVattr      = 0xd1
	statusCannotModifyVattr = 0xd2
)

// HELLO feature codes this server grants when asked.
const (
	featureSeqno           = 0x04
	featureXerror          = 0x07
	featureSelectBucket    = 0x08
	featureJSON            = 0x0b
	featureAltRequests     = 0x10
	featureSyncReplication = 0x11
	featureCollections     = 0x12
	featurePreserveTTL     = 0x14
	featureKnownVersion    = 0x1d
)

// grantableFeatures lists every HELLO feature the server agrees to enable.
// SNAPPY, XATTR, DUPLEX, cluster-map notifications, UNORDERED and DURATIONS
// are deliberately absent.
var grantableFeatures = map[uint16]bool{
	featureSeqno:           true,
	featureXerror:          true,
	featureSelectBucket:    true,
	featureJSON:            true,
	featureAltRequests:     true,
	featureSyncReplication: true,
	featureCollections:     true,
	featurePreserveTTL:     true,
	featureKnownVersion:    true,
}

// Datatype bits.
const (
	datatypeJSON   = 0x01
	datatypeSnappy = 0x02
	datatypeXattr  = 0x04
)

// Limits (Couchbase Server defaults) and other fixed values.
const (
	maxKeyLen        = 250
	maxValueLen      = 20 << 20
	numVBuckets      = 1024
	maxSubdocSpecs   = 16
	relativeExpiry   = 30 * 24 * 60 * 60 // expiries up to 30 days are relative
	defaultLockSecs  = 15
	maxLockSecs      = 30
	lockedCAS        = ^uint64(0) // CAS reported for locked documents
	scramIterations  = 4096
	serverVersion    = "7.6.0-oven-dev"
	counterNoCreate  = 0xffffffff // INCR/DECR expiry meaning "do not create"
	durabilityMaxLvl = 3
)
