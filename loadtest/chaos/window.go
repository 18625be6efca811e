package chaos

import (
	"cmp"
	"maps"
	"slices"
	"time"
)

// Answer is one answer a player got after the fault: a VP's request, or one of the
// generator's own probes of a player still waiting to be served again.
type Answer struct {
	Who   string    // the player id, or "device <id>" before a new device's first auth
	At    time.Time // when the answer arrived
	OK    bool      // served (2xx, 304, or a refusal the VP expected)
	Code  string    // an error's "<status> <code>", e.g. "503 unavailable", "0 timeout"
	Probe bool      // sent by the generator's prober, not by the VP
}

// Window is what the players saw after a fault: when errors started and stopped, and
// when every player that saw one was served again. Times are seconds after the fault.
type Window struct {
	// Errors are the VPs' error answers after the fault (probes not counted).
	Errors int64 `json:"errors"`
	// FirstErrorS and LastErrorS bound them (0 when there were none).
	FirstErrorS float64 `json:"first_error_s"`
	LastErrorS  float64 `json:"last_error_s"`
	// Codes splits the errors by status and code.
	Codes []CodeWindow `json:"codes,omitempty"`
	// Affected counts the players that got an error after the fault (a probe's
	// included); Served those of them that got a good answer after their last error.
	Affected int `json:"affected_players"`
	Served   int `json:"served_again"`
	// ServedAllS is when the last affected player was served again; ServedP50S the
	// median player's. Both 0 when no player was affected; ServedAllS is meaningful
	// only when Served == Affected.
	ServedAllS float64 `json:"served_all_s"`
	ServedP50S float64 `json:"served_p50_s"`
	// Unserved names a few affected players never served again while the run watched.
	Unserved []string `json:"unserved,omitempty"`
	// Probes counts the prober's requests, ProbeErrors the ones that failed.
	Probes      int64 `json:"probes"`
	ProbeErrors int64 `json:"probe_errors"`
	// LastFailS is the last failure of any request after the fault, probes included:
	// from then on nothing failed. A player's ServedAllS can only come later, when the
	// prober got round to it (it probes each waiting player every 0.5 s, 64 at a time).
	LastFailS float64 `json:"last_fail_s"`
	// Answers counts every answer watched after the fault.
	Answers int64 `json:"answers"`
}

// CodeWindow is one error code's share of a Window.
type CodeWindow struct {
	Code        string  `json:"code"`
	Count       int64   `json:"count"`
	Players     int     `json:"players"`
	FirstErrorS float64 `json:"first_error_s"`
	LastErrorS  float64 `json:"last_error_s"`
}

// maxUnserved bounds the examples of players never served again.
const maxUnserved = 8

// Compute reduces the answers seen after fault to the Window. Answers may come in any
// order. A player counts as served again at its first good answer after its last
// error, so a player that recovers and fails again is judged by the later failure.
func Compute(fault time.Time, answers []Answer) Window {
	type player struct {
		lastErr time.Time
		errored bool
	}
	type code struct {
		CodeWindow
		first, last time.Time
		players     map[string]bool
	}
	var w Window
	var first, last, lastFail time.Time
	players := map[string]*player{}
	codes := map[string]*code{}
	for _, a := range answers {
		if a.At.Before(fault) {
			continue
		}
		w.Answers++
		if a.Probe {
			w.Probes++
		}
		if a.OK {
			continue
		}
		p := players[a.Who]
		if p == nil {
			p = &player{}
			players[a.Who] = p
		}
		if !p.errored || a.At.After(p.lastErr) {
			p.lastErr, p.errored = a.At, true
		}
		lastFail = later(lastFail, a.At)
		if a.Probe {
			w.ProbeErrors++
			continue
		}
		w.Errors++
		if first.IsZero() || a.At.Before(first) {
			first = a.At
		}
		last = later(last, a.At)
		c := codes[a.Code]
		if c == nil {
			c = &code{CodeWindow: CodeWindow{Code: a.Code}, first: a.At, players: map[string]bool{}}
			codes[a.Code] = c
		}
		c.Count++
		c.players[a.Who] = true
		if a.At.Before(c.first) {
			c.first = a.At
		}
		c.last = later(c.last, a.At)
	}
	if w.Errors > 0 {
		w.FirstErrorS, w.LastErrorS = since(fault, first), since(fault, last)
	}
	if !lastFail.IsZero() {
		w.LastFailS = since(fault, lastFail)
	}
	for _, k := range slices.Sorted(maps.Keys(codes)) {
		c := codes[k]
		c.Players, c.FirstErrorS, c.LastErrorS = len(c.players), since(fault, c.first), since(fault, c.last)
		w.Codes = append(w.Codes, c.CodeWindow)
	}
	slices.SortStableFunc(w.Codes, func(a, b CodeWindow) int { return cmp.Compare(b.Count, a.Count) })

	served := map[string]time.Time{}
	for _, a := range answers {
		p := players[a.Who]
		if !a.OK || p == nil || !a.At.After(p.lastErr) {
			continue
		}
		if t, ok := served[a.Who]; !ok || a.At.Before(t) {
			served[a.Who] = a.At
		}
	}
	w.Affected, w.Served = len(players), len(served)
	var after []float64
	for _, who := range slices.Sorted(maps.Keys(players)) {
		t, ok := served[who]
		if !ok {
			if len(w.Unserved) < maxUnserved {
				w.Unserved = append(w.Unserved, who)
			}
			continue
		}
		after = append(after, since(fault, t))
	}
	if len(after) > 0 {
		slices.Sort(after)
		w.ServedAllS, w.ServedP50S = after[len(after)-1], after[(len(after)-1)/2]
	}
	return w
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func since(fault, t time.Time) float64 { return t.Sub(fault).Seconds() }

// AllServedWithin reports whether every affected player was served again within d of
// the fault.
func (w Window) AllServedWithin(d time.Duration) bool {
	return w.Served == w.Affected && w.ServedAllS <= d.Seconds()
}
