package players

import (
	"testing"
	"time"
)

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

func TestCacheUpdateAppliesCommittedWrites(t *testing.T) {
	c := newCache()
	gen := c.generation("1")
	c.update("1", gen, func(p *Player) { t.Error("update ran with nothing cached") })
	_, gen = c.get("1")
	c.put("1", &Player{ID: "1", Coins: 1000, Exp: 5}, gen)
	gen = c.generation("1")
	c.update("1", gen, func(p *Player) { p.Coins, p.Exp = 1200, 65 })
	if p, _ := c.get("1"); p == nil || p.Coins != 1200 || p.Exp != 65 {
		t.Fatalf("after update: %+v", p)
	}

	// Two writers: the second one's commit came last, but its update lands first.
	first, second := c.generation("1"), c.generation("1")
	c.update("1", second, func(p *Player) { p.Coins = 900 })
	c.update("1", first, func(p *Player) { t.Error("an update applied out of order") })
	if p, _ := c.get("1"); p != nil {
		t.Fatalf("kept an entry two writes raced on: %+v", p)
	}

	// Another writer invalidated after this one took its token, and a reader reloaded.
	tok := c.generation("1")
	c.invalidate("1")
	_, gen = c.get("1")
	c.put("1", &Player{ID: "1", Coins: 620}, gen)
	c.update("1", tok, func(p *Player) { t.Error("applied over a newer write") })
	if p, _ := c.get("1"); p != nil {
		t.Fatalf("kept an entry after a stale update: %+v", p)
	}

	// A load that began before an update must not store what it read.
	_, gen = c.get("1")
	c.update("1", c.generation("1"), func(p *Player) {})
	c.put("1", &Player{ID: "1", Coins: 1000}, gen)
	if p, _ := c.get("1"); p != nil {
		t.Fatalf("cached a load that raced an update: %+v", p)
	}
}

func TestNameCache(t *testing.T) {
	var c nameCache
	out := map[string]string{}
	if missing := c.lookup([]string{"1", "2"}, out); len(missing) != 2 || len(out) != 0 {
		t.Fatalf("empty cache: missing %v, found %v", missing, out)
	}
	c.put(map[string]string{"1": "Ann"})
	missing := c.lookup([]string{"1", "2"}, out)
	if len(missing) != 1 || missing[0] != "2" || out["1"] != "Ann" {
		t.Fatalf("missing %v, found %v", missing, out)
	}
	c.put(map[string]string{"1": "Bea"}) // the owner's rename
	c.m["2"] = nameEntry{"Old", time.Now().Add(-2 * namesTTL)}
	out = map[string]string{}
	missing = c.lookup([]string{"1", "2"}, out)
	if out["1"] != "Bea" || len(missing) != 1 || missing[0] != "2" {
		t.Fatalf("after a rename and an expiry: missing %v, found %v", missing, out)
	}
}
