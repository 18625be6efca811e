package oven

import (
	"math"
	"time"
)

// Limits on the numbers that players and operators send. Each number is checked
// against its limit where it enters (the presentation tier, and again by the shard
// that acts on it) before any arithmetic: a number outside is invalid_argument and
// changes nothing. Within them a number may still be implausible (a settlement above
// the game data's per-second limits is rejected, API.md), but never overflows:
//
//   - the plausibility check multiplies a score or coin count (≤ 2^33) by 1000 and a
//     per-second limit (≤ 10^6, game data) by a duration (≤ 8.64·10^7 ms);
//   - a wallet gains at most MaxPlayCoins per settled play (each at least a few
//     seconds long and costing a life) or MaxGiftCoins per accepted gift, so reaching
//     2^63 coins would take billions of maximal plays;
//   - durations are converted with Seconds and Millis, which saturate instead of
//     wrapping, and then compared with their limit.
//
// The game data's own limits (prices, ttls, per-second limits) are Check's, in
// application/gamedata.
const (
	// MaxScore is the highest score a play may report: the weekly leaderboard packs a
	// score in 33 bits (application/leaderboard).
	MaxScore int64 = 1<<33 - 1
	// MaxPlayCoins is the most coins a play may report.
	MaxPlayCoins int64 = 1_000_000_000
	// MaxDistance is the longest distance a play may report.
	MaxDistance int64 = 1_000_000_000_000
	// MaxPlayDuration is the longest a play may last: the game data cannot give a play a
	// longer ttl, so no settlement can honestly report more.
	MaxPlayDuration = 24 * time.Hour

	// MaxGiftLives and MaxGiftCoins bound one GMS gift or broadcast.
	MaxGiftLives int64 = 10
	MaxGiftCoins int64 = 1_000_000
	// MinBroadcast and MaxBroadcast bound how long a broadcast runs (mail_claims must
	// outlive it).
	MinBroadcast = time.Minute
	MaxBroadcast = 30 * 24 * time.Hour

	// MaxPushTokens is how many device tokens a player may hold; a token is
	// MinPushToken to MaxPushToken printable ASCII characters.
	MaxPushTokens = 5
	MinPushToken  = 8
	MaxPushToken  = 4096

	// MinGiftInfinite and MaxGiftInfinite bound a gifted infinite-lives modifier.
	MinGiftInfinite = time.Minute
	MaxGiftInfinite = 30 * 24 * time.Hour

	// MaxEventDuration bounds how long a live event runs, MaxEventLead how far ahead it
	// may be scheduled; MaxEventLives, MaxEventRegen and MaxExpectedLoad bound its values.
	// A push's send time may be up to PushSendGrace in the past: it means "now" from a
	// console whose clock is a little behind the game's.
	PushSendGrace          = 5 * time.Minute
	MaxEventDuration       = 31 * 24 * time.Hour
	MaxEventLead           = 366 * 24 * time.Hour
	MaxEventLives    int64 = 100
	MaxEventRegen    int64 = 24 * 3600
	MaxExpectedLoad        = 1000.0

	// MaxClockAdvance is the longest single step of the dev clock: enough to cross any
	// week or expiry in a test, small enough that a typo cannot throw the stack years ahead.
	MaxClockAdvance = 400 * 24 * time.Hour
	// MaxClockOffset is the furthest the dev clock may run ahead of real time, well
	// inside what a time.Duration holds (292 years).
	MaxClockOffset = 100 * 365 * 24 * time.Hour
)

// Seconds returns n seconds as a Duration, saturated at the largest (or smallest)
// Duration instead of wrapping around, so that a range check after it is sound.
func Seconds(n int64) time.Duration { return scale(n, time.Second) }

// Millis returns n milliseconds as a Duration, saturated like Seconds.
func Millis(n int64) time.Duration { return scale(n, time.Millisecond) }

func scale(n int64, unit time.Duration) time.Duration {
	switch {
	case n > int64(math.MaxInt64/unit):
		return math.MaxInt64
	case n < int64(math.MinInt64/unit):
		return math.MinInt64
	}
	return time.Duration(n) * unit
}
