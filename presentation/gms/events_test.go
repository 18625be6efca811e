package gms_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/ovengames/oven/application/admins"
)

// The event calendar over HTTP: a publisher schedules, edits and cancels; a viewer only
// reads; bad input is 400 with every problem; players see the running modifier in
// /v1/me and /v1/events.
func TestEventCalendarOverHTTP(t *testing.T) {
	t.Parallel()
	s := newStack(t, 2)
	s.addAdmin("pub", admins.Publisher)
	s.addAdmin("viewer", admins.Viewer)
	pub, viewer := s.browser(), s.browser()
	pub.login("pub")
	viewer.login("viewer")
	_, token := s.player("device-gms-events")

	now := time.Now().UTC()
	at := func(d time.Duration) string { return now.Add(d).Format(time.RFC3339) }
	body := fmt.Sprintf(`{"kind":"lives_max","title":"Big hearts","starts_at":%q,"ends_at":%q,"value":9,"expected_load":3}`,
		at(-time.Minute), at(time.Hour))
	if r := viewer.do("POST", "/gms/api/events", body); r.status != 403 || r.code() != "forbidden" {
		t.Errorf("viewer schedules: %d %s", r.status, r.body)
	}
	bad := fmt.Sprintf(`{"kind":"lives_max","title":"","starts_at":%q,"ends_at":%q,"value":0}`, at(time.Hour), at(0))
	r := pub.do("POST", "/gms/api/events", bad)
	var probs struct {
		Problems []struct{ Path, Message string }
	}
	r.json(t, &probs)
	if r.status != 400 || r.code() != "invalid_argument" || len(probs.Problems) != 3 {
		t.Errorf("bad event: %d %s", r.status, r.body)
	}
	if r := pub.do("POST", "/gms/api/events", `{"kind":"lives_max","title":"x","starts_at":"tomorrow"}`); r.status != 400 {
		t.Errorf("unparsable time: %d %s", r.status, r.body)
	}
	r = pub.do("POST", "/gms/api/events", body)
	var created struct{ ID string }
	r.json(t, &created)
	if r.status != 201 || created.ID == "" {
		t.Fatalf("create: %d %s", r.status, r.body)
	}

	type event struct {
		ID, Kind, Title, Status, Audience string
		Value                             int64
		ExpectedLoad                      float64 `json:"expected_load"`
		StartsAt                          string  `json:"starts_at"`
		EndsAt                            *string `json:"ends_at"`
		CreatedBy                         string  `json:"created_by"`
	}
	var list struct{ Events []event }
	viewer.do("GET", "/gms/api/events", "").json(t, &list)
	if len(list.Events) != 1 || list.Events[0].ID != created.ID || list.Events[0].Status != "running" ||
		list.Events[0].Value != 9 || list.Events[0].ExpectedLoad != 3 || list.Events[0].CreatedBy != "pub" {
		t.Fatalf("calendar: %+v", list)
	}
	waitMax := func(want int64) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			var me struct {
				Lives struct {
					Max           int64
					InfiniteUntil *string `json:"infinite_until"`
				}
			}
			s.client("GET", "/v1/me", token).json(t, &me)
			if me.Lives.Max == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("/v1/me lives.max %d, want %d", me.Lives.Max, want)
			}
		}
	}
	waitMax(9)
	var players struct{ Events []event }
	s.client("GET", "/v1/events", token).json(t, &players)
	if len(players.Events) != 1 || players.Events[0].ID != created.ID || players.Events[0].Kind != "lives_max" {
		t.Errorf("/v1/events: %+v", players)
	}

	if r := pub.do("PATCH", "/gms/api/events/"+created.ID, `{"value":7}`); r.status != 200 {
		t.Fatalf("patch: %d %s", r.status, r.body)
	}
	waitMax(7)
	if r := pub.do("POST", "/gms/api/events/"+created.ID+"/cancel", ""); r.status != 200 {
		t.Fatalf("cancel: %d %s", r.status, r.body)
	}
	if r := pub.do("PATCH", "/gms/api/events/"+created.ID, `{"value":8}`); r.status != 409 || r.code() != "conflict" {
		t.Errorf("patch after cancel: %d %s", r.status, r.body)
	}
	if r := pub.do("PATCH", "/gms/api/events/nope", `{"value":8}`); r.status != 404 {
		t.Errorf("patch unknown: %d %s", r.status, r.body)
	}
	waitMax(5) // the shipped game data's
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		s.client("GET", "/v1/events", token).json(t, &players)
		if len(players.Events) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/v1/events 5 s after the cancel: %+v", players)
		}
	}
}

// An infinite-lives gift over HTTP: amount left out, listed with its duration, and
// accepting it shows in /v1/me.
func TestInfiniteLivesGiftOverHTTP(t *testing.T) {
	t.Parallel()
	s := newStack(t, 1)
	s.addAdmin("op", admins.Operator)
	op := s.browser()
	op.login("op")
	id, token := s.player("device-gms-infinite-gift")
	if r := op.do("POST", "/gms/api/players/"+id+"/gifts", `{"kind":"infinite_lives","message":"x"}`); r.status != 400 {
		t.Errorf("no duration: %d %s", r.status, r.body)
	}
	if r := op.do("POST", "/gms/api/players/"+id+"/gifts", `{"kind":"coins","amount":5,"duration_s":60}`); r.status != 400 {
		t.Errorf("coins with a duration: %d %s", r.status, r.body)
	}
	r := op.do("POST", "/gms/api/players/"+id+"/gifts", `{"kind":"infinite_lives","duration_s":7200,"message":"weekend"}`)
	var g struct {
		MailID string `json:"mail_id"`
	}
	r.json(t, &g)
	if r.status != 200 || g.MailID == "" {
		t.Fatalf("gift: %d %s", r.status, r.body)
	}
	var box struct {
		Items []struct {
			ID, Kind  string
			Amount    int64
			DurationS int64 `json:"duration_s"`
		}
	}
	s.client("GET", "/v1/mailbox", token).json(t, &box)
	if len(box.Items) != 1 || box.Items[0].Kind != "infinite_lives" || box.Items[0].Amount != 1 || box.Items[0].DurationS != 7200 {
		t.Fatalf("mailbox: %+v", box)
	}
	s.accept(token, g.MailID)
	var me struct {
		Lives struct {
			InfiniteUntil *time.Time `json:"infinite_until"`
		}
	}
	s.client("GET", "/v1/me", token).json(t, &me)
	if u := me.Lives.InfiniteUntil; u == nil || time.Until(*u) < 119*time.Minute || time.Until(*u) > 2*time.Hour {
		t.Errorf("infinite_until %v, want two hours from now", u)
	}
}
