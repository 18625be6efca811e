// Package mailbox keeps each player's life mailbox in Couchbase: one document per player,
// changed with compare-and-swap, each item carrying its own expiry (on the game clock;
// the document's own expiry only reclaims space).
//
// It uses exactly these key-value operations, all of which Oven's Couchbase dev server
// (deploy/couchbasedev) implements as a real server answers them and tests through gocb:
// Get (GET, returning the CAS), Insert (ADD, with expiry; "exists" on a race), and
// Replace (SET with CAS, with expiry; "CAS mismatch" on a race). Nothing else: no
// sub-document, query or transaction features, so the same code runs on a real cluster.
// The ownership fence needs nothing more: the writer's epoch is a field of the document,
// checked against the value read with the CAS that the Replace must match (see doc).
package mailbox

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/couchbase/gocb/v2"
)

// Config locates the Couchbase bucket.
type Config struct {
	ConnString string // couchbase://host:port
	Username   string
	Password   string
	Bucket     string
	Timeout    time.Duration // per KV operation; default 2.5 s
	KeyPrefix  string        // namespaces every document key (tests); production uses ""
}

// Couchbase is an open bucket's default collection.
type Couchbase struct {
	prefix     string
	cluster    *gocb.Cluster
	collection *gocb.Collection
	timeout    time.Duration
}

// Open connects to the cluster and waits until the bucket is ready or ctx ends.
func Open(ctx context.Context, cfg Config) (*Couchbase, error) {
	if cfg.Timeout == 0 {
		cfg.Timeout = 2500 * time.Millisecond
	}
	cluster, err := gocb.Connect(cfg.ConnString, gocb.ClusterOptions{
		Authenticator: gocb.PasswordAuthenticator{Username: cfg.Username, Password: cfg.Password},
		TimeoutsConfig: gocb.TimeoutsConfig{
			ConnectTimeout: 10 * time.Second,
			KVTimeout:      cfg.Timeout,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("mailbox: connect: %w", err)
	}
	bucket := cluster.Bucket(cfg.Bucket)
	wait := 10 * time.Second
	if d, ok := ctx.Deadline(); ok {
		wait = time.Until(d)
	}
	if err := bucket.WaitUntilReady(wait, &gocb.WaitUntilReadyOptions{
		ServiceTypes: []gocb.ServiceType{gocb.ServiceTypeKeyValue},
		Context:      ctx,
	}); err != nil {
		cluster.Close(nil)
		return nil, fmt.Errorf("mailbox: bucket %q not ready: %w", cfg.Bucket, err)
	}
	return &Couchbase{prefix: cfg.KeyPrefix, cluster: cluster, collection: bucket.DefaultCollection(), timeout: cfg.Timeout}, nil
}

// Ping checks that the bucket answers a key-value read.
func (c *Couchbase) Ping(ctx context.Context) error {
	_, err := c.collection.Get("oven:ping", &gocb.GetOptions{Context: ctx, Timeout: c.timeout})
	if err == nil || errors.Is(err, gocb.ErrDocumentNotFound) {
		return nil
	}
	return fmt.Errorf("mailbox: ping: %w", err)
}

// Close closes the cluster connection.
func (c *Couchbase) Close() error { return c.cluster.Close(nil) }
