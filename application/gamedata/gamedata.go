// Package gamedata is the game's tunable data: items and prices, life and mailbox rules,
// play limits and levels. Operators edit a draft in the GMS and publish it as a new
// immutable version; shards serve the current published version from memory.
package gamedata

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
)

//go:embed default.json
var defaultJSON []byte

// Item is a cookie, pet or boost.
type Item struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Price int64  `json:"price"`
}

// Lives are the rules of lives.
type Lives struct {
	Max                int64 `json:"max"`
	RegenSeconds       int64 `json:"regen_seconds"`
	SendCooldownSecond int64 `json:"send_cooldown_seconds"`
	GiftPointsPerSend  int64 `json:"gift_points_per_send"`
}

// Mailbox are the rules of the life mailbox.
type Mailbox struct {
	TTLSeconds int64 `json:"ttl_seconds"`
	Capacity   int64 `json:"capacity"`
}

// Plays are the limits that make a settlement plausible.
type Plays struct {
	TTLSeconds        int64 `json:"ttl_seconds"`
	MinDurationMS     int64 `json:"min_duration_ms"`
	MaxScorePerSecond int64 `json:"max_score_per_second"`
	MaxCoinsPerSecond int64 `json:"max_coins_per_second"`
}

// Level is the experience needed to reach a level.
type Level struct {
	Level int64 `json:"level"`
	Exp   int64 `json:"exp"`
}

// Starting is what a new player gets.
type Starting struct {
	Coins    int64  `json:"coins"`
	CookieID string `json:"cookie_id"`
}

// Document is one version of the game data, in the shape clients receive.
type Document struct {
	Version  int64    `json:"version"`
	Cookies  []Item   `json:"cookies"`
	Pets     []Item   `json:"pets"`
	Boosts   []Item   `json:"boosts"`
	Lives    Lives    `json:"lives"`
	Mailbox  Mailbox  `json:"mailbox"`
	Plays    Plays    `json:"plays"`
	Levels   []Level  `json:"levels"`
	Starting Starting `json:"starting"`
}

// Default returns the shipped default document (version 1).
func Default() *Document {
	d, err := Parse(defaultJSON)
	if err != nil {
		panic("gamedata: shipped default is invalid: " + err.Error())
	}
	return d
}

// Parse decodes a document strictly (unknown fields are errors) and validates it.
func Parse(raw []byte) (*Document, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var d Document
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("gamedata: decode: %w", err)
	}
	if ps := Validate(&d); len(ps) > 0 {
		return nil, fmt.Errorf("gamedata: invalid: %s: %s", ps[0].Path, ps[0].Message)
	}
	return &d, nil
}

// Marshal renders the document as clients receive it.
func (d *Document) Marshal() []byte {
	b, err := json.Marshal(d)
	if err != nil {
		panic("gamedata: marshal: " + err.Error()) // plain structs cannot fail
	}
	return b
}

// Item finds an item by id in one of the lists.
func find(items []Item, id string) (Item, bool) {
	for _, it := range items {
		if it.ID == id {
			return it, true
		}
	}
	return Item{}, false
}

// Cookie returns the cookie with the id.
func (d *Document) Cookie(id string) (Item, bool) { return find(d.Cookies, id) }

// Pet returns the pet with the id.
func (d *Document) Pet(id string) (Item, bool) { return find(d.Pets, id) }

// Boost returns the boost with the id.
func (d *Document) Boost(id string) (Item, bool) { return find(d.Boosts, id) }

// LevelFor returns the level reached with exp: the highest level whose threshold exp
// reaches. Levels are validated to be increasing.
func (d *Document) LevelFor(exp int64) int64 {
	lvl := int64(1)
	for _, l := range d.Levels {
		if exp >= l.Exp {
			lvl = l.Level
		}
	}
	return lvl
}
