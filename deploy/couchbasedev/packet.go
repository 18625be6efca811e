package couchbasedev

import (
	"encoding/binary"
	"errors"
	"io"
)

// Wire constants of the memcached binary protocol (kv_engine docs/BinaryProtocol.md).
const (
	magicReq    = 0x80 // classic request
	magicAltReq = 0x08 // request carrying flexible framing extras
	magicRes    = 0x81 // classic response

	headerLen = 24

	// maxBodyLen mirrors memcached's default max_packet_size (30 MiB): a
	// larger frame makes the server drop the connection.
	maxBodyLen = 30 << 20
)

var (
	errBadMagic   = errors.New("couchbasedev: unknown packet magic")
	errBodyLength = errors.New("couchbasedev: inconsistent packet lengths")
	errTooLarge   = errors.New("couchbasedev: packet exceeds max size")
	errBadFrame   = errors.New("couchbasedev: malformed framing extras")
	errBadLEB128  = errors.New("couchbasedev: invalid LEB128 collection id")
)

// request is one decoded client request. All byte slices alias a single
// freshly allocated body buffer, so handlers may keep them.
type request struct {
	magic    byte
	opcode   byte
	datatype byte
	vbucket  uint16
	opaque   uint32
	cas      uint64
	frames   []byte // raw flexible framing extras (magic 0x08 only)
	extras   []byte
	key      []byte // raw key, including any LEB128 collection prefix
	value    []byte

	// Filled in by the dispatcher before a handler runs.
	docKey      []byte // key without the collection prefix
	durability  byte   // 0 = none, else level 1..3
	preserveTTL bool
}

// response is one server response. Responses never carry a key.
type response struct {
	opcode   byte
	datatype byte
	status   uint16
	opaque   uint32
	cas      uint64
	extras   []byte
	value    []byte
}

// readRequest reads one request packet from r. hdr is scratch space.
func readRequest(r io.Reader, hdr *[headerLen]byte) (*request, error) {
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	req := &request{
		magic:    hdr[0],
		opcode:   hdr[1],
		datatype: hdr[5],
		vbucket:  binary.BigEndian.Uint16(hdr[6:]),
		opaque:   binary.BigEndian.Uint32(hdr[12:]),
		cas:      binary.BigEndian.Uint64(hdr[16:]),
	}
	var framesLen, keyLen int
	switch req.magic {
	case magicReq:
		keyLen = int(binary.BigEndian.Uint16(hdr[2:]))
	case magicAltReq:
		framesLen, keyLen = int(hdr[2]), int(hdr[3])
	default:
		return nil, errBadMagic
	}
	extLen := int(hdr[4])
	bodyLen := int(binary.BigEndian.Uint32(hdr[8:]))
	if bodyLen > maxBodyLen {
		return nil, errTooLarge
	}
	if framesLen+extLen+keyLen > bodyLen {
		return nil, errBodyLength
	}
	body := make([]byte, bodyLen)
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, err
	}
	req.frames = body[:framesLen:framesLen]
	body = body[framesLen:]
	req.extras = body[:extLen:extLen]
	req.key = body[extLen : extLen+keyLen : extLen+keyLen]
	req.value = body[extLen+keyLen:]
	return req, nil
}

// appendResponse encodes resp as a classic (magic 0x81) response.
func appendResponse(dst []byte, resp *response) []byte {
	var hdr [headerLen]byte
	hdr[0] = magicRes
	hdr[1] = resp.opcode
	hdr[4] = byte(len(resp.extras))
	hdr[5] = resp.datatype
	binary.BigEndian.PutUint16(hdr[6:], resp.status)
	binary.BigEndian.PutUint32(hdr[8:], uint32(len(resp.extras)+len(resp.value)))
	binary.BigEndian.PutUint32(hdr[12:], resp.opaque)
	binary.BigEndian.PutUint64(hdr[16:], resp.cas)
	dst = append(dst, hdr[:]...)
	dst = append(dst, resp.extras...)
	return append(dst, resp.value...)
}

// frameInfo is one flexible framing extra of an alt request.
type frameInfo struct {
	id   int
	data []byte
}

// Request frame IDs (BinaryProtocol.md, "flexible framing extras").
const (
	frameReorder      = 0
	frameDurability   = 1
	frameOpenTracing  = 3
	frameImpersonate  = 4
	framePreserveTTL  = 5
	frameEscapeNibble = 15
)

// parseFrames splits raw framing extras into frames. Each frame starts with a
// byte holding a 4-bit id and a 4-bit length; the value 15 in either nibble
// means "15 plus the next byte" (id escape byte first).
func parseFrames(b []byte) ([]frameInfo, error) {
	var out []frameInfo
	for len(b) > 0 {
		id, size := int(b[0]>>4), int(b[0]&0x0f)
		b = b[1:]
		if id == frameEscapeNibble {
			if len(b) == 0 {
				return nil, errBadFrame
			}
			id += int(b[0])
			b = b[1:]
		}
		if size == frameEscapeNibble {
			if len(b) == 0 {
				return nil, errBadFrame
			}
			size += int(b[0])
			b = b[1:]
		}
		if size > len(b) {
			return nil, errBadFrame
		}
		out = append(out, frameInfo{id: id, data: b[:size:size]})
		b = b[size:]
	}
	return out, nil
}

// decodeCollectionID splits a collection-aware key into its unsigned LEB128
// collection ID and the document key. Like kv_engine it accepts at most five
// bytes and only the canonical (shortest) encoding.
func decodeCollectionID(key []byte) (uint32, []byte, error) {
	var cid uint64
	for i := 0; i < len(key) && i < 5; i++ {
		cid |= uint64(key[i]&0x7f) << (7 * i)
		if key[i]&0x80 != 0 {
			continue
		}
		if (i > 0 && key[i] == 0) || cid > 0xffffffff {
			return 0, nil, errBadLEB128
		}
		return uint32(cid), key[i+1:], nil
	}
	return 0, nil, errBadLEB128
}
