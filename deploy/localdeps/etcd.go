package localdeps

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// Etcd is a single-node etcd embedded in this process (go.etcd.io/etcd/server/v3/embed):
// the membership store of the dev stack and of the tests. Production runs an etcd
// cluster of three or five nodes and points OVEN_ETCD_ENDPOINTS at it.
type Etcd struct {
	dir                  string
	clientPort, peerPort int
	e                    *embed.Etcd
}

// StartEtcd starts etcd with its data in dir on the given client and peer ports (0 picks
// free ones). Starting it again on the same dir and ports restarts the same member, with
// its keys and leases.
func StartEtcd(ctx context.Context, dir string, clientPort, peerPort int) (*Etcd, error) {
	var err error
	if clientPort == 0 {
		if clientPort, err = freePort(); err != nil {
			return nil, err
		}
	}
	if peerPort == 0 {
		if peerPort, err = freePort(); err != nil {
			return nil, err
		}
	}
	e := &Etcd{dir: dir, clientPort: clientPort, peerPort: peerPort}
	return e, e.start(ctx)
}

func (e *Etcd) start(ctx context.Context) error {
	cfg := embed.NewConfig()
	cfg.Name = "oven"
	cfg.Dir = e.dir
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop()) // its errors surface through StartEtcd
	client := url.URL{Scheme: "http", Host: "127.0.0.1:" + strconv.Itoa(e.clientPort)}
	peer := url.URL{Scheme: "http", Host: "127.0.0.1:" + strconv.Itoa(e.peerPort)}
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{client}, []url.URL{client}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{peer}, []url.URL{peer}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	// Keep history small: membership is a handful of keys rewritten now and then.
	cfg.AutoCompactionMode = "revision"
	cfg.AutoCompactionRetention = "10000"
	ee, err := embed.StartEtcd(cfg)
	if err != nil {
		return fmt.Errorf("localdeps: etcd: %w", err)
	}
	select {
	case <-ee.Server.ReadyNotify():
	case <-ctx.Done():
		ee.Close()
		return fmt.Errorf("localdeps: etcd not ready: %w", ctx.Err())
	case <-time.After(60 * time.Second):
		ee.Close()
		return fmt.Errorf("localdeps: etcd not ready after 60 s")
	}
	e.e = ee
	return nil
}

// Endpoint returns the client URL.
func (e *Etcd) Endpoint() string { return "http://127.0.0.1:" + strconv.Itoa(e.clientPort) }

// Restart stops etcd and starts it again on the same data and ports (tests of an etcd
// outage).
func (e *Etcd) Restart(ctx context.Context, down time.Duration) error {
	e.Close()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(down):
	}
	return e.start(ctx)
}

// Stop stops etcd (Restart or start brings it back).
func (e *Etcd) Stop() { e.Close() }

// Close stops etcd.
func (e *Etcd) Close() {
	if e.e != nil {
		e.e.Close()
		e.e = nil
	}
}
