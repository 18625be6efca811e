package httpapi_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/ovengames/oven/presentation/httpapi"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// Cancelling Serve's context lets a request already in flight finish with its response.
func TestServeDrainsInFlight(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		close(entered)
		<-release
		io.WriteString(w, "drained")
	})
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- httpapi.Serve(ctx, addr, h, slog.New(slog.DiscardHandler)) }()

	got := make(chan getResult, 1)
	go func() { got <- getWhenUp(addr) }()
	select {
	case <-entered:
	case r := <-got:
		t.Fatalf("request finished before the handler ran: %+v", r)
	}
	cancel()
	waitClosed(t, addr) // shutdown has begun: only now may the handler finish
	close(release)
	if r := <-got; r.err != nil || r.body != "drained" {
		t.Fatalf("in-flight request: body %q, err %v", r.body, r.err)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
}

// waitClosed waits until addr refuses connections.
func waitClosed(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			return
		}
		conn.Close()
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("listener still accepting after cancel")
}

type getResult struct {
	body string
	err  error
}

// getWhenUp retries until the server listens, then GETs / once.
func getWhenUp(addr string) getResult {
	var res getResult
	deadline := time.Now().Add(5 * time.Second)
	for {
		conn, err := net.Dial("tcp", addr)
		if err == nil {
			conn.Close()
			break
		}
		if time.Now().After(deadline) {
			res.err = err
			return res
		}
		time.Sleep(10 * time.Millisecond)
	}
	r, err := http.Get("http://" + addr + "/")
	if err != nil {
		res.err = err
		return res
	}
	defer r.Body.Close()
	b, err := io.ReadAll(r.Body)
	res.body, res.err = string(b), err
	return res
}

func TestServeListenError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	err = httpapi.Serve(context.Background(), ln.Addr().String(), http.NotFoundHandler(), nil)
	if err == nil {
		t.Fatal("Serve on a taken port returned nil")
	}
}
