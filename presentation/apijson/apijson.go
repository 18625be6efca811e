// Package apijson is API.md's JSON on the wire, shared by the client API
// (presentation/httpapi) and the GMS (presentation/gms): how responses and error bodies
// are written, the one table from API error codes to HTTP statuses, and the shapes both
// surfaces show (a profile, lives, a mail item).
package apijson

import (
	"bytes"
	"encoding/json"
	"net/http"
	"time"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/proto/ovenv1"
)

// Write renders v with status. It encodes before writing any header so that an encoding
// failure can still become a proper 500.
func Write(w http.ResponseWriter, status int, v any) {
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

// Time renders proto unix milliseconds as API.md's RFC 3339 UTC time.
func Time(ms int64) string { return time.UnixMilli(ms).UTC().Format(time.RFC3339) }

// OptionalTime renders 0 as JSON null (for example next_life_at when lives are full).
func OptionalTime(ms int64) *string {
	if ms == 0 {
		return nil
	}
	t := Time(ms)
	return &t
}

// NonNil keeps JSON arrays as [] rather than null, which clients would have to special-case.
func NonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// httpError is how an API code renders: its HTTP status, and the wait advised when the
// error brings no hint of its own (zero: none).
type httpError struct {
	status     int
	retryAfter time.Duration
}

// byCode is the one table mapping API codes to HTTP statuses and default retry hints
// (API.md). A code missing here is a bug and renders as 500.
var byCode = map[string]httpError{
	oven.EInvalid:           {status: http.StatusBadRequest},
	oven.EUnauthenticated:   {status: http.StatusUnauthorized},
	oven.EForbidden:         {status: http.StatusForbidden},
	oven.EBanned:            {status: http.StatusForbidden},
	oven.ENotFound:          {status: http.StatusNotFound},
	oven.ENotFriend:         {status: http.StatusNotFound},
	oven.ENoLives:           {status: http.StatusConflict},
	oven.EAlreadySent:       {status: http.StatusConflict},
	oven.EAlreadySettled:    {status: http.StatusConflict},
	oven.EInsufficientCoins: {status: http.StatusConflict},
	oven.EMailboxFull:       {status: http.StatusConflict},
	oven.EConflict:          {status: http.StatusConflict},
	oven.EPlayExpired:       {status: http.StatusGone},
	oven.ETooLarge:          {status: http.StatusRequestEntityTooLarge},
	oven.ERejected:          {status: http.StatusUnprocessableEntity},
	oven.ERateLimited:       {status: http.StatusTooManyRequests},
	// A store or shard that is down is back, or replaced, within seconds.
	oven.EUnavailable: {status: http.StatusServiceUnavailable, retryAfter: time.Second},
	oven.EInternal:    {status: http.StatusInternalServerError},
}

// StatusCode returns the HTTP status of an API error code: 500 for unknown codes.
func StatusCode(code string) int {
	if e, ok := byCode[code]; ok {
		return e.status
	}
	return http.StatusInternalServerError
}

// ErrorBody is API.md's error response.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
	// Problems lists validation failures of a GMS game-data document.
	Problems []Problem `json:"problems,omitempty"`
}

// ErrorDetail is the "error" object of an error response.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	// json.Number renders as a bare number and keeps header and body identical.
	RetryAfterS json.Number `json:"retry_after_s,omitempty"`
}

// Problem is one validation failure, with the JSON path of the offending value.
type Problem struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}

// ErrorOf returns the status and body that render err, and sets the Retry-After header
// on h where waiting helps. Callers add their own headers, then Write.
func ErrorOf(h http.Header, err error) (int, ErrorBody) {
	code := oven.ErrorCode(err)
	body := ErrorBody{Error: ErrorDetail{Code: code, Message: oven.ErrorMessage(err)}}
	d := oven.RetryAfter(err)
	if d <= 0 {
		d = byCode[code].retryAfter
	}
	if d > 0 {
		secs := oven.RetryAfterSeconds(d)
		body.Error.RetryAfterS = json.Number(secs)
		h.Set("Retry-After", secs)
	}
	return StatusCode(code), body
}

