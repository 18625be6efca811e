// Package logbuf batches log lines into few writes. A JSON access log line per request,
// written straight to stderr, costs a write system call per request; on a busy
// (virtualised) machine that was a tenth of the presentation's CPU. A Writer keeps
// lines in memory and writes them together when the buffer fills or at the latest
// after the flush interval, and at Close.
//
// The price is that a process killed without Close loses up to one interval of log
// lines; a panic still reaches stderr directly (the runtime writes it there itself).
package logbuf

import (
	"io"
	"sync"
	"time"
)

// Writer is a buffered io.Writer that flushes by size and by time. It is safe for
// concurrent use; each Write is kept whole.
type Writer struct {
	mu   sync.Mutex
	w    io.Writer
	buf  []byte
	size int
	err  error // the last write error, reported by the next Write

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// New returns a Writer onto w that writes when size bytes are buffered and at least
// every interval. Defaults: 32 KiB and 100 ms.
func New(w io.Writer, interval time.Duration, size int) *Writer {
	if interval <= 0 {
		interval = 100 * time.Millisecond
	}
	if size <= 0 {
		size = 32 << 10
	}
	b := &Writer{w: w, buf: make([]byte, 0, size), size: size, stop: make(chan struct{}), done: make(chan struct{})}
	go b.loop(interval)
	return b
}

func (b *Writer) loop(interval time.Duration) {
	defer close(b.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			b.Flush()
		case <-b.stop:
			return
		}
	}
}

// Write buffers p, writing the buffer out first if p would overflow it.
func (b *Writer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.err; err != nil {
		b.err = nil
		return 0, err
	}
	if len(b.buf)+len(p) > b.size {
		b.flushLocked()
		if len(p) >= b.size { // too large to buffer: write it through
			if _, err := b.w.Write(p); err != nil {
				return 0, err
			}
			return len(p), nil
		}
	}
	b.buf = append(b.buf, p...)
	return len(p), nil
}

// Flush writes out what is buffered.
func (b *Writer) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.flushLocked()
	err := b.err
	b.err = nil
	return err
}

func (b *Writer) flushLocked() {
	if len(b.buf) == 0 {
		return
	}
	if _, err := b.w.Write(b.buf); err != nil {
		b.err = err
	}
	b.buf = b.buf[:0]
}

// Close stops the timer and flushes. Writes after Close go straight through.
func (b *Writer) Close() error {
	b.once.Do(func() { close(b.stop) })
	<-b.done
	b.mu.Lock()
	defer b.mu.Unlock()
	b.flushLocked()
	b.size = 0 // unbuffered from now on
	err := b.err
	b.err = nil
	return err
}
