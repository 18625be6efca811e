package gms

import (
	"time"

	"github.com/ovengames/oven/proto/ovenv1"
)

func rfc3339(ms int64) string { return time.UnixMilli(ms).UTC().Format(time.RFC3339) }

func optionalTime(ms int64) *string {
	if ms == 0 {
		return nil
	}
	t := rfc3339(ms)
	return &t
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

type livesJSON struct {
	Count      int64   `json:"count"`
	Max        int64   `json:"max"`
	NextLifeAt *string `json:"next_life_at"`
}

type ownedJSON struct {
	Cookies []string `json:"cookies"`
	Pets    []string `json:"pets"`
}

type playJSON struct {
	PlayID     string   `json:"play_id"`
	StartedAt  string   `json:"started_at"`
	SettledAt  string   `json:"settled_at"`
	Score      int64    `json:"score"`
	Coins      int64    `json:"coins"`
	Distance   int64    `json:"distance"`
	DurationMS int64    `json:"duration_ms"`
	CookieID   string   `json:"cookie_id"`
	PetID      string   `json:"pet_id"`
	Boosts     []string `json:"boosts"`
	Outcome    string   `json:"outcome"`
}

// playerJSON is a GMS player lookup: /v1/me's fields plus what operators need.
type playerJSON struct {
	PlayerID   string    `json:"player_id"`
	Name       string    `json:"name"`
	Level      int64     `json:"level"`
	Exp        int64     `json:"exp"`
	Coins      int64     `json:"coins"`
	GiftPoints int64     `json:"gift_points"`
	Lives      livesJSON `json:"lives"`
	BestScore  int64     `json:"best_score"`
	WeeklyBest int64     `json:"weekly_best"`
	Owned      ownedJSON `json:"owned"`
	Banned     bool      `json:"banned"`
	// Mailbox is the unexpired mail, running broadcasts not yet claimed included.
	Mailbox     []mailJSON `json:"mailbox"`
	RecentPlays []playJSON `json:"recent_plays"`
}

// mailJSON is one mailbox item as /v1/mailbox shows it to the player.
type mailJSON struct {
	ID     string `json:"id"`
	Kind   string `json:"kind"`
	Amount int64  `json:"amount"`
	// FromPlayerID is null for mail no player sent (GMS gifts and broadcasts).
	FromPlayerID *string `json:"from_player_id"`
	Message      string  `json:"message"`
	SentAt       string  `json:"sent_at"`
	ExpiresAt    *string `json:"expires_at"`
}

func renderMail(m *ovenv1.MailItem) mailJSON {
	var from *string
	if id := m.GetFromPlayerId(); id != "" {
		from = &id
	}
	return mailJSON{ID: m.GetId(), Kind: m.GetKind(), Amount: m.GetAmount(), FromPlayerID: from, Message: m.GetMessage(),
		SentAt: rfc3339(m.GetSentAtMs()), ExpiresAt: optionalTime(m.GetExpiresAtMs())}
}

func renderPlayer(a *ovenv1.AdminPlayer) playerJSON {
	p := a.GetProfile()
	out := playerJSON{
		PlayerID:    p.GetPlayerId(),
		Name:        p.GetName(),
		Level:       p.GetLevel(),
		Exp:         p.GetExp(),
		Coins:       p.GetCoins(),
		GiftPoints:  p.GetGiftPoints(),
		Lives:       livesJSON{Count: p.GetLives().GetCount(), Max: p.GetLives().GetMax(), NextLifeAt: optionalTime(p.GetLives().GetNextLifeAtMs())},
		BestScore:   p.GetBestScore(),
		WeeklyBest:  p.GetWeeklyBest(),
		Owned:       ownedJSON{Cookies: nonNil(p.GetOwnedCookies()), Pets: nonNil(p.GetOwnedPets())},
		Banned:      a.GetBanned(),
		Mailbox:     make([]mailJSON, 0, len(a.GetMailbox())),
		RecentPlays: []playJSON{},
	}
	for _, m := range a.GetMailbox() {
		out.Mailbox = append(out.Mailbox, renderMail(m))
	}
	for _, r := range a.GetRecentPlays() {
		out.RecentPlays = append(out.RecentPlays, playJSON{PlayID: r.GetPlayId(), StartedAt: rfc3339(r.GetStartedAtMs()),
			SettledAt: rfc3339(r.GetSettledAtMs()), Score: r.GetScore(), Coins: r.GetCoins(), Distance: r.GetDistance(),
			DurationMS: r.GetDurationMs(), CookieID: r.GetCookieId(), PetID: r.GetPetId(), Boosts: nonNil(r.GetBoosts()),
			Outcome: r.GetOutcome()})
	}
	return out
}
