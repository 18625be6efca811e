package grpcerr

import (
	"context"
	"errors"
	"unicode/utf8"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/ovengames/oven"
)

// A proto3 string must be valid UTF-8: protobuf-go refuses to encode or decode one
// that is not, and grpc-go reports either as Internal, so a client's bad input would
// read as a server fault (500). The two pieces below make it invalid_argument on both
// sides of the wire. The presentation tier refuses such input before any call; these
// are what still holds when something gets past it.

// errNotUTF8 is the refusal of a request holding a string that is not valid UTF-8.
var errNotUTF8 = oven.Errorf(oven.EInvalid, "the request holds a string that is not valid UTF-8")

// UnaryClientInterceptor turns a call that failed because its request could not be
// encoded (a string that is not valid UTF-8) into invalid_argument. It looks at the
// request only when a call failed with an Internal status that carries no Oven
// ErrorInfo (every shard answer carries one), so it costs nothing otherwise.
func UnaryClientInterceptor(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	err := invoker(ctx, method, req, reply, cc, opts...)
	if err == nil || status.Code(err) != codes.Internal || Info(err) != nil {
		return err
	}
	if m, ok := req.(proto.Message); ok && !validUTF8(m.ProtoReflect()) {
		return ToStatus(errNotUTF8)
	}
	return err
}

// validUTF8 reports whether every string in m, nested messages included, is valid UTF-8.
func validUTF8(m protoreflect.Message) bool {
	ok := true
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList():
			for i := 0; ok && i < v.List().Len(); i++ {
				ok = validValue(fd, v.List().Get(i))
			}
		case fd.IsMap():
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				ok = validValue(fd.MapKey(), k.Value()) && validValue(fd.MapValue(), mv)
				return ok
			})
		default:
			ok = validValue(fd, v)
		}
		return ok
	})
	return ok
}

func validValue(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
	switch fd.Kind() {
	case protoreflect.StringKind:
		return utf8.ValidString(v.String())
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return validUTF8(v.Message())
	}
	return true
}

// ServerCodec returns the codec of a shard's gRPC server (grpc.ForceServerCodecV2):
// protobuf, except that a request protobuf refuses for a string that is not valid
// UTF-8 decodes as an empty message marked for Undecodable, where grpc-go would have
// failed the call with Internal before any interceptor ran.
func ServerCodec() encoding.CodecV2 {
	return serverCodec{encoding.GetCodecV2("proto")}
}

type serverCodec struct{ encoding.CodecV2 }

// undecodableMark is the mark: an unknown field numbered in the range protobuf reserves
// for its implementation (19000-19999), which no .proto file can declare.
var undecodableMark = protowire.AppendVarint(protowire.AppendTag(nil, 19999, protowire.VarintType), 1)

func (c serverCodec) Unmarshal(data mem.BufferSlice, v any) error {
	err := c.CodecV2.Unmarshal(data, v)
	var bad interface{ InvalidUTF8() bool }
	if m, ok := v.(proto.Message); ok && errors.As(err, &bad) && bad.InvalidUTF8() {
		proto.Reset(m)
		m.ProtoReflect().SetUnknown(undecodableMark)
		return nil
	}
	return err
}

// Undecodable returns invalid_argument for a request that ServerCodec marked, and nil
// for any other. A server's interceptor calls it first.
func Undecodable(req any) error {
	if m, ok := req.(proto.Message); ok && string(m.ProtoReflect().GetUnknown()) == string(undecodableMark) {
		return errNotUTF8
	}
	return nil
}
