package gamedata_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ovengames/oven/application/gamedata"
)

// edit returns the shipped default document with f applied to its generic JSON form.
func edit(t *testing.T, f func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(gamedata.Default().Marshal(), &m); err != nil {
		t.Fatal(err)
	}
	f(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func obj(m map[string]any, key string) map[string]any { return m[key].(map[string]any) }
func item(m map[string]any, list string, i int) map[string]any {
	return m[list].([]any)[i].(map[string]any)
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name string
		doc  []byte
		want []gamedata.Problem
	}{
		{"shipped default", gamedata.Default().Marshal(), nil},
		{"version is optional", edit(t, func(m map[string]any) { delete(m, "version") }), nil},
		{"not json", []byte(`{"cookies": [}`), []gamedata.Problem{
			{Path: "", Message: "malformed JSON at line 1, column 14: invalid character '}' looking for beginning of value"}}},
		{"empty", []byte(``), []gamedata.Problem{{Path: "", Message: "the document is empty or cut short"}}},
		{"trailing data", []byte(`{} {}`), []gamedata.Problem{{Path: "", Message: "unexpected data after the document"}}},
		{"not an object", []byte(`[1]`), []gamedata.Problem{{Path: "", Message: "must be an object, not an array"}}},
		{"shape problems everywhere", edit(t, func(m map[string]any) {
			delete(m, "pets")
			obj(m, "lives")["max"] = "5"
			obj(m, "lives")["regen"] = 3
			item(m, "cookies", 1)["price"] = 1.5
			item(m, "boosts", 0)["name"] = nil
			m["levels"] = map[string]any{}
			m["extra"] = true
		}), []gamedata.Problem{
			{Path: "cookies[1].price", Message: "must be a whole number between -2^63 and 2^63-1, not 1.5"},
			{Path: "pets", Message: "is required"},
			{Path: "boosts[0].name", Message: "must be a string, not null"},
			{Path: "lives.max", Message: "must be an integer, not a string"},
			{Path: "lives.regen", Message: "is not a known field"},
			{Path: "levels", Message: "must be an array, not an object"},
			{Path: "extra", Message: "is not a known field"},
		}},
		{"rules", edit(t, func(m map[string]any) {
			item(m, "pets", 0)["id"] = "brave" // a cookie's id
			item(m, "boosts", 1)["price"] = -1
			obj(m, "lives")["max"] = 0
			obj(m, "lives")["regen_seconds"] = 0
			m["levels"].([]any)[3].(map[string]any)["exp"] = 200 // below level 3's 300
			obj(m, "starting")["cookie_id"] = "nope"
		}), []gamedata.Problem{
			{Path: "pets[0].id", Message: "duplicates cookies[0]"},
			{Path: "boosts[1].price", Message: "must be ≥ 0"},
			{Path: "lives.max", Message: "must be > 0"},
			{Path: "lives.regen_seconds", Message: "must be > 0"},
			{Path: "levels[3].exp", Message: "must be greater than the previous level's 300"},
			{Path: "starting.cookie_id", Message: `unknown cookie "nope"`},
		}},
		{"sanity limits", edit(t, func(m map[string]any) {
			item(m, "cookies", 2)["id"] = "angel cookie"
			item(m, "cookies", 2)["name"] = " Angel"
			item(m, "pets", 1)["price"] = 5_000_000_000
			obj(m, "lives")["max"] = 500
			obj(m, "plays")["min_duration_ms"] = 3_600_000
		}), []gamedata.Problem{
			{Path: "cookies[2].id", Message: "must be letters, digits, '.', '_' or '-', starting with a letter or digit"},
			{Path: "cookies[2].name", Message: "must not have leading or trailing spaces or control characters"},
			{Path: "pets[1].price", Message: "must be ≤ 1000000000"},
			{Path: "lives.max", Message: "must be ≤ 100"},
			{Path: "plays.min_duration_ms", Message: "must be shorter than plays.ttl_seconds, or no play could settle"},
		}},
		{"numbers that would overflow the game's arithmetic", edit(t, func(m map[string]any) {
			obj(m, "lives")["send_cooldown_seconds"] = int64(1) << 62
			obj(m, "lives")["gift_points_per_send"] = int64(1) << 62
			obj(m, "mailbox")["ttl_seconds"] = int64(1) << 62
			obj(m, "plays")["ttl_seconds"] = int64(1) << 61
			obj(m, "plays")["max_score_per_second"] = int64(1) << 62
			obj(m, "plays")["max_coins_per_second"] = int64(1) << 62
		}), []gamedata.Problem{
			{Path: "lives.send_cooldown_seconds", Message: "must be ≤ 604800 (one week)"},
			{Path: "lives.gift_points_per_send", Message: "must be ≤ 1000000"},
			{Path: "mailbox.ttl_seconds", Message: "must be ≤ 2592000 (30 days)"},
			{Path: "plays.ttl_seconds", Message: "must be ≤ 86400 (one day)"},
			{Path: "plays.max_score_per_second", Message: "must be ≤ 1000000"},
			{Path: "plays.max_coins_per_second", Message: "must be ≤ 1000000"},
		}},
		{"a mail ttl past the claims' retention", edit(t, func(m map[string]any) { obj(m, "mailbox")["ttl_seconds"] = 90 * 86400 }),
			[]gamedata.Problem{{Path: "mailbox.ttl_seconds", Message: "must be ≤ 2592000 (30 days)"}}},
		{"a name that is not UTF-8", bytes.Replace(gamedata.Default().Marshal(), []byte("Brave Cookie"), []byte("Brave \xff"), 1),
			[]gamedata.Problem{{Path: "", Message: "JSON text is not valid UTF-8"}}},
		{"a name with a lone surrogate", bytes.Replace(gamedata.Default().Marshal(), []byte("Brave Cookie"), []byte(`Brave \ud800`), 1),
			[]gamedata.Problem{{Path: "", Message: `JSON text escapes a lone surrogate (\ud800)`}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, got := gamedata.Check(tt.doc)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("problems (-want +got)\n%s", diff)
			}
			if (doc != nil) != (len(tt.want) == 0) {
				t.Errorf("document returned = %v with %d problems", doc != nil, len(got))
			}
		})
	}
}

func TestCheckedDocumentsParse(t *testing.T) {
	doc, ps := gamedata.Check(edit(t, func(m map[string]any) { obj(m, "lives")["max"] = 7 }))
	if len(ps) > 0 {
		t.Fatal(ps)
	}
	back, err := gamedata.Parse(doc.Marshal())
	if err != nil || back.Lives.Max != 7 {
		t.Fatalf("parse after check: %v, %+v", err, back)
	}
	if !strings.Contains(string(doc.Marshal()), `"max":7`) {
		t.Error("marshalled document lost the edit")
	}
}
