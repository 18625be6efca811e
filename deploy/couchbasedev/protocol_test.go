package couchbasedev

import (
	"bufio"
	"bytes"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"hash"
	"io"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// rawReq is a request as a test client builds it.
type rawReq struct {
	opcode   byte
	frames   []byte
	extras   []byte
	key      []byte
	value    []byte
	cas      uint64
	datatype byte
	vbucket  uint16
	opaque   uint32
}

// encode builds the wire form, switching to magic 0x08 when frames are set.
func (r rawReq) encode() []byte {
	hdr := make([]byte, headerLen)
	hdr[0], hdr[1] = magicReq, r.opcode
	binary.BigEndian.PutUint16(hdr[2:], uint16(len(r.key)))
	if len(r.frames) > 0 {
		hdr[0], hdr[2], hdr[3] = magicAltReq, byte(len(r.frames)), byte(len(r.key))
	}
	hdr[4], hdr[5] = byte(len(r.extras)), r.datatype
	binary.BigEndian.PutUint16(hdr[6:], r.vbucket)
	binary.BigEndian.PutUint32(hdr[8:], uint32(len(r.frames)+len(r.extras)+len(r.key)+len(r.value)))
	binary.BigEndian.PutUint32(hdr[12:], r.opaque)
	binary.BigEndian.PutUint64(hdr[16:], r.cas)
	return bytes.Join([][]byte{hdr, r.frames, r.extras, r.key, r.value}, nil)
}

// readResponse decodes one classic response.
func readResponse(r io.Reader) (*response, error) {
	hdr := make([]byte, headerLen)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, err
	}
	if hdr[0] != magicRes {
		return nil, fmt.Errorf("bad response magic %#x", hdr[0])
	}
	body := make([]byte, binary.BigEndian.Uint32(hdr[8:]))
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, err
	}
	extLen, keyLen := int(hdr[4]), int(binary.BigEndian.Uint16(hdr[2:]))
	if keyLen != 0 {
		return nil, fmt.Errorf("response carries a %d-byte key", keyLen)
	}
	return &response{
		opcode:   hdr[1],
		datatype: hdr[5],
		status:   binary.BigEndian.Uint16(hdr[6:]),
		opaque:   binary.BigEndian.Uint32(hdr[12:]),
		cas:      binary.BigEndian.Uint64(hdr[16:]),
		extras:   body[:extLen],
		value:    body[extLen:],
	}, nil
}

var cmpResponse = cmp.AllowUnexported(response{})

