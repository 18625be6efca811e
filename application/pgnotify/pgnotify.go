// Package pgnotify follows PostgreSQL notification channels (LISTEN/NOTIFY) on one
// dedicated connection, outside the caller's pool so that it never takes a connection
// the game needs, and reconnects when that connection drops.
package pgnotify

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
)

// Handler receives what a Listen loop sees.
type Handler struct {
	// Notify is called for each notification, on the loop's goroutine.
	Notify func(channel, payload string)
	// Connected is called after every (re)connect, once LISTEN is in place: notifications
	// sent while disconnected are lost, so this is where a follower catches up.
	Connected func(ctx context.Context)
}

// Listen LISTENs on channels over a connection made from cfg and calls h until ctx
// ends, reconnecting with backoff (up to maxBackoff) after any failure.
func Listen(ctx context.Context, cfg *pgx.ConnConfig, channels []string, h Handler, log *slog.Logger) {
	const maxBackoff = 5 * time.Second
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		started := time.Now()
		err := listenOnce(ctx, cfg, channels, h)
		if ctx.Err() != nil {
			return
		}
		if time.Since(started) > time.Minute {
			backoff = 100 * time.Millisecond // it had been healthy
		}
		if log != nil {
			log.Warn("pg notification listener lost; reconnecting", "channels", channels, "err", err, "in", backoff)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

func listenOnce(ctx context.Context, cfg *pgx.ConnConfig, channels []string, h Handler) error {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	conn, err := pgx.ConnectConfig(cctx, cfg.Copy())
	cancel()
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	for _, ch := range channels {
		if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{ch}.Sanitize()); err != nil {
			return err
		}
	}
	if h.Connected != nil {
		h.Connected(ctx)
	}
	for {
		// A bounded wait, then a ping: a peer that vanished without closing the socket
		// is noticed within a heartbeat rather than when TCP gives up.
		wctx, cancel := context.WithTimeout(ctx, heartbeat)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil:
			if h.Notify != nil {
				h.Notify(n.Channel, n.Payload)
			}
		case ctx.Err() == nil && wctx.Err() != nil && !conn.IsClosed():
			pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err = conn.Ping(pctx)
			cancel()
			if err != nil {
				return err
			}
		default:
			return err
		}
	}
}

// heartbeat is how long the listener waits quietly before checking its connection.
const heartbeat = 30 * time.Second
