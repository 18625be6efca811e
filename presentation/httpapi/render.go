package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"time"

	"github.com/ovengames/oven/proto/ovenv1"
)

// writeJSON renders v with status. It encodes before writing any header so that an
// encoding failure can still become a proper 500.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(`{"error":{"code":"internal","message":"internal error"}}` + "\n")
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes()) // a failed write means the client left; nothing to do
}

// rfc3339 renders proto unix milliseconds as API.md's RFC 3339 UTC time.
func rfc3339(ms int64) string {
	return time.UnixMilli(ms).UTC().Format(time.RFC3339)
}

// optionalTime renders 0 as JSON null (for example next_life_at when lives are full).
func optionalTime(ms int64) *string {
	if ms == 0 {
		return nil
	}
	t := rfc3339(ms)
	return &t
}

// nonNil keeps JSON arrays as [] rather than null, which clients would have to special-case.
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

func renderLives(l *ovenv1.Lives) livesJSON {
	// Getters make a missing message read as zero values rather than a nil dereference.
	return livesJSON{Count: l.GetCount(), Max: l.GetMax(), NextLifeAt: optionalTime(l.GetNextLifeAtMs())}
}

type ownedJSON struct {
	Cookies []string `json:"cookies"`
	Pets    []string `json:"pets"`
}

// meJSON is API.md's /v1/me.
type meJSON struct {
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
}

func renderMe(p *ovenv1.Profile) meJSON {
	return meJSON{
		PlayerID:   p.GetPlayerId(),
		Name:       p.GetName(),
		Level:      p.GetLevel(),
		Exp:        p.GetExp(),
		Coins:      p.GetCoins(),
		GiftPoints: p.GetGiftPoints(),
		Lives:      renderLives(p.GetLives()),
		BestScore:  p.GetBestScore(),
		WeeklyBest: p.GetWeeklyBest(),
		Owned:      ownedJSON{Cookies: nonNil(p.GetOwnedCookies()), Pets: nonNil(p.GetOwnedPets())},
	}
}
