package couchbasedev

import (
	"encoding/json"
	"net"
	"strconv"
)

// Config revision reported to clients. The topology never changes, so the
// revision is constant; clients ignore configs whose rev they already have.
const (
	configRev      = 1
	configRevEpoch = 1
)

// bucketCapabilities advertises only what this server implements. In
// particular "collections" (the _default collection only) and "durableWrite"
// (levels are accepted; writes are synchronous in memory).
var bucketCapabilities = []string{"cbhello", "touch", "cccp", "nodesExt", "collections", "durableWrite"}

type nodeServices struct {
	KV   int `json:"kv"`
	Mgmt int `json:"mgmt"`
}

type nodeExt struct {
	Services nodeServices `json:"services"`
	ThisNode bool         `json:"thisNode"`
	Hostname string       `json:"hostname"`
}

type legacyNode struct {
	Hostname string         `json:"hostname"`
	Ports    map[string]int `json:"ports"`
}

type vbucketServerMap struct {
	HashAlgorithm string   `json:"hashAlgorithm"`
	NumReplicas   int      `json:"numReplicas"`
	ServerList    []string `json:"serverList"`
	VBucketMap    [][]int  `json:"vBucketMap"`
}

type globalConfigJSON struct {
	Rev      int       `json:"rev"`
	RevEpoch int       `json:"revEpoch"`
	NodesExt []nodeExt `json:"nodesExt"`
}

type bucketConfigJSON struct {
	Rev                    int              `json:"rev"`
	RevEpoch               int              `json:"revEpoch"`
	Name                   string           `json:"name"`
	UUID                   string           `json:"uuid"`
	BucketType             string           `json:"bucketType"`
	NodeLocator            string           `json:"nodeLocator"`
	CollectionsManifestUID string           `json:"collectionsManifestUid"`
	BucketCapabilitiesVer  string           `json:"bucketCapabilitiesVer"`
	BucketCapabilities     []string         `json:"bucketCapabilities"`
	Nodes                  []legacyNode     `json:"nodes"`
	NodesExt               []nodeExt        `json:"nodesExt"`
	VBucketServerMap       vbucketServerMap `json:"vBucketServerMap"`
}

// collectionsManifest is the fixed manifest: only _default._default (uid 0).
const collectionsManifest = `{"uid":"0","scopes":[{"name":"_default","uid":"0",` +
	`"collections":[{"name":"_default","uid":"0"}]}]}`

// globalConfig is the cluster config returned before SELECT_BUCKET. "$HOST"
// is replaced by clients with the address they connected to.
func (s *Server) globalConfig() []byte {
	cfg := globalConfigJSON{Rev: configRev, RevEpoch: configRevEpoch, NodesExt: s.nodesExt()}
	out, _ := json.Marshal(cfg)
	return out
}

// bucketConfig is the CCCP bucket config with every vbucket on this node.
func (s *Server) bucketConfig() []byte {
	kvPort := portOf(s.kvLn.Addr())
	vbMap := make([][]int, numVBuckets)
	for i := range vbMap {
		vbMap[i] = []int{0}
	}
	cfg := bucketConfigJSON{
		Rev:                    configRev,
		RevEpoch:               configRevEpoch,
		Name:                   s.bucket.name,
		UUID:                   s.bucket.uuid,
		BucketType:             "membase",
		NodeLocator:            "vbucket",
		CollectionsManifestUID: "0",
		BucketCapabilities:     bucketCapabilities,
		Nodes: []legacyNode{{
			Hostname: "$HOST:" + strconv.Itoa(portOf(s.mgmtLn.Addr())),
			Ports:    map[string]int{"direct": kvPort},
		}},
		NodesExt: s.nodesExt(),
		VBucketServerMap: vbucketServerMap{
			HashAlgorithm: "CRC",
			ServerList:    []string{"$HOST:" + strconv.Itoa(kvPort)},
			VBucketMap:    vbMap,
		},
	}
	out, _ := json.Marshal(cfg)
	return out
}

func (s *Server) nodesExt() []nodeExt {
	return []nodeExt{{
		Services: nodeServices{KV: portOf(s.kvLn.Addr()), Mgmt: portOf(s.mgmtLn.Addr())},
		ThisNode: true,
		Hostname: "$HOST",
	}}
}

func portOf(a net.Addr) int {
	if tcp, ok := a.(*net.TCPAddr); ok {
		return tcp.Port
	}
	return 0
}
