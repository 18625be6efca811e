package couchbasedev

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzReadRequest feeds arbitrary bytes to the packet parser, as a client's socket
// would. It must never panic nor read past the packet it returns, and what it accepts
// must encode back to the very bytes it read: the packet, then its framing extras and
// its collection-prefixed key, which the dispatcher parses next. The seed corpus in
// testdata/fuzz/FuzzReadRequest holds the packets a gocb session sends (HELLO, SASL,
// SELECT_BUCKET, collection-prefixed GET and SET, sub-document specs, alt requests with
// durability, escaped and tracing frames) and broken ones (bad magic, lengths that do
// not add up, a truncated body, a body over the size limit).
func FuzzReadRequest(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		var hdr [headerLen]byte
		req, err := readRequest(r, &hdr)
		if err != nil {
			return
		}
		read := data[:len(data)-r.Len()]
		if want := headerLen + int(binary.BigEndian.Uint32(data[8:])); len(read) != want {
			t.Fatalf("read %d bytes of a %d-byte packet", len(read), want)
		}
		if got := encodeRequest(req); !bytes.Equal(got, read) {
			t.Fatalf("accepted packet encodes back differently:\nread %x\ngot  %x", read, got)
		}
		again, err := readRequest(bytes.NewReader(read), &hdr)
		if err != nil {
			t.Fatalf("its own bytes refused: %v", err)
		}
		if diff := cmp.Diff(req, again, cmp.AllowUnexported(request{})); diff != "" {
			t.Fatalf("parsed twice differently (-first +second):\n%s", diff)
		}
		if frames, err := parseFrames(req.frames); err == nil {
			if got := encodeFrames(frames); !bytes.Equal(got, req.frames) {
				t.Fatalf("accepted frames encode back differently:\nread %x\ngot  %x", req.frames, got)
			}
		}
		if cid, rest, err := decodeCollectionID(req.key); err == nil {
			if got := append(appendLEB128(nil, cid), rest...); !bytes.Equal(got, req.key) {
				t.Fatalf("accepted collection id %#x encodes back differently:\nread %x\ngot  %x", cid, req.key, got)
			}
		}
	})
}

// encodeRequest is the wire form of a parsed request, keeping its magic: an alt
// request (0x08) carries its frames' length in byte 2 and its key's in byte 3, a
// classic one (0x80) a 16-bit key length.
func encodeRequest(req *request) []byte {
	hdr := make([]byte, headerLen)
	hdr[0], hdr[1] = req.magic, req.opcode
	if req.magic == magicAltReq {
		hdr[2], hdr[3] = byte(len(req.frames)), byte(len(req.key))
	} else {
		binary.BigEndian.PutUint16(hdr[2:], uint16(len(req.key)))
	}
	hdr[4], hdr[5] = byte(len(req.extras)), req.datatype
	binary.BigEndian.PutUint16(hdr[6:], req.vbucket)
	binary.BigEndian.PutUint32(hdr[8:], uint32(len(req.frames)+len(req.extras)+len(req.key)+len(req.value)))
	binary.BigEndian.PutUint32(hdr[12:], req.opaque)
	binary.BigEndian.PutUint64(hdr[16:], req.cas)
	return bytes.Join([][]byte{hdr, req.frames, req.extras, req.key, req.value}, nil)
}

// encodeFrames writes framing extras: a nibble each for id and length, 15 in a nibble
// meaning "15 plus the next byte" (the id's escape byte first).
func encodeFrames(frames []frameInfo) []byte {
	var out []byte
	for _, f := range frames {
		id, size := min(f.id, frameEscapeNibble), min(len(f.data), frameEscapeNibble)
		out = append(out, byte(id<<4|size))
		if id == frameEscapeNibble {
			out = append(out, byte(f.id-frameEscapeNibble))
		}
		if size == frameEscapeNibble {
			out = append(out, byte(len(f.data)-frameEscapeNibble))
		}
		out = append(out, f.data...)
	}
	return out
}

// appendLEB128 appends cid as unsigned LEB128, the collection prefix of a key.
func appendLEB128(dst []byte, cid uint32) []byte {
	for cid >= 0x80 {
		dst = append(dst, byte(cid)|0x80)
		cid >>= 7
	}
	return append(dst, byte(cid))
}
