package players

import "testing"

func TestCacheNeverKeepsWhatAWriteReplaced(t *testing.T) {
	c := newCache()
	if p, _ := c.get("1"); p != nil {
		t.Fatal("hit on an empty cache")
	}
	_, gen := c.get("1")
	// A write lands (and invalidates) while the loader is still reading the old row.
	c.invalidate("1")
	c.put("1", &Player{ID: "1", Coins: 1000}, gen)
	if p, _ := c.get("1"); p != nil {
		t.Fatalf("cached the pre-write row: %+v", p)
	}
	_, gen = c.get("1")
	c.put("1", &Player{ID: "1", Coins: 1500, Cookies: []string{"brave"}}, gen)
	p, _ := c.get("1")
	if p == nil || p.Coins != 1500 {
		t.Fatalf("get after a clean load: %+v", p)
	}
	p.Cookies[0] = "changed" // callers get copies
	if q, _ := c.get("1"); q.Cookies[0] != "brave" {
		t.Error("a caller's change reached the cache")
	}
	c.invalidate("1")
	if p, _ := c.get("1"); p != nil {
		t.Error("hit after invalidate")
	}
}
