package couchbasedev

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"hash/crc32"
	"sync"
	"sync/atomic"
	"time"
)

// item is one stored document. Items are replaced, never edited in place,
// except for their lock state which is guarded by the vbucket mutex.
type item struct {
	value       []byte
	flags       uint32
	datatype    byte // only the JSON bit is ever set
	cas         uint64
	exptime     int64  // absolute unix seconds; 0 = never expires
	revSeqno    uint64 // per-document revision counter
	seqno       uint64 // vbucket sequence number of the last mutation
	modified    int64  // unix seconds of the last mutation
	lockedUntil time.Time
}

// expired reports whether the item's TTL has passed at now.
func (it *item) expired(now time.Time) bool {
	return it.exptime != 0 && now.Unix() >= it.exptime
}

// locked reports whether a GET_LOCKED lock is still held at now.
func (it *item) locked(now time.Time) bool {
	return !it.lockedUntil.IsZero() && now.Before(it.lockedUntil)
}

// visibleCAS is the CAS reported to readers: locked items hide their CAS.
func (it *item) visibleCAS(now time.Time) uint64 {
	if it.locked(now) {
		return lockedCAS
	}
	return it.cas
}

// vbucket is one shard of the keyspace with its own lock, sequence numbers
// and UUID (used in mutation tokens).
type vbucket struct {
	mu    sync.Mutex
	uuid  uint64
	seqno uint64
	items map[string]*item
}

// lookup returns the live item for key, lazily removing it if expired.
// The caller must hold vb.mu.
func (vb *vbucket) lookup(key string, now time.Time) *item {
	it := vb.items[key]
	if it == nil {
		return nil
	}
	if it.expired(now) {
		vb.remove(key)
		return nil
	}
	return it
}

// put stores it under key as a new mutation. The caller must hold vb.mu.
func (vb *vbucket) put(key string, it *item, cas uint64, now time.Time) {
	vb.seqno++
	it.seqno = vb.seqno
	it.cas = cas
	it.modified = now.Unix()
	vb.items[key] = it
}

// remove deletes key as a new mutation. The caller must hold vb.mu.
func (vb *vbucket) remove(key string) {
	vb.seqno++
	delete(vb.items, key)
}

// sweep removes every expired item. It takes vb.mu itself.
func (vb *vbucket) sweep(now time.Time) {
	vb.mu.Lock()
	defer vb.mu.Unlock()
	for key, it := range vb.items {
		if it.expired(now) {
			vb.remove(key)
		}
	}
}

// bucket is the single in-memory Couchbase bucket served.
type bucket struct {
	name string
	uuid string
	vbs  [numVBuckets]vbucket
}

func newBucket(name string) *bucket {
	b := &bucket{name: name, uuid: randomHex(16)}
	for i := range b.vbs {
		b.vbs[i].uuid = randomUint64()
		b.vbs[i].items = make(map[string]*item)
	}
	return b
}

// vbucketID maps a document key to its vbucket exactly like the SDK does.
func vbucketID(key []byte) int {
	crc := crc32.ChecksumIEEE(key)
	return int((crc>>16)&0x7fff) % numVBuckets
}

// vbFor returns the vbucket owning key.
func (b *bucket) vbFor(key []byte) *vbucket {
	return &b.vbs[vbucketID(key)]
}

// casClock hands out unique, increasing, non-zero CAS values in the style of
// Couchbase's hybrid logical clock: wall-clock nanoseconds with the low 16
// bits used as a logical counter.
type casClock struct {
	last atomic.Uint64
}

func (c *casClock) next() uint64 {
	for {
		prev := c.last.Load()
		cand := uint64(time.Now().UnixNano()) &^ 0xffff
		if cand <= prev {
			cand = prev + 1
		}
		if c.last.CompareAndSwap(prev, cand) {
			return cand
		}
	}
}

// absExpiry converts a protocol expiry to absolute unix seconds: 0 means
// never, up to 30 days is relative to now, anything larger is absolute.
func absExpiry(exp uint32, now time.Time) int64 {
	switch {
	case exp == 0:
		return 0
	case exp <= relativeExpiry:
		return now.Unix() + int64(exp)
	default:
		return int64(exp)
	}
}

// mutationToken encodes the 16-byte (vbuuid, seqno) token.
func mutationToken(vb *vbucket, seqno uint64) []byte {
	tok := make([]byte, 16)
	binary.BigEndian.PutUint64(tok, vb.uuid)
	binary.BigEndian.PutUint64(tok[8:], seqno)
	return tok
}

func randomUint64() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return binary.BigEndian.Uint64(b[:])
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
