package couchbasedev

import (
	"net"
	"testing"
)

// FuzzDispatch feeds arbitrary requests to an authenticated connection with
// a selected bucket and checks that every one gets a well-formed answer.
func FuzzDispatch(f *testing.F) {
	s, err := Start(Config{Bucket: "game", Username: "oven", Password: "pw"})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	seeds := []rawReq{
		{opcode: opSet, extras: setExtras(1, 0), key: []byte("\x00k"), value: []byte(`{"a":[1,2]}`)},
		{opcode: opMultiLookup, key: []byte("\x00k"), value: []byte{opSubdocGet, 0, 0, 3, 'a', '[', '0'}},
		{opcode: opMultiMutation, key: []byte("\x00k"), extras: []byte{1},
			value: []byte{opSubdocCounter, 1, 0, 3, 0, 0, 0, 1, 'a', '.', 'b', '5'}},
		{opcode: opSubdocPushLast, extras: []byte{0, 1, 0}, key: []byte("\x00k"), value: []byte("a7")},
		{opcode: opIncrement, extras: make([]byte, 20), key: []byte("\x00n")},
		{opcode: opHello, value: []byte{0, 0x12}},
		{opcode: opSet, frames: []byte{0x13, 1, 0, 1}, extras: setExtras(0, 9), key: []byte("\x00k"), value: []byte("x")},
	}
	for i, r := range seeds {
		f.Add(r.opcode, r.frames, r.extras, r.key, r.value, uint64(i), byte(i))
	}
	f.Fuzz(func(t *testing.T, opcode byte, frames, extras, key, value []byte, cas uint64, datatype byte) {
		client, server := net.Pipe()
		defer client.Close()
		defer server.Close()
		c := newConn(s, server)
		c.authed, c.bucket = true, s.bucket
		c.features = map[uint16]bool{featureCollections: true, featureXerror: true, featureSeqno: true, featureJSON: true}
		req := &request{opcode: opcode, frames: frames, extras: extras, key: key, value: value, cas: cas, datatype: datatype}
		resp := c.dispatch(req)
		if resp == nil || resp.opcode != opcode {
			t.Fatalf("bad response %+v", resp)
		}
	})
}