func TestRequestCodec(t *testing.T) {
	frames := []byte{0x11, 0x01, 0x50} // durability(majority) + preserve TTL
	tests := []struct {
		name string
		in   rawReq
		want *request
	}{
		{
			name: "classic",
			in:   rawReq{opcode: opSet, extras: []byte{0, 0, 0, 1, 0, 0, 0, 2}, key: []byte("k"), value: []byte("v"), cas: 7, vbucket: 9, opaque: 42},
			want: &request{magic: magicReq, opcode: opSet, vbucket: 9, opaque: 42, cas: 7, frames: []byte{},
				extras: []byte{0, 0, 0, 1, 0, 0, 0, 2}, key: []byte("k"), value: []byte("v")},
		},
		{
			name: "alt request with frames",
			in:   rawReq{opcode: opDelete, frames: frames, key: []byte("key"), datatype: datatypeJSON},
			want: &request{magic: magicAltReq, opcode: opDelete, datatype: datatypeJSON, frames: frames,
				extras: []byte{}, key: []byte("key"), value: []byte{}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var hdr [headerLen]byte
			got, err := readRequest(bytes.NewReader(tc.in.encode()), &hdr)
			if err != nil {
				t.Fatalf("readRequest: %v", err)
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(request{})); diff != "" {
				t.Errorf("request (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRequestCodecErrors(t *testing.T) {
	good := rawReq{opcode: opGet, key: []byte("key")}.encode()
	badMagic := append([]byte{0x42}, good[1:]...)
	tooBig := bytes.Clone(good)
	binary.BigEndian.PutUint32(tooBig[8:], maxBodyLen+1)
	badLens := bytes.Clone(good)
	badLens[4] = 9 // extras longer than the body
	for name, in := range map[string][]byte{"magic": badMagic, "too big": tooBig, "lengths": badLens, "truncated": good[:len(good)-1]} {
		var hdr [headerLen]byte
		if _, err := readRequest(bytes.NewReader(in), &hdr); err == nil {
			t.Errorf("%s: readRequest succeeded", name)
		}
	}
}

// TestResponseEncoding checks the GET response example of BinaryProtocol.md.
func TestResponseEncoding(t *testing.T) {
	got := appendResponse(nil, &response{opcode: opGet, cas: 1, extras: []byte{0xde, 0xad, 0xbe, 0xef}, value: []byte("World")})
	want := []byte{
		0x81, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x09, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
		0xde, 0xad, 0xbe, 0xef, 'W', 'o', 'r', 'l', 'd',
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("encoding (-want +got):\n%s", diff)
	}
}

func TestParseFrames(t *testing.T) {
	long := bytes.Repeat([]byte{'u'}, 20)
	tests := []struct {
		name string
		in   []byte
		want []frameInfo
		bad  bool
	}{
		{name: "empty"},
		{name: "barrier and durability", in: []byte{0x00, 0x13, 0x02, 0x01, 0xf4},
			want: []frameInfo{{id: 0, data: []byte{}}, {id: 1, data: []byte{0x02, 0x01, 0xf4}}}},
		{name: "escaped length", in: append([]byte{0x4f, 20 - 15}, long...),
			want: []frameInfo{{id: 4, data: long}}},
		{name: "escaped id", in: []byte{0xf1, 0x02, 0x07}, want: []frameInfo{{id: 17, data: []byte{0x07}}}},
		{name: "truncated data", in: []byte{0x13, 0x02}, bad: true},
		{name: "truncated escape", in: []byte{0x4f}, bad: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseFrames(tc.in)
			if (err != nil) != tc.bad {
				t.Fatalf("err = %v, want error %v", err, tc.bad)
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(frameInfo{})); diff != "" {
				t.Errorf("frames (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDecodeCollectionID uses the table of Collections.md.
func TestDecodeCollectionID(t *testing.T) {
	tests := []struct {
		in  []byte
		cid uint32
		bad bool
	}{
		{in: []byte{0x00}, cid: 0},
		{in: []byte{0x7f}, cid: 0x7f},
		{in: []byte{0x80, 0x01}, cid: 0x80},
		{in: []byte{0xd5, 0x0a}, cid: 0x555},
		{in: []byte{0xff, 0xff, 0x03}, cid: 0xffff},
		{in: []byte{0x8d, 0xe0, 0xfb, 0xd7, 0x0c}, cid: 0xcafef00d},
		{in: []byte{0xff, 0xff, 0xff, 0xff, 0x0f}, cid: 0xffffffff},
		{in: []byte{0x81, 0x00}, bad: true},                         // non-canonical 1
		{in: []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x00}, bad: true}, // six bytes
		{in: []byte{0xff, 0xff, 0xff, 0xff, 0x1f}, bad: true},       // > 32 bits
	}
	for _, tc := range tests {
		key := append(bytes.Clone(tc.in), "doc"...)
		cid, rest, err := decodeCollectionID(key)
		if (err != nil) != tc.bad {
			t.Errorf("%x: err = %v, want error %v", tc.in, err, tc.bad)
			continue
		}
		if !tc.bad && (cid != tc.cid || string(rest) != "doc") {
			t.Errorf("%x: got cid %#x rest %q, want %#x doc", tc.in, cid, rest, tc.cid)
		}
	}
	for _, in := range [][]byte{nil, {0x80}} {
		if _, _, err := decodeCollectionID(in); err == nil {
			t.Errorf("%x: decoded a key without a stop byte", in)
		}
	}
}

func TestParsePath(t *testing.T) {
	k := func(s string) pathComponent { return pathComponent{key: s} }
	ix := func(i int) pathComponent { return pathComponent{index: i, isIndex: true} }
	tests := []struct {
		in     string
		want   []pathComponent
		status uint16
	}{
		{in: ""},
		{in: "a", want: []pathComponent{k("a")}},
		{in: "a.b[0][-1].c", want: []pathComponent{k("a"), k("b"), ix(0), ix(-1), k("c")}},
		{in: "[2]", want: []pathComponent{ix(2)}},
		{in: "`dot.ted`.x", want: []pathComponent{k("dot.ted"), k("x")}},
		{in: "`back``tick`", want: []pathComponent{k("back`tick")}},
		{in: `q\"uote`, want: []pathComponent{k(`q"uote`)}},
		{in: "a..b", status: statusPathInvalid},
		{in: ".a", status: statusPathInvalid},
		{in: "a.", status: statusPathInvalid},
		{in: "a[x]", status: statusPathInvalid},
		{in: "a[-2]", status: statusPathInvalid},
		{in: "a[1", status: statusPathInvalid},
		{in: "a]b", status: statusPathInvalid},
		{in: "a[0]b", status: statusPathInvalid},
		{in: "`open", status: statusPathInvalid},
		{in: strings.Repeat("a.", 32) + "a", status: statusPathTooBig},
		{in: strings.Repeat("x", maxPathLen+1), status: statusPathTooBig},
	}
	for _, tc := range tests {
		got, st := parsePath(tc.in)
		if st != tc.status {
			t.Errorf("parsePath(%q) status = %#x, want %#x", tc.in, st, tc.status)
			continue
		}
		if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(pathComponent{})); diff != "" {
			t.Errorf("parsePath(%q) (-want +got):\n%s", tc.in, diff)
		}
	}
}

func TestMutatePath(t *testing.T) {
	const doc = `{"a":1,"arr":[1,"x",{"y":2}],"o":{"n":5},"s":"str"}`
	tests := []struct {
		name   string
		op     byte
		path   string
		value  string
		mkdir  bool
		want   string // whole document after the op
		result string // value returned (COUNTER)
		status uint16
	}{
		{name: "dict add", op: opSubdocDictAdd, path: "b", value: `true`, want: `{"a":1,"arr":[1,"x",{"y":2}],"o":{"n":5},"s":"str","b":true}`},
		{name: "dict add exists", op: opSubdocDictAdd, path: "a", value: `2`, status: statusPathExists},
		{name: "dict add needs parent", op: opSubdocDictAdd, path: "p.q", value: `2`, status: statusPathNotFound},
		{name: "dict add mkdir", op: opSubdocDictAdd, path: "p.q", value: `2`, mkdir: true, want: `{"a":1,"arr":[1,"x",{"y":2}],"o":{"n":5},"s":"str","p":{"q":2}}`},
		{name: "dict upsert keeps order", op: opSubdocDictSet, path: "a", value: `{"z":[]}`, want: `{"a":{"z":[]},"arr":[1,"x",{"y":2}],"o":{"n":5},"s":"str"}`},
		{name: "dict on array", op: opSubdocDictSet, path: "arr.k", value: `1`, status: statusPathMismatch},
		{name: "dict bad value", op: opSubdocDictSet, path: "k", value: `{nope`, status: statusCantInsert},
		{name: "dict index path", op: opSubdocDictSet, path: "arr[0]", value: `1`, status: statusPathInvalid},
		{name: "delete member", op: opSubdocDelete, path: "o.n", want: `{"a":1,"arr":[1,"x",{"y":2}],"o":{},"s":"str"}`},
		{name: "delete last element", op: opSubdocDelete, path: "arr[-1]", want: `{"a":1,"arr":[1,"x"],"o":{"n":5},"s":"str"}`},
		{name: "delete missing", op: opSubdocDelete, path: "zz", status: statusPathNotFound},
		{name: "replace element", op: opSubdocReplace, path: "arr[2].y", value: `"new"`, want: `{"a":1,"arr":[1,"x",{"y":"new"}],"o":{"n":5},"s":"str"}`},
		{name: "replace missing", op: opSubdocReplace, path: "zz", value: `1`, status: statusPathNotFound},
		{name: "push last multi", op: opSubdocPushLast, path: "arr", value: `2, 3`, want: `{"a":1,"arr":[1,"x",{"y":2},2,3],"o":{"n":5},"s":"str"}`},
		{name: "push first", op: opSubdocPushFirst, path: "arr", value: `0`, want: `{"a":1,"arr":[0,1,"x",{"y":2}],"o":{"n":5},"s":"str"}`},
		{name: "push on string", op: opSubdocPushLast, path: "s", value: `0`, status: statusPathMismatch},
		{name: "push creates array", op: opSubdocPushLast, path: "new.list", value: `1`, mkdir: true, want: `{"a":1,"arr":[1,"x",{"y":2}],"o":{"n":5},"s":"str","new":{"list":[1]}}`},
		{name: "insert middle", op: opSubdocInsert, path: "arr[1]", value: `"m"`, want: `{"a":1,"arr":[1,"m","x",{"y":2}],"o":{"n":5},"s":"str"}`},
		{name: "insert at end", op: opSubdocInsert, path: "arr[3]", value: `9`, want: `{"a":1,"arr":[1,"x",{"y":2},9],"o":{"n":5},"s":"str"}`},
		{name: "insert past end", op: opSubdocInsert, path: "arr[5]", value: `9`, status: statusPathNotFound},
		{name: "insert negative", op: opSubdocInsert, path: "arr[-1]", value: `9`, status: statusPathInvalid},
		{name: "add unique non-primitive array", op: opSubdocAddUnique, path: "arr", value: `7`, status: statusPathMismatch},
		{name: "add unique object value", op: opSubdocAddUnique, path: "new", value: `{}`, mkdir: true, status: statusCantInsert},
		{name: "counter", op: opSubdocCounter, path: "o.n", value: `-7`, result: `-2`, want: `{"a":1,"arr":[1,"x",{"y":2}],"o":{"n":-2},"s":"str"}`},
		{name: "counter creates", op: opSubdocCounter, path: "c", value: `3`, result: `3`, want: `{"a":1,"arr":[1,"x",{"y":2}],"o":{"n":5},"s":"str","c":3}`},
		{name: "counter zero delta", op: opSubdocCounter, path: "c", value: `0`, status: statusDeltaInvalid},
		{name: "counter on string", op: opSubdocCounter, path: "s", value: `1`, status: statusPathMismatch},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root, err := parseJSON([]byte(doc))
			if err != nil {
				t.Fatal(err)
			}
			path, st := parsePath(tc.path)
			if st != statusSuccess {
				t.Fatalf("parsePath: %#x", st)
			}
			res, st := mutatePath(root, tc.op, path, []byte(tc.value), tc.mkdir)
			if st != tc.status {
				t.Fatalf("status = %#x, want %#x", st, tc.status)
			}
			if st != statusSuccess {
				return
			}
			if got := string(root.encode()); got != tc.want {
				t.Errorf("document = %s\nwant       %s", got, tc.want)
			}
			if string(res) != tc.result {
				t.Errorf("result = %q, want %q", res, tc.result)
			}
		})
	}
}

func TestUniqueAndCounterEdges(t *testing.T) {
	root, _ := parseJSON([]byte(`{"tags":["a",1],"big":9223372036854775807,"huge":92233720368547758070,"f":1.5}`))
	cases := []struct {
		op     byte
		path   string
		value  string
		status uint16
	}{
		{opSubdocAddUnique, "tags", `"a"`, statusPathExists},
		{opSubdocAddUnique, "tags", `"1"`, statusSuccess},
		{opSubdocCounter, "big", `1`, statusCantInsert}, // delta overflow
		{opSubdocCounter, "huge", `1`, statusNumRange},
		{opSubdocCounter, "f", `1`, statusPathMismatch},
		{opSubdocCounter, "big", `x`, statusDeltaInvalid},
	}
	for _, c := range cases {
		path, _ := parsePath(c.path)
		if _, st := mutatePath(root, c.op, path, []byte(c.value), false); st != c.status {
			t.Errorf("op %#x %s %s: status %#x, want %#x", c.op, c.path, c.value, st, c.status)
		}
	}
}

func TestJSONDepthLimit(t *testing.T) {
	deep := strings.Repeat("[", maxJSONDepth+1) + strings.Repeat("]", maxJSONDepth+1)
	if _, err := parseJSON([]byte(deep)); err != errTooDeep {
		t.Errorf("parseJSON(33 levels) = %v, want errTooDeep", err)
	}
	ok := strings.Repeat("[", maxJSONDepth) + strings.Repeat("]", maxJSONDepth)
	if _, err := parseJSON([]byte(ok)); err != nil {
		t.Errorf("parseJSON(32 levels) = %v", err)
	}
}

// rawClient speaks the binary protocol over a real socket.
type rawClient struct {
	t      *testing.T
	nc     net.Conn
	r      *bufio.Reader
	opaque uint32
}

func dialRaw(t *testing.T, s *Server) *rawClient {
	t.Helper()
	nc, err := net.Dial("tcp", s.KVAddr())
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	return &rawClient{t: t, nc: nc, r: bufio.NewReader(nc)}
}

func (c *rawClient) do(req rawReq) *response {
	c.t.Helper()
	c.opaque++
	req.opaque = c.opaque
	if _, err := c.nc.Write(req.encode()); err != nil {
		c.t.Fatalf("write: %v", err)
	}
	resp, err := readResponse(c.r)
	if err != nil {
		c.t.Fatalf("read response to %#x: %v", req.opcode, err)
	}
	if resp.opaque != req.opaque || resp.opcode != req.opcode {
		c.t.Fatalf("response opcode/opaque %#x/%d, want %#x/%d", resp.opcode, resp.opaque, req.opcode, req.opaque)
	}
	return resp
}

// expect sends req and checks the status.
func (c *rawClient) expect(req rawReq, status uint16) *response {
	c.t.Helper()
	resp := c.do(req)
	if resp.status != status {
		c.t.Fatalf("opcode %#x: status %#x (%s), want %#x", req.opcode, resp.status, resp.value, status)
	}
	return resp
}

func (c *rawClient) hello(features ...uint16) []uint16 {
	var v []byte
	for _, f := range features {
		v = binary.BigEndian.AppendUint16(v, f)
	}
	resp := c.expect(rawReq{opcode: opHello, key: []byte(`{"a":"raw-test"}`), value: v}, statusSuccess)
	var granted []uint16
	for b := resp.value; len(b) >= 2; b = b[2:] {
		granted = append(granted, binary.BigEndian.Uint16(b))
	}
	return granted
}

func (c *rawClient) loginPlain(user, pass string) {
	c.expect(rawReq{opcode: opSASLAuth, key: []byte("PLAIN"), value: []byte("\x00" + user + "\x00" + pass)}, statusSuccess)
	c.expect(rawReq{opcode: opSelectBucket, key: []byte("game")}, statusSuccess)
}

func startTestServer(t *testing.T, now func() time.Time) *Server {
	t.Helper()
	s, err := Start(Config{Bucket: "game", Username: "oven", Password: "pw", Now: now})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func setExtras(flags, exp uint32) []byte {
	return binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, flags), exp)
}

func TestRawSession(t *testing.T) {
	s := startTestServer(t, nil)
	c := dialRaw(t, s)

	// Before authentication only session commands work.
	c.expect(rawReq{opcode: opGet, key: []byte("k")}, statusAccessError)
	c.expect(rawReq{opcode: opGetClusterCfg}, statusAccessError)
	granted := c.hello(featureSeqno, 0x0a /* snappy */, featureXerror, 0x06 /* xattr */, featureCollections, featureJSON, featureXerror)
	if diff := cmp.Diff([]uint16{featureSeqno, featureXerror, featureCollections, featureJSON}, granted); diff != "" {
		t.Errorf("HELLO granted (-want +got):\n%s", diff)
	}
	c.expect(rawReq{opcode: opGetErrorMap, value: []byte{0, 2}}, statusSuccess)
	mechs := c.expect(rawReq{opcode: opSASLListMechs}, statusSuccess)
	if string(mechs.value) != saslMechs {
		t.Errorf("mechs = %q", mechs.value)
	}
	c.expect(rawReq{opcode: opSASLAuth, key: []byte("PLAIN"), value: []byte("\x00oven\x00bad")}, statusAuthError)
	c.expect(rawReq{opcode: opSASLAuth, key: []byte("CRAM-MD5"), value: []byte("x")}, statusAuthError)
	c.expect(rawReq{opcode: opSASLAuth, key: []byte("PLAIN"), value: []byte("\x00oven\x00pw")}, statusSuccess)
	c.expect(rawReq{opcode: opGet, key: []byte("\x00k")}, statusNoBucket)
	global := c.expect(rawReq{opcode: opGetClusterCfg}, statusSuccess)
	if !strings.Contains(string(global.value), `"nodesExt"`) || strings.Contains(string(global.value), "vBucketMap") {
		t.Errorf("global config = %s", global.value)
	}
	c.expect(rawReq{opcode: opSelectBucket, key: []byte("other")}, statusKeyNotFound)
	c.expect(rawReq{opcode: opSelectBucket, key: []byte("game")}, statusSuccess)

	cfg := c.expect(rawReq{opcode: opGetClusterCfg}, statusSuccess)
	if cfg.datatype != datatypeJSON || !strings.Contains(string(cfg.value), `"nodeLocator":"vbucket"`) {
		t.Errorf("bucket config datatype %d body %.80s", cfg.datatype, cfg.value)
	}
	known := binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, configRevEpoch), configRev)
	if r := c.expect(rawReq{opcode: opGetClusterCfg, extras: known}, statusSuccess); len(r.value) != 0 {
		t.Errorf("up-to-date config poll returned %d bytes", len(r.value))
	}
	older := binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, configRevEpoch), 0)
	if r := c.expect(rawReq{opcode: opGetClusterCfg, extras: older}, statusSuccess); len(r.value) == 0 {
		t.Error("stale config poll returned an empty body")
	}

	// Document commands; keys carry the LEB128 collection prefix.
	set := c.expect(rawReq{opcode: opSet, extras: setExtras(0xdeadbeef, 0), key: []byte("\x00doc"), value: []byte(`{"a":1}`)}, statusSuccess)
	if set.cas == 0 || len(set.extras) != 16 {
		t.Errorf("SET cas %d extras %d bytes, want non-zero CAS and a 16-byte token", set.cas, len(set.extras))
	}
	get := c.expect(rawReq{opcode: opGet, key: []byte("\x00doc")}, statusSuccess)
	want := &response{opcode: opGet, datatype: datatypeJSON, opaque: get.opaque, cas: set.cas,
		extras: []byte{0xde, 0xad, 0xbe, 0xef}, value: []byte(`{"a":1}`)}
	if diff := cmp.Diff(want, get, cmpResponse); diff != "" {
		t.Errorf("GET (-want +got):\n%s", diff)
	}
	c.expect(rawReq{opcode: opGet, key: []byte("\x08doc")}, statusUnknownCollection)
	c.expect(rawReq{opcode: opGet, key: []byte("\x00" + strings.Repeat("k", 251))}, statusInvalidArgs)
	c.expect(rawReq{opcode: opGet, key: []byte("\x00")}, statusInvalidArgs)
	c.expect(rawReq{opcode: opSet, extras: setExtras(0, 0), key: []byte("\x00big"), value: make([]byte, maxValueLen+1)}, statusTooBig)
	c.expect(rawReq{opcode: opAdd, extras: setExtras(0, 0), key: []byte("\x00doc"), value: []byte("x")}, statusKeyExists)
	c.expect(rawReq{opcode: opSet, extras: setExtras(0, 0), key: []byte("\x00doc"), value: []byte("x"), cas: set.cas + 1}, statusKeyExists)
	c.expect(rawReq{opcode: opAppend, key: []byte("\x00nothing"), value: []byte("x")}, statusNotStored)

	// Unsupported opcodes, frames and datatypes are refused, never ignored.
	c.expect(rawReq{opcode: 0x10 /* STAT */}, statusUnknownCommand)
	c.expect(rawReq{opcode: 0x09 /* GETQ */, key: []byte("\x00doc")}, statusUnknownCommand)
	c.expect(rawReq{opcode: opGet, key: []byte("\x00doc"), frames: []byte{0x11, 0x01}}, statusInvalidArgs)
	c.expect(rawReq{opcode: opSet, extras: setExtras(0, 0), key: []byte("\x00doc"), value: []byte("x"), frames: []byte{0x11, 0x07}}, statusDurabilityInvalid)
	c.expect(rawReq{opcode: opSet, extras: setExtras(0, 0), key: []byte("\x00doc"), value: []byte("x"), datatype: datatypeSnappy}, statusInvalidArgs)
	c.expect(rawReq{opcode: opGetCollectionID, value: []byte("_default.players")}, statusUnknownCollection)
	c.expect(rawReq{opcode: opGetCollectionID, value: []byte("app.players")}, statusUnknownScope)
	c.expect(rawReq{opcode: opGetCollectionID, value: []byte(".")}, statusSuccess)
	c.expect(rawReq{opcode: opNoop}, statusSuccess)
}

func TestRawSingleSubdoc(t *testing.T) {
	s := startTestServer(t, nil)
	c := dialRaw(t, s)
	c.loginPlain("oven", "pw")
	c.expect(rawReq{opcode: opSet, extras: setExtras(0, 0), key: []byte("d"), value: []byte(`{"n":1,"l":[1,2]}`)}, statusSuccess)
	single := func(op byte, path, value string, status uint16) *response {
		ext := binary.BigEndian.AppendUint16(nil, uint16(len(path)))
		ext = append(ext, 0)
		return c.expect(rawReq{opcode: op, extras: ext, key: []byte("d"), value: []byte(path + value)}, status)
	}
	if r := single(opSubdocGet, "l[1]", "", statusSuccess); string(r.value) != "2" {
		t.Errorf("SUBDOC_GET = %q", r.value)
	}
	single(opSubdocExists, "zz", "", statusPathNotFound)
	if r := single(opSubdocCounter, "n", "41", statusSuccess); string(r.value) != "42" {
		t.Errorf("SUBDOC_COUNTER = %q", r.value)
	}
	if r := single(opSubdocGetCount, "l", "", statusSuccess); string(r.value) != "2" {
		t.Errorf("SUBDOC_GET_COUNT = %q", r.value)
	}
	single(opSubdocDictAdd, "n", "1", statusPathExists)
	if r := c.expect(rawReq{opcode: opGet, key: []byte("d")}, statusSuccess); string(r.value) != `{"n":42,"l":[1,2]}` {
		t.Errorf("document = %s", r.value)
	}
}

// scramClient is a minimal RFC 5802 client used to test the server side.
func scramClient(t *testing.T, c *rawClient, mech string, h func() hash.Hash, user, pass string) uint16 {
	t.Helper()
	first := "n=" + user + ",r=clientnonce123"
	resp := c.do(rawReq{opcode: opSASLAuth, key: []byte(mech), value: []byte("n,," + first)})
	if resp.status != statusAuthContinue {
		return resp.status
	}
	attrs := scramAttrs(string(resp.value))
	salt, _ := base64.StdEncoding.DecodeString(attrs["s"])
	iter, _ := strconv.Atoi(attrs["i"])
	salted, _ := pbkdf2.Key(h, pass, salt, iter, h().Size())
	final := "c=biws,r=" + attrs["r"]
	authMsg := []byte(first + "," + string(resp.value) + "," + final)
	clientKey := hmacSum(h, salted, []byte("Client Key"))
	proof := make([]byte, len(clientKey))
	subtle.XORBytes(proof, clientKey, hmacSum(h, hashSum(h, clientKey), authMsg))
	step := c.do(rawReq{opcode: opSASLStep, key: []byte(mech),
		value: []byte(final + ",p=" + base64.StdEncoding.EncodeToString(proof))})
	if step.status == statusSuccess {
		wantSig := hmacSum(h, hmacSum(h, salted, []byte("Server Key")), authMsg)
		if string(step.value) != "v="+base64.StdEncoding.EncodeToString(wantSig) {
			t.Errorf("%s: bad server signature %q", mech, step.value)
		}
	}
	return step.status
}

func TestSCRAMMechanisms(t *testing.T) {
	s := startTestServer(t, nil)
	tests := []struct {
		mech       string
		h          func() hash.Hash
		user, pass string
		want       uint16
	}{
		{"SCRAM-SHA1", sha1.New, "oven", "pw", statusSuccess},
		{"SCRAM-SHA256", sha256.New, "oven", "pw", statusSuccess},
		{"SCRAM-SHA512", sha512.New, "oven", "pw", statusSuccess},
		{"SCRAM-SHA512", sha512.New, "oven", "wrong", statusAuthError},
		{"SCRAM-SHA256", sha256.New, "mallory", "pw", statusAuthError},
	}
	for _, tc := range tests {
		t.Run(tc.mech+"/"+tc.user+"/"+tc.pass, func(t *testing.T) {
			c := dialRaw(t, s)
			if got := scramClient(t, c, tc.mech, tc.h, tc.user, tc.pass); got != tc.want {
				t.Fatalf("status %#x, want %#x", got, tc.want)
			}
			wantSelect := uint16(statusSuccess)
			if tc.want != statusSuccess {
				wantSelect = statusAccessError
			}
			c.expect(rawReq{opcode: opSelectBucket, key: []byte("game")}, wantSelect)
		})
	}
}

func TestSweeperRemovesExpired(t *testing.T) {
	var mu sync.Mutex
	now := time.Unix(1_700_000_000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s := startTestServer(t, clock)
	c := dialRaw(t, s)
	c.loginPlain("oven", "pw")
	for i := range 10 {
		c.expect(rawReq{opcode: opSet, extras: setExtras(0, 5), key: fmt.Appendf(nil, "k%d", i), value: []byte("v")}, statusSuccess)
	}
	c.expect(rawReq{opcode: opSet, extras: setExtras(0, 0), key: []byte("forever"), value: []byte("v")}, statusSuccess)
	mu.Lock()
	now = now.Add(5 * time.Second)
	mu.Unlock()
	s.sweep()
	total := 0
	for i := range s.bucket.vbs {
		vb := &s.bucket.vbs[i]
		vb.mu.Lock()
		total += len(vb.items)
		vb.mu.Unlock()
	}
	if total != 1 {
		t.Errorf("%d items left after sweep, want 1", total)
	}
}

func TestCloseStopsGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	s, err := Start(Config{Bucket: "game", Username: "oven", Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	for range 3 {
		nc, err := net.Dial("tcp", s.KVAddr())
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, nc)
	}
	hc, err := net.Dial("tcp", s.MgmtAddr())
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(hc, "GET /whoami HTTP/1.1\r\nHost: x\r\nAuthorization: Basic %s\r\n\r\n",
		base64.StdEncoding.EncodeToString([]byte("oven:pw")))
	status, err := bufio.NewReader(hc).ReadString('\n')
	if err != nil || !strings.Contains(status, "200") {
		t.Fatalf("whoami: %q %v", status, err)
	}
	// Idle connections are never closed by the server.
	time.Sleep(50 * time.Millisecond)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after Close, %d before", n, before)
	}
	for _, nc := range append(conns, hc) {
		nc.Close()
	}
}

func TestWhoAmIRequiresCredentials(t *testing.T) {
	s := startTestServer(t, nil)
	for creds, want := range map[string]string{"oven:pw": "200", "oven:nope": "401", "": "401"} {
		hc, err := net.Dial("tcp", s.MgmtAddr())
		if err != nil {
			t.Fatal(err)
		}
		auth := ""
		if creds != "" {
			auth = "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(creds)) + "\r\n"
		}
		fmt.Fprintf(hc, "GET /whoami HTTP/1.1\r\nHost: x\r\n%sConnection: close\r\n\r\n", auth)
		status, _ := bufio.NewReader(hc).ReadString('\n')
		hc.Close()
		if !strings.Contains(status, want) {
			t.Errorf("creds %q: status line %q, want %s", creds, status, want)
		}
	}
}
