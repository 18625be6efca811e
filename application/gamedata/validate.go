package gamedata

import "fmt"

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
