package gamedata

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/ovengames/oven"
)

// Problem is one validation failure, with the JSON path of the offending value.
type Problem struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}

// Validate reports every problem of d (none means valid).
func Validate(d *Document) []Problem {
	var ps []Problem
	add := func(path, format string, args ...any) {
		ps = append(ps, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
	}
	ids := map[string]string{}
	checkItems := func(list string, items []Item) {
		if len(items) == 0 && list != "pets" {
			add(list, "must not be empty")
		}
		for i, it := range items {
			p := fmt.Sprintf("%s[%d]", list, i)
			if it.ID == "" || len(it.ID) > 64 {
				add(p+".id", "must be 1-64 characters")
			} else if prev, dup := ids[it.ID]; dup {
				add(p+".id", "duplicates %s", prev)
			} else {
				ids[it.ID] = p
			}
			if it.Name == "" || len(it.Name) > 64 {
				add(p+".name", "must be 1-64 characters")
			}
			if it.Price < 0 {
				add(p+".price", "must be ≥ 0")
			}
		}
	}
	checkItems("cookies", d.Cookies)
	checkItems("pets", d.Pets)
	checkItems("boosts", d.Boosts)

	positive := func(path string, v int64) {
		if v <= 0 {
			add(path, "must be > 0")
		}
	}
	nonNegative := func(path string, v int64) {
		if v < 0 {
			add(path, "must be ≥ 0")
		}
	}
	positive("lives.max", d.Lives.Max)
	positive("lives.regen_seconds", d.Lives.RegenSeconds)
	nonNegative("lives.send_cooldown_seconds", d.Lives.SendCooldownSecond)
	nonNegative("lives.gift_points_per_send", d.Lives.GiftPointsPerSend)
	positive("mailbox.ttl_seconds", d.Mailbox.TTLSeconds)
	positive("mailbox.capacity", d.Mailbox.Capacity)
	if d.Mailbox.Capacity > 1000 {
		add("mailbox.capacity", "must be ≤ 1000 (one mailbox document holds every item)")
	}
	positive("plays.ttl_seconds", d.Plays.TTLSeconds)
	nonNegative("plays.min_duration_ms", d.Plays.MinDurationMS)
	positive("plays.max_score_per_second", d.Plays.MaxScorePerSecond)
	nonNegative("plays.max_coins_per_second", d.Plays.MaxCoinsPerSecond)

	if len(d.Levels) == 0 {
		add("levels", "must not be empty")
	}
	for i, l := range d.Levels {
		p := fmt.Sprintf("levels[%d]", i)
		if i == 0 && (l.Level != 1 || l.Exp != 0) {
			add(p, "the first level must be level 1 at exp 0")
		}
		if i > 0 {
			prev := d.Levels[i-1]
			if l.Level != prev.Level+1 {
				add(p+".level", "must be %d (levels are consecutive)", prev.Level+1)
			}
			if l.Exp <= prev.Exp {
				add(p+".exp", "must be greater than the previous level's %d", prev.Exp)
			}
		}
	}
	nonNegative("starting.coins", d.Starting.Coins)
	if _, ok := d.Cookie(d.Starting.CookieID); !ok {
		add("starting.cookie_id", "unknown cookie %q", d.Starting.CookieID)
	}
	return ps
}

// Limits of Check beyond what the game itself needs: they catch an operator's typo (an
// extra zero, a pasted newline) before players see it.
// The ttls and per-second limits also keep every product and sum the game computes with
// them inside an int64 (see the limits in package oven).
const (
	maxItems      = 500
	maxLevels     = 1000
	maxPrice      = 1_000_000_000
	maxLivesMax   = 100
	maxRegen      = 7 * 24 * 3600
	maxCooldown   = 7 * 24 * 3600
	maxGiftPoints = 1_000_000
	maxMailTTL    = 30 * 24 * 3600 // mail_claims outlive every mail (application/janitor)
	maxPerSecond  = 1_000_000
	maxStartCoins = 1_000_000_000
)

// maxPlayTTL is the longest a play may stay open: no settlement may report a longer play.
var maxPlayTTL = int64(oven.MaxPlayDuration / time.Second)

var idRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// Check validates a document as an operator submitted it: the JSON's shape (every field
// present with the right type, no unknown fields), the game's own rules (Validate) and
// sanity limits. It reports every problem with its JSON path, and returns the document
// only when there are none. The "version" field is optional and ignored: versions are
// assigned at publish.
func Check(raw []byte) (*Document, []Problem) {
	if err := oven.CheckJSONText(raw); err != nil {
		return nil, []Problem{{Path: "", Message: oven.ErrorMessage(err)}}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, []Problem{{Path: "", Message: jsonError(raw, err)}}
	}
	if dec.More() {
		return nil, []Problem{{Path: "", Message: "unexpected data after the document"}}
	}
	var ps []Problem
	add := func(path, format string, args ...any) {
		ps = append(ps, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
	}
	shape(v, reflect.TypeFor[Document](), "", add)
	if len(ps) > 0 {
		return nil, ps
	}
	var d Document
	if err := json.Unmarshal(raw, &d); err != nil { // cannot fail once the shape is right
		return nil, []Problem{{Path: "", Message: err.Error()}}
	}
	if ps = append(Validate(&d), sanity(&d)...); len(ps) > 0 {
		return nil, ps
	}
	return &d, nil
}

// shape checks v against the Go type t that it will decode into.
func shape(v any, t reflect.Type, path string, add func(path, format string, args ...any)) {
	switch t.Kind() {
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			add(path, "must be an object, not %s", jsonType(v))
			return
		}
		known := map[string]bool{}
		for f := range t.Fields() {
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			known[name] = true
			fv, present := m[name]
			switch {
			case !present && name == "version":
			case !present:
				add(join(path, name), "is required")
			default:
				shape(fv, f.Type, join(path, name), add)
			}
		}
		for _, k := range slices.Sorted(maps.Keys(m)) {
			if !known[k] {
				add(join(path, k), "is not a known field")
			}
		}
	case reflect.Slice:
		arr, ok := v.([]any)
		if !ok {
			add(path, "must be an array, not %s", jsonType(v))
			return
		}
		for i, e := range arr {
			shape(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i), add)
		}
	case reflect.String:
		if _, ok := v.(string); !ok {
			add(path, "must be a string, not %s", jsonType(v))
		}
	case reflect.Int64:
		n, ok := v.(json.Number)
		if !ok {
			add(path, "must be an integer, not %s", jsonType(v))
		} else if _, err := n.Int64(); err != nil {
			add(path, "must be a whole number between -2^63 and 2^63-1, not %s", n)
		}
	}
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	}
	return "something else"
}

