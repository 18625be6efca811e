package shardtest

import (
	"errors"
	"io"
	"net"
	"sync"
)

// Link is a TCP relay between the shards and one store that a test can take down, as if
// the store's process died: Down closes every relayed connection and the listening
// socket, so new connections are refused; Up listens again on the same address.
type Link struct {
	target string
	addr   string

	mu    sync.Mutex
	ln    net.Listener // nil while down
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func newLink(target string) (*Link, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	l := &Link{target: target, addr: ln.Addr().String(), conns: map[net.Conn]struct{}{}}
	l.serve(ln)
	return l, nil
}

// Addr is the address the shards connect to.
func (l *Link) Addr() string { return l.addr }

func (l *Link) serve(ln net.Listener) {
	l.ln = ln
	l.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			l.wg.Go(func() { l.relay(c) })
		}
	})
}

func (l *Link) relay(c net.Conn) {
	s, err := net.Dial("tcp", l.target)
	if err != nil || !l.track(c, s) {
		c.Close()
		if s != nil {
			s.Close()
		}
		return
	}
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		io.Copy(dst, src)
		done <- struct{}{}
	}
	go pipe(s, c)
	go pipe(c, s)
	<-done
	c.Close()
	s.Close()
	<-done
	l.mu.Lock()
	delete(l.conns, c)
	delete(l.conns, s)
	l.mu.Unlock()
}

// track registers a relayed pair; false when the link went down meanwhile.
func (l *Link) track(c, s net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ln == nil {
		return false
	}
	l.conns[c], l.conns[s] = struct{}{}, struct{}{}
	return true
}

// Down cuts every connection and stops listening: the store looks dead.
func (l *Link) Down() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ln != nil {
		l.ln.Close()
		l.ln = nil
	}
	for c := range l.conns {
		c.Close()
	}
}

// Up listens again on the same address: the store is back.
func (l *Link) Up() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ln != nil {
		return nil
	}
	ln, err := net.Listen("tcp", l.addr)
	if err != nil {
		return errors.Join(errors.New("shardtest: link up"), err)
	}
	l.serve(ln)
	return nil
}

// close takes the link down for good and waits for its goroutines.
func (l *Link) close() {
	l.Down()
	l.wg.Wait()
}
