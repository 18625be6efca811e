package shard_test

import (
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/ovengames/oven/application/grpcerr"
)

func cmpProto() cmp.Option { return protocmp.Transform() }

func grpcerrFrom(err error) error { return grpcerr.FromStatus(err) }
