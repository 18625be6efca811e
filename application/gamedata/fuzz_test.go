package gamedata_test

import (
	"bytes"
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/application/gamedata"
)

// FuzzCheck feeds Check, the validation of an operator's game-data document, any
// bytes. It must never panic; a refusal lists problems that say something and returns
// no document; an accepted document is UTF-8 text, passes Validate, survives
// Marshal → Parse and Marshal → Check unchanged, and keeps every product the game
// computes with it inside an int64.
func FuzzCheck(f *testing.F) {
	def := gamedata.Default().Marshal()
	f.Add(def)
	f.Add([]byte(`{}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"cookies":[{"id":"a","name":"A","price":1}]}`))
	f.Add([]byte("{\"cookies\":\"\xff\"}"))
	f.Add([]byte(`{"cookies":[{"id":"a","name":"\ud800","price":1}]}`))
	f.Add(bytes.Replace(def, []byte("Brave Cookie"), []byte("Brave \xff"), 1))
	f.Add(bytes.Replace(def, []byte(`"ttl_seconds":604800`), []byte(`"ttl_seconds":4611686018427387904`), 1))
	f.Fuzz(func(t *testing.T, raw []byte) {
		doc, ps := gamedata.Check(raw)
		if doc == nil {
			if len(ps) == 0 {
				t.Fatal("refused without a problem")
			}
			for _, p := range ps {
				if p.Message == "" {
					t.Fatalf("problem without a message: %+v", p)
				}
			}
			return
		}
		if len(ps) > 0 {
			t.Fatalf("accepted with problems %v", ps)
		}
		if err := oven.CheckJSONText(raw); err != nil {
			t.Fatalf("accepted a document that is not text: %v", err)
		}
		if ps := gamedata.Validate(doc); len(ps) > 0 {
			t.Fatalf("accepted a document Validate refuses: %v", ps)
		}
		back, err := gamedata.Parse(doc.Marshal())
		if err != nil {
			t.Fatalf("Parse(Marshal(accepted)): %v", err)
		}
		again, ps := gamedata.Check(doc.Marshal())
		if len(ps) > 0 {
			t.Fatalf("Check(Marshal(accepted)): %v", ps)
		}
		if diff := cmp.Diff(doc, back); diff != "" {
			t.Fatalf("Parse round trip (-checked +parsed)\n%s", diff)
		}
		if diff := cmp.Diff(doc, again); diff != "" {
			t.Fatalf("Check round trip (-first +second)\n%s", diff)
		}
		fits(t, doc)
	})
}

// fits asserts the products of the game's arithmetic on doc stay inside an int64.
func fits(t *testing.T, d *gamedata.Document) {
	t.Helper()
	maxMS := oven.MaxPlayDuration.Milliseconds()
	for _, c := range []struct {
		name string
		a, b int64
	}{
		{"score per second × duration", d.Plays.MaxScorePerSecond, maxMS},
		{"coins per second × duration", d.Plays.MaxCoinsPerSecond, maxMS},
		{"play ttl in ns", d.Plays.TTLSeconds, int64(time.Second)},
		{"play ttl in ms", d.Plays.TTLSeconds, 1000},
		{"mail ttl in ns", d.Mailbox.TTLSeconds, int64(time.Second)},
		{"regeneration in ns", d.Lives.RegenSeconds, int64(time.Second)},
		{"cooldown in ns", d.Lives.SendCooldownSecond, int64(time.Second)},
		{"gift points of a friend list's sends", d.Lives.GiftPointsPerSend, 1 << 32},
	} {
		if c.a < 0 || c.a > math.MaxInt64/c.b {
			t.Fatalf("%s overflows: %d × %d", c.name, c.a, c.b)
		}
	}
}
