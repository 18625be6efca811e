package shard_test

import (
	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"
	"google.golang.org/protobuf/testing/protocmp"
)

func cmpProto() cmp.Option { return protocmp.Transform() }

func redisZ(score float64, member string) redis.Z { return redis.Z{Score: score, Member: member} }
