package redisdb

import (
	"strconv"
	"strings"

	"github.com/ovengames/oven/application/cluster"
)

// Keys is Oven's Redis key scheme under one prefix (tests namespace their keys with
// it; production uses ""). It is the only place a Redis key is spelled.
//
// Every key of a player's state is hash-tagged by the player's slot, not by the
// player: <prefix>{s<slot>}:<kind>:<playerID>[:<more>]. A Redis Cluster hash slot
// then holds whole Oven slots, and with them the slot's fence <prefix>{s<slot>}:fence
// and the slot's index of pending plays, so every script touches one hash slot. The
// global keys (weekly boards, broadcast claim counters, the dev clock, GMS sessions)
// are never touched together with another key in one command or script.
type Keys struct {
	Prefix string // must not contain '{': Redis Cluster hashes a key's first {…}
}

// Kind names one kind of per-player key.
type Kind string

// The kinds of per-player keys.
const (
	KindLives      Kind = "lives"   // hash {c, t}: count and regeneration anchor
	KindGiftPoints Kind = "gp"      // integer
	KindCooldown   Kind = "cd"      // hash per sender→receiver pair; more = receiver
	KindClaimed    Kind = "claimed" // sorted set of claimed mail ids
	KindPlay       Kind = "play"    // hash per play; more = play id
	KindInfinite   Kind = "inf"     // integer: unix ms (game clock) until which gifted infinite lives run
)

// Tag returns the prefix and hash tag every key of slot starts with.
func (k Keys) Tag(slot int) string {
	return k.Prefix + "{s" + strconv.Itoa(slot) + "}:"
}

func (k Keys) player(kind Kind, playerID string) string {
	return k.Prefix + "{s" + strconv.Itoa(cluster.SlotOf(playerID)) + "}:" + string(kind) + ":" + playerID
}

// inSlot reports whether key is under slot's tag, as Tag(slot) would spell it.
func (k Keys) inSlot(key string, slot int) bool {
	rest, ok := strings.CutPrefix(key, k.Prefix+"{s")
	if !ok {
		return false
	}
	digits, _, ok := strings.Cut(rest, "}:")
	n, err := strconv.Atoi(digits)
	return ok && err == nil && n == slot && digits == strconv.Itoa(n)
}

// Fence is the key of a slot's fence: the epoch of the slot's newest owner.
func (k Keys) Fence(slot int) string { return k.Tag(slot) + "fence" }

// Lives is the key of a player's lives.
func (k Keys) Lives(playerID string) string { return k.player(KindLives, playerID) }

// Infinite is the key of a player's gifted infinite lives (a GMS gift accepted from the
// mailbox): until when they run.
func (k Keys) Infinite(playerID string) string { return k.player(KindInfinite, playerID) }

// GiftPoints is the key of a player's gift points.
func (k Keys) GiftPoints(playerID string) string { return k.player(KindGiftPoints, playerID) }

// Cooldown is the key of the sender→receiver life cooldown, in the sender's slot.
func (k Keys) Cooldown(sender, receiver string) string {
	return k.player(KindCooldown, sender) + ":" + receiver
}

// Claimed is the key of the mail ids a player has claimed.
func (k Keys) Claimed(playerID string) string { return k.player(KindClaimed, playerID) }

// Play is the key of one of a player's plays.
func (k Keys) Play(playerID, playID string) string {
	return k.player(KindPlay, playerID) + ":" + playID
}

// Pending is the key of a slot's index of pending plays (member "player/play", score
// the real start time in ms) that recovery sweeps.
func (k Keys) Pending(slot int) string { return k.Tag(slot) + "pending" }

// Settling is the key of a slot's index of plays whose settlement may be committed in
// PostgreSQL but not yet finished in Redis (member "player/play", score the real time
// in ms); recovery finishes what a crash left half done.
func (k Keys) Settling(slot int) string { return k.Tag(slot) + "settling" }

// LivesFull is the key of a slot's lives-full index (member a player id, score the game
// time in ms when the player's lives are full again): a lives_full push is due then.
func (k Keys) LivesFull(slot int) string { return k.Tag(slot) + "livesfull" }

// Board is the key of a weekly leaderboard (a global sorted set).
func (k Keys) Board(weekID string) string { return k.Prefix + "lb:week:" + weekID }

// BoardPattern matches every weekly leaderboard key (SCAN).
func (k Keys) BoardPattern() string { return k.Prefix + "lb:week:*" }

// BroadcastClaims is the key of a broadcast's claim counter (a statistic).
func (k Keys) BroadcastClaims(broadcastID string) string {
	return k.Prefix + "bc:claims:" + broadcastID
}

// DevClock is the key of the dev clock's shared offset.
func (k Keys) DevClock() string { return k.Prefix + "oven:devclock:offset_ms" }

// GMSSession is the key of a GMS session, by the hash of its token.
func (k Keys) GMSSession(tokenHash string) string { return k.Prefix + "oven:gms:session:" + tokenHash }

// GMSFailures is the key of a failed-login counter; by is "user" (value a username) or
// "userip" (value GMSUserAddress).
func (k Keys) GMSFailures(by, value string) string {
	return k.Prefix + "oven:gms:fail:" + by + ":" + value
}

// GMSUserAddress is the value of a (username, client address) failure counter. Usernames
// hold no '|' (admins.NormalizeUsername), so no two pairs share one.
func GMSUserAddress(user, clientIP string) string { return user + "|" + clientIP }

// RateLimit is the key of a shared rate limit's state (lua/ratelimit/gcra.lua): limit
// names the limit ("player", "guest_addr"), id whom it counts (a player id, a client
// address). One key per script call, so Redis Cluster needs no hash tag.
func (k Keys) RateLimit(limit, id string) string {
	return k.Prefix + "oven:rl:" + limit + ":" + id
}

// Pattern matches every per-player key of kind (SCAN).
func (k Keys) Pattern(kind Kind) string { return k.Prefix + "{s*}:" + string(kind) + ":*" }

// Parse splits a per-player key into its kind, player and what follows the player
// (the receiver of a cooldown, the id of a play; "" for the others).
func (k Keys) Parse(key string) (kind Kind, playerID, more string, ok bool) {
	rest, ok := strings.CutPrefix(key, k.Prefix+"{s")
	if !ok {
		return "", "", "", false
	}
	if _, rest, ok = strings.Cut(rest, "}:"); !ok {
		return "", "", "", false
	}
	parts := strings.SplitN(rest, ":", 3)
	if len(parts) < 2 || parts[1] == "" {
		return "", "", "", false
	}
	if len(parts) == 3 {
		more = parts[2]
	}
	return Kind(parts[0]), parts[1], more, true
}