// Lives is a player's lives.
type Lives struct {
	Count      int64   `json:"count"`
	Max        int64   `json:"max"` // the effective maximum (a lives_max event raises it)
	NextLifeAt *string `json:"next_life_at"`
	// InfiniteUntil is when infinite lives stop; null when they are not in force.
	InfiniteUntil *string `json:"infinite_until"`
}

// RenderLives renders proto lives (a missing message reads as zeros, not a nil dereference).
func RenderLives(l *ovenv1.Lives) Lives {
	return Lives{Count: l.GetCount(), Max: l.GetMax(), NextLifeAt: OptionalTime(l.GetNextLifeAtMs()),
		InfiniteUntil: OptionalTime(l.GetInfiniteUntilMs())}
}

// Event is a live event as players see it (GET /v1/events); the GMS adds its own fields.
type Event struct {
	ID       string  `json:"id"`
	Kind     string  `json:"kind"`
	Title    string  `json:"title"`
	StartsAt string  `json:"starts_at"`
	EndsAt   *string `json:"ends_at"` // null for a push sent at starts_at
	Value    int64   `json:"value"`
}

// RenderEvent renders a proto event for players.
func RenderEvent(e *ovenv1.LiveEvent) Event {
	return Event{ID: e.GetId(), Kind: e.GetKind(), Title: e.GetTitle(), StartsAt: Time(e.GetStartsAtMs()),
		EndsAt: OptionalTime(e.GetEndsAtMs()), Value: e.GetValue()}
}

// Owned is a player's cookies and pets.
type Owned struct {
	Cookies []string `json:"cookies"`
	Pets    []string `json:"pets"`
}

// Me is API.md's /v1/me.
type Me struct {
	PlayerID   string `json:"player_id"`
	Name       string `json:"name"`
	Level      int64  `json:"level"`
	Exp        int64  `json:"exp"`
	Coins      int64  `json:"coins"`
	GiftPoints int64  `json:"gift_points"`
	Lives      Lives  `json:"lives"`
	BestScore  int64  `json:"best_score"`
	WeeklyBest int64  `json:"weekly_best"`
	Owned      Owned  `json:"owned"`
	PushTokens int64  `json:"push_tokens"` // device tokens registered for push notifications
}

// RenderMe renders a profile.
func RenderMe(p *ovenv1.Profile) Me {
	return Me{
		PlayerID:   p.GetPlayerId(),
		Name:       p.GetName(),
		Level:      p.GetLevel(),
		Exp:        p.GetExp(),
		Coins:      p.GetCoins(),
		GiftPoints: p.GetGiftPoints(),
		Lives:      RenderLives(p.GetLives()),
		BestScore:  p.GetBestScore(),
		WeeklyBest: p.GetWeeklyBest(),
		Owned:      Owned{Cookies: NonNil(p.GetOwnedCookies()), Pets: NonNil(p.GetOwnedPets())},
		PushTokens: p.GetPushTokens(),
	}
}

// Mail is one mailbox item as /v1/mailbox shows it.
type Mail struct {
	ID     string `json:"id"`
	Kind   string `json:"kind"`
	Amount int64  `json:"amount"`
	// FromPlayerID is null for mail no player sent (GMS gifts and broadcasts).
	FromPlayerID *string `json:"from_player_id"`
	Message      string  `json:"message"`
	SentAt       string  `json:"sent_at"`
	ExpiresAt    *string `json:"expires_at"`
	// DurationS is how long infinite lives run once accepted (kind "infinite_lives" only).
	DurationS int64 `json:"duration_s,omitempty"`
}

// RenderMail renders a mail item.
func RenderMail(m *ovenv1.MailItem) Mail {
	var from *string
	if id := m.GetFromPlayerId(); id != "" {
		from = &id
	}
	return Mail{ID: m.GetId(), Kind: m.GetKind(), Amount: m.GetAmount(), FromPlayerID: from, Message: m.GetMessage(),
		SentAt: Time(m.GetSentAtMs()), ExpiresAt: OptionalTime(m.GetExpiresAtMs()), DurationS: m.GetDurationS()}
}
