package logbuf

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// countingWriter records each Write call separately.
type countingWriter struct {
	mu     sync.Mutex
	writes []string
	err    error
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return 0, c.err
	}
	c.writes = append(c.writes, string(p))
	return len(p), nil
}

func (c *countingWriter) snapshot() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.writes...)
}

func TestLinesAreBatchedAndKeptWholeInOrder(t *testing.T) {
	var out countingWriter
	w := New(&out, time.Hour, 100)
	var want bytes.Buffer
	for i := range 50 {
		line := fmt.Sprintf("line %02d\n", i) // 8 bytes: 12 fit in 100
		want.WriteString(line)
		if n, err := w.Write([]byte(line)); n != len(line) || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
	}
	if got := len(out.snapshot()); got != 4 {
		t.Errorf("%d writes for 50 lines with room for 12 each, want 4 before Close", got)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	writes := out.snapshot()
	for _, s := range writes {
		if !strings.HasSuffix(s, "\n") {
			t.Errorf("a write split a line: %q", s)
		}
	}
	if got := strings.Join(writes, ""); got != want.String() {
		t.Errorf("output differs from the lines written:\n%s", got)
	}
}

func TestIntervalFlushes(t *testing.T) {
	var out countingWriter
	w := New(&out, 10*time.Millisecond, 1<<20)
	defer w.Close()
	w.Write([]byte("hello\n"))
	deadline := time.Now().Add(5 * time.Second)
	for len(out.snapshot()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("a buffered line was not written within the interval")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestLargeWritesGoThroughAndErrorsSurface(t *testing.T) {
	var out countingWriter
	w := New(&out, time.Hour, 16)
	w.Write([]byte("a\n"))
	big := strings.Repeat("x", 40) + "\n"
	w.Write([]byte(big))
	if got := out.snapshot(); len(got) != 2 || got[0] != "a\n" || got[1] != big {
		t.Fatalf("writes = %q, want the buffered line then the large one", got)
	}
	out.mu.Lock()
	out.err = errors.New("disk full")
	out.mu.Unlock()
	w.Write([]byte("b\n"))
	if err := w.Flush(); err == nil {
		t.Error("Flush hid the write error")
	}
	w.Close()
	if _, err := w.Write([]byte("after close\n")); err == nil {
		t.Error("a write after Close was not written through (the writer still fails)")
	}
}
