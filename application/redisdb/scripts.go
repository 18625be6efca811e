package redisdb

// The scripts. Each file under lua/ says its keys, arguments and reply; the keys of a
// fenced script are all in one slot (the token's), and Run adds the fence ahead of them.
var (
	// LivesGet reads a player's lives: KEYS lives, gifted infinite lives; ARGV now_ms, max, regen_ms.
	LivesGet = newScript(false, "lives/lives.lua", "lives/get.lua")
	// LivesChange adds to or takes from a player's lives: KEYS lives; ARGV now_ms, max,
	// regen_ms, delta.
	LivesChange = newScript(true, "lives/lives.lua", "lives/change.lua")

	// PlayStart takes a life (none under infinite lives) and writes the play: KEYS lives,
	// play, gifted infinite lives, the slot's lives-full index[, start key].
	PlayStart = newScript(true, "lives/lives.lua", "plays/start.lua")
	// PlayResolve opens or voids a pending play: KEYS lives, play.
	PlayResolve = newScript(true, "lives/lives.lua", "plays/resolve.lua")
	// PlayFinish stores a play's settlement: KEYS play.
	PlayFinish = newScript(true, "plays/finish.lua")
	// PlayIndex adds a play to one of its slot's indexes (pending, settling) or removes it.
	PlayIndex = newScript(true, "plays/index.lua")

	// SocialReserve reserves a sender→receiver cooldown: KEYS cooldown.
	SocialReserve = newScript(true, "social/reserve.lua")
	// SocialCommit marks a delivered life sent and adds gift points: KEYS cooldown, gift points.
	SocialCommit = newScript(true, "social/commit.lua")
	// SocialRelease gives back an undelivered reservation: KEYS cooldown.
	SocialRelease = newScript(true, "social/release.lua")

	// MailClaim credits mailed lives once per mail id: KEYS lives, claimed.
	MailClaim = newScript(true, "lives/lives.lua", "mailbox/claims.lua", "mailbox/claim.lua")
	// MailInfinite starts gifted infinite lives once per mail id: KEYS infinite, claimed.
	MailInfinite = newScript(true, "mailbox/claims.lua", "mailbox/infinite.lua")
	// MailMark marks mail ids claimed (coins, credited in SQL): KEYS claimed.
	MailMark = newScript(true, "mailbox/claims.lua", "mailbox/mark.lua")

	// PushPopFull takes players whose lives_full push is queued out of their slot's
	// lives-full index: KEYS index; ARGV member, score pairs.
	PushPopFull = newScript(true, "push/popfull.lua")

	// GMSFailure counts a failed GMS login: KEYS counter; ARGV lockout_ms.
	GMSFailure = newScript(false, "admins/fail.lua")

	// RateLimit takes one request from a shared GCRA rate limit: KEYS tat; ARGV now_ms,
	// interval_ms, burst. Not player state, so not fenced.
	RateLimit = newScript(false, "ratelimit/gcra.lua")

	raise = newScript(false, "raise.lua")
)

// All returns every script.
func All() []*Script {
	return []*Script{LivesGet, LivesChange, PlayStart, PlayResolve, PlayFinish, PlayIndex,
		SocialReserve, SocialCommit, SocialRelease, MailClaim, MailInfinite, MailMark, PushPopFull, GMSFailure, RateLimit, raise}
}
