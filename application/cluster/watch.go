package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
)

// Member states, as published in etcd. Only active members own slots.
const (
	StateJoining  = "joining"  // registered, not yet owning slots
	StateActive   = "active"   // owns its share of slots
	StateDraining = "draining" // handing its slots over before it leaves
)

// Record is what a shard publishes about itself under its lease.
type Record struct {
	Addr        string `json:"addr"`
	MetricsAddr string `json:"metrics_addr,omitempty"`
	State       string `json:"state"`
}

// View is one consistent reading of membership at an etcd revision.
type View struct {
	Map      *Map              // slots over the active members
	Records  map[string]Record // every live member, by id
	Applied  map[string]int64  // the membership revision each member has finished releasing for
	Revision int64             // the etcd revision of this reading
	// MembershipRev is the newest revision at which a live member's record changed: the
	// point every live member must have released for before a slot moves (see Coordinator).
	MembershipRev int64
	Reason        string // why the active set last changed: join, leave, drain, resync
}

// DialEtcd connects to the etcd endpoints (comma-separated URLs, OVEN_ETCD_ENDPOINTS).
// The client retries by itself while etcd is unreachable.
func DialEtcd(endpoints string) (*clientv3.Client, error) {
	var eps []string
	for e := range strings.SplitSeq(endpoints, ",") {
		if e = strings.TrimSpace(e); e != "" {
			eps = append(eps, e)
		}
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints: eps, DialTimeout: 5 * time.Second, Logger: zap.NewNop(),
		DialKeepAliveTime: 5 * time.Second, DialKeepAliveTimeout: 3 * time.Second,
		// Reconnect within a second of etcd coming back (gRPC's default backoff grows to
		// two minutes): etcd restarts every lease's countdown when it returns, and a shard
		// whose keep-alive is still backing off past its TTL would lose its slots.
		DialOptions: []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: time.Second},
			MinConnectTimeout: 3 * time.Second,
		})},
	})
	if err != nil {
		return nil, fmt.Errorf("cluster: etcd %s: %w", endpoints, err)
	}
	return cli, nil
}