// jsonError locates a decoding error by line and column.
func jsonError(raw []byte, err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line, col := lineCol(raw, se.Offset)
		return fmt.Sprintf("malformed JSON at line %d, column %d: %s", line, col, se.Error())
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return "the document is empty or cut short"
	}
	return "malformed JSON: " + err.Error()
}

// lineCol finds the byte at offset (1-based, as json.SyntaxError counts) in raw.
func lineCol(raw []byte, offset int64) (line, col int) {
	line, col = 1, 1
	for _, b := range raw[:max(0, min(int(offset)-1, len(raw)))] {
		if b == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return line, col
}

// sanity holds the limits of Check that stored versions need not meet (old versions
// must always load, so they are not part of Validate).
func sanity(d *Document) []Problem {
	var ps []Problem
	add := func(path, format string, args ...any) {
		ps = append(ps, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
	}
	for _, list := range []struct {
		name  string
		items []Item
	}{{"cookies", d.Cookies}, {"pets", d.Pets}, {"boosts", d.Boosts}} {
		if len(list.items) > maxItems {
			add(list.name, "must hold at most %d items", maxItems)
		}
		for i, it := range list.items {
			p := fmt.Sprintf("%s[%d]", list.name, i)
			if it.ID != "" && len(it.ID) <= 64 && !idRE.MatchString(it.ID) {
				add(p+".id", "must be letters, digits, '.', '_' or '-', starting with a letter or digit")
			}
			if strings.TrimSpace(it.Name) != it.Name || strings.IndexFunc(it.Name, unicode.IsControl) >= 0 {
				add(p+".name", "must not have leading or trailing spaces or control characters")
			}
			if it.Price > maxPrice {
				add(p+".price", "must be ≤ %d", maxPrice)
			}
		}
	}
	if d.Lives.Max > maxLivesMax {
		add("lives.max", "must be ≤ %d", maxLivesMax)
	}
	for _, c := range []struct {
		path   string
		v, max int64
		unit   string
	}{
		{"lives.regen_seconds", d.Lives.RegenSeconds, maxRegen, " (one week)"},
		{"lives.send_cooldown_seconds", d.Lives.SendCooldownSecond, maxCooldown, " (one week)"},
		{"lives.gift_points_per_send", d.Lives.GiftPointsPerSend, maxGiftPoints, ""},
		{"mailbox.ttl_seconds", d.Mailbox.TTLSeconds, maxMailTTL, " (30 days)"},
		{"plays.ttl_seconds", d.Plays.TTLSeconds, maxPlayTTL, " (one day)"},
		{"plays.max_score_per_second", d.Plays.MaxScorePerSecond, maxPerSecond, ""},
		{"plays.max_coins_per_second", d.Plays.MaxCoinsPerSecond, maxPerSecond, ""},
	} {
		if c.v > c.max {
			add(c.path, "must be ≤ %d%s", c.max, c.unit)
		}
	}
	if d.Plays.TTLSeconds > 0 && d.Plays.TTLSeconds <= maxPlayTTL && d.Plays.MinDurationMS >= d.Plays.TTLSeconds*1000 {
		add("plays.min_duration_ms", "must be shorter than plays.ttl_seconds, or no play could settle")
	}
	if len(d.Levels) > maxLevels {
		add("levels", "must hold at most %d levels", maxLevels)
	}
	if d.Starting.Coins > maxStartCoins {
		add("starting.coins", "must be ≤ %d", maxStartCoins)
	}
	return ps
}
