package gms

import (
	"github.com/ovengames/oven/presentation/apijson"
	"github.com/ovengames/oven/proto/ovenv1"
)

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

// playerJSON is a GMS player lookup: /v1/me's fields (embedded, so they render at the
// top level) plus what operators need.
type playerJSON struct {
	apijson.Me
	Banned bool `json:"banned"`
	// Mailbox is the unexpired mail, running broadcasts not yet claimed included.
	Mailbox     []apijson.Mail `json:"mailbox"`
	RecentPlays []playJSON     `json:"recent_plays"`
}

func renderPlayer(a *ovenv1.AdminPlayer) playerJSON {
	out := playerJSON{
		Me:          apijson.RenderMe(a.GetProfile()),
		Banned:      a.GetBanned(),
		Mailbox:     make([]apijson.Mail, 0, len(a.GetMailbox())),
		RecentPlays: []playJSON{},
	}
	for _, m := range a.GetMailbox() {
		out.Mailbox = append(out.Mailbox, apijson.RenderMail(m))
	}
	for _, r := range a.GetRecentPlays() {
		out.RecentPlays = append(out.RecentPlays, playJSON{PlayID: r.GetPlayId(), StartedAt: apijson.Time(r.GetStartedAtMs()),
			SettledAt: apijson.Time(r.GetSettledAtMs()), Score: r.GetScore(), Coins: r.GetCoins(), Distance: r.GetDistance(),
			DurationMS: r.GetDurationMs(), CookieID: r.GetCookieId(), PetID: r.GetPetId(), Boosts: apijson.NonNil(r.GetBoosts()),
			Outcome: r.GetOutcome()})
	}
	return out
}