// Follow dials etcd and follows membership under prefix until ctx ends or stop is called
// (the presentation tier's Source).
func Follow(ctx context.Context, endpoints, prefix string, log *slog.Logger) (w *Watcher, stop func(), err error) {
	cli, err := DialEtcd(endpoints)
	if err != nil {
		return nil, nil, err
	}
	if w, err = NewWatcher(ctx, cli, prefix, log); err != nil {
		cli.Close()
		return nil, nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	return w, func() { cancel(); <-done; cli.Close() }, nil
}

// keys is the layout of Oven's membership under a prefix (default "/oven").
type keys struct{ prefix string }

func (k keys) members() string            { return k.prefix + "/members/" }
func (k keys) applied() string            { return k.prefix + "/applied/" }
func (k keys) member(id string) string    { return k.members() + id }
func (k keys) appliedOf(id string) string { return k.applied() + id }

// Watcher follows membership in etcd and hands out the current Map. It is the Source of
// the presentation tier and the eyes of a shard's Coordinator. Every process that watches
// sees the same events at the same revisions, so all compute the same maps.
type Watcher struct {
	cli  *clientv3.Client
	keys keys
	log  *slog.Logger

	cur    atomic.Pointer[View]
	mu     sync.Mutex
	notify chan struct{} // closed and replaced at every new view

	// Owned by the goroutine that reads etcd (NewWatcher, then Run).
	records map[string]Record
	revs    map[string]int64 // ModRevision of each record
	applied map[string]int64
}

var _ Source = (*Watcher)(nil)

// NewWatcher reads membership once under prefix; Run then follows it.
func NewWatcher(ctx context.Context, cli *clientv3.Client, prefix string, log *slog.Logger) (*Watcher, error) {
	if prefix == "" {
		prefix = "/oven"
	}
	w := &Watcher{cli: cli, keys: keys{prefix}, log: log, notify: make(chan struct{})}
	if _, err := w.resync(ctx); err != nil {
		return nil, err
	}
	return w, nil
}

// Current returns the current map (empty when no member is active).
func (w *Watcher) Current() *Map { return w.cur.Load().Map }

// Revision returns the etcd revision the current view is at.
func (w *Watcher) Revision() int64 { return w.cur.Load().Revision }

// MinRevisionKey is the gRPC metadata key of the membership revision a call must be
// judged at: a shard that refused the call named the owner from a view that new, and
// the owner waits until its own view has caught up before it decides (a handover's
// views are milliseconds apart, and without this two shards can name each other).
const MinRevisionKey = "oven-min-rev"

// View returns the current view and a channel closed once a newer one exists.
func (w *Watcher) View() (*View, <-chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.cur.Load(), w.notify
}

// Run follows membership until ctx ends. While etcd is unreachable it keeps the last
// view (and keeps retrying): nothing moves without etcd.
func (w *Watcher) Run(ctx context.Context) {
	rev := w.cur.Load().Revision
	for ctx.Err() == nil {
		wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
		for resp := range w.cli.Watch(wctx, w.keys.prefix+"/", clientv3.WithPrefix(), clientv3.WithRev(rev+1)) {
			if err := resp.Err(); err != nil {
				w.log.Warn("membership: watch interrupted", "err", err, "compacted", resp.CompactRevision)
				break
			}
			changed := false
			for _, ev := range resp.Events {
				changed = w.apply(ev.Type, ev.Kv) || changed
				if ev.Kv.ModRevision > rev {
					rev = ev.Kv.ModRevision
				}
			}
			if resp.Header.Revision > rev {
				rev = resp.Header.Revision
			}
			if len(resp.Events) > 0 {
				w.publish(rev, reasonOf(resp.Events, changed))
			}
		}
		cancel()
		if ctx.Err() != nil {
			return
		}
		// The watch ended (etcd restarted, lost its leader, or compacted past us): read
		// afresh once etcd answers, and go on from there.
		select {
		case <-ctx.Done():
			return
		case <-time.After(500 * time.Millisecond):
		}
		if r, err := w.resync(ctx); err == nil {
			rev = r
		}
	}
}

func reasonOf(evs []*clientv3.Event, changed bool) string {
	if !changed {
		return ""
	}
	for _, ev := range evs {
		if ev.Type == mvccpb.DELETE {
			return "leave"
		}
		if ev.IsCreate() {
			return "join"
		}
		var r Record
		if json.Unmarshal(ev.Kv.Value, &r) == nil && r.State == StateDraining {
			return "drain"
		}
	}
	return "join"
}

// resync reads everything afresh and returns the revision it read at.
func (w *Watcher) resync(ctx context.Context) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	resp, err := w.cli.Get(ctx, w.keys.prefix+"/", clientv3.WithPrefix())
	if err != nil {
		return 0, fmt.Errorf("cluster: read membership: %w", err)
	}
	w.records, w.revs, w.applied = map[string]Record{}, map[string]int64{}, map[string]int64{}
	for _, kv := range resp.Kvs {
		w.apply(mvccpb.PUT, kv)
	}
	w.publish(resp.Header.Revision, "resync")
	return resp.Header.Revision, nil
}

// apply folds one event into the records and reports whether a member record changed.
func (w *Watcher) apply(typ mvccpb.Event_EventType, kv *mvccpb.KeyValue) bool {
	key := string(kv.Key)
	if id, ok := strings.CutPrefix(key, w.keys.applied()); ok {
		if typ == mvccpb.DELETE {
			delete(w.applied, id)
		} else if n, err := strconv.ParseInt(string(kv.Value), 10, 64); err == nil {
			w.applied[id] = n
		}
		return false
	}
	id, ok := strings.CutPrefix(key, w.keys.members())
	if !ok {
		return false
	}
	if typ == mvccpb.DELETE {
		delete(w.records, id)
		delete(w.revs, id)
		return true
	}
	var r Record
	if err := json.Unmarshal(kv.Value, &r); err != nil {
		w.log.Warn("membership: unreadable record", "key", key, "err", err)
		return false
	}
	w.records[id], w.revs[id] = r, kv.ModRevision
	return true
}

// publish computes and installs the view at rev.
func (w *Watcher) publish(rev int64, reason string) {
	prev := w.cur.Load()
	var active []Member
	var memberRev int64
	for id, r := range w.records {
		if r.State == StateActive {
			active = append(active, Member{ID: id, Addr: r.Addr})
		}
		memberRev = max(memberRev, w.revs[id])
	}
	m, err := NewMap(active, uint64(rev))
	if err != nil {
		m = emptyMap(uint64(rev))
	}
	if prev != nil && slices.Equal(prev.Map.members, m.members) {
		m = prev.Map // nothing moved: keep the map and its epoch
	}
	if reason == "" && prev != nil {
		reason = prev.Reason
	}
	v := &View{Map: m, Records: maps.Clone(w.records), Applied: maps.Clone(w.applied),
		Revision: rev, MembershipRev: memberRev, Reason: reason}
	w.mu.Lock()
	w.cur.Store(v)
	close(w.notify)
	w.notify = make(chan struct{})
	w.mu.Unlock()
}
