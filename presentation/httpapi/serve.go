package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Server limits. WriteTimeout exceeds callTimeout so that a slow shard yields a proper
// 503 body rather than a cut connection.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 10 * time.Second
	writeTimeout      = callTimeout + 10*time.Second
	idleTimeout       = 120 * time.Second
	maxHeaderBytes    = 16 << 10
	// shutdownTimeout bounds the drain of in-flight requests; it covers a full
	// callTimeout so that no acknowledged game call is cut off in the middle.
	shutdownTimeout = callTimeout + 5*time.Second
)

// Serve serves h on addr until ctx is done, then stops accepting connections and drains
// in-flight requests for up to shutdownTimeout before closing the rest. It returns nil
// after a clean drain, or the error that stopped it.
func Serve(ctx context.Context, addr string, h http.Handler, log *slog.Logger) error {
	if log == nil {
		log = slog.Default()
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	// Listening first makes a taken port an immediate error for the caller.
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("httpapi: listen %s: %w", addr, err)
	}
	log.Info("http listening", "addr", ln.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

	select {
	case err := <-errc:
		return fmt.Errorf("httpapi: serve: %w", err)
	case <-ctx.Done():
	}
	return shutdown(srv, errc, log)
}

func shutdown(srv *http.Server, errc <-chan error, log *slog.Logger) error {
	log.Info("http draining", "timeout", shutdownTimeout.String())
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	err := srv.Shutdown(ctx)
	if err != nil {
		// The deadline passed with requests still running: cut them off.
		err = errors.Join(fmt.Errorf("httpapi: shutdown: %w", err), srv.Close())
	}
	if serveErr := <-errc; !errors.Is(serveErr, http.ErrServerClosed) {
		err = errors.Join(err, serveErr)
	}
	if err == nil {
		log.Info("http stopped")
	}
	return err
}
